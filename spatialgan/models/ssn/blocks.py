"""SSN latent blocks: which pixels a block covers, replacing blocks of z, and block-wise image distances."""

from __future__ import annotations

import numpy as np
import torch


def block_bounds(row: int, col: int, grid: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel rows [top, bottom) and columns [left, right) that latent block (row, col) corresponds to."""
    rows, cols = grid
    h, w = size
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"block {row},{col} is outside the {rows}x{cols} latent grid")
    return row * h // rows, (row + 1) * h // rows, col * w // cols, (col + 1) * w // cols


def block_mask(blocks, grid: tuple[int, int], size: tuple[int, int], device=None) -> torch.Tensor:
    """Boolean (H, W) mask of the pixels under the given blocks."""
    mask = torch.zeros(size, dtype=torch.bool, device=device)
    for r, c in blocks:
        t, b, l, rr = block_bounds(r, c, grid, size)
        mask[t:b, l:rr] = True
    return mask


def replace_blocks(z: torch.Tensor, blocks, fresh: torch.Tensor) -> torch.Tensor:
    """z (B, C, rows, cols) with the listed blocks taken from `fresh` (same shape); z is not modified."""
    out = z.clone()
    for r, c in blocks:
        out[:, :, r, c] = fresh[:, :, r, c]
    return out


def replace_one_block_each(z: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, fresh: torch.Tensor
                           ) -> torch.Tensor:
    """Per sample i, replaces block (rows[i], cols[i]) of z with fresh's; vectorised for training."""
    onehot = torch.zeros(z.shape[0], 1, z.shape[2], z.shape[3], dtype=torch.bool, device=z.device)
    onehot[torch.arange(z.shape[0], device=z.device), 0, rows, cols] = True
    return torch.where(onehot, fresh, z)


def outside_block_distortion(a: torch.Tensor, b: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                             grid: tuple[int, int], per_block: bool) -> torch.Tensor:
    """Squared differences of images a, b outside block (rows[i], cols[i]) of each sample i, shape (B,).

    per_block=True: sum over the other blocks b of the mean over block b (SSN's R_D, pixel counts of one block);
    per_block=False: the mean over all pixels outside the block (the distortion metric of the paper's Table 2).
    """
    n, c, h, w = a.shape
    inside = torch.stack([block_mask([(int(r), int(cc))], grid, (h, w), a.device) for r, cc in zip(rows, cols)])
    sq = (a - b).square().mean(dim=1) * (~inside)               # mean over channels, zero inside the block
    if per_block:
        return sq.sum(dim=(1, 2)) / (h * w / (grid[0] * grid[1]))
    return sq.sum(dim=(1, 2)) / (~inside).sum(dim=(1, 2)).clamp(min=1)


def draw_block_grid(image: np.ndarray, grid: tuple[int, int], marked=(), scale: int = 4) -> np.ndarray:
    """Upscales a (H, W, 3) uint8 image and draws the latent grid; marked blocks get a red frame and tint."""
    img = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1).astype(np.float32)
    h, w = img.shape[:2]
    for r, c in marked:
        t, b, l, rr = block_bounds(r, c, grid, (h, w))
        img[t:b, l:rr] = 0.65 * img[t:b, l:rr] + 0.35 * np.array([255, 40, 40])
    rows, cols = grid
    for i in range(1, rows):
        img[i * h // rows, :] = 255
    for j in range(1, cols):
        img[:, j * w // cols] = 255
    for r, c in marked:
        t, b, l, rr = block_bounds(r, c, grid, (h, w))
        img[t:min(t + 2, b), l:rr] = img[max(b - 2, t):b, l:rr] = [255, 0, 0]
        img[t:b, l:min(l + 2, rr)] = img[t:b, max(rr - 2, l):rr] = [255, 0, 0]
    return img.clip(0, 255).astype(np.uint8)


def seam_ratio(images: torch.Tensor, grid: tuple[int, int]) -> float:
    """How strongly images show the latent block grid: the mean absolute step between neighbouring pixels across
    block boundaries over the mean step everywhere else, horizontally and vertically, averaged. Images unrelated to
    the grid (photographs, a StyleGAN2) score about 1; a patchwork of separately styled blocks scores well above."""
    x = images.float()
    size = tuple(x.shape[-2:])
    steps = ((x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(0, 1, 3)),    # (H - 1,): step below each pixel row
             (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(0, 1, 2)))    # (W - 1,): step right of each column
    ratios = []
    for axis, profile in enumerate(steps):
        first_pixels = [block_bounds(b, 0, grid, size)[0] if axis == 0 else block_bounds(0, b, grid, size)[2]
                        for b in range(1, grid[axis])]
        if not first_pixels:
            continue
        across = torch.zeros(size[axis] - 1, dtype=torch.bool)
        across[[p - 1 for p in first_pixels]] = True      # the step from a block's last pixel into the next block
        ratios.append(float(profile[across].mean() / profile[~across].mean().clamp_min(1e-12)))
    return sum(ratios) / len(ratios) if ratios else 1.0
