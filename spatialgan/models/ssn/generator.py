"""Spatially stochastic networks (SSN): a grid of independent latent blocks driving spatially modulated convs.

z has shape (B, z_dim, rows, cols). The mapping MLP runs on every block (a stack of 1x1 convs), giving a w map;
each layer's spatial encoder is its affine map as a 1x1 conv on the blocks, followed by one of the block-to-pixel
encoders of spatialgan.models.ssn.encoder (bilinear by default). The synthesis network and all StyleGAN2
parameter names are kept, and every encoder maps a constant grid to a constant map, so a StyleGAN2 checkpoint
initialises an SSN exactly at spatially constant latents.
"""

from __future__ import annotations

import torch
from torch import nn

from spatialgan.core.layers.modulated import ModulatedConv2d
from spatialgan.core.mapping import MappingNetwork
from spatialgan.core.synthesis import SynthesisNetwork
from spatialgan.models.ssn.encoder import make_encoder


class SSNGenerator(nn.Module):
    def __init__(self, resolution: int, latent_rows: int = 4, latent_cols: int = 4, z_dim: int = 512,
                 w_dim: int = 512, img_channels: int = 3, mapping_layers: int = 8,
                 mapping_lr_multiplier: float = 0.01, channel_base: int = 32768, channel_max: int = 512,
                 upsample: str = "bilinear", spatial_encoder: str = "bilinear"):
        super().__init__()
        if latent_rows < 1 or latent_cols < 1:
            raise ValueError("the latent grid needs at least one row and one column")
        self.z_dim, self.w_dim, self.resolution, self.img_channels = z_dim, w_dim, resolution, img_channels
        self.latent_rows, self.latent_cols = latent_rows, latent_cols
        self.synthesis = SynthesisNetwork(w_dim, resolution, img_channels, channel_base, channel_max, upsample)
        self.num_ws = self.synthesis.num_ws
        self.spatial_encoder = spatial_encoder
        for module in self.synthesis.modules():
            if isinstance(module, ModulatedConv2d):
                module.spatial_encoder = make_encoder(spatial_encoder, w_dim, module.in_channels)
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, lr_multiplier=mapping_lr_multiplier)

    def map(self, z: torch.Tensor, truncation_psi: float = 1.0, update_w_avg: bool = False) -> torch.Tensor:
        """z (B, z_dim, rows, cols) -> w per block, (B, rows, cols, w_dim): the MLP as 1x1 convs."""
        if z.ndim != 4 or z.shape[1] != self.z_dim:
            raise ValueError(f"SSN latents have shape (B, {self.z_dim}, rows, cols), got {tuple(z.shape)}")
        return self.mapping(z.permute(0, 2, 3, 1), truncation_psi, update_w_avg)

    def synthesize(self, w_blocks: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        w_map = w_blocks.permute(0, 3, 1, 2)
        ws = w_map[:, None].expand(-1, self.num_ws, -1, -1, -1)
        return self.synthesis(ws, noise_mode)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random") -> torch.Tensor:
        return self.synthesize(self.map(z, truncation_psi), noise_mode)
