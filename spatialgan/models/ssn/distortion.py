"""SSN's distortion metric: how much an image changes outside a resampled latent block (paper's Table 2)."""

from __future__ import annotations

import torch

from spatialgan.models.ssn.blocks import outside_block_distortion, replace_one_block_each

PROTOCOL = ("mean squared difference, images in [-1, 1], over all pixels and channels outside one resampled "
            "block chosen uniformly per sample; constant noise; averaged over samples")


@torch.no_grad()
def distortion(G, num_samples: int = 1000, batch: int = 32, seed: int = 0, truncation_psi: float = 1.0) -> dict:
    """Average of outside-block MSE between g(z) and g(z with one random block redrawn)."""
    rows, cols = G.latent_rows, G.latent_cols
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    while count < num_samples:
        n = min(batch, num_samples - count)
        z = torch.randn(n, G.z_dim, rows, cols, generator=gen)
        fresh = torch.randn(n, G.z_dim, rows, cols, generator=gen)
        r = torch.randint(0, rows, (n,), generator=gen)
        c = torch.randint(0, cols, (n,), generator=gen)
        z_tilde = replace_one_block_each(z, r, c, fresh)
        a = G(z.to(device), truncation_psi, "const")
        b = G(z_tilde.to(device), truncation_psi, "const")
        total += float(outside_block_distortion(a, b, r.to(device), c.to(device), (rows, cols), False).sum())
        count += n
    return {"metric": "distortion", "value": total / count, "num_samples": count, "seed": seed,
            "protocol": PROTOCOL}
