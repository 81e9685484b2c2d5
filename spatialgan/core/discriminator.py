"""The StyleGAN2 residual discriminator with minibatch standard deviation; accepts any input size."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan.core.layers.equalized import EqualizedConv2d, EqualizedLinear
from spatialgan.core.layers.precision import clamp_fp16, fp16_region
from spatialgan.core.layers.resampling import Downsample2d, fir_filter, fir_kernel
from spatialgan.core.synthesis import channels_at, check_resolution

D_LAYOUTS = ("stylegan2", "down-first")


class DiscriminatorBlock(nn.Module):
    """conv3x3 -> 2x down conv3x3, plus a downsampled 1x1 skip; the sum is scaled by 1/sqrt(2).

    layout 'stylegan2': the down conv is StyleGAN2's (NVIDIA's and rosinality's): the [1,3,3,1] blur with zero
    padding 2, then the 3x3 conv at stride 2, so their discriminator weights load exactly. 'down-first' (this
    library's first D): blur-downsample, then the 3x3 conv at the low resolution. Both cost the same FLOPs and have
    the same parameters; the taps of the second conv sit one high-resolution pixel apart in the first, two in the
    second."""

    def __init__(self, in_channels: int, out_channels: int, downsample: str, layout: str = "stylegan2"):
        super().__init__()
        self.layout = layout
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.down = Downsample2d(downsample)
        if layout == "stylegan2":
            self.register_buffer("blur", fir_kernel(), persistent=False)
            self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, activation="lrelu", padding=0, stride=2)
        else:
            self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, activation="lrelu")
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False)
        self.use_fp16 = False                     # set by the trainer (--fp16-res): float16 on CUDA, clamped

    def down_conv(self, x: torch.Tensor) -> torch.Tensor:
        if self.layout != "stylegan2":
            return self.conv1(self.down(x))
        return self.conv1(fir_filter(x, self.blur, padding=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with fp16_region(self.use_fp16, x):
            skip = self.skip(self.down(x))
            x = clamp_fp16(self.down_conv(clamp_fp16(self.conv0(x))))
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
                 mbstd_group_size: int = 4, mbstd_channels: int = 1, downsample: str = "fir",
                 layout: str = "stylegan2"):
        super().__init__()
        log2 = check_resolution(resolution)
        self.resolution = resolution
        self.mbstd_group_size, self.mbstd_channels = mbstd_group_size, mbstd_channels
        top = channels_at(resolution, channel_base, channel_max)
        self.fromrgb = EqualizedConv2d(img_channels, top, 1, activation="lrelu")
        blocks = []
        for res in [2 ** i for i in range(log2, 2, -1)]:
            blocks.append(DiscriminatorBlock(channels_at(res, channel_base, channel_max),
                                             channels_at(res // 2, channel_base, channel_max), downsample,
                                             layout))
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
                         channel_base=cfg.channel_base, channel_max=cfg.width, downsample=cfg.downsample,
                         layout=cfg.d_layout)
