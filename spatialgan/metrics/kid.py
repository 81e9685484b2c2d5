"""Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets."""

from __future__ import annotations

import torch


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 of two equally sized samples: within-set sums skip the diagonal."""
    m = x.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(within - 2 * kxy.sum() / (m * m))


def kid(real: torch.Tensor, fake: torch.Tensor, num_subsets: int = 100, max_subset_size: int = 1000,
        seed: int = 0) -> float:
    """Mean over `num_subsets` random subsets of size min(n_real, n_fake, max_subset_size) (StyleGAN2-ADA's
    protocol)."""
    real, fake = real.double(), fake.double()
    m = min(real.shape[0], fake.shape[0], max_subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = fake[torch.randperm(fake.shape[0], generator=gen)[:m]]
        y = real[torch.randperm(real.shape[0], generator=gen)[:m]]
        total += mmd2_unbiased(x, y)
    return total / num_subsets
