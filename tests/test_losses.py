"""Losses, regularizers, lazy-regularization Adam settings and EMA against hand-computed values."""

import math

import pytest
import torch

from spatialgan.core.losses import (
    discriminator_loss,
    generator_loss,
    lazy_adam_hyperparameters,
    path_length_penalty,
    r1_penalty,
)
from spatialgan.training.ema import ema_beta, update_ema


def test_nonsaturating_losses_hand_values():
    fake = torch.tensor([1.0, -2.0])
    real = torch.tensor([0.5, 3.0])
    expected_g = (math.log(1 + math.exp(-1.0)) + math.log(1 + math.exp(2.0))) / 2
    assert generator_loss(fake).item() == pytest.approx(expected_g, rel=1e-6)
    expected_d = ((math.log(1 + math.exp(1.0)) + math.log(1 + math.exp(-2.0))) / 2
                  + (math.log(1 + math.exp(-0.5)) + math.log(1 + math.exp(-3.0))) / 2)
    assert discriminator_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * math.log(2))


def test_r1_penalty_matches_analytic_gradient():
    a = torch.randn(3, 4, 4, dtype=torch.float64)
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    logits = 0.5 * (x * a).sum(dim=(1, 2, 3)) ** 2  # dD/dx = (a.x) a
    penalty = r1_penalty(x, logits)
    expected = (x * a).sum(dim=(1, 2, 3)).detach() ** 2 * (a ** 2).sum()
    torch.testing.assert_close(penalty, expected)
    penalty.sum().backward()  # differentiable (create_graph) so D can be trained on it
    assert x.grad is not None


def test_path_length_penalty_matches_linear_generator():
    batch, layers, dim, h, w = 3, 2, 4, 5, 6
    A = torch.randn(3 * h * w, layers * dim, dtype=torch.float64)
    ws = torch.randn(batch, layers, dim, dtype=torch.float64, requires_grad=True)
    images = (ws.reshape(batch, -1) @ A.t()).reshape(batch, 3, h, w)
    pl_mean = torch.tensor(0.7, dtype=torch.float64)
    torch.manual_seed(11)
    penalty, lengths, new_mean = path_length_penalty(images, ws, pl_mean, decay=0.01)
    torch.manual_seed(11)
    y = torch.randn(batch, 3, h, w, dtype=torch.float64) / math.sqrt(h * w)
    jty = (y.reshape(batch, -1) @ A).reshape(batch, layers, dim)     # J^T y, the same for every sample
    expected_len = jty.square().sum(-1).mean(-1).sqrt()
    torch.testing.assert_close(lengths, expected_len)
    expected_mean = 0.7 + 0.01 * (expected_len.mean() - 0.7)
    torch.testing.assert_close(new_mean, expected_mean)
    torch.testing.assert_close(penalty, (expected_len - expected_mean) ** 2)
    assert pl_mean.item() == 0.7  # the caller's running mean is not modified in place


def test_lazy_adam_hyperparameters():
    lr, betas = lazy_adam_hyperparameters(0.002, (0.0, 0.99), 16)
    c = 16 / 17
    assert lr == pytest.approx(0.002 * c)
    assert betas == (0.0, pytest.approx(0.99 ** c))
    assert all(isinstance(b, float) for b in betas)
    assert lazy_adam_hyperparameters(0.002, (0, 0.99), 0) == (0.002, (0.0, 0.99))
    torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=lr, betas=betas)  # accepted by torch


def test_ema_half_life_in_images():
    beta = ema_beta(batch_size=32, half_life_kimg=10.0)
    assert beta ** (10_000 / 32) == pytest.approx(0.5)
    # Rampup caps the half-life at rampup * images seen.
    assert ema_beta(32, 10.0, cur_nimg=3200, rampup=0.05) == pytest.approx(0.5 ** (32 / 160))
    ema, model = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ema.register_buffer("count", torch.zeros(1))
    model.register_buffer("count", torch.ones(1))
    before = ema.weight.detach().clone()
    update_ema(ema, model, 0.9)
    torch.testing.assert_close(ema.weight, 0.9 * before + 0.1 * model.weight.detach())
    assert ema.count.item() == 1.0
