"""SSN's spatial encoders: how a layer turns per-block styles (B, C, rows, cols) into a style map at its resolution.

Every encoder is a convex combination of blocks at each pixel (weights >= 0, summing to one), so a spatially
constant latent gives a constant map and an SSN transferred from StyleGAN2 reproduces it exactly, whatever the
encoder learned. They differ in footprint, measured by `leakage`:
- bilinear: half-pixel bilinear upsampling, parameter-free (the first design; on a 4x4 grid an interior block
            leaks 43.75% at every layer from 8x8 up, 34% averaged over all blocks);
- nearest:  each pixel takes its own block's style (leakage 0, hard seams that only the convolutions smooth);
- learned:  nearest, then a trainable k x k blur (softmax weights, replicate padding) per layer, so training picks
            each layer's trade-off between seams and leakage; it starts sharp (centre weight 0.64).
- spade:    the paper's design (section 3.4, after SPADE): the block styles spread by nearest, plus a residual from
            w itself, nearest-resized to the layer's resolution, through a 3x3 conv with ReLU and a 3x3 conv to
            the layer's style channels. The residual's last conv starts at zero, so a transfer starts exactly at
            the StyleGAN2 image, and replicate padding keeps a constant grid constant. Not a convex combination:
            its leakage is measured by perturbing one block's w (`perturbation_leakage`).
- spade-bilinear: the same residual on the bilinear spread of the block styles. Nearest starts a transfer from
            a patchwork of separately styled squares that 4 kimg at 64 px did not undo (benchmarks/RESULTS.md); the
            bilinear spread starts from whole images and the residual can learn a sharper footprint.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan.core.layers.modulated import ModulatedConv2d
from spatialgan.models.ssn.blocks import block_bounds, block_mask

ENCODERS = ("learned", "bilinear", "nearest", "spade", "spade-bilinear")
SPADE_HIDDEN = 32      # channels of the residual's first conv: at 64 px it adds ~75% of a 64-channel layer's FLOPs


@functools.lru_cache(maxsize=128)
def block_index(blocks: int, size: int) -> torch.Tensor:
    """For each of `size` pixels along one axis, the latent block whose image block holds it (block_bounds)."""
    index = torch.empty(size, dtype=torch.long)
    for b in range(blocks):
        top, bottom, _, _ = block_bounds(b, 0, (blocks, 1), (size, 1))
        index[top:bottom] = b
    return index


def nearest_blocks(styles: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Each pixel of the (H, W) map takes the style of the block it lies in."""
    rows = block_index(styles.shape[-2], size[0]).to(styles.device)
    cols = block_index(styles.shape[-1], size[1]).to(styles.device)
    return styles.index_select(-2, rows).index_select(-1, cols)


def bilinear_blocks(styles: torch.Tensor, size: tuple[int, int], w_map=None) -> torch.Tensor:
    if styles.shape[-2:] == size:
        return styles
    return F.interpolate(styles, size=size, mode="bilinear", align_corners=False)


class NearestEncoder(nn.Module):
    def forward(self, styles: torch.Tensor, size: tuple[int, int], w_map=None) -> torch.Tensor:
        return nearest_blocks(styles, size)


class LearnedFootprint(nn.Module):
    """Nearest block styles, then one trainable normalised k x k blur shared by the layer's channels."""

    def __init__(self, kernel_size: int = 3, centre_weight_1d: float = 0.8):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"the footprint kernel needs an odd size, got {kernel_size}")
        side = (1 - centre_weight_1d) / max(1, kernel_size - 1)
        taps = torch.full((kernel_size,), side)
        taps[kernel_size // 2] = centre_weight_1d if kernel_size > 1 else 1.0
        self.logits = nn.Parameter(torch.outer(taps, taps).log())

    def kernel(self) -> torch.Tensor:
        return self.logits.flatten().softmax(0).view_as(self.logits)

    def forward(self, styles: torch.Tensor, size: tuple[int, int], w_map=None) -> torch.Tensor:
        x = nearest_blocks(styles, size)
        k, channels = self.logits.shape[-1], x.shape[1]
        if k == 1:
            return x
        weight = self.kernel().to(x.dtype)[None, None].expand(channels, 1, k, k)
        x = F.pad(x, (k // 2,) * 4, mode="replicate")   # the edge's own style beyond the border: no leakage there
        return F.conv2d(x, weight, groups=channels)


class SpadeEncoder(nn.Module):
    """Block styles spread by `base` (nearest or bilinear) plus a SPADE-style residual computed from w:
    conv3x3 -> ReLU -> conv3x3 (zero init).

    Per layer rather than one trunk shared across layers: each layer then picks its own footprint, as the learned
    blur does, and nothing has to be cached between layers. Weights use StyleGAN2's equalized learning rate."""

    nonlinear = True

    def __init__(self, w_dim: int, channels: int, hidden: int = SPADE_HIDDEN, base: str = "nearest"):
        super().__init__()
        self.spread = {"nearest": nearest_blocks, "bilinear": bilinear_blocks}[base]
        self.shared = nn.Parameter(torch.randn(hidden, w_dim, 3, 3))
        self.shared_bias = nn.Parameter(torch.zeros(hidden))
        self.to_style = nn.Parameter(torch.zeros(channels, hidden, 3, 3))     # a transfer starts exactly
        self.gains = (1 / math.sqrt(w_dim * 9), 1 / math.sqrt(hidden * 9))

    def residual(self, w_map: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = F.pad(nearest_blocks(w_map, size), (1,) * 4, mode="replicate")
        h = F.relu(F.conv2d(x, (self.shared * self.gains[0]).to(x.dtype), self.shared_bias.to(x.dtype)))
        return F.conv2d(F.pad(h, (1,) * 4, mode="replicate"), (self.to_style * self.gains[1]).to(h.dtype))

    def forward(self, styles: torch.Tensor, size: tuple[int, int], w_map: torch.Tensor) -> torch.Tensor:
        return self.spread(styles, size) + self.residual(w_map, size)


def make_encoder(kind: str, w_dim: int = 0, channels: int = 0) -> nn.Module | None:
    """The module a ModulatedConv2d uses as its `spatial_encoder` (None: the core's bilinear default)."""
    if kind == "bilinear":
        return None
    if kind == "nearest":
        return NearestEncoder()
    if kind == "learned":
        return LearnedFootprint()
    if kind in ("spade", "spade-bilinear"):
        return SpadeEncoder(w_dim, channels, base="bilinear" if kind == "spade-bilinear" else "nearest")
    raise ValueError(f"unknown spatial encoder {kind!r}; choose from {', '.join(ENCODERS)}")


@torch.no_grad()
def leakage(encode, grid: tuple[int, int], size: tuple[int, int]) -> float:
    """Share of a block's style influence that lands outside its own image block, averaged over the blocks.

    `encode(styles (N, 1, rows, cols), size) -> (N, 1, H, W)`. Each block is fed as a one-hot map: the encoder is
    linear in the block styles, so its output is exactly that block's influence on every pixel."""
    rows, cols = grid
    onehot = torch.eye(rows * cols).view(rows * cols, 1, rows, cols)
    influence = encode(onehot, size)[:, 0].abs()                       # (blocks, H, W)
    shares = []
    for b in range(rows * cols):
        inside = block_mask([(b // cols, b % cols)], grid, size)
        total = influence[b].sum()
        shares.append(float(influence[b][~inside].sum() / total) if total > 0 else 0.0)
    return sum(shares) / len(shares)


def encoder_of(conv) -> callable:
    return conv.spatial_encoder if conv.spatial_encoder is not None else bilinear_blocks


@torch.no_grad()
def perturbation_leakage(conv, grid: tuple[int, int], size: tuple[int, int], w_dim: int, seed: int = 0) -> float:
    """Leakage of an encoder that is not linear in the block styles: the share of the style change that lands
    outside block b when block b's w alone is perturbed, averaged over the blocks (at a random w map)."""
    from spatialgan.core.layers.modulated import spatial_styles

    rows, cols = grid
    gen = torch.Generator().manual_seed(seed)
    w_map = torch.randn(1, w_dim, rows, cols, generator=gen)
    base = spatial_styles(conv.affine, w_map, size, conv.spatial_encoder)
    shares = []
    for b in range(rows * cols):
        moved = w_map.clone()
        moved[0, :, b // cols, b % cols] += torch.randn(w_dim, generator=gen)
        change = (spatial_styles(conv.affine, moved, size, conv.spatial_encoder) - base).abs().sum(1)[0]
        inside = block_mask([(b // cols, b % cols)], grid, size)
        total = change.sum()
        shares.append(float(change[~inside].sum() / total) if total > 0 else 0.0)
    return sum(shares) / len(shares)


def generator_leakage(G) -> list[dict]:
    """Leakage of every modulated layer of an SSN generator, at the size its style map has."""
    grid = (G.latent_rows, G.latent_cols)
    rows = []
    for name, module in G.synthesis.named_modules():
        if isinstance(module, ModulatedConv2d):
            resolution = int(name.split(".")[1]) if name.startswith("blocks.") else 0
            size = (2 ** (2 + resolution),) * 2
            if getattr(module.spatial_encoder, "nonlinear", False):
                value = perturbation_leakage(module, grid, size, G.w_dim)
            else:
                value = leakage(encoder_of(module), grid, size)
            rows.append({"layer": name, "size": size[0], "leakage": value})
    return rows
