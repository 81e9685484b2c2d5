"""Per-pixel inputs of coordinate-based generators: Fourier features, coordinate embeddings, modulated FC layers.

All operate on pixels as rows: features (B, N, C) for N pixels, so a render can be split into pixel chunks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan import batchrng
from spatialgan.core.layers.equalized import LRELU_GAIN, EqualizedLinear


class FourierFeatures(nn.Module):
    """sin(B [x, y] + b) with learnable B (2 x n) and b. Initialised uniformly in +-sqrt(9 / 2) (SIREN's first-layer
    range for 2 inputs), so frequencies up to a few cycles per frame are present from the start."""

    def __init__(self, out_features: int, in_features: int = 2):
        super().__init__()
        bound = math.sqrt(9 / in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """coords (B, N, 2) -> (B, N, n). Always float32: under bf16 autocast the phase B p + b would carry a
        relative error of 2^-8 of its size, and CIPS's 8-bit output moved by up to 88 levels (measured)."""
        with torch.autocast(coords.device.type, enabled=False):
            return torch.sin(F.linear(coords.float(), self.weight.float(), self.bias.float()))


class CoordinateEmbedding(nn.Module):
    """A learnable n x H x W table over the full frame, read at any coordinates by bilinear interpolation with
    half-pixel centres: at the trained grid's pixel centres this returns the table entries exactly, so training
    and inference read it the same way (and a denser grid interpolates it). Outside the frame it clamps."""

    def __init__(self, channels: int, height: int, width: int, periodic_x: bool = False):
        super().__init__()
        self.table = nn.Parameter(torch.randn(1, channels, height, width))
        self.periodic_x = periodic_x

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """coords (B, N, 2) in [-1, 1] -> (B, N, n). With periodic_x, x wraps around (a cylinder): the table gets
        one column from the other side on each edge, so interpolation across the seam is continuous. Float32 even
        under bf16 autocast: a bf16 coordinate is off by up to 2^-9 of the frame, a tenth of a pixel at 32 px."""
        with torch.autocast(coords.device.type, enabled=False):
            return self._read(coords.float())

    def _read(self, coords: torch.Tensor) -> torch.Tensor:
        table = self.table.expand(coords.shape[0], -1, -1, -1).to(coords.dtype)
        if self.periodic_x:
            w = table.shape[-1]
            x = torch.remainder(coords[..., :1] + 1, 2) - 1                       # into [-1, 1)
            x = ((x + 1) / 2 * w + 1) / (w + 2) * 2 - 1                             # same point, padded table
            coords = torch.cat([x, coords[..., 1:]], dim=-1)
            table = torch.cat([table[..., -1:], table, table[..., :1]], dim=-1)
        out = F.grid_sample(table, coords[:, :, None, :], mode="bilinear", padding_mode="border",
                            align_corners=False)                                   # (B, n, N, 1)
        return out[..., 0].transpose(1, 2)


def modulated_linear(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     eps: float = 1e-8, bias: torch.Tensor | None = None, gain: float = 1.0) -> torch.Tensor:
    """StyleGAN2 modulation for a per-pixel FC layer: y = gain * ((x * s) W^T) * d + bias,
    d = 1 / sqrt(sum_i (W_oi s_i)^2).

    x (B, N, Cin); styles (B, 1, Cin) for one style per image or (B, N, Cin) per pixel (then d is per pixel).
    With one style per image the per-sample weights (B, Cin, Cout) are built first (tiny next to the pixels) and
    applied with the bias by one batched matmul: no extra pass over the activations for x * s, d or the bias."""
    if styles.shape[1] == 1:
        w = weight.t()[None] * styles.transpose(1, 2)                                       # (B, Cin, Cout)
        if demodulate:
            w = w * (w.square().sum(1, keepdim=True) + eps).rsqrt()
        if gain != 1.0:
            w = w * gain
        if bias is None:
            return torch.bmm(x, w.to(x.dtype))
        return torch.baddbmm(bias.to(x.dtype).expand(x.shape[0], 1, -1), x, w.to(x.dtype))
    y = torch.matmul(x * styles.to(x.dtype), weight.t().to(x.dtype))
    if demodulate:
        y = y * (torch.matmul(styles.square(), weight.square().t()) + eps).rsqrt().to(y.dtype)
    if gain != 1.0:
        y = y * gain
    return y if bias is None else y + bias.to(y.dtype)


class ModulatedLinear(nn.Module):
    """One CIPS layer: modulated FC (demodulated), per-pixel noise (learned strength, 0 at init, as in the
    official code), bias, leaky ReLU x sqrt(2); or, as ToRGB, no demodulation, noise or activation.
    w is (B, w_dim) or per pixel (B, N, w_dim)."""

    def __init__(self, in_features: int, out_features: int, w_dim: int, demodulate: bool = True,
                 activation: bool = True):
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_features, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.noise_strength = nn.Parameter(torch.zeros([])) if activation else None
        self.weight_gain = 1 / math.sqrt(in_features)
        self.demodulate, self.activation = demodulate, activation

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """noise_mode 'random' adds fresh N(0, 1) noise per pixel; 'const' and 'none' add none (pixels have no
        fixed positions to hold a constant noise map)."""
        styles = self.affine(w)
        if styles.ndim == 2:
            styles = styles[:, None]
        weight = self.weight * self.weight_gain
        if not self.activation:
            return modulated_linear(x, weight, styles, self.demodulate, bias=self.bias)
        # lrelu(y + noise + b) * sqrt(2) == lrelu(sqrt(2) (y + noise + b)): the gain goes into the small per-sample
        # weights, the bias and the noise strength rather than into a pass over the activations.
        y = modulated_linear(x, weight, styles, self.demodulate, bias=self.bias * LRELU_GAIN, gain=LRELU_GAIN)
        if noise_mode == "random":
            noise = batchrng.randn(y.shape[0], *y.shape[1:-1], 1, device=y.device, dtype=y.dtype)
            y = y + (self.noise_strength * LRELU_GAIN).to(y.dtype) * noise
        return F.leaky_relu(y, 0.2, inplace=True)      # on a fresh tensor: autograd keeps the output only
