"""2x up- and downsampling: bilinear (half-pixel centres) or the separable FIR [1,3,3,1] filter of StyleGAN2."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def fir_kernel(taps=(1.0, 3.0, 3.0, 1.0), gain: float = 1.0) -> torch.Tensor:
    """The 2-D separable FIR kernel outer(t, t), normalised to sum to `gain`."""
    t = torch.as_tensor(taps, dtype=torch.float32)
    k = torch.outer(t, t)
    return k / k.sum() * gain


def fir_filter(x: torch.Tensor, kernel: torch.Tensor, padding: int, stride: int = 1) -> torch.Tensor:
    """Each channel convolved with the 2-D `kernel` after zero padding (stride 2: blur and keep every second)."""
    c, k = x.shape[1], kernel.shape[-1]
    return F.conv2d(x, kernel.to(x.dtype)[None, None].expand(c, 1, k, k), stride=stride, padding=padding, groups=c)


class Upsample2d(nn.Module):
    """2x upsampling. 'bilinear' clamps at the border; 'fir' zero-pads (StyleGAN2). They agree away from the border."""

    def __init__(self, mode: str = "bilinear", full: bool = False):
        super().__init__()
        if mode not in ("bilinear", "fir"):
            raise ValueError(f"upsample mode must be 'bilinear' or 'fir', got {mode!r}")
        if full and mode != "fir":
            raise ValueError("full-size output exists for 'fir' upsampling only")
        self.mode, self.full = mode, full
        self.register_buffer("kernel", fir_kernel(gain=4.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "bilinear":
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        c = x.shape[1]
        k = self.kernel.to(x.dtype)[None, None].expand(c, 1, 4, 4)
        # Transposed conv, stride 2, padding 1: output 2H, taps 3/4 and 1/4 as in bilinear interpolation.
        # full=True keeps the 2H+2 border so that a following unpadded 3x3 conv is StyleGAN2's upsampling conv.
        return F.conv_transpose2d(x, k, stride=2, padding=0 if self.full else 1, groups=c)


class Downsample2d(nn.Module):
    """2x downsampling. 'avg' is a 2x2 box; 'fir' blurs with [1,3,3,1] (zero padding 1) and takes every second pixel."""

    def __init__(self, mode: str = "fir"):
        super().__init__()
        if mode not in ("avg", "fir"):
            raise ValueError(f"downsample mode must be 'avg' or 'fir', got {mode!r}")
        self.mode = mode
        self.register_buffer("kernel", fir_kernel(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "avg":
            return F.avg_pool2d(x, 2)
        return fir_filter(x, self.kernel, padding=1, stride=2)
