"""CIPS training hooks: StyleGAN2's, plus rendering the full frame at any resolution (SelfSSIM, render tools)."""

from __future__ import annotations

import torch

from spatialgan.coords import pixel_grid
from spatialgan.training.hooks import TrainingHooks


class CIPSHooks(TrainingHooks):
    @torch.no_grad()
    def render_full_frame(self, G, z, resolution, truncation_psi=1.0):
        coords = pixel_grid(resolution, resolution, device=z.device)
        return G.synthesis(G.map(z, truncation_psi), coords=coords, chunk=1 << 16)
