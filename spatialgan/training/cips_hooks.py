"""CIPS training hooks: StyleGAN2's, plus rendering the full frame at any resolution (SelfSSIM, render tools)."""

from __future__ import annotations

import torch

from spatialgan.coords import pixel_grid
from spatialgan.training.hooks import TrainingHooks


class CIPSHooks(TrainingHooks):
    """With a cylindrical model, each generated training image is a frame at a random angle of its panorama (the
    reals are taken as such frames), as in CIPS's panorama training."""

    def sample_request(self, batch_size, device):
        request = super().sample_request(batch_size, device)
        frames = self.config.panorama_frames
        if frames:
            request["x_offset"] = (torch.rand(batch_size, device=device) * 2 - 1) * frames
        return request

    def synthesize_request(self, G, ws, request):
        if "x_offset" not in request:
            return G.synthesis(ws)
        r = self.config.resolution
        coords = pixel_grid(r, r, device=ws.device).repeat(ws.shape[0], 1, 1, 1)
        coords[:, 0] += request["x_offset"][:, None, None]
        return G.synthesis(ws, coords=coords)

    @torch.no_grad()
    def render_full_frame(self, G, z, resolution, truncation_psi=1.0):
        coords = pixel_grid(resolution, resolution, device=z.device)
        return G.synthesis(G.map(z, truncation_psi), "const", coords=coords, chunk=1 << 16)
