"""SSN's distortion metric: how much an image changes outside a resampled latent block (paper's Table 2)."""

from __future__ import annotations

import torch

from spatialgan.models.ssn.blocks import outside_block_distortion, replace_one_block_each

PROTOCOL = ("mean squared difference, images in [-1, 1], over all pixels and channels outside one resampled "
            "block chosen uniformly per sample; constant noise; averaged over samples")


@torch.no_grad()
def resampled_pairs(G, num_samples: int, batch: int, seed: int, truncation_psi: float):
    """Yields (g(z), g(z with one random block redrawn), rows, cols) in batches, from one seeded stream."""
    rows, cols = G.latent_rows, G.latent_cols
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    count = 0
    while count < num_samples:
        n = min(batch, num_samples - count)
        z = torch.randn(n, G.z_dim, rows, cols, generator=gen)
        fresh = torch.randn(n, G.z_dim, rows, cols, generator=gen)
        r = torch.randint(0, rows, (n,), generator=gen)
        c = torch.randint(0, cols, (n,), generator=gen)
        a = G(z.to(device), truncation_psi, "const")
        b = G(replace_one_block_each(z, r, c, fresh).to(device), truncation_psi, "const")
        yield a, b, r.to(device), c.to(device)
        count += n


@torch.no_grad()
def distortion(G, num_samples: int = 1000, batch: int = 32, seed: int = 0, truncation_psi: float = 1.0) -> dict:
    """Average of outside-block MSE between g(z) and g(z with one random block redrawn)."""
    grid, total, count = (G.latent_rows, G.latent_cols), 0.0, 0
    for a, b, r, c in resampled_pairs(G, num_samples, batch, seed, truncation_psi):
        total += float(outside_block_distortion(a, b, r, c, grid, False).sum())
        count += a.shape[0]
    return {"metric": "distortion", "value": total / count, "num_samples": count, "seed": seed,
            "protocol": PROTOCOL}


def block_change(original: torch.Tensor, resampled: torch.Tensor, blocks, grid: tuple[int, int]) -> dict:
    """Mean squared change (images in [-1, 1]) inside the resampled blocks and outside them, and their ratio:
    a resampling that works changes its blocks much more than the rest (ratio >> 1); a collapsed model changes
    neither (both near 0)."""
    from spatialgan.models.ssn.blocks import block_mask

    inside = block_mask(blocks, grid, tuple(original.shape[-2:]), original.device)
    sq = (resampled.float() - original.float()).square().mean(dim=1)             # (B, H, W), over channels
    change_in = float(sq[:, inside].mean()) if inside.any() else 0.0
    change_out = float(sq[:, ~inside].mean()) if (~inside).any() else 0.0
    return {"inside": change_in, "outside": change_out,
            "ratio": change_in / change_out if change_out > 0 else float("inf")}


@torch.no_grad()
def resample_change(G, num_samples: int = 1000, batch: int = 32, seed: int = 0, truncation_psi: float = 1.0
                    ) -> dict:
    """block_change averaged over images with one random block each redrawn (the distortion metric's draws)."""
    grid, totals, count = (G.latent_rows, G.latent_cols), {"inside": 0.0, "outside": 0.0}, 0
    for a, b, r, c in resampled_pairs(G, num_samples, batch, seed, truncation_psi):
        for i in range(a.shape[0]):
            change = block_change(a[i:i + 1], b[i:i + 1], [(int(r[i]), int(c[i]))], grid)
            totals["inside"] += change["inside"]
            totals["outside"] += change["outside"]
        count += a.shape[0]
    inside, outside = totals["inside"] / count, totals["outside"] / count
    return {"inside": inside, "outside": outside, "ratio": inside / outside if outside > 0 else float("inf"),
            "num_samples": count}
