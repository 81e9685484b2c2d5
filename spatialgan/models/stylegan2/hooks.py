"""StyleGAN2's training hooks: z ~ N(0, I), whole images, style mixing with one coin and cutoff per batch."""

from __future__ import annotations

import torch
from torch import nn

from spatialgan import batchrng
from spatialgan.models.interface import TrainingHooks


class StyleGAN2Hooks(TrainingHooks):
    def generate(self, G: nn.Module, request: dict, update_w_avg: bool = False,
                 style_mixing: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mixing = self.config.style_mixing if style_mixing is None else style_mixing
        z = request["z"]
        ws = G.map(z, update_w_avg=update_w_avg)
        if mixing > 0:
            # One coin and one cutoff per batch, as in StyleGAN2-ADA.
            cutoff = int(torch.randint(1, ws.shape[1], ()))
            if float(torch.rand(())) < mixing:
                ws2 = G.map(batchrng.randn(*z.shape, device=z.device, dtype=z.dtype))
                layer = torch.arange(ws.shape[1], device=ws.device)[None, :, None]
                ws = torch.where(layer < cutoff, ws, ws2)
        return self.synthesize_request(G, ws, request), ws
