"""The benchmarks' FLOP counter against FLOPs worked out by hand for each op, forward and backward."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmarks.flops import FlopCounter


def test_conv_forward_and_backward():
    x = torch.randn(2, 3, 10, 10, requires_grad=True)
    w = torch.randn(5, 3, 3, 3, requires_grad=True)
    with FlopCounter() as fc:
        y = F.conv2d(x, w, padding=1)
    forward = 2 * (2 * 5 * 10 * 10) * 3 * 9             # outputs x (in channels x kernel) multiply-adds
    assert fc.total == forward
    with FlopCounter() as fc:
        y.sum().backward()
    assert fc.total == 2 * forward                      # grad of input and grad of weight


def test_grouped_strided_and_transposed_conv():
    x = torch.randn(1, 4, 9, 9)
    with FlopCounter() as fc:
        F.conv2d(x, torch.randn(6, 2, 3, 3), stride=2, groups=2)
    assert fc.total == 2 * (6 * 4 * 4) * 2 * 9
    with FlopCounter() as fc:
        F.conv_transpose2d(x, torch.randn(4, 3, 3, 3), stride=2)
    assert fc.total == 2 * (4 * 9 * 9) * 3 * 9          # each input element scattered through the kernel


def test_matmuls_and_input_grad_only():
    a, b = torch.randn(7, 5), torch.randn(5, 3)
    with FlopCounter() as fc:
        a @ b
        F.linear(a, torch.randn(3, 5), torch.randn(3))
        torch.bmm(torch.randn(4, 7, 5), torch.randn(4, 5, 3))
        torch.einsum("bij,bjk->bik", torch.randn(4, 7, 5), torch.randn(4, 5, 3))
    assert fc.total == 2 * 7 * 5 * 3 * 2 + 2 * 4 * 7 * 5 * 3 * 2
    x = torch.randn(1, 2, 6, 6, requires_grad=True)
    w = torch.randn(3, 2, 3, 3)                          # no weight grad: only the input's is computed
    y = F.conv2d(x, w)
    with FlopCounter() as fc:
        y.sum().backward()
    assert fc.total == 2 * (3 * 4 * 4) * 2 * 9


def test_double_backward_is_counted():
    """R1 and path length differentiate twice; the counter sees the second backward's convolutions too."""
    x = torch.randn(1, 2, 6, 6, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, requires_grad=True)
    with FlopCounter() as fc:
        (g,) = torch.autograd.grad(F.conv2d(x, w).square().sum(), x, create_graph=True)
        g.square().sum().backward()
    assert fc.total > 3 * 2 * (3 * 4 * 4) * 2 * 9
