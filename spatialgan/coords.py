"""The image as a continuous space: pixel-centre coordinate grids shared by the coordinate-based generators.

Convention: the trained full frame spans [-1, 1] on both axes (x to the right, y down); a grid of H x W pixels
samples it at pixel centres, x_j = -1 + (2 j + 1) / W. Coordinate tensors have shape (B, 2, H, W), channel 0 = x.
"""

from __future__ import annotations

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
