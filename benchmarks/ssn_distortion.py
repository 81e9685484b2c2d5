"""SSN's distortion-quality trade-off with the paper's protocol (its Table 2 and Fig. 5), on crops of real photos.

Protocol: one trained StyleGAN2 (G and D) is transferred to SSN (`--init-from`) and fine-tuned with every lambda_D
of the sweep, same data, seed and budget; only lambda_D (and, across --encoders, the spatial encoder) differs.
R_D and the distortion metric share one scale (R_D = mean over the other blocks of their MSE). Per run:
distortion (2000 resampled pairs), diversity, resampling inside/outside change ratio, encoder leakage, SWD x1e3 and
the KID proxy (x1e3, CIFAR-10 ResNet-20 features) against crops of held-back photos, and pixel PPL. Results go to
a JSON file (finished runs are reused on a rerun) and a Pareto plot (distortion vs SWD) as a PNG.

    bash scripts/train_photo_models.sh          # gives build/photo-models/{stylegan2,photos32*.zip}
    python benchmarks/ssn_distortion.py --init-from build/photo-models/stylegan2 \\
        --train build/photo-models/photos32.zip --heldout build/photo-models/photos32-heldout.zip \\
        --lambdas 0,1,3,10,30,100,300,1000 --encoders learned,bilinear --kimg 8
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialgan.checkpoint import load_checkpoint, resolve_checkpoint  # noqa: E402
from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.metrics.evaluate import EvalOptions, evaluate  # noqa: E402
from spatialgan.training.loop import Trainer  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
METRICS = ["distortion", "diversity", "leakage", "swd", "kid", "ppl"]


def fine_tune(args, encoder: str, lam: float) -> tuple[Trainer, float]:
    source = load_checkpoint(resolve_checkpoint(args.init_from))["config"]
    keep = ("resolution", "width", "z_dim", "w_dim", "mapping_layers", "upsample", "channel_base", "batch", "gamma",
            "lr", "pl_weight", "style_mixing")           # the source's recipe: only lambda_D and the encoder vary
    cfg = TrainConfig(**{k: source[k] for k in keep}, model="ssn", data=args.train, kimg=args.kimg,
                      outdir=str(Path(args.outdir) / f"{encoder}-lambda{lam:g}"), init_from=args.init_from,
                      spatial_encoder=encoder, lambda_distortion=lam, distortion_reduction="mean",
                      device=args.device, seed=args.seed, snap_kimg=args.kimg, tick_kimg=args.kimg / 4,
                      keep=1, grid=16)
    trainer = Trainer(cfg)
    start = time.time()
    trainer.run(progress=False)
    return trainer, time.time() - start


def measure(args, trainer) -> dict:
    options = EvalOptions(num=args.num, features="resnet20", feature_weights=args.resnet20_weights, cache_dir="",
                          batch=64)
    metrics = METRICS if Path(args.resnet20_weights).is_file() else [m for m in METRICS if m != "kid"]
    records = evaluate(trainer.adapter, metrics, args.heldout, options)
    out = {r["metric"]: r["value"] for r in records}
    out["leakage_per_layer"] = next(r["per_layer"] for r in records if r["metric"] == "leakage")
    return out


def pareto_png(rows: list[dict], path: Path) -> None:
    """Distortion (log x) against SWD (y), one polyline per encoder, each point labelled with its lambda_D."""
    from PIL import Image, ImageDraw

    width, height, margin = 720, 480, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    xs = [math.log10(max(r["distortion"], 1e-7)) for r in rows]
    ys = [r["swd"] for r in rows]
    x0, x1 = min(xs) - 0.2, max(xs) + 0.2
    y0, y1 = min(ys) * 0.9, max(ys) * 1.1

    def at(x, y):
        return (margin + (x - x0) / (x1 - x0) * (width - 2 * margin),
                height - margin - (y - y0) / (y1 - y0) * (height - 2 * margin))

    draw.rectangle([margin, margin, width - margin, height - margin], outline="black")
    for e in range(math.ceil(x0), math.floor(x1) + 1):
        px, _ = at(e, y0)
        draw.line([px, height - margin, px, height - margin + 5], fill="black")
        draw.text((px - 12, height - margin + 8), f"1e{e}", fill="black")
    for k in range(5):
        y = y0 + (y1 - y0) * k / 4
        _, py = at(x0, y)
        draw.text((8, py - 6), f"{y:.0f}", fill="black")
    draw.text((width // 2 - 120, height - 30), "distortion (outside-block MSE, log scale)", fill="black")
    draw.text((8, 20), "SWD x1e3 vs held-back photos (lower is better); labels: lambda_D, diversity", fill="black")
    colours = ["#c0392b", "#2471a3", "#229954", "#7d3c98"]
    for i, encoder in enumerate(sorted({r["encoder"] for r in rows})):
        points = sorted((r for r in rows if r["encoder"] == encoder), key=lambda r: r["lambda_D"])
        coords = [at(math.log10(max(r["distortion"], 1e-7)), r["swd"]) for r in points]
        colour = colours[i % len(colours)]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=2)
        for (px, py), r in zip(coords, points):
            draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=colour)
            draw.text((px + 6, py - 14), f"{r['lambda_D']:g} ({r['diversity']:.2f})", fill=colour)
        draw.text((width - margin - 150, margin + 10 + 16 * i), f"encoder: {encoder}", fill=colour)
    image.save(path)


def table(rows: list[dict]) -> str:
    lines = ["| encoder | lambda_D | distortion | vs lambda 0 | diversity | vs lambda 0 | inside/outside | "
             "leakage | SWD x1e3 | KID x1e3 | PPL (pixels) | train img/s |", "|" + "---|" * 12]
    for r in rows:
        base = next((b for b in rows if b["encoder"] == r["encoder"] and b["lambda_D"] == 0), r)
        lines.append(f"| {r['encoder']} | {r['lambda_D']:g} | {r['distortion']:.5f} | "
                     f"{base['distortion'] / max(r['distortion'], 1e-12):.1f}x lower | {r['diversity']:.3f} | "
                     f"{r['diversity'] / base['diversity']:.2f}x | {r['resample_ratio']:.1f} | {r['leakage']:.3f} | "
                     f"{r['swd']:.1f} | {r.get('kid', float('nan')) * 1e3:.2f} | {r['ppl_pixel']:.1f} | "
                     f"{r['img_per_sec']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init-from", required=True, help="the trained StyleGAN2 run folder or snapshot (G and D)")
    p.add_argument("--train", required=True, help="training crops (.zip)")
    p.add_argument("--heldout", required=True, help="crops of held-back photos (.zip)")
    p.add_argument("--lambdas", default="0,1,3,10,30,100,300,1000")
    p.add_argument("--encoders", default="learned")
    p.add_argument("--kimg", type=float, default=8)
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--outdir", default="runs/ssn-tradeoff")
    p.add_argument("--results", default="benchmarks/results/ssn-tradeoff.json")
    p.add_argument("--plot", default="benchmarks/ssn-tradeoff.png")
    p.add_argument("--resnet20-weights", default=str(SHARED / "weights" / "resnet20-cifar10-12fca82f.th"))
    args = p.parse_args()
    results_path = Path(args.results)
    rows = json.loads(results_path.read_text()) if results_path.is_file() else []
    for encoder in args.encoders.split(","):
        for lam in (float(x) for x in args.lambdas.split(",")):
            if any(r["encoder"] == encoder and r["lambda_D"] == lam and r["kimg"] == args.kimg for r in rows):
                continue
            trainer, seconds = fine_tune(args, encoder, lam)
            row = {"encoder": encoder, "lambda_D": lam, "kimg": args.kimg, **measure(args, trainer),
                   "train_seconds": seconds, "img_per_sec": trainer.cur_nimg / seconds}
            rows.append(row)
            results_path.parent.mkdir(parents=True, exist_ok=True)
            results_path.write_text(json.dumps(rows, indent=1))
            print(json.dumps({k: v for k, v in row.items() if k != "leakage_per_layer"}), flush=True)
    rows = sorted((r for r in rows if r["kimg"] == args.kimg), key=lambda r: (r["encoder"], r["lambda_D"]))
    pareto_png(rows, Path(args.plot))
    print(f"\n# SSN fine-tuned {args.kimg:g} kimg from {args.init_from}; {args.num} samples per metric\n")
    print(table(rows))


if __name__ == "__main__":
    main()
