"""ScaleParty's pad-free generator: StyleGAN2 driven by scale-consistent positional encodings, with no padding.

The input is the encoding of the requested region at the base level (spatialgan.core.coords.region_grid, n + 2 n_pad
pixels per side), lifted by a learned input layer: Fourier features sin(B p + b) of each position followed by an
unpadded modulated 3x3 conv. Every later conv is unpadded too. Per block: bilinear 2x upsampling with half-pixel
centres, whose outermost pixel on each side reads past the map (clamped) and is cropped, then two unpadded 3x3
convs, a ToRGB added to the upsampled and cropped RGB skip; the margin is cropped at the output, n 2^L.

Margin arithmetic: a map n_l + 2m upsamples to 2 n_l + 4m, loses 1 + 1 + 1 pixels per side (clamped edge, two
convs) and must again be n_{l+1} + 2m, so m = 3: maps are n_l + 6 and the base encoding needs n_pad = 4. The
paper's n_l + 4 (n_pad = 3) leaves the clamped edge pixels inside the margin; here they are removed, so that
every output pixel depends only on the positions around it and a region rendered on its own equals the same
region cut from a larger render exactly (tested), which is what makes tiled rendering exact.

The image-space position of every feature-map pixel is carried through the network beside the features (the
same upsampling and crops, exact for a lattice), so noise can be sampled where each pixel is ('grid' policy).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan.core.coords import region_grid
from spatialgan.core.layers.coordinates import FourierFeatures
from spatialgan.core.layers.modulated import StyledConv, ToRGB
from spatialgan.core.layers.noise import grid_noise, resize_white_noise
from spatialgan.core.mapping import MappingNetwork
from spatialgan.core.synthesis import channels_at

MARGIN = 3          # pixels per side kept on every feature map (see the margin arithmetic above)
# grid: noise fixed in image space (consistent across regions, scales and tiles); const: one fixed map per layer,
# drawn for the trained frame and resized to each render (the same pattern at every scale, but not anchored to
# positions); random: fresh per call; none.
NOISE_POLICIES = ("grid", "const", "random", "none")
Warp = Callable[[torch.Tensor], torch.Tensor]


def _upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def _crop(x: torch.Tensor, k: int) -> torch.Tensor:
    return x[..., k:x.shape[-2] - k, k:x.shape[-1] - k] if k else x


class ScalePartyGenerator(nn.Module):
    def __init__(self, resolution: int, z_dim: int = 512, w_dim: int = 512, mapping_layers: int = 8,
                 channel_base: int = 32768, channel_max: int = 512, n_pad: int = 4, base: int = 4,
                 fourier_features: int | None = None, mapping_lr_multiplier: float = 0.01, img_channels: int = 3):
        super().__init__()
        if n_pad < MARGIN + 1:
            raise ValueError(f"n_pad must be at least {MARGIN + 1} (the first unpadded conv eats one pixel)")
        levels = int(round(math.log2(resolution / base)))
        if base * 2 ** levels != resolution:
            raise ValueError(f"resolution must be {base} times a power of two, got {resolution}")
        self.resolution, self.base, self.levels, self.n_pad = resolution, base, levels, n_pad
        self.z_dim, self.w_dim, self.img_channels = z_dim, w_dim, img_channels
        ch = [channels_at(base * 2 ** l, channel_base, channel_max) for l in range(levels + 1)]
        nf = fourier_features or ch[0]
        self.fourier = FourierFeatures(nf)
        self.input_conv = StyledConv(nf, ch[0], w_dim, None, padding=0)
        self.input_rgb = ToRGB(ch[0], w_dim, img_channels)
        self.convs = nn.ModuleList()
        self.torgbs = nn.ModuleList()
        for l in range(1, levels + 1):
            self.convs.append(StyledConv(ch[l - 1], ch[l], w_dim, None, padding=0))
            self.convs.append(StyledConv(ch[l], ch[l], w_dim, None, padding=0))
            self.torgbs.append(ToRGB(ch[l], w_dim, img_channels))
        self.num_ws = 2 + 3 * levels
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, lr_multiplier=mapping_lr_multiplier)
        self._const_noise: dict = {}

    def map(self, z: torch.Tensor, truncation_psi: float = 1.0, update_w_avg: bool = False) -> torch.Tensor:
        w = self.mapping(z, truncation_psi, update_w_avg)
        return w[:, None].expand(-1, self.num_ws, -1)

    # ------------------------------------------------------------------------------------------ encodings
    def encoding(self, center=(0.0, 0.0), scale: float = 1.0, size: tuple[int, int] | None = None,
                 device=None) -> torch.Tensor:
        """Base-level encoding of an output of `size` (h, w) pixels, centred at `center`, whose pixels are `scale`
        times the full frame's pixel at the trained resolution (scale 1, size (R, R): the trained frame). The base
        lattice is the region's own (the paper's p_enc), so sizes must be multiples of 2^L; `render` lifts that."""
        h, w = size or (self.resolution, self.resolution)
        step = 2 ** self.levels
        if h % step or w % step:
            raise ValueError(f"output sizes must be multiples of {step} for this generator, got {h}x{w}")
        period = 2.0 / self.resolution * scale * step
        return region_grid(center, (period, period), (h // step, w // step), pad=self.n_pad, device=device)

    def layer_sizes(self, n: int) -> list[int]:
        """Side of every conv's output for n base pixels of output, input conv first (n 2^l + 8, then + 6)."""
        sizes = [n + 2 * MARGIN]
        for l in range(1, self.levels + 1):
            sizes += [n * 2 ** l + 2 * MARGIN + 2, n * 2 ** l + 2 * MARGIN]
        return sizes

    # ------------------------------------------------------------------------------------------ noise
    def _noise(self, index: int, level: int, positions: torch.Tensor, noise_mode: str, noise_seed,
               dtype: torch.dtype) -> torch.Tensor | None:
        if noise_mode == "grid":
            period = 2.0 / (self.base * 2 ** level)          # this layer's pixel in the trained frame
            return grid_noise(positions, period, stream=index, seed=noise_seed).to(dtype)
        if noise_mode == "const":
            size = self.layer_sizes(self.base)[index]
            key = (index, positions.device)
            if key not in self._const_noise:
                gen = torch.Generator().manual_seed(0x5CA1E + index)
                self._const_noise[key] = torch.randn(1, 1, size, size, generator=gen).to(positions.device)
            # One map for the trained frame, resized to other renders with unit variance restored per pixel.
            return resize_white_noise(self._const_noise[key], tuple(positions.shape[-2:])).to(dtype)
        if noise_mode not in NOISE_POLICIES:
            raise ValueError(f"noise_mode must be one of {NOISE_POLICIES}, got {noise_mode!r}")
        return None                                          # 'random' and 'none': the layer's own

    # ------------------------------------------------------------------------------------------ synthesis
    def synthesize(self, ws: torch.Tensor, noise_mode: str = "grid", encoding: torch.Tensor | None = None,
                   noise_seed: int | torch.Tensor = 0) -> torch.Tensor:
        """Images for a base-level encoding (B or 1, 2, n_h + 2 n_pad, n_w + 2 n_pad); default: the full frame.
        `noise_seed` (one int, or one per image) picks the image-space noise of the 'grid' policy."""
        if encoding is None:
            encoding = self.encoding(device=ws.device)
        enc = _crop(encoding, self.n_pad - MARGIN - 1)                    # n + 2 (MARGIN + 1): one conv from n + 6
        b = ws.shape[0]
        pos = enc.expand(b, -1, -1, -1).permute(0, 2, 3, 1).float()      # (B, H, W, 2), never bf16
        x = self.fourier(pos.reshape(b, -1, 2)).reshape(b, *pos.shape[1:3], -1).permute(0, 3, 1, 2)
        positions = _crop(enc.double(), 1)                               # where each conv output pixel sits

        def conv(layer, x, w, index, level):
            noise = self._noise(index, level, positions, noise_mode, noise_seed, x.dtype)
            return layer(x, w, noise_mode, noise=noise)

        x = conv(self.input_conv, x, ws[:, 0], 0, 0)
        rgb = self.input_rgb(x, ws[:, 1])
        for l in range(self.levels):
            i = 2 + 3 * l
            x = _crop(_upsample(x), 1)                                    # 2 n + 12 -> 2 n + 10
            positions = _crop(_crop(_upsample(positions), 1), 1)
            x = conv(self.convs[2 * l], x, ws[:, i], 2 * l + 1, l + 1)    # 2 n + 8
            positions = _crop(positions, 1)
            x = conv(self.convs[2 * l + 1], x, ws[:, i + 1], 2 * l + 2, l + 1)   # 2 n + 6
            rgb = _crop(_upsample(rgb), MARGIN) + self.torgbs[l](x, ws[:, i + 2])
        return _crop(rgb, MARGIN)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "grid",
                encoding: torch.Tensor | None = None) -> torch.Tensor:
        return self.synthesize(self.map(z, truncation_psi), noise_mode, encoding)

    # ------------------------------------------------------------------------------------------ rendering
    def _snap(self, start: float, period: float, count: int) -> tuple[float, int, int]:
        """Places `count` output pixels whose first centre is `start` on a global lattice of base pixels: returns
        (centre of the first base pixel, number of base pixels, offset of the first output pixel in the render).
        The base lattice depends only on the output lattice, not on where the window starts, so a shifted window
        or a tile is a crop of the same render (exact translation equivariance, exact tiling)."""
        step = 2 ** self.levels
        m = math.floor(start / period + 1e-6)               # global index of the first output pixel
        phase = start - m * period
        k0, k1 = m // step, (m + count - 1) // step
        first_base = phase + (k0 * step + (step - 1) / 2) * period
        return first_base, k1 - k0 + 1, m - k0 * step

    def _render_window(self, ws, x_start, y_start, period, w, h, noise_mode, noise_seed, warp):
        step = 2 ** self.levels
        bx, kx, ox = self._snap(x_start, period, w)
        by, ky, oy = self._snap(y_start, period, h)
        base = period * step
        center = (bx + base * (kx - 1) / 2, by + base * (ky - 1) / 2)
        enc = region_grid(center, (base, base), (ky, kx), pad=self.n_pad, device=ws.device, dtype=torch.float64)
        if warp is not None:
            enc = warp(enc)
        images = self.synthesize(ws, noise_mode, enc, noise_seed)
        return images[..., oy:oy + h, ox:ox + w]

    def tiles(self, ws: torch.Tensor, center=(0.0, 0.0), scale: float = 1.0, size: tuple[int, int] | None = None,
              tile: int = 256, noise_mode: str = "grid", noise_seed: int | torch.Tensor = 0,
              warp: Warp | None = None):
        """Yields (top, left, images) tiles of at most tile x tile pixels that together make `render`'s image."""
        h, w = size or (self.resolution, self.resolution)
        if h < 1 or w < 1 or scale <= 0 or tile < 1:
            raise ValueError(f"need a positive size, scale and tile, got {h}x{w} at scale {scale}, tile {tile}")
        period = 2.0 * scale / self.resolution
        x_start = center[0] - period * w / 2 + period / 2
        y_start = center[1] - period * h / 2 + period / 2
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                th, tw = min(tile, h - top), min(tile, w - left)
                yield top, left, self._render_window(ws, x_start + left * period, y_start + top * period, period,
                                                     tw, th, noise_mode, noise_seed, warp)

    def render(self, ws: torch.Tensor, center=(0.0, 0.0), scale: float = 1.0, size: tuple[int, int] | None = None,
               noise_mode: str = "grid", noise_seed: int | torch.Tensor = 0, warp: Warp | None = None,
               tile: int | None = None) -> torch.Tensor:
        """Any region at any scale and size (h, w): output pixels are `scale` times the trained frame's pixel and
        centred on `center` (the trained frame spans [-1, 1]^2). `warp` maps the base-level positions (B, 2, H, W)
        to new ones (any positional-encoding field). `tile` renders in tiles of at most tile x tile pixels, in
        memory bounded by the tile; with the 'grid' (or 'none') noise policy the result equals the whole render."""
        h, w = size or (self.resolution, self.resolution)
        parts = self.tiles(ws, center, scale, (h, w), tile or max(h, w), noise_mode, noise_seed, warp)
        if tile is None or (h <= tile and w <= tile):
            return next(parts)[2]
        out = ws.new_empty(ws.shape[0], self.img_channels, h, w)
        for top, left, images in parts:
            out[..., top:top + images.shape[-2], left:left + images.shape[-1]] = images
        return out
