"""Reduced precision only where the pixels are. Float16 (--fp16-res) with StyleGAN2-ADA's safeguards: only the top
resolutions of G and D run in float16 (where the memory traffic is), their activations are clamped to +-256 so that
they cannot overflow, the RGB skip and everything at low resolution stay float32, and the trainer replaces
non-finite gradients. Under bf16 autocast (--amp), the mapping network and the lowest blocks opt out to float32."""

from __future__ import annotations

import contextlib

import torch

FP16_CLAMP = 256.0
# Under bf16 autocast the mapping network and the synthesis blocks up to this resolution still run in float32: their
# rounding reaches every pixel (the 64-px StyleGAN2's worst pixel moved 12 levels, 6 with these in float32), and they
# hold a few percent of the FLOPs.
FULL_PRECISION_MAX_RES = 8


def fp16_region(enabled: bool, like: torch.Tensor):
    """Autocast to float16 on `like`'s device when enabled (a no-op context otherwise)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(like.device.type, dtype=torch.float16)


def full_precision(like: torch.Tensor):
    """Suspends autocast on `like`'s device (a no-op context when none is active); inputs must be cast to float."""
    if not torch.is_autocast_enabled(like.device.type):
        return contextlib.nullcontext()
    return torch.autocast(like.device.type, enabled=False)


def clamp_fp16(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(-FP16_CLAMP, FP16_CLAMP) if x.dtype == torch.float16 else x


def set_fp16_resolutions(G: torch.nn.Module, D: torch.nn.Module, count: int) -> None:
    """Marks the `count` highest-resolution synthesis blocks of G (StyleGAN2, SSN) and blocks of D to run in float16."""
    if count <= 0:
        return
    g_blocks = list(getattr(getattr(G, "synthesis", None), "blocks", []))
    for block in g_blocks[-count:] + list(getattr(D, "blocks", []))[:count]:
        block.use_fp16 = True
