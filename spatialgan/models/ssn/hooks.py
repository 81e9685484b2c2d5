"""SSN training hooks: spatial latents, no style mixing (the base hooks), and the distortion regularizer R_D."""

from __future__ import annotations

import torch

from spatialgan import batchrng
from spatialgan.models.interface import TrainingHooks
from spatialgan.models.ssn.blocks import outside_block_distortion, replace_one_block_each
from spatialgan.models.ssn.options import latent_shape


def reduction_factor(reduction: str, blocks: int) -> float:
    """What the sum over the other blocks of one sample's redrawn block is multiplied by (options.REDUCTIONS)."""
    if reduction == "mean":
        return 1.0 / max(1, blocks - 1)
    return float(blocks) if reduction == "paper" else 1.0


class SSNHooks(TrainingHooks):
    def grid(self) -> tuple[int, int]:
        return self.config.latent_rows, self.config.latent_cols

    def latent_shape(self) -> tuple[int, ...]:
        return latent_shape(self.config)

    def generator_regularizers(self, G, D, request, images, ws, step):
        """R_D = E_a [reduce_{b != a} MSE(g(z)_b, g(z~_a)_b)], reduce = mean (default: the distortion metric's
        scale), sum (one-block-sum) or K x sum (paper: eq. 2, which sums over every a, in expectation over the
        uniform a): one random block a per sample, on half the batch, every
        `distortion_interval` steps with the weight scaled by the interval (lazy, like path length).
        Both images use the layers' constant noise so that only the latent change is measured."""
        cfg = self.config
        if cfg.lambda_distortion <= 0 or step % cfg.distortion_interval != 0:
            return {}
        return {"distortion": cfg.lambda_distortion * cfg.distortion_interval *
                self.distortion_penalty(G, request["z"][: max(1, request["z"].shape[0] // 2)]).mean()}

    def distortion_penalty(self, G, z: torch.Tensor) -> torch.Tensor:
        rows, cols = self.grid()
        n = z.shape[0]
        others = reduction_factor(self.config.distortion_reduction, rows * cols)
        block_rows = batchrng.randint(rows, n, device=z.device)
        block_cols = batchrng.randint(cols, n, device=z.device)
        # The mapping runs per block, so z~'s w is z's w with one block re-mapped: map only the fresh blocks.
        w = G.map(z)
        fresh = batchrng.randn(n, z.shape[1], 1, 1, device=z.device, dtype=z.dtype)
        w_fresh = G.map(fresh).permute(0, 3, 1, 2).expand(-1, -1, rows, cols)        # (n, w_dim, rows, cols)
        w_tilde = replace_one_block_each(w.permute(0, 3, 1, 2), block_rows, block_cols, w_fresh).permute(0, 2, 3, 1)
        both = G.synthesize(torch.cat([w, w_tilde]), noise_mode="const")
        return others * outside_block_distortion(both[:n], both[n:], block_rows, block_cols, (rows, cols),
                                                 per_block=True)
