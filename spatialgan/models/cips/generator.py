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
                 channels: list[int] | None = None, corner_coords: bool = False, embedding_read: str = "eval"):
        super().__init__()
        if num_layers < 2 or num_layers % 2:
            raise SpatialGANError(f"CIPS needs an even number of layers (--cips-layers; a ToRGB after every second), "
                                  f"got {num_layers}")
        self.resolution, self.z_dim, self.w_dim, self.img_channels = resolution, z_dim, w_dim, img_channels
        self.num_layers = num_layers
        # The official CIPS places pixel i of an S-pixel frame at -1 + 2i / (S - 1) (linspace(-1, 1)); ours are
        # pixel centres, -1 + (2i + 1) / S. A converted model (corner_coords) scales ours by S / (S - 1), S read
        # from the grid's spacing, so that every size renders the official coordinates. Its embedding is read
        # there as the official eval mode does (grid_sample, border, align_corners=False: every official image
        # path), or with embedding_read='train' at our pixel centres, i.e. the table entries its training mode uses.
        if embedding_read not in ("eval", "train"):
            raise ValueError(f"embedding_read must be 'eval' or 'train', got {embedding_read!r}")
        self.corner_coords, self.embedding_read = corner_coords, embedding_read
        self.frame_scale = resolution / (resolution - 1)     # S / (S - 1) of the trained frame
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

    def corner_scale(self, coords: torch.Tensor) -> torch.Tensor | None:
        """(sx, sy) = S / (S - 1) per axis for a corner-convention model, S = 2 / (pixel spacing) of the grid
        (B, 2, H, W); a grid one pixel wide (or irregular, e.g. foveated) takes the trained frame's R / (R - 1)."""
        if not self.corner_coords:
            return None
        scales = []
        for line in (coords[0, 0, 0], coords[0, 1, :, 0]):          # x along a row, y down a column
            steps = line[1:] - line[:-1]
            regular = steps.numel() > 0 and bool((steps - steps.mean()).abs().max() < 1e-4 * steps.mean().abs())
            size = 2.0 / steps.mean().item() if regular and steps.mean().item() > 0 else None
            scales.append(size / (size - 1) if size and size > 1 else self.frame_scale)
        return torch.tensor(scales, device=coords.device, dtype=torch.float32)

    def pixel_inputs(self, coords: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """coords (B, N, 2) -> the first layer's input (B, N, C); `scale` (2,): a corner-convention model's."""
        if self.panorama_frames:
            theta = coords[..., :1] * (torch.pi / self.panorama_frames)
            features = self.fourier(torch.cat([theta.cos(), theta.sin(), coords[..., 1:]], dim=-1))
            table_coords = torch.cat([coords[..., :1] / self.panorama_frames, coords[..., 1:]], dim=-1)
        else:
            if self.corner_coords and scale is None:
                scale = torch.full((2,), self.frame_scale, device=coords.device)
            scaled = coords * scale.to(coords.dtype) if scale is not None else coords
            features = self.fourier(scaled)
            table_coords = scaled if self.embedding_read == "eval" else coords
        if self.embedding is not None:
            features = torch.cat([features, self.embedding(table_coords)], dim=-1)
        return features

    def render_pixels(self, ws: torch.Tensor, coords: torch.Tensor, noise_mode: str = "random",
                      scale: torch.Tensor | None = None) -> torch.Tensor:
        """ws (B, num_ws, w_dim), or per pixel (B, num_ws, N, w_dim); coords (B, N, 2) -> colours (B, N, 3).
        Style order: input layer 0; layer j at 1 + j + j // 2; the ToRGB of pair k at 3 k + 3."""
        x = self.input_layer(self.pixel_inputs(coords, scale), ws[:, 0], noise_mode)
        rgb = 0
        for j, layer in enumerate(self.layers):
            x = layer(x, ws[:, 1 + j + j // 2], noise_mode)
            if j % 2 == 1:
                rgb = rgb + self.torgbs[j // 2](x, ws[:, 3 * (j // 2) + 3])
        return rgb

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "random", coords: torch.Tensor | None = None,
                   chunk: int | None = None, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, 3, H, W) at `coords` (B or 1, 2, H, W; default: the trained full frame). ws may be per pixel,
        (B, num_ws, w_dim, H, W). `chunk` renders that many pixels at a time (bounded memory, same result).
        noise_mode 'random' (training, as StyleGAN2) adds per-pixel noise; 'const'/'none' render deterministically."""
        if coords is None:
            coords = pixel_grid(self.resolution, self.resolution, device=ws.device)     # float32 even under autocast
        b = ws.shape[0]
        h, w = coords.shape[-2:]
        scale = self.corner_scale(coords) if scale is None else scale     # a band of a larger render: its frame's
        flat = coords.expand(b, -1, -1, -1).flatten(2).transpose(1, 2)                    # (B, N, 2)
        if ws.ndim == 5:
            ws = ws.flatten(3).transpose(2, 3)                                             # (B, num_ws, N, w_dim)
        n = flat.shape[1]
        step = n if chunk is None else max(1, int(chunk))
        parts = []
        for start in range(0, n, step):
            ws_part = ws[:, :, start:start + step] if ws.ndim == 4 else ws
            parts.append(self.render_pixels(ws_part, flat[:, start:start + step], noise_mode, scale))
        out = torch.cat(parts, dim=1)
        return out.transpose(1, 2).reshape(b, self.img_channels, h, w)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random",
                coords: torch.Tensor | None = None, chunk: int | None = None) -> torch.Tensor:
        return self.synthesize(self.map(z, truncation_psi), noise_mode, coords, chunk)
