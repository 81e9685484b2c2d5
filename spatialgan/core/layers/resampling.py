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


class _FixedFilter(torch.autograd.Function):
    """A depthwise convolution (or transposed convolution) with a constant kernel that saves no activations: its
    gradient is the adjoint filter applied to the incoming gradient. Autograd's own convolution would keep the
    full-resolution input for a weight gradient nobody asks for (StyleGAN2-ADA's fused upfirdn2d keeps none either).
    The backward is made of differentiable ops, so R1 and path length differentiate through it again."""

    @staticmethod
    def forward(ctx, x, kernel, stride: int, padding: int, transpose: bool):
        ctx.kernel, ctx.stride, ctx.padding, ctx.transpose = kernel, stride, padding, transpose
        ctx.in_size = x.shape[-2:]
        return _depthwise(x, kernel, stride, padding, transpose)

    @staticmethod
    def backward(ctx, grad):
        return _adjoint(grad, ctx.kernel, ctx.stride, ctx.padding, ctx.transpose, ctx.in_size), None, None, None, None


def _depthwise(x, kernel, stride, padding, transpose):
    c, k = x.shape[1], kernel.shape[-1]
    weight = kernel.to(x.dtype)[None, None].expand(c, 1, k, k)
    if transpose:
        return F.conv_transpose2d(x, weight, stride=stride, padding=padding, groups=c)
    return F.conv2d(x, weight, stride=stride, padding=padding, groups=c)


def _adjoint(grad, kernel, stride, padding, transpose, in_size):
    """The transpose of _depthwise, shaped like its input (output_padding recovers the rows a stride dropped)."""
    if transpose:
        return _FixedFilter.apply(grad, kernel, stride, padding, False)
    c, k = grad.shape[1], kernel.shape[-1]
    extra = [in_size[i] - ((grad.shape[-2 + i] - 1) * stride - 2 * padding + k) for i in range(2)]
    weight = kernel.to(grad.dtype)[None, None].expand(c, 1, k, k)
    if stride == 1 and extra == [0, 0]:
        return _FixedFilter.apply(grad, kernel, 1, padding, True)
    return F.conv_transpose2d(grad, weight, stride=stride, padding=padding, output_padding=tuple(extra), groups=c)


def fir_filter(x: torch.Tensor, kernel: torch.Tensor, padding: int, stride: int = 1) -> torch.Tensor:
    """Each channel convolved with the 2-D `kernel` after zero padding (stride 2: blur and keep every second).
    Saves nothing for backward (_FixedFilter)."""
    return _FixedFilter.apply(x, kernel, stride, padding, False)


def fir_upsample(x: torch.Tensor, kernel: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-insertion 2x upsampling and the FIR filter in one transposed convolution; saves nothing for backward."""
    return _FixedFilter.apply(x, kernel, 2, padding, True)


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
        # Transposed conv, stride 2, padding 1: output 2H, taps 3/4 and 1/4 as in bilinear interpolation.
        # full=True keeps the 2H+2 border so that a following unpadded 3x3 conv is StyleGAN2's upsampling conv.
        return fir_upsample(x, self.kernel, padding=0 if self.full else 1)


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
