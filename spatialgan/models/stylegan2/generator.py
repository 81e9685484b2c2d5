"""The StyleGAN2 generator: the mapping network and the shared synthesis network."""

from __future__ import annotations

import torch
from torch import nn

from spatialgan.core.mapping import MappingNetwork
from spatialgan.core.synthesis import SynthesisNetwork


class StyleGAN2Generator(nn.Module):
    """G(z) = synthesis(mapping(z)), with truncation and style mixing support."""

    def __init__(self, resolution: int, z_dim: int = 512, w_dim: int = 512, img_channels: int = 3,
                 mapping_layers: int = 8, mapping_lr_multiplier: float = 0.01, channel_base: int = 32768,
                 channel_max: int = 512, upsample: str = "bilinear", fused: bool | str = "auto"):
        super().__init__()
        self.z_dim, self.w_dim, self.resolution, self.img_channels = z_dim, w_dim, resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, resolution, img_channels, channel_base, channel_max, upsample, fused)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, lr_multiplier=mapping_lr_multiplier)

    def map(self, z: torch.Tensor, truncation_psi: float = 1.0, update_w_avg: bool = False) -> torch.Tensor:
        w = self.mapping(z, truncation_psi, update_w_avg)
        return w[:, None].expand(-1, self.num_ws, -1)

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """ws (B, num_ws, w_dim) -> images (B, 3, R, R)."""
        return self.synthesis(ws, noise_mode)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random") -> torch.Tensor:
        return self.synthesize(self.map(z, truncation_psi), noise_mode)
