"""ScaleParty hooks (first part): full-frame renders at any resolution. Multi-scale partial training and
inter-scale augmentation are still to come (issue 5); until then the model trains on the full frame."""

from __future__ import annotations

import torch

from spatialgan.training.hooks import TrainingHooks


class ScalePartyHooks(TrainingHooks):
    @torch.no_grad()
    def render_full_frame(self, G, z, resolution, truncation_psi=1.0):
        r = G.resolution
        encoding = G.encoding(scale=r / resolution, size=(resolution, resolution), device=z.device)
        return G.synthesis(G.map(z, truncation_psi), "none", encoding)
