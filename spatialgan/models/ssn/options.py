"""SSN's own options: the latent block grid and the distortion regularizer."""

from __future__ import annotations

from dataclasses import dataclass

from spatialgan.options import option


@dataclass
class SSNOptions:
    latent_rows: int = option(4, "SSN: rows of the latent block grid", low=1, high=64)
    latent_cols: int = option(4, "SSN: columns of the latent block grid", low=1, high=64)
    lambda_distortion: float = option(100.0, "SSN: weight of the distortion regularizer R_D", low=0)
    distortion_interval: int = option(4, "SSN: R_D every N steps (lazy, weight scaled by N), on half the batch",
                                      low=1)


def latent_shape(config) -> tuple[int, ...]:
    """z is a grid of independent blocks: (z_dim, rows, cols)."""
    return (config.z_dim, config.latent_rows, config.latent_cols)
