"""CIPS's spectral analysis (its Sec. 4.3): StyleGAN2, CIPS and CIPS-NE trained on the same data and budget.

Trains (or reuses) the three models from scratch with the same data, seed, width and kimg; CIPS-NE is CIPS without
the learned coordinate embedding (Fourier features only). Then takes `evaluate --metrics spectrum` of each against
crops of held-back photos: the azimuthally averaged power spectrum of the luminance, its mean |log10| distance to
the real one over all radii and over the top quarter (high frequencies), with diversity beside them. Writes a JSON
file and a PNG plot of the spectra (real in black).

    python benchmarks/spectrum.py --train build/photo-models/photos32.zip \\
        --heldout build/photo-models/photos32-heldout.zip --kimg 8
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.metrics.evaluate import EvalOptions, evaluate  # noqa: E402
from spatialgan.training.loop import Trainer  # noqa: E402

MODELS = {"stylegan2": {"model": "stylegan2"},
          "cips": {"model": "cips", "cips_layers": 8},
          "cips-ne": {"model": "cips", "cips_layers": 8, "coord_embedding": False}}


def train(args, name: str) -> tuple[Trainer, float]:
    cfg = TrainConfig(**MODELS[name], data=args.train, kimg=args.kimg, resolution=32, batch=32, width=64, z_dim=128,
                      w_dim=128, mapping_layers=4, recipe=args.recipe, device=args.device, seed=args.seed,
                      outdir=str(Path(args.outdir) / name), snap_kimg=args.kimg, tick_kimg=args.kimg / 4, keep=1,
                      grid=16)
    trainer = Trainer(cfg)
    start = time.time()
    trainer.run(progress=False)
    return trainer, time.time() - start


def plot(rows: list[dict], path: Path) -> None:
    from PIL import Image, ImageDraw

    width, height, margin = 640, 420, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    curves = [("real", rows[0]["real_spectrum"], "black")] + [
        (r["name"], r["fake_spectrum"], c) for r, c in zip(rows, ["#2471a3", "#c0392b", "#229954"])]
    logs = [math.log10(max(v, 1e-12)) for _, s, _ in curves for v in s[1:]]
    lo, hi, n = min(logs), max(logs), len(curves[0][1])

    def at(i, v):
        return (margin + (i - 1) / max(1, n - 2) * (width - 2 * margin),
                height - margin - (math.log10(max(v, 1e-12)) - lo) / (hi - lo) * (height - 2 * margin))

    draw.rectangle([margin, margin, width - margin, height - margin], outline="black")
    for k, (label, spectrum, colour) in enumerate(curves):
        draw.line([at(i, v) for i, v in enumerate(spectrum) if i >= 1], fill=colour, width=2)
        draw.text((width - margin - 120, margin + 8 + 14 * k), label, fill=colour)
    draw.text((margin, height - 35), "radius (frequency) 1 .. R/2", fill="black")
    draw.text((margin, 20), "azimuthally averaged power spectrum of luminance (log scale)", fill="black")
    image.save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--heldout", required=True)
    p.add_argument("--kimg", type=float, default=8)
    p.add_argument("--recipe", default="ada", help="the same recipe for all three (ada: the shipped models')")
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--outdir", default="runs/spectrum")
    p.add_argument("--results", default="benchmarks/results/spectrum.json")
    p.add_argument("--plot", default="benchmarks/spectrum.png")
    args = p.parse_args()
    path = Path(args.results)
    rows = json.loads(path.read_text()) if path.is_file() else []
    for name in MODELS:
        if any(r["name"] == name and r["kimg"] == args.kimg for r in rows):
            continue
        trainer, seconds = train(args, name)
        records = {r["metric"]: r for r in evaluate(trainer.adapter, ["spectrum", "diversity"], args.heldout,
                                                     EvalOptions(num=args.num, cache_dir=""))}
        spectrum = records["spectrum"]
        rows.append({"name": name, "kimg": args.kimg, "spectrum": spectrum["value"],
                     "high_frequency": spectrum["high_frequency"], "diversity": records["diversity"]["value"],
                     "real_spectrum": spectrum["real_spectrum"], "fake_spectrum": spectrum["fake_spectrum"],
                     "train_seconds": seconds})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=1))
        print(name, rows[-1]["spectrum"], rows[-1]["high_frequency"], flush=True)
    rows = [r for r in rows if r["kimg"] == args.kimg]
    plot(rows, Path(args.plot))
    print(f"\n# 32x32, width 64, {args.kimg:g} kimg each, recipe {args.recipe}; {args.num} images vs held-back\n")
    print("| model | spectrum distance | high-frequency distance | diversity |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['spectrum']:.4f} | {r['high_frequency']:.4f} | {r['diversity']:.3f} |")


if __name__ == "__main__":
    main()
