"""CIPS renders: any region in row bands of pixels (bounded memory, uint8 out), foveation, per-pixel style blends."""

from __future__ import annotations

import numpy as np
import torch

from spatialgan.core.coords import pixel_centers
from spatialgan.imageutils import to_uint8


@torch.no_grad()
def render_image(G, ws: torch.Tensor, width: int, height: int, x_range=(-1.0, 1.0), y_range=(-1.0, 1.0),
                 band_pixels: int = 1 << 16, between_bands=None) -> np.ndarray:
    """(height, width, 3) uint8 image of one latent over x_range x y_range. Rows are rendered in bands of about
    `band_pixels` pixels, so memory stays bounded whatever the size; pixels are independent, so the result equals
    a one-shot render."""
    device = ws.device
    out = np.empty((height, width, 3), dtype=np.uint8)
    xs = pixel_centers(width, *x_range, device=device)
    ys = pixel_centers(height, *y_range, device=device)
    rows_per_band = max(1, band_pixels // width)
    y, x = torch.meshgrid(ys[:2], xs[:2], indexing="ij")
    scale = G.corner_scale(torch.stack([x, y])[None])     # a converted model's frame, also for one-row bands
    for top in range(0, height, rows_per_band):
        band_y = ys[top:top + rows_per_band]
        y, x = torch.meshgrid(band_y, xs, indexing="ij")
        coords = torch.stack([x, y])[None]
        for left in range(0, width, band_pixels):        # very wide rows: split columns too
            part = coords[..., left:left + band_pixels]
            img = G.synthesize(ws, "const", coords=part, scale=scale)
            out[top:top + band_y.shape[0], left:left + part.shape[-1]] = to_uint8(img)[0]
            if between_bands is not None:
                between_bands()
    return out


@torch.no_grad()
def render_foveated(G, ws: torch.Tensor, width: int, height: int, samples: tuple[int, int], center=(0.0, 0.0),
                    gamma: float = 2.0, chunk: int | None = 1 << 16) -> torch.Tensor:
    """Foveated rendering: the generator runs only on samples[0] x samples[1] pixels placed densely around
    `center` (spatialgan.core.coords.foveated_grid), and the result is resampled to a regular width x height image by
    inverting the warp: sharp at the fovea, coarser towards the borders, at a fraction of the cost."""
    import torch.nn.functional as F

    from spatialgan.core.coords import foveated_axis_inverse, foveated_grid, pixel_centers

    sw, sh = samples
    grid = foveated_grid(sh, sw, center, gamma, device=ws.device)
    warped = G.synthesize(ws, "const", coords=grid, chunk=chunk)                     # (B, 3, sh, sw)
    tx = foveated_axis_inverse(pixel_centers(width, device=ws.device), center[0], gamma)
    ty = foveated_axis_inverse(pixel_centers(height, device=ws.device), center[1], gamma)
    y, x = torch.meshgrid(ty, tx, indexing="ij")
    grid = torch.stack([x, y], dim=-1)[None].expand(warped.shape[0], -1, -1, -1)
    # t are pixel-centre positions of the sample grid, which is what align_corners=False reads.
    return F.grid_sample(warped, grid.to(warped.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def blend_styles(ws_list: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """Per-pixel styles mixing K latents: ws_list of (B, num_ws, w_dim), weights (K, H, W) summing to 1 per pixel
    -> (B, num_ws, w_dim, H, W) for CIPSGenerator.synthesis. Smooth weights give a smooth transition."""
    if len(ws_list) != weights.shape[0]:
        raise ValueError("one weight map per latent")
    stacked = torch.stack(ws_list)                                              # (K, B, num_ws, w_dim)
    return torch.einsum("kbnc,khw->bnchw", stacked, weights.to(stacked))


def horizontal_ramp(width: int, height: int, start: float = 0.4, end: float = 0.6) -> torch.Tensor:
    """(2, H, W) weights: the first latent left of `start`, the second right of `end` (fractions of the width),
    a smoothstep in between."""
    t = ((torch.arange(width) + 0.5) / width - start) / max(end - start, 1e-6)
    t = t.clamp(0, 1)
    t = t * t * (3 - 2 * t)
    right = t[None].expand(height, -1)
    return torch.stack([1 - right, right])
