"""Exponential moving average of generator weights, parameterized by a half-life in images."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch_size: int, half_life_kimg: float, cur_nimg: int = 0, rampup: float | None = None) -> float:
    """Per-step decay so that the weight of old parameters halves every `half_life_kimg` thousand images.

    With `rampup` (None or 0: none), the half-life is capped at rampup * cur_nimg early in training (StyleGAN2-ADA).
    """
    half_life = half_life_kimg * 1000.0
    if rampup:
        half_life = min(half_life, cur_nimg * rampup)
    return 0.5 ** (batch_size / max(half_life, 1e-8))


@torch.no_grad()
def update_ema(ema_model: nn.Module, model: nn.Module, beta: float) -> None:
    """ema = beta * ema + (1 - beta) * current for parameters; buffers are copied."""
    for p_ema, p in zip(ema_model.parameters(), model.parameters()):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(ema_model.buffers(), model.buffers()):
        b_ema.copy_(b.detach())
