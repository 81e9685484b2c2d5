"""DiffAugment (Zhao et al. 2020): colour, translation and cutout on every image D sees, differentiable."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spatialgan import batchrng

TRANSLATION_RATIO = 0.125    # shifts of up to 1/8 of the size, zero-filled
CUTOUT_RATIO = 0.5           # a zeroed square of half the size


def colour(images: torch.Tensor) -> torch.Tensor:
    """Brightness + U(-0.5, 0.5), saturation x U(0, 2) about each pixel's channel mean, contrast x U(0.5, 1.5)
    about the image mean; on the first three channels only."""
    b = images.shape[0]
    u = batchrng.rand(b, 3, device=images.device).to(images.dtype)
    rgb = images[:, :3] + (u[:, 0] - 0.5).view(b, 1, 1, 1)
    mean = rgb.mean(dim=1, keepdim=True)
    rgb = (rgb - mean) * (u[:, 1] * 2).view(b, 1, 1, 1) + mean
    mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
    rgb = (rgb - mean) * (u[:, 2] + 0.5).view(b, 1, 1, 1) + mean
    return torch.cat([rgb, images[:, 3:]], 1)


def translation(images: torch.Tensor, shifts: torch.Tensor | None = None) -> torch.Tensor:
    """Each image moved by an integer (dx, dy) in [-s, s], s = round(size / 8), zeros shifted in.
    out[y, x] = in[y - dy, x - dx]. `shifts` (B, 2) as (dx, dy) is drawn when not given."""
    b, _, h, w = images.shape
    s = int(max(h, w) * TRANSLATION_RATIO + 0.5)
    if shifts is None:
        shifts = batchrng.randint(2 * s + 1, b, 2, device=images.device) - s
    padded = F.pad(images, (s, s, s, s))
    rows = torch.arange(h, device=images.device)[None, :, None] - shifts[:, 1, None, None] + s
    cols = torch.arange(w, device=images.device)[None, None, :] - shifts[:, 0, None, None] + s
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(images: torch.Tensor, centres: torch.Tensor | None = None) -> torch.Tensor:
    """Each image with a square of side round(size / 2) zeroed (clipped at the border), centred at an integer
    (cx, cy) drawn uniformly over the image. `centres` (B, 2) is drawn when not given."""
    b, _, h, w = images.shape
    side_h, side_w = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    if centres is None:
        u = batchrng.rand(b, 2, device=images.device)
        centres = torch.stack([(u[:, 0] * w).long(), (u[:, 1] * h).long()], 1)
    rows = torch.arange(h, device=images.device)[None, :, None]
    cols = torch.arange(w, device=images.device)[None, None, :]
    top, left = centres[:, 1, None, None] - side_h // 2, centres[:, 0, None, None] - side_w // 2
    inside = (rows >= top) & (rows < top + side_h) & (cols >= left) & (cols < left + side_w)
    return images * (~inside)[:, None].to(images.dtype)


def diffaugment(images: torch.Tensor) -> torch.Tensor:
    return cutout(translation(colour(images)))
