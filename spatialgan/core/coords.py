"""The image as a continuous space: pixel-centre coordinate grids shared by the coordinate-based generators.

Convention: the trained full frame spans [-1, 1] on both axes (x to the right, y down); a grid of H x W pixels
samples it at pixel centres, x_j = -1 + (2 j + 1) / W. Coordinate tensors have shape (B, 2, H, W), channel 0 = x.
"""

from __future__ import annotations

import math

import torch


def pixel_centers(n: int, lo: float = -1.0, hi: float = 1.0, device=None, dtype=torch.float32) -> torch.Tensor:
    """n pixel centres evenly splitting [lo, hi]."""
    return lo + (torch.arange(n, device=device, dtype=dtype) + 0.5) * ((hi - lo) / n)


def pixel_grid(height: int, width: int, x_range=(-1.0, 1.0), y_range=(-1.0, 1.0), device=None,
               dtype=torch.float32) -> torch.Tensor:
    """(1, 2, H, W) coordinates of an H x W image of the region x_range x y_range (any aspect ratio)."""
    if height < 1 or width < 1:
        raise ValueError(f"a grid needs at least one pixel per side, got {height}x{width}")
    ys = pixel_centers(height, *y_range, device=device, dtype=dtype)
    xs = pixel_centers(width, *x_range, device=device, dtype=dtype)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x, y])[None]


def foveated_axis(n: int, center: float, gamma: float, lo: float = -1.0, hi: float = 1.0, device=None,
                  dtype=torch.float32) -> torch.Tensor:
    """n sample positions on [lo, hi], dense around `center`: regular t in [-1, 1] maps to
    center + sign(t) |t|^gamma * (distance from center to the border on that side). gamma = 1 is uniform only when
    center is the midpoint; gamma > 1 concentrates samples at the centre."""
    t = pixel_centers(n, device=device, dtype=dtype)
    reach = torch.where(t < 0, torch.tensor(center - lo, dtype=dtype), torch.tensor(hi - center, dtype=dtype))
    return center + torch.sign(t) * t.abs() ** gamma * reach.to(t.device)


def foveated_axis_inverse(x: torch.Tensor, center: float, gamma: float, lo: float = -1.0,
                          hi: float = 1.0) -> torch.Tensor:
    """The regular parameter t in [-1, 1] of a position x (inverse of foveated_axis)."""
    d = x - center
    reach = torch.where(d < 0, torch.full_like(x, center - lo), torch.full_like(x, hi - center)).clamp_min(1e-12)
    return torch.sign(d) * (d.abs() / reach) ** (1 / gamma)


def foveated_grid(height: int, width: int, center=(0.0, 0.0), gamma: float = 2.0, device=None,
                  dtype=torch.float32) -> torch.Tensor:
    """(1, 2, H, W) sample coordinates over the frame, separably dense around `center` (cx, cy)."""
    xs = foveated_axis(width, center[0], gamma, device=device, dtype=dtype)
    ys = foveated_axis(height, center[1], gamma, device=device, dtype=dtype)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x, y])[None]


def region_grid(center=(0.0, 0.0), period=None, size=(32, 32), pad: int = 0, device=None,
                dtype=torch.float32) -> torch.Tensor:
    """Scale-consistent positional encoding of a sampled region a = (c, s, r) (ScaleParty): pixel (i, j) of an
    r_h x r_w image with centre c and sampling period s sits at c + s (index + 0.5) - s r / 2, for indices in
    [-pad, r + pad), so the padded margin continues the same lattice. Centre-aligned: halving s and doubling r over
    the same region puts every coarse pixel centre at the midpoint of its fine pixels. `period` defaults to the
    full frame's, 2 / r (the frame spans 2 units). Returns (1, 2, r_h + 2 pad, r_w + 2 pad), channel 0 = x."""
    h, w = size
    if h < 1 or w < 1 or pad < 0:
        raise ValueError(f"a region needs a positive size and a non-negative pad, got {size}, pad {pad}")
    sx, sy = period if period is not None else (2.0 / w, 2.0 / h)
    if sx <= 0 or sy <= 0:
        raise ValueError(f"the sampling period must be positive, got {(sx, sy)}")
    ix = torch.arange(-pad, w + pad, device=device, dtype=torch.float64)
    iy = torch.arange(-pad, h + pad, device=device, dtype=torch.float64)
    xs = center[0] + sx * (ix + 0.5) - sx * w / 2
    ys = center[1] + sy * (iy + 0.5) - sy * h / 2
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x, y])[None].to(dtype)


# ----------------------------------------------------------------------------- warps of a coordinate field
def swirl(strength: float, radius: float = 1.0, center=(0.0, 0.0)):
    """A warp rotating positions about `center` by strength * exp(-(d / radius)^2) radians at distance d."""
    def warp(p: torch.Tensor) -> torch.Tensor:
        x, y = p[:, 0] - center[0], p[:, 1] - center[1]
        angle = strength * torch.exp(-(x * x + y * y) / radius ** 2)
        cos, sin = torch.cos(angle), torch.sin(angle)
        return torch.stack([center[0] + cos * x - sin * y, center[1] + sin * x + cos * y], dim=1)
    return warp


def stretch(factor_x: float, factor_y: float = 1.0):
    """A warp that shows the content `factor` times wider (taller): positions are divided by the factor."""
    def warp(p: torch.Tensor) -> torch.Tensor:
        return torch.stack([p[:, 0] / factor_x, p[:, 1] / factor_y], dim=1)
    return warp


WARPS = {"swirl": swirl, "stretch": stretch}


def parse_warp(text: str):
    """'swirl:STRENGTH[:RADIUS]' or 'stretch:FX[:FY]' -> a warp function."""
    name, _, rest = text.partition(":")
    if name not in WARPS:
        raise ValueError(f"unknown warp {name!r}; choose from {', '.join(WARPS)} (e.g. swirl:2 or stretch:1.5)")
    try:
        values = [float(v) for v in rest.split(":")] if rest else []
    except ValueError:
        raise ValueError(f"warp parameters must be numbers, got {rest!r}") from None
    if not values or len(values) > 2:
        raise ValueError(f"{name} takes one or two numbers, e.g. {name}:1.5, got {text!r}")
    if not all(math.isfinite(v) and abs(v) <= 1e6 for v in values):
        raise ValueError(f"warp parameters must be finite numbers of sensible size, got {rest!r}")
    if name == "stretch" and any(v <= 0 for v in values):
        raise ValueError(f"stretch factors must be positive, got {values}")
    return WARPS[name](*values)
