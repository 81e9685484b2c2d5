"""SSN's own options: the latent block grid and the distortion regularizer."""

from __future__ import annotations

from dataclasses import dataclass

from spatialgan.models.ssn.encoder import ENCODERS
from spatialgan.options import option


@dataclass
class SSNOptions:
    latent_rows: int = option(4, "SSN: rows of the latent block grid", low=1, high=64)
    latent_cols: int = option(4, "SSN: columns of the latent block grid", low=1, high=64)
    spatial_encoder: str = option("learned", "SSN: how block styles reach each layer's pixels (learned footprint, "
                                  "bilinear, nearest; see models/ssn/encoder.py)", choices=ENCODERS,
                                  legacy="bilinear")
    lambda_distortion: float = option(100.0, "SSN: weight of R_D; with --distortion-reduction mean, R_D is the "
                                      "mean over the other blocks of their MSE, the scale of the distortion metric",
                                      low=0)
    distortion_reduction: str = option("mean", "SSN: R_D over the other blocks: mean (the metric's scale) or sum "
                                       "(the paper's formula, (blocks - 1) times larger)", choices=("mean", "sum"),
                                       legacy="sum")
    distortion_interval: int = option(4, "SSN: R_D every N steps (lazy, weight scaled by N), on half the batch",
                                      low=1)


def latent_shape(config) -> tuple[int, ...]:
    """z is a grid of independent blocks: (z_dim, rows, cols)."""
    return (config.z_dim, config.latent_rows, config.latent_cols)
