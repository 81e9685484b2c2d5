"""SSN block resampling: keep an image, redraw chosen latent blocks, and picture the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spatialgan import SpatialGANError
from spatialgan.imageutils import make_grid, save_image, to_uint8
from spatialgan.latents import latent_for_seed
from spatialgan.models.ssn.blocks import draw_block_grid


def resample_noise_seed(seed: int, index: int) -> int:
    """Seed of the fresh latent that resample `index` of image `seed` takes its new blocks from: a 32-bit hash of
    both, because torch's CPU generator keeps only the low 32 bits of a seed (an offset such as 2^40 + seed would
    alias image seed `seed` and hand resample 0 the original's own blocks)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"resample:{seed}:{index}".encode()).digest()[:4], "little")


@dataclass
class ResampleResult:
    z: torch.Tensor                 # (1, C, rows, cols) original latent
    original: torch.Tensor          # (1, 3, H, W) in [-1, 1]
    latents: torch.Tensor           # (count, C, rows, cols)
    images: torch.Tensor            # (count, 3, H, W)
    blocks: list[tuple[int, int]]
    grid: tuple[int, int]

    def change(self) -> dict:
        """How much the resamples changed inside the chosen blocks and outside them (and the ratio)."""
        from spatialgan.models.ssn.distortion import block_change

        return block_change(self.original, self.images, self.blocks, self.grid)


def parse_blocks(items: list[str]) -> list[tuple[int, int]]:
    """['0,1', '2,3'] -> [(0, 1), (2, 3)] (checked against a grid by parse_block_pairs)."""
    blocks = []
    for item in items:
        try:
            row, col = (int(v) for v in item.split(","))
        except ValueError:
            raise SpatialGANError(f"--blocks takes row,column pairs such as 0,1; got {item!r}") from None
        blocks.append((row, col))
    return blocks


def parse_block_pairs(blocks, grid: tuple[int, int]) -> list[tuple[int, int]]:
    """Blocks as (row, col) pairs inside the latent grid, at least one."""
    out = []
    for block in blocks:
        if len(block) != 2 or not all(isinstance(v, int) for v in block) or \
                not (0 <= block[0] < grid[0] and 0 <= block[1] < grid[1]):
            raise SpatialGANError(f"block {block} is outside the {grid[0]}x{grid[1]} latent grid (row,column)")
        out.append((int(block[0]), int(block[1])))
    if not out:
        raise SpatialGANError("name at least one block to resample")
    return out


@torch.no_grad()
def resample_blocks(adapter, z: torch.Tensor, blocks, count: int, truncation_psi: float = 1.0,
                    image_seed: int = 0, noise_mode: str = "const") -> ResampleResult:
    """The image of latent z (1, C, rows, cols) and `count` versions with `blocks` redrawn from fresh N(0, I)
    latents; resample k takes its blocks from the latent of `resample_noise_seed(image_seed, k)`."""
    shape = adapter.latent_shape()
    blocks = parse_block_pairs(blocks, adapter.grid)
    fresh = torch.cat([latent_for_seed(resample_noise_seed(image_seed, k), shape) for k in range(count)])
    latents = adapter.replace_blocks(z, blocks, fresh.to(z.device))
    original = adapter.sample(z, truncation_psi, noise_mode)
    images = torch.cat([adapter.sample(chunk, truncation_psi, noise_mode) for chunk in latents.split(16)])
    return ResampleResult(z.cpu(), original.cpu(), latents.cpu(), images.cpu(), list(blocks), adapter.grid)


def overview_strip(result: ResampleResult, scale: int = 4) -> np.ndarray:
    """One row: the original with the latent grid and the resampled blocks marked, then the resamples."""
    overlay = draw_block_grid(to_uint8(result.original)[0], result.grid, result.blocks, scale)
    up = [np.repeat(np.repeat(a, scale, 0), scale, 1) for a in to_uint8(result.images)]
    return make_grid(np.stack([overlay] + up), ncol=len(up) + 1, pad=4)


def write_resample_outputs(result: ResampleResult, outdir: str | Path, scale: int = 4) -> list[Path]:
    """original.png, resample_KK.png, overview.png (grid overlay with the resampled blocks marked, then the
    resamples) and latents.safetensors (the latents, for reproducing a result)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = [outdir / "original.png"]
    save_image(to_uint8(result.original)[0], written[0])
    for k, arr in enumerate(to_uint8(result.images)):
        written.append(outdir / f"resample_{k:02d}.png")
        save_image(arr, written[-1])
    written.append(outdir / "overview.png")
    save_image(overview_strip(result, scale), written[-1])
    written.append(outdir / "latents.safetensors")
    from safetensors.torch import save

    from spatialgan.atomic import write_atomic

    write_atomic(written[-1], save({"original": result.z.contiguous(), "resamples": result.latents.contiguous()},
                                   metadata={"blocks": ";".join(f"{r},{c}" for r, c in result.blocks)}))
    return written
