"""How exactly each converted checkpoint family renders its own code's pixels (the README's table of families).

Converts the fixtures in tests/data/checkpoints (written by NVIDIA's, rosinality's and the official CIPS code) and
compares our renders with the images their own forward passes produced: max float difference and max 8-bit
difference, for G (both truncations) and D where the file has one.
    python benchmarks/checkpoint_exactness.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

from spatialgan.api import load
from spatialgan.checkpoint import load_checkpoint, resolve_checkpoint
from spatialgan.convert import convert
from spatialgan.core.coords import pixel_grid
from spatialgan.core.discriminator import Discriminator
from spatialgan.imageutils import to_uint8

DATA = Path(__file__).parents[1] / "tests" / "data" / "checkpoints"


def levels(a: torch.Tensor, b: torch.Tensor) -> int:
    return int((to_uint8(a).astype(int) - to_uint8(b).astype(int)).__abs__().max())


def row(family: str, what: str, ours: torch.Tensor, theirs: torch.Tensor) -> str:
    return f"| {family} | {what} | {(ours - theirs).abs().max().item():.1e} | {levels(ours, theirs)} |"


@torch.no_grad()
def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    rows = ["| family | output | max float difference | max 8-bit difference |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for family, name, src in (("stylegan2-ada", "stylegan2-ada-tiny", "stylegan2-ada-tiny.pkl"),
                                  ("rosinality", "rosinality-tiny", "rosinality-tiny.pt")):
            dest = Path(tmp) / family
            convert(family, DATA / src, dest)
            ref = load_file(str(DATA / f"{name}-expected.safetensors"))
            model = load(dest, amp="off")
            rows.append(row(family, "G_ema, psi 1", model.G(ref["z"], noise_mode="const"), ref["psi1"]))
            rows.append(row(family, "G_ema, psi 0.7", model.G(ref["z"], 0.7, noise_mode="const"), ref["psi07"]))
            D = Discriminator(16, channel_base=model.config.channel_base, channel_max=model.config.width)
            D.load_state_dict(load_checkpoint(resolve_checkpoint(dest))["D"])
            diff = (D(ref["image"]) - ref["D"]).abs().max().item()
            rows.append(f"| {family} | D logits | {diff:.1e} | - |")
        ref = load_file(str(DATA / "cips-tiny-expected.safetensors"))
        for reading, keys in (("eval", ("eval16", "eval24", "eval9")), ("train", ("train16",))):
            dest = Path(tmp) / f"cips-{reading}"
            convert("cips-official", DATA / "cips-tiny.pt", dest, cips_reading=reading)
            model = load(dest, amp="off")
            for key in keys:
                size = int(key.removeprefix(reading))
                out = model.G(ref["z"], noise_mode="const", coords=pixel_grid(size, size))
                rows.append(row("cips-official", f"{reading} mode, {size} px", out, ref[key]))
            if reading == "train":       # what converted files rendered before: the training-mode reading
                rows.append(row("cips-official", "train reading vs eval pictures, 16 px", out, ref["eval16"]))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
