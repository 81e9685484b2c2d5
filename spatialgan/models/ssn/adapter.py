"""SSN at inference: spatial latents whose blocks can be redrawn independently."""

from __future__ import annotations

import torch

from spatialgan.models.interface import InferenceAdapter
from spatialgan.models.ssn.blocks import replace_blocks
from spatialgan.models.ssn.options import latent_shape


class SSNAdapter(InferenceAdapter):
    def latent_shape(self) -> tuple[int, ...]:
        return latent_shape(self.config)

    @property
    def grid(self) -> tuple[int, int]:
        return self.G.latent_rows, self.G.latent_cols

    def replace_blocks(self, z: torch.Tensor, blocks, fresh: torch.Tensor) -> torch.Tensor:
        """z (1 or B, C, rows, cols) with `blocks` [(row, col), ...] taken from `fresh` (B, C, rows, cols)."""
        return replace_blocks(z.expand(fresh.shape[0], -1, -1, -1), blocks, fresh)
