"""The StyleGAN2 residual discriminator with minibatch standard deviation; accepts any input size."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan.core.layers.equalized import EqualizedConv2d, EqualizedLinear
from spatialgan.core.layers.precision import clamp_fp16, fp16_region
from spatialgan.core.layers.resampling import Downsample2d
from spatialgan.core.synthesis import channels_at, check_resolution


class DiscriminatorBlock(nn.Module):
    """conv3x3 -> downsample -> conv3x3, plus a downsampled 1x1 skip; the sum is scaled by 1/sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int, downsample: str):
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.down = Downsample2d(downsample)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, activation="lrelu")
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False)
        self.use_fp16 = False                     # set by the trainer (--fp16-res): float16 on CUDA, clamped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with fp16_region(self.use_fp16, x):
            skip = self.skip(self.down(x))
            x = clamp_fp16(self.conv1(self.down(clamp_fp16(self.conv0(x)))))
            out = (x + skip) * (1.0 / math.sqrt(2.0))
        return out.float() if self.use_fp16 else out


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, num_channels: int = 1) -> torch.Tensor:
    """Appends the std over groups of samples, averaged over features and pixels, as extra channels.

    The group is the largest divisor of the batch not above `group_size`, so any batch size works.
    """
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group_size, n) + 1) if n % d == 0)
    f = num_channels
    y = x.reshape(g, n // g, f, c // f, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))           # (n/g, f)
    y = y.reshape(n // g, f, 1, 1).repeat(g, 1, h, w)     # sample i uses group i % (n/g)
    return torch.cat([x, y.to(x.dtype)], dim=1)


class Discriminator(nn.Module):
    """FromRGB -> residual blocks down to ~4x4 -> mbstd -> conv -> adaptive 4x4 pool -> FC -> FC(1)."""

    def __init__(self, resolution: int, img_channels: int = 3, channel_base: int = 32768, channel_max: int = 512,
                 mbstd_group_size: int = 4, mbstd_channels: int = 1, downsample: str = "fir"):
        super().__init__()
        log2 = check_resolution(resolution)
        self.resolution = resolution
        self.mbstd_group_size, self.mbstd_channels = mbstd_group_size, mbstd_channels
        top = channels_at(resolution, channel_base, channel_max)
        self.fromrgb = EqualizedConv2d(img_channels, top, 1, activation="lrelu")
        blocks = []
        for res in [2 ** i for i in range(log2, 2, -1)]:
            blocks.append(DiscriminatorBlock(channels_at(res, channel_base, channel_max),
                                             channels_at(res // 2, channel_base, channel_max), downsample))
        self.blocks = nn.Sequential(*blocks)
        c4 = channels_at(4, channel_base, channel_max)
        self.conv = EqualizedConv2d(c4 + mbstd_channels, c4, 3, activation="lrelu")
        self.fc = EqualizedLinear(c4 * 16, c4, activation="lrelu")
        self.out = EqualizedLinear(c4, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Returns one logit per image, shape (B,)."""
        x = self.blocks(self.fromrgb(img))
        x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_channels)
        x = self.conv(x)
        x = F.adaptive_avg_pool2d(x, 4)
        return self.out(self.fc(x.flatten(1))).squeeze(1)


def build_discriminator(cfg) -> Discriminator:
    """Every model's D, from a run config; with patch training it is built for the patches it sees."""
    return Discriminator(getattr(cfg, "patch_size", None) or cfg.resolution, img_channels=3,
                         channel_base=cfg.channel_base, channel_max=cfg.width, downsample=cfg.downsample)
