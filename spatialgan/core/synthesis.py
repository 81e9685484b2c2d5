"""StyleGAN2's synthesis network (skip architecture: constant input, styled convs, ToRGB skips), also SSN's."""

from __future__ import annotations

import math

import torch
from torch import nn

from spatialgan.core.layers.modulated import StyledConv, ToRGB
from spatialgan.core.layers.precision import FULL_PRECISION_MAX_RES, clamp_fp16, fp16_region, full_precision
from spatialgan.core.layers.resampling import Upsample2d


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature width at a resolution: channel_base / resolution, capped at channel_max (StyleGAN2-ADA)."""
    return max(1, min(channel_base // resolution, channel_max))


def check_resolution(resolution: int) -> int:
    log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
    if resolution < 4 or 2 ** log2 != resolution:
        raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
    return log2


class SynthesisBlock(nn.Module):
    """One resolution: (const input or upsampling conv), conv, ToRGB; adds to the upsampled RGB skip."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 upsample: str, fused: bool | str):
        super().__init__()
        self.is_first = in_channels == 0
        self.resolution = resolution
        if self.is_first:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
            self.conv0 = None
        else:
            self.conv0 = StyledConv(in_channels, out_channels, w_dim, resolution, up=True, upsample=upsample,
                                    fused=fused)
        self.conv1 = StyledConv(out_channels, out_channels, w_dim, resolution, fused=fused)
        self.torgb = ToRGB(out_channels, w_dim, img_channels, fused=fused)
        self.rgb_up = None if self.is_first else Upsample2d(upsample)
        self.num_ws = 2 if self.is_first else 3  # conv1 + torgb (+ conv0)
        self.use_fp16 = False                     # set by the trainer (--fp16-res): float16 on CUDA, clamped

    def forward(self, x, rgb, ws: torch.Tensor, noise_mode: str = "random"):
        if self.resolution > FULL_PRECISION_MAX_RES:
            return self._forward(x, rgb, ws, noise_mode)
        with full_precision(ws):
            return self._forward(None if x is None else x.float(), rgb, ws.float(), noise_mode)

    def _forward(self, x, rgb, ws: torch.Tensor, noise_mode: str):
        with fp16_region(self.use_fp16, ws):
            i = 0
            if self.is_first:
                x = self.const[None].expand(ws.shape[0], -1, -1, -1).to(ws.dtype)
            else:
                x = self.conv0(x, ws[:, 0], noise_mode)
                i = 1
            x = clamp_fp16(self.conv1(x, ws[:, i], noise_mode))
            y = self.torgb(x, ws[:, i + 1]).float()
        rgb = y if rgb is None else self.rgb_up(rgb) + y
        return x, rgb


class SynthesisNetwork(nn.Module):
    """Maps per-layer styles ws (B, num_ws, w_dim) to an image (B, img_channels, R, R)."""

    def __init__(self, w_dim: int, resolution: int, img_channels: int = 3, channel_base: int = 32768,
                 channel_max: int = 512, upsample: str = "bilinear", fused: bool | str = "auto"):
        super().__init__()
        log2 = check_resolution(resolution)
        self.resolution, self.w_dim = resolution, w_dim
        blocks, in_ch = [], 0
        for res in [2 ** i for i in range(2, log2 + 1)]:
            out_ch = channels_at(res, channel_base, channel_max)
            blocks.append(SynthesisBlock(in_ch, out_ch, w_dim, res, img_channels, upsample, fused))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        # Consecutive blocks share a w: conv1 of block k, ToRGB of block k and conv0 of block k+1 (StyleGAN2).
        self.num_ws = 2 * log2 - 2

    def set_conv_clamp(self, value: float | None) -> None:
        """Clamps every layer's output to +-value in every precision, as StyleGAN2-ADA's conv_clamp does (None: only
        float16 regions are clamped)."""
        for layer in self.modules():
            if isinstance(layer, (StyledConv, ToRGB)):
                layer.conv_clamp = None if value is None else float(value)

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        # (B, num_ws, w_dim) style vectors, or (B, num_ws, w_dim, h, w) style maps (SSN).
        if ws.ndim not in (3, 5) or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must have shape (B, {self.num_ws}, {self.w_dim}[, h, w]), got {tuple(ws.shape)}")
        x = rgb = None
        w_idx = 0
        for block in self.blocks:
            x, rgb = block(x, rgb, ws[:, w_idx:w_idx + block.num_ws], noise_mode)
            w_idx += block.num_ws - 1
        return rgb
