"""SelfSSIM (ScaleParty): how consistent one latent's renders are across scales, in three variants.

`selfssim` (the paper's protocol, Tables 1 and 3): for each size s (default 1.25, 1.5, 1.75 and 2 times the trained
resolution R: 320-512 at R = 256), the full-frame render at s, as 8-bit and nearest-resized to R, against the render
of the same latent at R, by MS-SSIM; one value per s and their mean. Under random noise by default, as the official
evaluation (which does this for 1.5 R).
`selfssim_pairs` (this library's earlier "official" variant): MS-SSIM between every pair of the renders at the sizes
s, all nearest-resized to R, never including R itself; mean over latents and pairs.
`selfssim_aa` (this library's first variant): every render above the smallest is downsampled to the smallest with
antialiased bilinear filtering and compared with it by single-scale SSIM (11x11 Gaussian, images in [-1, 1]).
1 means perfectly consistent in all three.
"""

from __future__ import annotations

import torch

from spatialgan.imageutils import resize_antialiased
from spatialgan.metrics.ssim import ms_ssim, ssim

PAPER_SCALES = (1.25, 1.5, 1.75, 2.0)
PAPER_PROTOCOL = ("MS-SSIM (5 levels, Gaussian 11x11 sigma 1.5 shrinking with the level, 8-bit images) between the "
                  "full-frame render of a latent at s, nearest-resized to R, and its render at R, for s = {scales} x R;"
                  " value per s (per_size) and their mean; mean over latents")
PAIRS_PROTOCOL = ("MS-SSIM (5 levels, Gaussian 11x11 sigma 1.5 shrinking with the level, 8-bit images) between "
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


def _nearest_8bit(images: torch.Tensor, base: int) -> torch.Tensor:
    return torch.nn.functional.interpolate(to_8bit(images), size=(base, base), mode="nearest")


def render_sizes(base: int, scales) -> list[int]:
    return [max(1, round(base * k)) for k in scales]


@torch.no_grad()
def self_ssim_paper(render, latents: torch.Tensor, base: int, scales=PAPER_SCALES, batch: int = 16
                    ) -> tuple[float, dict[int, float]]:
    """render(z, resolution) -> images in [-1, 1]. (mean over sizes, {size: MS-SSIM of the render at that size,
    nearest-resized to base, against the render at base}), each averaged over latents."""
    sizes = render_sizes(base, scales)
    if base in sizes:
        raise ValueError("SelfSSIM compares other sizes with the trained one; a scale of 1 compares R with itself")
    totals, count = dict.fromkeys(sizes, 0.0), 0
    for z in latents.split(batch):
        reference = to_8bit(render(z, base))
        for s in sizes:
            totals[s] += float(ms_ssim(_nearest_8bit(render(z, s), base), reference).sum())
        count += z.shape[0]
    per_size = {s: totals[s] / count for s in sizes}
    return sum(per_size.values()) / len(per_size), per_size


@torch.no_grad()
def self_ssim_pairs(render, latents: torch.Tensor, base: int, scales=PAPER_SCALES, batch: int = 16) -> float:
    """render(z, resolution) -> images in [-1, 1]; MS-SSIM of every pair of scales after a nearest resize to base."""
    sizes = render_sizes(base, scales)
    if len(set(sizes)) < 2:
        raise ValueError("SelfSSIM needs at least two different render sizes")
    total, count = 0.0, 0
    for z in latents.split(batch):
        renders = [_nearest_8bit(render(z, s), base) for s in sizes]
        for i in range(len(renders)):
            for j in range(i + 1, len(renders)):
                total += float(ms_ssim(renders[i], renders[j]).sum())
                count += z.shape[0]
    return total / count
