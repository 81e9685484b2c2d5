"""SelfSSIM (ScaleParty): how consistent one latent's renders are across scales.

Each latent is rendered full-frame at several resolutions; every render above the smallest is downsampled to the
smallest with antialiased bilinear filtering (`F.interpolate(..., antialias=True)`, a triangle filter widened by
the scale factor) and compared with the smallest render by SSIM (11x11 Gaussian window, sigma 1.5, images in
[-1, 1]). The value is the mean over latents and resolutions; 1 means perfectly consistent.
"""

from __future__ import annotations

import torch

from spatialgan.imageutils import resize_antialiased
from spatialgan.metrics.ssim import ssim

PROTOCOL = ("SSIM (Gaussian 11x11, sigma 1.5, data range 2) between the smallest full-frame render and each larger "
            "render of the same latent, antialiased-bilinear downsampled to the smallest; mean over latents and scales")


def downsample_to(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return resize_antialiased(images.float(), size)


@torch.no_grad()
def self_ssim(render, latents: torch.Tensor, resolutions: list[int], batch: int = 16) -> float:
    """render(z, resolution) -> images (B, 3, resolution, resolution) in [-1, 1], full frame."""
    resolutions = sorted(set(resolutions))
    if len(resolutions) < 2:
        raise ValueError("SelfSSIM needs at least two resolutions")
    base, total, count = resolutions[0], 0.0, 0
    for z in latents.split(batch):
        small = render(z, base).float()
        for r in resolutions[1:]:
            total += float(ssim(downsample_to(render(z, r), (base, base)), small).sum())
            count += z.shape[0]
    return total / count
