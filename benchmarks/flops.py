"""FLOP accounting for the benchmarks: a TorchDispatchMode that counts the multiply-adds of aten conv/mm/bmm ops
(forward and backward, at whatever level autograd dispatches them), and the machine's measured GEMM peaks.

torch's FlopCounterMode tracks modules with hooks that break inside the trainer (double backward, hooks that
re-enter); this counter only looks at the ops, so it works under any training code. 1 multiply-add = 2 FLOPs.
"""

from __future__ import annotations

import math
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten


def _numel(shape) -> int:
    return math.prod(int(s) for s in shape)


def conv_flops(x_shape, w_shape, out_shape, transposed: bool = False) -> int:
    """2 * (output elements) * (input channels per group) * (kernel elements); for a transposed conv the roles of
    input and output swap (each input element is scattered through the kernel)."""
    kernel = _numel(w_shape[2:])
    if transposed:
        return 2 * _numel(x_shape) * w_shape[1] * kernel
    return 2 * _numel(out_shape) * w_shape[1] * kernel


def _conv(args, out) -> int:
    x, w, transposed = args[0], args[1], bool(args[6])
    return conv_flops(x.shape, w.shape, out.shape, transposed)


def _conv_backward(args, out) -> int:
    grad_out, x, w, transposed, mask = args[0], args[1], args[2], bool(args[7]), args[-1]
    forward = conv_flops(x.shape, w.shape, grad_out.shape, transposed)
    return forward * (int(bool(mask[0])) + int(bool(mask[1])))          # grad input, grad weight


def _mm(args, out) -> int:
    a, b = args[0], args[1]
    return 2 * a.shape[0] * a.shape[1] * b.shape[1]


def _addmm(args, out) -> int:
    return _mm(args[1:], out)


def _bmm(args, out) -> int:
    a, b = args[0], args[1]
    return 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]


def _baddbmm(args, out) -> int:
    return _bmm(args[1:], out)


COUNTERS = {
    aten.convolution.default: _conv,
    aten.convolution_backward.default: _conv_backward,
    aten.mm.default: _mm,
    aten.addmm.default: _addmm,
    aten.bmm.default: _bmm,
    aten.baddbmm.default: _baddbmm,
}


class FlopCounter(TorchDispatchMode):
    """`with FlopCounter() as fc: ...` then fc.total (FLOPs) and fc.by_op ({op name: FLOPs})."""

    def __init__(self):
        super().__init__()
        self.total = 0
        self.by_op: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        counter = COUNTERS.get(func)
        if counter is not None:
            flops = counter(args, out)
            self.total += flops
            name = func.__name__
            self.by_op[name] = self.by_op.get(name, 0) + flops
        return out


def gemm_peak(dtype: torch.dtype, device: torch.device, size: int = 2048, seconds: float = 1.0) -> float:
    """GFLOP/s of a square matmul in `dtype` (the best of a few timed rounds)."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    a @ b
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    best, spent = 0.0, 0.0
    while spent < seconds or best == 0.0:
        start = time.perf_counter()
        a @ b
        sync()
        took = time.perf_counter() - start
        spent += took
        best = max(best, 2 * size ** 3 / took / 1e9)
        if took > seconds:                    # an emulated dtype: one round is enough to know
            break
    return best
