"""Modulated convolution with demodulation (fused and non-fused forms), the styled conv layer, and ToRGB."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan.core.layers.equalized import LRELU_GAIN, EqualizedLinear, bias_act
from spatialgan.core.layers.noise import NoiseInjection
from spatialgan.core.layers.resampling import Upsample2d, fir_filter


def demodulation_coefficients(weight: torch.Tensor, styles: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """d[b, o] = 1 / sqrt(sum_{i,kh,kw} (weight[o, i, kh, kw] * styles[b, i])^2 + eps), shape (B, Cout)."""
    return (styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps).rsqrt()


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     padding: int = 0, fused: bool = False, gain: float = 1.0) -> torch.Tensor:
    """Convolve each sample with weight[o, i] * styles[b, i] (optionally demodulated), times `gain`.

    fused=False computes conv(x * s) * d (one big conv; fastest for training),
    fused=True builds per-sample weights and runs one grouped conv (the original StyleGAN2 form).
    """
    batch, in_ch = styles.shape
    out_ch, _, kh, kw = weight.shape
    dcoefs = demodulation_coefficients(weight, styles) * gain if demodulate else None
    if not fused:
        x = F.conv2d(x * styles[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=padding)
        if demodulate:
            return x * dcoefs[:, :, None, None].to(x.dtype)
        return x * gain if gain != 1.0 else x
    w = weight[None] * styles[:, None, :, None, None]
    if demodulate:
        w = w * dcoefs[:, :, None, None, None]
    elif gain != 1.0:
        w = w * gain
    h, wd = x.shape[-2:]
    x = x.reshape(1, batch * in_ch, h, wd)
    out = F.conv2d(x, w.reshape(batch * out_ch, in_ch, kh, kw).to(x.dtype), padding=padding, groups=batch)
    return out.reshape(batch, out_ch, *out.shape[-2:])


@functools.lru_cache(maxsize=64)
def _edge_window_corrections(size: int, k: int) -> torch.Tensor:
    """For a replicate-padded (k // 2) signal of `size` rows, how many extra times (+/-) tap t's window counts each
    of the first and last k // 2 rows (the only rows where it differs from the plain sum), shape (k, 2 * (k // 2))."""
    pad = k // 2
    idx = (torch.arange(k)[:, None] - pad + torch.arange(size)[None, :]).clamp(0, size - 1)   # (k, size)
    counts = torch.zeros(k, size).scatter_add_(1, idx, torch.ones(k, size)) - 1
    return torch.cat([counts[:, :pad], counts[:, size - pad:]], 1)


def _replicate_window_means(styles: torch.Tensor, k: int) -> torch.Tensor:
    """M[b, c, ty, tx] = mean over output positions of s^2 in tap (ty, tx)'s window of the replicate-padded map,
    so that mean_ij (w^2 * s^2)[b, o, i, j] = sum_{c, taps} w^2[o, c, tap] * M[b, c, tap] exactly (linearity).
    Only the total and the k // 2 edge rows/columns are needed: no padded copy and no second full convolution."""
    h, w = styles.shape[-2:]
    total = torch.linalg.vector_norm(styles, dim=(2, 3)).square()[..., None, None]          # (B, C, 1, 1)
    if k == 1:
        return total / (h * w)
    p = k // 2
    dy = _edge_window_corrections(h, k).to(styles.device, styles.dtype)
    dx = _edge_window_corrections(w, k).to(styles.device, styles.dtype)
    rows = torch.cat([styles[:, :, :p], styles[:, :, h - p:]], 2)                         # slices: cheap backward
    edge_rows = rows.square().sum(-1)                                                      # (B, C, 2p)
    edge_cols = torch.cat([styles[..., :p], styles[..., w - p:]], 3).square().sum(-2)       # (B, C, 2p)
    corners = torch.cat([rows[..., :p], rows[..., w - p:]], 3).square()                    # (B, C, 2p, 2p)
    m = (total + (edge_rows @ dy.T)[..., :, None] + (edge_cols @ dx.T)[..., None, :]
         + dy @ corners @ dx.T)
    return m / (h * w)


def spatially_modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                               padding: int = 0, gain: float = 1.0, eps: float = 1e-8) -> torch.Tensor:
    """SSN's spatially modulated convolution (appendix A): y = w * (s . h) / sigma_E(w, s).

    styles is a map (B, Cin, H, W) at x's resolution. sigma_E[b, o]^2 is the spatial mean of the convolution
    (w^2 * s^2)[b, o, i, j]; that convolution uses replicate padding so that a constant s gives exactly
    StyleGAN2's demodulation. Per-pixel styles cannot be folded into the weights, so the input is modulated.
    """
    y = F.conv2d(x * styles.to(x.dtype), weight.to(x.dtype), padding=padding)
    if not demodulate:
        return y * gain if gain != 1.0 else y
    k = weight.shape[-1]
    energy = torch.einsum("bikl,oikl->bo", _replicate_window_means(styles, k), weight.square())   # (B, Cout)
    dcoefs = (energy + eps).rsqrt() * gain
    return y * dcoefs[:, :, None, None].to(y.dtype)


def spatial_styles(affine: EqualizedLinear, w_map: torch.Tensor, size: tuple[int, int], encoder=None
                   ) -> torch.Tensor:
    """Spatial encoder step of one layer: the layer's affine map applied per latent block (a 1x1 conv), then the
    block styles spread to the layer's resolution by `encoder(styles, size, w_map)` (SSN's encoders; default bilinear
    with half-pixel centres). Spreading is a convex combination of blocks, so it commutes with the affine map and
    running the affine on the few blocks first is exact and cheap."""
    weight = affine.weight * affine.weight_gain
    bias = affine.bias * affine.bias_gain if affine.bias is not None else None
    # The 1x1 conv as a matmul over the few latent blocks (faster than a convolution call on a 4x4 map).
    styles = F.linear(w_map.permute(0, 2, 3, 1), weight.to(w_map.dtype), bias).permute(0, 3, 1, 2)
    if encoder is not None:
        return encoder(styles, size, w_map)
    if styles.shape[-2:] != size:
        styles = F.interpolate(styles, size=size, mode="bilinear", align_corners=False)
    return styles


def resolve_fused(fused: bool | str, x: torch.Tensor) -> bool:
    """'auto': non-fused while training (faster backward) and on CPU (measured faster there at inference too);
    the grouped form only for CUDA inference."""
    if fused == "auto":
        return x.is_cuda and not torch.is_grad_enabled()
    return bool(fused)


class ModulatedConv2d(nn.Module):
    """A conv whose input channels are scaled by an affine map of w (styles init to 1).

    w is a vector per sample (B, w_dim) for StyleGAN2, or a map (B, w_dim, h, w) for SSN; the parameters are the
    same in both cases, which is what makes StyleGAN2 -> SSN transfer exact for spatially constant latents."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int,
                 demodulate: bool = True, fused: bool | str = "auto"):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate, self.fused = demodulate, fused
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.spatial_encoder: nn.Module | None = None   # SSN installs its block-to-pixel encoder here

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool | str | None = None,
                gain: float = 1.0, padding: int | None = None) -> torch.Tensor:
        weight = self.weight * self.weight_gain
        padding = self.kernel_size // 2 if padding is None else padding
        if w.ndim == 4:  # a spatial style map (B, w_dim, h, w): SSN
            # Styles live on the output grid; an unpadded conv's extra input border repeats the edge styles.
            border = self.kernel_size // 2 - padding
            out_size = (x.shape[-2] - 2 * border, x.shape[-1] - 2 * border)
            styles = spatial_styles(self.affine, w, out_size, self.spatial_encoder)
            if border > 0:
                styles = F.pad(styles, (border,) * 4, mode="replicate")
            return spatially_modulated_conv2d(x, weight, styles, self.demodulate, padding, gain)
        styles = self.affine(w)
        use_fused = resolve_fused(self.fused if fused is None else fused, x)
        return modulated_conv2d(x, weight, styles, self.demodulate, padding, use_fused, gain)


class StyledConv(nn.Module):
    """StyleGAN2 synthesis layer: [2x upsample] -> modulated 3x3 conv -> noise -> bias -> lrelu."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int | None, up: bool = False,
                 upsample: str = "bilinear", fused: bool | str = "auto", kernel_size: int = 3,
                 padding: int | None = None):
        super().__init__()
        # 'fir': StyleGAN2's upsampling conv exactly (2H+2 upsampled map, unpadded conv), as in the official code
        # and rosinality's (transposed conv + blur), so their weights import exactly.
        self.up = Upsample2d(upsample, full=upsample == "fir") if up else None
        self.padding = 0 if (up and upsample == "fir") else kernel_size // 2
        if padding is not None:   # ScaleParty: unpadded ("valid") convolutions
            self.padding = padding
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, w_dim, demodulate=True, fused=fused)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.conv_clamp: float | None = None   # StyleGAN2-ADA's conv_clamp: +-X in every precision (its pickles)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random",
                noise: torch.Tensor | None = None) -> torch.Tensor:
        """`noise` (B or 1, 1, H, W at the output size), when given, replaces the one `noise_mode` would draw."""
        # lrelu(conv*d + noise + b) * sqrt(2) with the gain folded into d, the noise strength and b (all small).
        if self.up is not None and w.ndim == 2 and not resolve_fused(self.conv.fused, x):
            x = self.modulated_upsampling_conv(x, w)
        else:
            if self.up is not None:
                x = self.up(x)
            x = self.conv(x, w, gain=LRELU_GAIN, padding=self.padding)
        x = self.noise(x, noise_mode, noise=noise, gain=LRELU_GAIN)
        x = F.leaky_relu(x + (self.bias * LRELU_GAIN).to(x.dtype)[None, :, None, None], 0.2, inplace=True)
        return x if self.conv_clamp is None else x.clamp(-self.conv_clamp, self.conv_clamp)

    def modulated_upsampling_conv(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The upsampling layer's modulated conv with the styles applied before upsampling (a per-channel scale
        commutes with it), so that autograd keeps the low-resolution input for the styles' gradient, not the
        upsampled one. With FIR upsampling the conv runs first as a stride-2 transposed conv and the filter after
        it (StyleGAN2's own order; the same linear map), so the conv keeps its low-resolution input too."""
        conv = self.conv
        weight = conv.weight * conv.weight_gain
        styles = conv.affine(w)
        x = x * styles[:, :, None, None].to(x.dtype)
        if self.up.mode == "fir":
            x = F.conv_transpose2d(x, weight.flip([2, 3]).transpose(0, 1).to(x.dtype), stride=2)
            x = fir_filter(x, self.up.kernel, padding=1)
        else:
            x = F.conv2d(self.up(x), weight.to(x.dtype), padding=self.padding)
        dcoefs = demodulation_coefficients(weight, styles) * LRELU_GAIN
        return x * dcoefs[:, :, None, None].to(x.dtype)


class ToRGB(nn.Module):
    """1x1 modulated conv without demodulation, plus bias: the per-resolution RGB skip output."""

    def __init__(self, in_channels: int, w_dim: int, img_channels: int = 3, fused: bool | str = "auto"):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, img_channels, 1, w_dim, demodulate=False, fused=fused)
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.conv_clamp: float | None = None

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        y = bias_act(self.conv(x, w), self.bias.to(x.dtype), "linear")
        return y if self.conv_clamp is None else y.clamp(-self.conv_clamp, self.conv_clamp)
