"""Fixed-position patterns: features a generator draws at the same place in every sample, whatever the latent.

The mean of many samples is compared with the mean of as many held-back real crops. A global colour shift is
taken off first, so that what remains is local: a blob that every sample shares stands out as a peak of the
difference, in 8-bit levels (RGB length). The floor is the same figure between two disjoint halves of the real
crops (sampling noise). Each model is measured with its default noise (fixed per pixel, so its texture is shared
too) and, where it takes one, fresh random noise per sample (only what the weights fix at a position remains).
Writes a table, a JSON file and, with --png, the difference maps side by side.

    python benchmarks/fixed_pattern.py --heldout build/photo-models64/photos64-heldout.zip \\
        --models stylegan2,ssn,cips,scaleparty --num 1000 --png benchmarks/fixed-pattern-64.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.photo_quality import reals  # noqa: E402
from spatialgan.api import load  # noqa: E402
from spatialgan.imageutils import to_uint8  # noqa: E402


def mean_image(images_uint8: torch.Tensor) -> torch.Tensor:
    """(C, H, W) per-pixel mean in 8-bit levels."""
    return images_uint8.double().mean(0)


def local_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(H, W) RGB length of mean image a minus mean image b, after removing their global colour difference."""
    diff = a - b
    diff = diff - diff.mean(dim=(1, 2), keepdim=True)
    return diff.square().sum(0).sqrt()


def peak(diff: torch.Tensor) -> dict:
    row, col = divmod(int(diff.argmax()), diff.shape[1])
    return {"peak_levels": float(diff.max()), "mean_levels": float(diff.mean()), "at_row_col": [row, col]}


def sample(model, count: int, noise_mode: str) -> torch.Tensor:
    """uint8 (N, C, H, W) samples of latents 0..count-1 (random noise drawn from seed 0)."""
    torch.manual_seed(0)
    images = model.sample(range(count), noise_mode=noise_mode)
    return torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2).contiguous()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--heldout", required=True, help="dataset of held-back real crops (at least 2 x --num)")
    p.add_argument("--models", default="stylegan2,ssn,cips,scaleparty", help="shipped names or checkpoint paths")
    p.add_argument("--num", type=int, default=1000)
    p.add_argument("--out", help="JSON file for the figures")
    p.add_argument("--png", help="PNG of the difference maps (one per model and noise, then the real halves), 4x")
    args = p.parse_args()
    models = {name: load(name) for name in args.models.split(",")}
    resolution = next(iter(models.values())).resolution
    real = reals(args.heldout, 0, 2 * args.num, resolution)        # uint8 (N, C, H, W)
    real_mean = mean_image(real[:args.num])
    maps = {}
    for name, model in models.items():    # the model's own noise (fixed per pixel), then fresh noise per sample
        modes = [model.adapter.default_noise] + (["random"] if "random" in model.adapter.noise_modes else [])
        previous = None
        for mode in dict.fromkeys(modes):
            diff = local_difference(mean_image(sample(model, args.num, mode)), real_mean)
            if previous is None or not torch.allclose(diff, previous, atol=0.5):   # CIPS has no noise inputs
                maps[f"{name}, noise {mode}"] = previous = diff
    maps["real halves (floor)"] = local_difference(mean_image(real[args.num:]), real_mean)
    figures = {name: peak(m) for name, m in maps.items()}
    print(f"# {args.num} samples and {args.num} held-back crops at {resolution}x{resolution}; "
          "local mean-image difference in 8-bit levels (RGB length, global colour shift removed)")
    print("| set | peak | mean | peak at (row, col) |\n|---|---|---|---|")
    for name, f in figures.items():
        print(f"| {name} | {f['peak_levels']:.1f} | {f['mean_levels']:.1f} | {tuple(f['at_row_col'])} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"num": args.num, "resolution": resolution, "sets": figures},
                                             indent=1) + "\n")
    if args.png:
        top = max(float(m.max()) for m in maps.values())
        tiles = [np.kron((m / top * 255).clamp(0, 255).byte().numpy(), np.ones((4, 4), np.uint8))
                 for m in maps.values()]
        Image.fromarray(np.concatenate(tiles, axis=1)).save(args.png)


if __name__ == "__main__":
    main()
