"""CIPS: every pixel's colour computed independently from its coordinate and a latent (no spatial convolution).

Inputs per pixel: Fourier features sin(B [x, y] + b) and, unless CIPS-NE, a learned coordinate embedding read at
the pixel's position; an input layer and `num_layers` modulated FC layers (StyleGAN2 modulation/demodulation,
leaky ReLU), with a modulated ToRGB after every second layer, summed (the official CIPSskip layout: conv1, then
pairs of `linears` each followed by a `to_rgbs` entry; styles in the same interleaved order). Coordinates are
the interface: any (B, 2, H, W) tensor in image space (spatialgan.core.coords) gives an image of that size, so
resolution, crops, foveation and panoramas are coordinate builders. Layers are matrix products over pixels; a
render can be split into pixel chunks with identical results.
"""

from __future__ import annotations

import torch
from torch import nn

from spatialgan import SpatialGANError
from spatialgan.core.coords import pixel_grid
from spatialgan.core.layers.coordinates import CoordinateEmbedding, FourierFeatures, ModulatedLinear
from spatialgan.core.mapping import MappingNetwork


class CIPSGenerator(nn.Module):
    def __init__(self, resolution: int, z_dim: int = 512, w_dim: int = 512, width: int = 512, num_layers: int = 14,
                 mapping_layers: int = 8, coord_embedding: bool = True, img_channels: int = 3,
                 mapping_lr_multiplier: float = 0.01, panorama_frames: float | None = None,
                 channels: list[int] | None = None, corner_coords: bool = False):
        super().__init__()
        if num_layers < 2 or num_layers % 2:
            raise SpatialGANError(f"CIPS needs an even number of layers (--cips-layers; a ToRGB after every second), "
                                  f"got {num_layers}")
        self.resolution, self.z_dim, self.w_dim, self.img_channels = resolution, z_dim, w_dim, img_channels
        self.num_layers = num_layers
        # The official CIPS feeds its Fourier features linspace(-1, 1) coordinates (pixel i of the R-pixel frame at
        # -1 + 2i / (R - 1)) and reads its embedding at the trained grid directly. Our coordinates are pixel centres
        # (-1 + (2i + 1) / R), so a converted model scales them by R / (R - 1) before the Fourier features; the
        # embedding, read at pixel centres, then returns exactly the table entries the official code uses.
        self.corner_coords = corner_coords
        self.fourier_scale = resolution / (resolution - 1) if corner_coords else 1.0
        # Cylindrical coordinates: 360 degrees span `panorama_frames` frame widths, x in [-frames, frames); the
        # Fourier features see (cos theta, sin theta, y), so every input is periodic in x.
        self.panorama_frames = panorama_frames
        self.fourier = FourierFeatures(width, in_features=3 if panorama_frames else 2)
        if not coord_embedding:
            self.embedding = None
        elif panorama_frames:
            self.embedding = CoordinateEmbedding(width, resolution, round(resolution * panorama_frames),
                                                 periodic_x=True)
        else:
            self.embedding = CoordinateEmbedding(width, resolution, resolution)
        channels = list(channels) if channels else [width] * (num_layers // 2)   # width of each layer pair
        if len(channels) != num_layers // 2:
            raise ValueError(f"channels needs one width per layer pair ({num_layers // 2}), got {len(channels)}")
        self.channels = channels
        self.input_layer = ModulatedLinear(2 * width if coord_embedding else width, channels[0], w_dim)
        layers, torgbs, previous = [], [], channels[0]
        for c in channels:
            layers += [ModulatedLinear(previous, c, w_dim), ModulatedLinear(c, c, w_dim)]
            torgbs.append(ModulatedLinear(c, img_channels, w_dim, demodulate=False, activation=False))
            previous = c
        self.layers, self.torgbs = nn.ModuleList(layers), nn.ModuleList(torgbs)
        self.num_ws = 1 + num_layers + num_layers // 2     # input layer, then per pair: 2 layers and a ToRGB
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, lr_multiplier=mapping_lr_multiplier)

    def map(self, z: torch.Tensor, truncation_psi: float = 1.0, update_w_avg: bool = False) -> torch.Tensor:
        w = self.mapping(z, truncation_psi, update_w_avg)
        return w[:, None].expand(-1, self.num_ws, -1)

    def pixel_inputs(self, coords: torch.Tensor) -> torch.Tensor:
        """coords (B, N, 2) -> the first layer's input (B, N, C)."""
        if self.panorama_frames:
            theta = coords[..., :1] * (torch.pi / self.panorama_frames)
            features = self.fourier(torch.cat([theta.cos(), theta.sin(), coords[..., 1:]], dim=-1))
            table_coords = torch.cat([coords[..., :1] / self.panorama_frames, coords[..., 1:]], dim=-1)
        else:
            scaled = coords * self.fourier_scale if self.fourier_scale != 1.0 else coords
            features, table_coords = self.fourier(scaled), coords
        if self.embedding is not None:
            features = torch.cat([features, self.embedding(table_coords)], dim=-1)
        return features

    def render_pixels(self, ws: torch.Tensor, coords: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """ws (B, num_ws, w_dim), or per pixel (B, num_ws, N, w_dim); coords (B, N, 2) -> colours (B, N, 3).
        Style order: input layer 0; layer j at 1 + j + j // 2; the ToRGB of pair k at 3 k + 3."""
        x = self.input_layer(self.pixel_inputs(coords), ws[:, 0], noise_mode)
        rgb = 0
        for j, layer in enumerate(self.layers):
            x = layer(x, ws[:, 1 + j + j // 2], noise_mode)
            if j % 2 == 1:
                rgb = rgb + self.torgbs[j // 2](x, ws[:, 3 * (j // 2) + 3])
        return rgb

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "random", coords: torch.Tensor | None = None,
                   chunk: int | None = None) -> torch.Tensor:
        """Images (B, 3, H, W) at `coords` (B or 1, 2, H, W; default: the trained full frame). ws may be per pixel,
        (B, num_ws, w_dim, H, W). `chunk` renders that many pixels at a time (bounded memory, same result).
        noise_mode 'random' (training, as StyleGAN2) adds per-pixel noise; 'const'/'none' render deterministically."""
        if coords is None:
            coords = pixel_grid(self.resolution, self.resolution, device=ws.device)     # float32 even under autocast
        b = ws.shape[0]
        h, w = coords.shape[-2:]
        flat = coords.expand(b, -1, -1, -1).flatten(2).transpose(1, 2)                    # (B, N, 2)
        if ws.ndim == 5:
            ws = ws.flatten(3).transpose(2, 3)                                             # (B, num_ws, N, w_dim)
        n = flat.shape[1]
        step = n if chunk is None else max(1, int(chunk))
        parts = []
        for start in range(0, n, step):
            ws_part = ws[:, :, start:start + step] if ws.ndim == 4 else ws
            parts.append(self.render_pixels(ws_part, flat[:, start:start + step], noise_mode))
        out = torch.cat(parts, dim=1)
        return out.transpose(1, 2).reshape(b, self.img_channels, h, w)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random",
                coords: torch.Tensor | None = None, chunk: int | None = None) -> torch.Tensor:
        return self.synthesize(self.map(z, truncation_psi), noise_mode, coords, chunk)
