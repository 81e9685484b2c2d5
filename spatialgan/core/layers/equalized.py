"""Equalized-learning-rate linear and convolution layers (weights scaled at run time, not at init)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2.0)


def bias_act(x: torch.Tensor, bias: torch.Tensor | None, activation: str, dim: int = 1) -> torch.Tensor:
    """Adds a bias along `dim` and applies 'linear' or 'lrelu' (slope 0.2, gain sqrt 2, as in StyleGAN2)."""
    if bias is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + bias.reshape(shape)
    x = _activate(x, activation)
    return x * LRELU_GAIN if activation == "lrelu" else x


class EqualizedLinear(nn.Module):
    """y = act(x W^T * lr_mul / sqrt(in) + b * lr_mul); W ~ N(0, 1/lr_mul^2) so the effective step is lr * lr_mul."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0,
                 lr_multiplier: float = 1.0, activation: str = "linear"):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # lrelu(y) * sqrt(2) == lrelu(sqrt(2) * y): the gain goes into the (small) weights, not the activations.
        gain = LRELU_GAIN if self.activation == "lrelu" else 1.0
        w = self.weight * (self.weight_gain * gain)
        b = self.bias * (self.bias_gain * gain) if self.bias is not None else None
        return _activate(F.linear(x, w, b), self.activation, inplace=True)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class EqualizedConv2d(nn.Module):
    """Equalized conv with 'same' zero padding (or `padding`), optional bias and activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", lr_multiplier: float = 1.0, padding: int | None = None,
                 stride: int = 1):
        super().__init__()
        self.activation, self.stride = activation, stride
        self.padding = kernel_size // 2 if padding is None else padding
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_channels * kernel_size * kernel_size)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gain = LRELU_GAIN if self.activation == "lrelu" else 1.0
        w = self.weight * (self.weight_gain * gain)
        b = self.bias * (self.bias_gain * gain) if self.bias is not None else None
        return _activate(F.conv2d(x, w.to(x.dtype), b.to(x.dtype) if b is not None else None, padding=self.padding,
                                  stride=self.stride), self.activation, inplace=True)


def _activate(x: torch.Tensor, activation: str, inplace: bool = False) -> torch.Tensor:
    """The activation without its gain (already folded into the weights). In place on a fresh tensor, autograd keeps
    the activation's output, which the next layer keeps anyway, instead of a second full-size input."""
    if activation == "lrelu":
        return F.leaky_relu(x, 0.2, inplace=inplace)
    if activation == "linear":
        return x
    raise ValueError(f"unknown activation {activation!r}; expected 'linear' or 'lrelu'")
