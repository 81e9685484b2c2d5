"""SelfSSIM (ScaleParty): how consistent one latent's renders are across scales, in two variants.

`selfssim` (the official protocol): each latent is rendered full-frame at 1.25, 1.5, 1.75 and 2 times the trained
resolution R; every render is nearest-resized to R, as 8-bit images, and MS-SSIM is taken between every pair of
scales; the value is the mean over latents and pairs.
`selfssim_aa` (this library's first variant): every render above the smallest is downsampled to the smallest with
antialiased bilinear filtering and compared with it by single-scale SSIM (11x11 Gaussian, images in [-1, 1]).
1 means perfectly consistent in both.
"""

from __future__ import annotations

import torch

from spatialgan.imageutils import resize_antialiased
from spatialgan.metrics.ssim import ms_ssim, ssim

OFFICIAL_SCALES = (1.25, 1.5, 1.75, 2.0)
OFFICIAL_PROTOCOL = ("MS-SSIM (5 levels, Gaussian 11x11 sigma 1.5 shrinking with the level, 8-bit images) between "
                     "every pair of full-frame renders of a latent at scales {scales} x R, each nearest-resized to "
                     "R; mean over latents and pairs")
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


def to_8bit(images: torch.Tensor) -> torch.Tensor:
    return ((images.float() + 1) * 127.5).round().clamp(0, 255)


@torch.no_grad()
def self_ssim_official(render, latents: torch.Tensor, base: int, scales=OFFICIAL_SCALES, batch: int = 16) -> float:
    """render(z, resolution) -> images in [-1, 1]; MS-SSIM of every pair of scales after a nearest resize to base."""
    sizes = [max(1, round(base * k)) for k in scales]
    if len(set(sizes)) < 2:
        raise ValueError("SelfSSIM needs at least two different render sizes")
    total, count = 0.0, 0
    for z in latents.split(batch):
        renders = [torch.nn.functional.interpolate(to_8bit(render(z, s)), size=(base, base), mode="nearest")
                   for s in sizes]
        for i in range(len(renders)):
            for j in range(i + 1, len(renders)):
                total += float(ms_ssim(renders[i], renders[j]).sum())
                count += z.shape[0]
    return total / count
