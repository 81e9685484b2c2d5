"""Azimuthally averaged power spectra of images (the spectral comparison of the CIPS paper, Sec. 4.3).

Each image is converted to luminance (ITU-R BT.601 weights on [-1, 1] values), its mean removed, and its 2-D DFT
power |F|^2 / (H W) computed; the power is averaged over rings of integer radius round(sqrt(fx^2 + fy^2)) in
cycles per image (fx, fy the centred frequency indices), then over images. The summary distance between two sets
is the mean over radii 1..R/2 of |log10 S_a(r) - log10 S_b(r)|; the high-frequency part repeats it over the top
quarter of those radii, where upsampling artefacts and missing detail show.
"""

from __future__ import annotations

import torch

LUMA = (0.299, 0.587, 0.114)
PROTOCOL = ("azimuthally averaged power spectrum of luminance (BT.601, mean removed, |DFT|^2 / HW, rings of "
            "integer radius); distance = mean |log10 S_fake - log10 S_real| over radii 1..R/2")


def ring_index(height: int, width: int) -> torch.Tensor:
    """(H, W) integer radius of every frequency of an fftshift-ed spectrum."""
    fy = torch.arange(height) - height // 2
    fx = torch.arange(width) - width // 2
    return torch.sqrt(fy[:, None].double() ** 2 + fx[None, :].double() ** 2).round().long()


def power_spectra(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, R) ring-averaged power, R = max radius + 1."""
    weights = torch.tensor(LUMA, dtype=torch.float64, device=images.device).view(1, 3, 1, 1)
    luma = (images.double() * weights).sum(1)
    luma = luma - luma.mean(dim=(1, 2), keepdim=True)
    h, w = luma.shape[-2:]
    power = torch.fft.fftshift(torch.fft.fft2(luma), dim=(-2, -1)).abs().square() / (h * w)
    rings = ring_index(h, w).to(images.device).flatten()
    counts = torch.bincount(rings).double()
    sums = torch.zeros(images.shape[0], counts.numel(), dtype=torch.float64, device=images.device)
    sums.index_add_(1, rings, power.flatten(1))
    return sums / counts


class SpectrumAccumulator:
    """Running mean of ring-averaged spectra over batches of uint8 images (B, 3, H, W)."""

    def __init__(self):
        self.total, self.count, self.max_radius = None, 0, None

    def add(self, images_uint8: torch.Tensor) -> None:
        spectra = power_spectra(images_uint8.double() / 127.5 - 1).sum(0)
        self.total = spectra if self.total is None else self.total + spectra
        self.count += images_uint8.shape[0]
        self.max_radius = min(images_uint8.shape[-2:]) // 2       # full rings only (inside the image's square)

    def mean(self) -> torch.Tensor:
        return self.total / self.count


def spectral_distance(real: torch.Tensor, fake: torch.Tensor, max_radius: int) -> dict:
    """Mean |log10 S_real - log10 S_fake| over radii 1..max_radius, and over the top quarter of those radii."""
    floor = 1e-12                                   # an all-flat image set has zero power; keep the log finite
    diff = (real[1:max_radius + 1].clamp(min=floor).log10() - fake[1:max_radius + 1].clamp(min=floor).log10()).abs()
    high = diff[-max(1, len(diff) // 4):]
    return {"value": float(diff.mean()), "high_frequency": float(high.mean())}
