"""Conversions between generator output in [-1, 1] and uint8 pictures; image grids."""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (B, H, W, C) uint8, rounding to nearest."""
    x = (images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def resize_antialiased(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with half-pixel centres and antialiasing (a triangle filter widened by the scale factor when
    shrinking): the one filter used wherever images are compared or cut across scales. Same size: unchanged."""
    import torch.nn.functional as F

    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[-2:]) == size:
        return images
    if images.dtype in (torch.float32, torch.float64):
        return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    # The antialiased kernel has no bf16/fp16 form on the CPU (bf16 autocast renders bf16 images): filter in fp32.
    return F.interpolate(images.float(), size=size, mode="bilinear", align_corners=False,
                         antialias=True).to(images.dtype)


def from_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float in [-1, 1]."""
    return images.float() / 127.5 - 1.0


def make_grid(images: np.ndarray, ncol: int | None = None, pad: int = 0) -> np.ndarray:
    """Tiles (B, H, W, C) uint8 images row-major into one picture."""
    b, h, w, c = images.shape
    ncol = ncol or max(1, int(math.ceil(math.sqrt(b))))
    nrow = int(math.ceil(b / ncol))
    grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, np.uint8)
    for i in range(b):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def save_image(array: np.ndarray, path: str | os.PathLike, upscale: int = 1) -> None:
    """Writes atomically: a full disk leaves no partial image behind."""
    from spatialgan.atomic import save_image_atomic

    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if upscale > 1:
        img = img.resize((img.width * upscale, img.height * upscale), Image.NEAREST)
    save_image_atomic(img, path)


def save_grid(images: torch.Tensor, path: str | os.PathLike, ncol: int | None = None, upscale: int = 1) -> None:
    save_image(make_grid(to_uint8(images), ncol), path, upscale)


def save_seed_images(images: torch.Tensor, seeds: list[int], outdir: str | os.PathLike, grid: bool) -> list:
    """seedNNNN.png per image (and grid.png); returns the paths written."""
    from pathlib import Path

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for seed, arr in zip(seeds, to_uint8(images)):
        written.append(outdir / f"seed{seed:04d}.png")
        save_image(arr, written[-1])
    if grid:
        written.append(outdir / "grid.png")
        save_grid(images, written[-1])
    return written


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def check_image_path(path: str | os.PathLike) -> None:
    """Refuses, before any work, an output path Pillow cannot write or whose folder does not exist."""
    from pathlib import Path

    from spatialgan import SpatialGANError

    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise SpatialGANError(f"{path}: the output needs an image suffix ({', '.join(IMAGE_SUFFIXES)})")
    if not path.parent.is_dir():
        raise SpatialGANError(f"{path}: the folder {path.parent} does not exist")
