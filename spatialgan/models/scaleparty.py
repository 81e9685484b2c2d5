"""ScaleParty's pad-free generator: StyleGAN2 driven by scale-consistent positional encodings, with no padding.

The input is the encoding of the requested region at the base level (spatialgan.coords.region_grid, n + 2 n_pad
pixels per side), lifted by a learned input layer: Fourier features sin(B p + b) of each position followed by an
unpadded modulated 3x3 conv. Every later conv is unpadded too. Per block: bilinear 2x upsampling with half-pixel
centres, whose outermost pixel on each side reads past the map (clamped) and is cropped, then two unpadded 3x3
convs, a ToRGB added to the upsampled and cropped RGB skip; the margin is cropped at the output, n 2^L.

Margin arithmetic: a map n_l + 2m upsamples to 2 n_l + 4m, loses 1 + 1 + 1 pixels per side (clamped edge, two
convs) and must again be n_{l+1} + 2m, so m = 3: maps are n_l + 6 and the base encoding needs n_pad = 4. The
paper's n_l + 4 (n_pad = 3) leaves the clamped edge pixels inside the margin; here they are removed, so that
every output pixel depends only on the positions around it and a region rendered on its own equals the same
region cut from a larger render exactly (tested), which is what makes tiled rendering exact.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan.coords import region_grid
from spatialgan.layers.coordinates import FourierFeatures
from spatialgan.layers.modulated import StyledConv, ToRGB
from spatialgan.models.mapping import MappingNetwork
from spatialgan.models.stylegan2 import channels_at

MARGIN = 3          # pixels per side kept on every feature map (see the margin arithmetic above)


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

    def map(self, z: torch.Tensor, truncation_psi: float = 1.0, update_w_avg: bool = False) -> torch.Tensor:
        w = self.mapping(z, truncation_psi, update_w_avg)
        return w[:, None].expand(-1, self.num_ws, -1)

    def encoding(self, center=(0.0, 0.0), scale: float = 1.0, size: tuple[int, int] | None = None,
                 device=None) -> torch.Tensor:
        """Base-level encoding of an output of `size` (h, w) pixels, centred at `center`, whose pixels are `scale`
        times the full frame's pixel at the trained resolution (scale 1, size (R, R): the trained frame)."""
        h, w = size or (self.resolution, self.resolution)
        step = 2 ** self.levels
        if h % step or w % step:
            raise ValueError(f"output sizes must be multiples of {step} for this generator, got {h}x{w}")
        period = 2.0 / self.resolution * scale * step
        return region_grid(center, (period, period), (h // step, w // step), pad=self.n_pad, device=device)

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "random", encoding: torch.Tensor | None = None
                  ) -> torch.Tensor:
        """Images for a base-level encoding (B or 1, 2, n_h + 2 n_pad, n_w + 2 n_pad); default: the full frame."""
        if noise_mode == "const":
            # No noise map has a fixed size here; until the grid-sampled noise policy (issue 5) lands, the
            # deterministic renders used by snapshots and tools are noise-free.
            noise_mode = "none"
        if encoding is None:
            encoding = self.encoding(device=ws.device)
        enc = _crop(encoding, self.n_pad - MARGIN - 1).to(ws.dtype)      # n + 2 (MARGIN + 1): one conv from n + 6
        b = ws.shape[0]
        pos = enc.expand(b, -1, -1, -1).permute(0, 2, 3, 1)               # (B, H, W, 2)
        x = self.fourier(pos.reshape(b, -1, 2)).reshape(b, *pos.shape[1:3], -1).permute(0, 3, 1, 2)
        x = self.input_conv(x, ws[:, 0], noise_mode)
        rgb = self.input_rgb(x, ws[:, 1])
        for l in range(self.levels):
            i = 2 + 3 * l
            x = _crop(_upsample(x), 1)                                    # 2 n + 12 -> 2 n + 10
            x = self.convs[2 * l](x, ws[:, i], noise_mode)                # 2 n + 8
            x = self.convs[2 * l + 1](x, ws[:, i + 1], noise_mode)        # 2 n + 6
            rgb = _crop(_upsample(rgb), MARGIN) + self.torgbs[l](x, ws[:, i + 2])
        return _crop(rgb, MARGIN)

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str = "random",
                encoding: torch.Tensor | None = None) -> torch.Tensor:
        return self.synthesis(self.map(z, truncation_psi), noise_mode, encoding)
