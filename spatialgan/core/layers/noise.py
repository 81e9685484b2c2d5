"""Per-pixel noise injection with a learned strength (zero at init), as in StyleGAN2."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan import batchrng

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
                noise = batchrng.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            elif noise_mode == "const":
                if self.const_noise is None or self.const_noise.shape[-2:] != x.shape[-2:]:
                    raise ValueError(f"no constant noise of size {tuple(x.shape[-2:])} in this layer")
                noise = self.const_noise.to(x.dtype)
            else:
                raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        return torch.addcmul(x, noise, (self.strength * gain).to(x.dtype))


# ----------------------------------------------------------------------------- noise anchored in image space
_MASK32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xorshift-multiply rounds) on int64 tensors holding values in [0, 2^32)."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK32
    return x ^ (x >> 16)


def lattice_gaussian(i: torch.Tensor, j: torch.Tensor, stream: int, seed: torch.Tensor) -> torch.Tensor:
    """A standard normal value for every integer lattice point (i, j), fixed by (stream, seed) alone: the same point
    gets the same value in every call, on every device, whatever else is asked for."""
    h = _mix32((seed.long() * 0x9E3779B1 + stream) & _MASK32)
    h = _mix32(h ^ (i & _MASK32))
    h = _mix32(h ^ (j & _MASK32))
    u1 = (_mix32(h ^ 0x68E31DA4).double() + 0.5) / 2 ** 32       # (0, 1): log is finite
    u2 = _mix32(h ^ 0x1B56C4E9).double() / 2 ** 32
    return torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * torch.pi * u2)  # Box-Muller


def grid_noise(positions: torch.Tensor, period: float, stream: int, seed: int | torch.Tensor = 0) -> torch.Tensor:
    """Noise defined once in continuous image space and sampled at `positions` (B, 2, H, W; channel 0 = x):
    white N(0, 1) values on a lattice of the given period whose points sit at (-1 + period (k + 1/2)), bilinearly
    interpolated in between and renormalised to unit variance. A pixel's noise depends only on where it is, so
    renders of overlapping regions, tiles or shifted crops agree, and zooming in shows the same noise magnified.
    `seed` is one int or one per batch element; `stream` separates layers. Returns (B, 1, H, W) in float64."""
    seed = torch.as_tensor(seed, device=positions.device).reshape(-1, 1, 1)
    if 1 not in (seed.shape[0], positions.shape[0]) and seed.shape[0] != positions.shape[0]:
        raise ValueError(f"need one noise seed or one per image ({positions.shape[0]}), got {seed.shape[0]}")
    u = (positions.double() + 1) / period - 0.5                     # lattice units; integers at lattice points
    fu = torch.floor(u)
    frac = u - fu
    iu = fu.long()
    ix, iy, fx, fy = iu[:, 0], iu[:, 1], frac[:, 0], frac[:, 1]
    total = torch.zeros_like(fx)
    norm = torch.zeros_like(fx)
    for dx, wx in ((0, 1 - fx), (1, fx)):
        for dy, wy in ((0, 1 - fy), (1, fy)):
            weight = wx * wy
            total = total + weight * lattice_gaussian(ix + dx, iy + dy, stream, seed)
            norm = norm + weight * weight
    return (total / torch.sqrt(norm))[:, None]


def _linear_weights(n: int, m: int) -> torch.Tensor:
    """(n, m): column j holds the weights 1-D linear resizing (half-pixel centres) gives output j over inputs."""
    eye = torch.eye(n, dtype=torch.float64)[:, None]                          # n signals of length n
    return F.interpolate(eye, size=m, mode="linear", align_corners=False)[:, 0]


def resize_white_noise(noise: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a white unit-variance map (..., h, w) to `size`, renormalised so that every output pixel
    has unit variance again (an interpolated pixel is a weighted sum of inputs: variance sum(w^2) < 1)."""
    if tuple(noise.shape[-2:]) == tuple(size):
        return noise
    out = F.interpolate(noise, size=size, mode="bilinear", align_corners=False)
    var_y = _linear_weights(noise.shape[-2], size[0]).square().sum(0)
    var_x = _linear_weights(noise.shape[-1], size[1]).square().sum(0)
    return out / (var_y[:, None] * var_x[None, :]).sqrt().to(out)
