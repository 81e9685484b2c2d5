"""SSN's own options: the latent block grid and the distortion regularizer."""

from __future__ import annotations

from dataclasses import dataclass

from spatialgan.models.ssn.encoder import ENCODERS
from spatialgan.options import option

REDUCTIONS = ("mean", "one-block-sum", "paper")


@dataclass
class SSNOptions:
    latent_rows: int = option(4, "SSN: rows of the latent block grid", low=1, high=64)
    latent_cols: int = option(4, "SSN: columns of the latent block grid", low=1, high=64)
    spatial_encoder: str = option("bilinear", "SSN: how block styles reach each layer's pixels (bilinear: "
                                  "whole images, the 64-px sweep's choice; learned footprint, nearest, spade: the "
                                  "paper's SPADE-style residual on nearest, spade-bilinear: the same on bilinear; "
                                  "see models/ssn/encoder.py)", choices=ENCODERS,
                                  legacy="bilinear")
    lambda_distortion: float = option(100.0, "SSN: weight of R_D; with --distortion-reduction mean, R_D is the "
                                      "mean over the other blocks of their MSE, the scale of the distortion metric",
                                      low=0)
    distortion_reduction: str = option("mean", "SSN: R_D's scale. One block a is redrawn per sample; over the other "
                                       "blocks b, their per-block MSE is averaged (mean: the distortion metric's "
                                       "scale), summed (one-block-sum), or summed and times the block count K "
                                       "(paper: eq. 2's sum over every a in expectation, K (K - 1) times mean)",
                                       choices=REDUCTIONS, legacy="one-block-sum")
    distortion_interval: int = option(4, "SSN: R_D every N steps (lazy, weight scaled by N), on half the batch",
                                      low=1)


def latent_shape(config) -> tuple[int, ...]:
    """z is a grid of independent blocks: (z_dim, rows, cols)."""
    return (config.z_dim, config.latent_rows, config.latent_cols)
