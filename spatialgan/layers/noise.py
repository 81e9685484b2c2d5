"""Per-pixel noise injection with a learned strength (zero at init), as in StyleGAN2."""

from __future__ import annotations

import torch
from torch import nn

NOISE_MODES = ("random", "const", "none")


class NoiseInjection(nn.Module):
    """x + strength * noise; noise is fresh ('random'), a fixed buffer ('const'), or absent ('none')."""

    def __init__(self, resolution: int | tuple[int, int] | None = None):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros([]))
        if resolution is not None:
            h, w = (resolution, resolution) if isinstance(resolution, int) else resolution
            self.register_buffer("const_noise", torch.randn(1, 1, h, w))
        else:
            self.const_noise = None

    def forward(self, x: torch.Tensor, noise_mode: str = "random", noise: torch.Tensor | None = None,
                gain: float = 1.0) -> torch.Tensor:
        """Returns x + strength * gain * noise (the gain lets a following activation gain fold in here)."""
        if noise is None:
            if noise_mode == "none":
                return x
            if noise_mode == "random":
                noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            elif noise_mode == "const":
                if self.const_noise is None or self.const_noise.shape[-2:] != x.shape[-2:]:
                    raise ValueError(f"no constant noise of size {tuple(x.shape[-2:])} in this layer")
                noise = self.const_noise.to(x.dtype)
            else:
                raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        return torch.addcmul(x, noise, (self.strength * gain).to(x.dtype))
