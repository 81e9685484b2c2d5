"""SSIM (Wang et al. 2004) with an 11x11 Gaussian window (sigma 1.5), matching scikit-image's
`structural_similarity(..., gaussian_weights=True, use_sample_covariance=False, data_range=...)`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

SIGMA, RADIUS, K1, K2 = 1.5, 5, 0.01, 0.03   # radius = int(3.5 * sigma + 0.5), scikit-image's truncation


def gaussian_window(sigma: float = SIGMA, radius: int = RADIUS) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Per-image SSIM of (B, C, H, W) batches: the SSIM map over positions whose window lies inside the image
    (scikit-image crops the same border), averaged over those positions and the channels."""
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ssim needs two (B, C, H, W) batches of one shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    if min(a.shape[-2:]) < 2 * RADIUS + 1:
        raise ValueError(f"ssim needs images of at least {2 * RADIUS + 1} pixels per side")
    a, b = a.double(), b.double()
    luminance, contrast = _local_terms(a, b, gaussian_window().to(a.device), data_range)
    return (luminance * contrast).mean(dim=(1, 2, 3))


def _local_terms(a: torch.Tensor, b: torch.Tensor, g: torch.Tensor, data_range: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM's local luminance and contrast-structure maps under the separable window g ('valid' positions only)."""
    c = a.shape[1]
    kernel_h, kernel_w = g.view(1, 1, -1, 1).expand(c, 1, -1, 1), g.view(1, 1, 1, -1).expand(c, 1, 1, -1)

    def blur(x):
        return F.conv2d(F.conv2d(x, kernel_h, groups=c), kernel_w, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    return (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1), (2 * cov + c2) / (var_a + var_b + c2)


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)     # Wang, Simoncelli and Bovik 2003


def _shrinking_gaussian(size: int, filter_size: int = 11, sigma: float = SIGMA) -> torch.Tensor:
    """The window of one MS-SSIM level: filter_size taps, or the image size when smaller (sigma scaled with it),
    as in the Progressive GAN / mmgeneration MS-SSIM that ScaleParty's SelfSSIM uses."""
    size = min(filter_size, size)
    sigma = size * sigma / filter_size
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def ssim_and_contrast(a: torch.Tensor, b: torch.Tensor, max_val: float = 255.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image (SSIM, contrast-structure term) of one MS-SSIM level: 'valid' Gaussian window, means over the
    positions and channels."""
    g = _shrinking_gaussian(min(a.shape[-2:])).to(a.device)
    luminance, contrast = _local_terms(a, b, g, max_val)
    return (luminance * contrast).mean(dim=(1, 2, 3)), contrast.mean(dim=(1, 2, 3))


def _halve(x: torch.Tensor) -> torch.Tensor:
    """2x2 box average (an odd last row/column is averaged with its reflection, i.e. kept)."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    return F.avg_pool2d(x, 2)


def ms_ssim(a: torch.Tensor, b: torch.Tensor, max_val: float = 255.0) -> torch.Tensor:
    """Per-image MS-SSIM of (B, C, H, W) batches in [0, max_val]: five levels, each halved by a 2x2 average;
    prod_{l < 5} cs_l^w_l * ssim_5^w_5. Negative terms are clamped to 0 (no complex powers)."""
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"ms_ssim needs two (B, C, H, W) batches of one shape, got {tuple(a.shape)}, "
                         f"{tuple(b.shape)}")
    if min(a.shape[-2:]) < 2 ** (len(MS_SSIM_WEIGHTS) - 1):
        raise ValueError(f"ms_ssim needs images of at least {2 ** (len(MS_SSIM_WEIGHTS) - 1)} pixels per side")
    a, b = a.double(), b.double()
    result = torch.ones(a.shape[0], dtype=torch.float64, device=a.device)
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        s, cs = ssim_and_contrast(a, b, max_val)
        last = level == len(MS_SSIM_WEIGHTS) - 1
        result = result * (s if last else cs).clamp(min=0) ** weight
        if not last:
            a, b = _halve(a), _halve(b)
    return result
