"""Perceptual path length (StyleGAN): squared image distance between w and w + epsilon along a W-space
interpolation, divided by epsilon^2; outliers outside the 1st-99th percentiles dropped.

Distance: LPIPS when a local LPIPS network is supplied; otherwise `ppl_pixel`, the mean squared pixel difference
of images in [-1, 1] (no weights needed, NOT comparable with published PPL)."""

from __future__ import annotations

import numpy as np
import torch

EPSILON = 1e-4


def _lerp(a, b, t):
    return a + (b - a) * t


@torch.no_grad()
def path_lengths(adapter, num_samples: int, batch: int = 32, sampling: str = "end", seed: int = 0,
                 distance=None, epsilon: float = EPSILON) -> np.ndarray:
    """Per-sample path lengths of a model's inference adapter (its latent_shape, map and synthesize).
    sampling 'end': t = 0 (paths start at an endpoint); 'full': t ~ U(0, 1)."""
    if sampling not in ("end", "full"):
        raise ValueError("sampling must be 'end' or 'full'")
    device = adapter.device
    gen = torch.Generator().manual_seed(seed)
    out = []
    done = 0
    while done < num_samples:
        n = min(batch, num_samples - done)
        z = torch.randn(2 * n, *adapter.latent_shape(), generator=gen).to(device)
        t = torch.zeros(n) if sampling == "end" else torch.rand(n, generator=gen)
        w = adapter.map(z)
        t = t.to(device).view(-1, *([1] * (w.ndim - 1)))
        w0, w1 = w[:n], w[n:]
        pair = torch.cat([_lerp(w0, w1, t), _lerp(w0, w1, t + epsilon)])
        images = adapter.synthesize(pair, noise_mode="const").float()
        a, b = images[:n], images[n:]
        d = (a - b).square().mean(dim=(1, 2, 3)) if distance is None else distance(a, b)
        out.append((d / epsilon ** 2).cpu().double().numpy())
        done += n
    return np.concatenate(out)


def filtered_mean(lengths: np.ndarray) -> float:
    lo = np.percentile(lengths, 1, method="lower")
    hi = np.percentile(lengths, 99, method="higher")
    return float(lengths[(lengths >= lo) & (lengths <= hi)].mean())
