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
    c = a.shape[1]
    g = gaussian_window().to(a.device)
    kernel_h, kernel_w = g.view(1, 1, -1, 1).expand(c, 1, -1, 1), g.view(1, 1, 1, -1).expand(c, 1, 1, -1)

    def blur(x):
        return F.conv2d(F.conv2d(x, kernel_h, groups=c), kernel_w, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))
