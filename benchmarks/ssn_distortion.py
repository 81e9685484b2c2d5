"""SSN's distortion-quality trade-off with the paper's protocol (its Table 2 and Fig. 5), on crops of real photos.

Protocol: one trained StyleGAN2 (G and D) is transferred to SSN (`--init-from`) and fine-tuned with every lambda_D
of the sweep, same data, seed and budget; only lambda_D (and, across --encoders and --grids, the spatial encoder and
the latent block grid) differs. The source StyleGAN2 is measured the same way, so each SSN's SWD has its ratio to
the model it came from.
R_D and the distortion metric share one scale (R_D = mean over the other blocks of their MSE). Per run:
distortion (2000 resampled pairs), diversity, resampling inside/outside change ratio, encoder leakage, the seam
ratio (steps across block boundaries over steps elsewhere: a patchwork scores well above the source's ~1; SWD does
not see it), SWD x1e3 and the KID proxy (x1e3, CIFAR-10 ResNet-20 features) against crops of held-back photos,
and pixel PPL. Results go to a JSON file (finished runs are reused on a rerun; runs measured before the seam ratio
existed get it added) and a Pareto plot (distortion vs SWD) as a PNG. Runs snapshot
every --snap-kimg and SIGTERM saves one, so a rerun continues an unfinished run (a sweep can span sessions). Each
run also gets a picture (outdir/pictures): 8 samples and, under each, a version with the middle block redrawn;
--figure ENCODER:LAMBDA:GRID[:KIMG],... stacks chosen runs' pictures, captioned, into one PNG.

    bash scripts/train_photo_models.sh          # gives build/photo-models/{stylegan2,photos32*.zip}
    python benchmarks/ssn_distortion.py --init-from build/photo-models/stylegan2 \\
        --train build/photo-models/photos32.zip --heldout build/photo-models/photos32-heldout.zip \\
        --lambdas 0,1,3,10,30,100,300,1000 --encoders learned,bilinear --kimg 8
    python benchmarks/ssn_distortion.py --init-from build/photo-models64/stylegan2 \\
        --train build/photo-models64/photos64.zip --heldout build/photo-models64/photos64-heldout.zip \\
        --encoders learned,bilinear,nearest,spade --lambdas 0,30 --grids 4x4,8x8 --kimg 4 \\
        --outdir build/ssn64 --results benchmarks/results/ssn-tradeoff-64.json --plot benchmarks/ssn-tradeoff-64.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.training_curves import median_speed  # noqa: E402
from spatialgan import api  # noqa: E402
from spatialgan.checkpoint import find_snapshots, load_checkpoint, resolve_checkpoint  # noqa: E402
from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.imageutils import save_grid  # noqa: E402
from spatialgan.metrics.builtin import sample_images  # noqa: E402
from spatialgan.metrics.evaluate import EvalOptions, evaluate  # noqa: E402
from spatialgan.models.ssn.blocks import seam_ratio  # noqa: E402
from spatialgan.training import launch  # noqa: E402
from spatialgan.training.launch import parse_latent_grid  # noqa: E402
from spatialgan.training.loop import Trainer  # noqa: E402
from spatialgan.training.runfolder import snapshot_nimg  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
METRICS = ["distortion", "diversity", "leakage", "seams", "swd", "kid", "ppl"]
# What an SSN run takes from its StyleGAN2 source's config: only the SSN choices vary.
SOURCE_RECIPE = ("resolution", "width", "z_dim", "w_dim", "mapping_layers", "upsample", "channel_base", "batch",
                 "gamma", "lr", "pl_weight", "style_mixing")


def transfer_options(source: str, train: str, encoder: str, grid: tuple[int, int]) -> dict:
    """The options of an SSN transferred from the StyleGAN2 `source`: its recipe, this encoder and grid."""
    config = load_checkpoint(resolve_checkpoint(source))["config"]
    return dict(**{k: config[k] for k in SOURCE_RECIPE}, model="ssn", data=train, init_from=source,
                spatial_encoder=encoder, latent_rows=grid[0], latent_cols=grid[1])


def transferred(source: str, train: str, encoder: str, grid: tuple[int, int]):
    """The SSN G_ema a transfer from `source` starts from, before any training step."""
    with tempfile.TemporaryDirectory() as outdir:
        cfg = TrainConfig(**transfer_options(source, train, encoder, grid), kimg=1, outdir=outdir, device="cpu")
        return Trainer(cfg).adapter


def run_name(encoder: str, lam: float, grid: tuple[int, int]) -> str:
    return f"{encoder}-lambda{lam:g}" + ("" if grid == (4, 4) else f"-{grid[0]}x{grid[1]}")   # 4x4: older runs


def fine_tune(args, encoder: str, lam: float, grid: tuple[int, int]):
    """Trains one run to --kimg, continuing its newest snapshot; None when a signal stopped it (snapshot saved).
    Its snapshots record the --track metrics: a collapse shows in diversity long before SWD (RESULTS.md)."""
    outdir = Path(args.outdir) / run_name(encoder, lam, grid)
    tracked = dict(metrics=args.track, metrics_num=1000) if args.track else {}
    if find_snapshots(outdir):
        trainer = launch.train({"kimg": args.kimg, **tracked}, resume=str(outdir), progress=False)
    else:
        trainer = launch.train(dict(**transfer_options(args.init_from, args.train, encoder, grid),
                                    kimg=args.kimg, outdir=str(outdir),
                                    lambda_distortion=lam, distortion_reduction="mean",
                                    device=args.device, seed=args.seed,
                                    snap_kimg=min(args.snap_kimg, args.kimg), tick_kimg=min(1.0, args.kimg / 4),
                                    keep=args.keep, grid=16, **tracked), progress=False)
    return None if trainer.stopped_by is not None else trainer


@torch.no_grad()
def picture(outdir: Path, path: Path) -> None:
    """8 samples (seeds 0-7) over the same samples with their middle latent block redrawn."""
    model = api.load(outdir, amp="off")
    rows, cols = model.adapter.grid
    samples = model.sample(seeds=range(8))
    redrawn = torch.cat([model.resample([(rows // 2, cols // 2)], 1, seed=k).images for k in range(8)])
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(torch.cat([samples, redrawn]), path, ncol=8)


def picture_path(args, name: str, kimg: float) -> Path:
    return Path(args.outdir) / "pictures" / f"{name}-{kimg:g}kimg.png"


def figure(args, runs: str, path: Path) -> None:
    """Chosen runs' pictures stacked top to bottom, each under a caption (samples over redrawn middle blocks)."""
    from PIL import Image, ImageDraw

    parts = []
    for item in runs.split(","):
        encoder, lam, grid, *kimg = item.split(":")
        kimg = float(kimg[0]) if kimg else args.kimg
        name = run_name(encoder, float(lam), parse_latent_grid(grid))
        parts.append((f"{encoder}, lambda_D {lam}, {grid} blocks, {kimg:g} kimg",
                      Image.open(picture_path(args, name, kimg))))
    caption = 14
    canvas = Image.new("RGB", (max(p.width for _, p in parts), sum(p.height + caption for _, p in parts)), "white")
    draw, top = ImageDraw.Draw(canvas), 0
    for text, part in parts:
        draw.text((2, top + 1), text, fill="black")
        canvas.paste(part, (0, top + caption))
        top += part.height + caption
    canvas.save(path)


def measure(args, adapter, metrics=METRICS) -> dict:
    options = EvalOptions(num=args.num, features="resnet20", feature_weights=args.resnet20_weights, cache_dir="",
                          batch=64)
    metrics = [m for m in metrics if m != "kid" or Path(args.resnet20_weights).is_file()]
    records = evaluate(adapter, metrics, args.heldout, options)
    out = {r["metric"]: r["value"] for r in records}
    if "leakage" in metrics:
        out["leakage_per_layer"] = next(r["per_layer"] for r in records if r["metric"] == "leakage")
    return out


def measure_kept(args, rows: list[dict], encoder: str, lam: float, grid: tuple[int, int], save) -> set[float]:
    """Measures a run's kept snapshots nearest to each --at-kimg (a run trained with --keep 0), without training it;
    e.g. the last snapshot whose tracked diversity is still above a floor. Returns the snapshots' kimg."""
    outdir = Path(args.outdir) / run_name(encoder, lam, grid)
    snaps = find_snapshots(outdir)
    if not snaps:
        sys.exit(f"{outdir}: no snapshots to measure")
    kimgs, speed = set(), median_speed(outdir)
    for kimg in (float(x) for x in args.at_kimg.split(",")):
        snap = min(snaps, key=lambda s: abs(snapshot_nimg(s) - kimg * 1000))
        row = {"encoder": encoder, "lambda_D": lam, "kimg": snapshot_nimg(snap) / 1000, "grid": f"{grid[0]}x{grid[1]}"}
        kimgs.add(row["kimg"])
        if any(all(r.get(k) == v for k, v in row.items()) for r in rows):
            continue
        rows.append({**row, **measure(args, api.load(snap, amp="off").adapter), "img_per_sec": speed})
        save()
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "leakage_per_layer"}), flush=True)
    return kimgs


def backfill_seams(args, rows: list[dict]) -> bool:
    """Finished runs measured before the seam ratio existed get it, when their folder still holds that model."""
    added = False
    for r in rows:
        if r["encoder"] == "source" or "seams" in r:
            continue
        folder = Path(args.outdir) / run_name(r["encoder"], r["lambda_D"], parse_latent_grid(r.get("grid", "4x4")))
        snaps = find_snapshots(folder)
        if snaps and snapshot_nimg(snaps[-1]) == round(r["kimg"] * 1000):
            r["seams"] = measure(args, api.load(folder, amp="off").adapter, ["seams"])["seams"]
            added = True
    return added


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
    colours = ["#c0392b", "#2471a3", "#229954", "#7d3c98", "#d68910", "#17a589", "#5d6d7e", "#a93226"]
    for i, (encoder, grid) in enumerate(sorted({(r["encoder"], r.get("grid", "4x4")) for r in rows})):
        points = sorted((r for r in rows if (r["encoder"], r.get("grid", "4x4")) == (encoder, grid)),
                        key=lambda r: r["lambda_D"])
        coords = [at(math.log10(max(r["distortion"], 1e-7)), r["swd"]) for r in points]
        colour = colours[i % len(colours)]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=2)
        for (px, py), r in zip(coords, points):
            draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=colour)
            draw.text((px + 6, py - 14), f"{r['lambda_D']:g} ({r['diversity']:.2f})", fill=colour)
        draw.text((width - margin - 170, margin + 10 + 16 * i), f"encoder: {encoder}, {grid}", fill=colour)
    image.save(path)


def table(rows: list[dict], source: dict | None, starts: list[dict] = ()) -> str:
    """The sweep as Markdown. Distortion and diversity are compared with the lambda 0 run of the same encoder, grid
    and budget (the paper's protocol) and, with `starts`, with the transfer before any step (the run's start)."""
    lines = ["| encoder | grid | lambda_D | distortion | vs lambda 0 | vs step 0 | diversity | vs lambda 0 | "
             "vs step 0 | inside/outside | leakage | seams | SWD x1e3 | vs source | KID x1e3 | PPL (pixels) | "
             "train img/s |",
             "|" + "---|" * 17]
    if source:
        seams = ", ".join(f"{v:.2f} ({k[6:]})" for k, v in source.items() if k.startswith("seams_"))
        lines.append(f"| StyleGAN2 (source) | - | - | - | - | - | {source['diversity']:.3f} | - | - | - | - | "
                     f"{seams or '-'} | {source['swd']:.1f} | 1.00x | {source.get('kid', float('nan')) * 1e3:.2f} | "
                     f"{source['ppl_pixel']:.1f} | - |")
    def same(a, b):
        return (a["encoder"], a.get("grid", "4x4")) == (b["encoder"], b.get("grid", "4x4"))

    def against(r, base):          # (distortion so many times lower, diversity kept) or dashes without a base
        if base is None:
            return "-", "-"
        return (f"{base['distortion'] / max(r['distortion'], 1e-12):.1f}x lower",
                f"{r['diversity'] / base['diversity']:.2f}x")

    for r in [*starts, *rows]:
        step0 = r.get("step0", False)          # a start is compared with nothing; None: no run to compare with
        partner = None if step0 else next((b for b in rows if same(b, r) and b["kimg"] == r["kimg"]
                                           and b["lambda_D"] == 0), None)
        start = None if step0 else next((b for b in starts if same(b, r)), None)
        (lower, kept), (lower0, kept0) = against(r, partner), against(r, start)
        to_source = f"{r['swd'] / source['swd']:.2f}x" if source else "-"
        lam = "- (step 0)" if step0 else f"{r['lambda_D']:g}"
        lines.append(f"| {r['encoder']} | {r.get('grid', '4x4')} | {lam} | {r['distortion']:.5f} | "
                     f"{lower} | {lower0} | {r['diversity']:.3f} | {kept} | {kept0} | "
                     f"{r['resample_ratio']:.1f} | {r['leakage']:.3f} | {r.get('seams', float('nan')):.2f} | "
                     f"{r['swd']:.1f} | {to_source} | {r.get('kid', float('nan')) * 1e3:.2f} | "
                     f"{r['ppl_pixel']:.1f} | {'-' if step0 else format(r['img_per_sec'], '.1f')} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init-from", required=True, help="the trained StyleGAN2 run folder or snapshot (G and D)")
    p.add_argument("--train", required=True, help="training crops (.zip)")
    p.add_argument("--heldout", required=True, help="crops of held-back photos (.zip)")
    p.add_argument("--lambdas", default="0,1,3,10,30,100,300,1000")
    p.add_argument("--encoders", default="learned")
    p.add_argument("--grids", default="4x4", help="comma list of latent block grids, e.g. 4x4,8x8")
    p.add_argument("--kimg", type=float, default=8)
    p.add_argument("--snap-kimg", type=float, default=2, help="kimg between snapshots (a rerun continues)")
    p.add_argument("--figure", default="", help="ENCODER:LAMBDA:GRID[:KIMG],... runs whose pictures are stacked into "
                   "PLOT-pictures.png")
    p.add_argument("--transfer", action="store_true", help="also measure each encoder and grid's transfer before any "
                   "step (the runs' start; the table compares with it)")
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--at-kimg", default="", help="measure each run's kept snapshots nearest these kimg (comma list) "
                   "instead of training it")
    p.add_argument("--keep", type=int, default=1, help="snapshots each run keeps (0: all, to pick one later)")
    p.add_argument("--track", default="swd,diversity", help="metrics each run records at its snapshots ('' for none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--outdir", default="runs/ssn-tradeoff")
    p.add_argument("--results", default="benchmarks/results/ssn-tradeoff.json")
    p.add_argument("--plot", default="benchmarks/ssn-tradeoff.png")
    p.add_argument("--resnet20-weights", default=str(SHARED / "weights" / "resnet20-cifar10-12fca82f.th"))
    args = p.parse_args()
    results_path = Path(args.results)
    rows = json.loads(results_path.read_text()) if results_path.is_file() else []

    def save() -> None:
        results_path.parent.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(rows, indent=1))

    source = next((r for r in rows if r["encoder"] == "source" and r["init_from"] == args.init_from), None)
    if source is None:      # the StyleGAN2 the sweep starts from, measured the same way
        source = {"encoder": "source", "init_from": args.init_from,
                  **measure(args, api.load(args.init_from, amp="off").adapter, ["diversity", "swd", "kid", "ppl"])}
        rows.append(source)
        save()
    source_adapter = None
    for grid in map(parse_latent_grid, args.grids.split(",")):
        if f"seams_{grid[0]}x{grid[1]}" not in source:     # the source's seam ratio on this grid: its baseline
            source_adapter = source_adapter or api.load(args.init_from, amp="off").adapter
            images = sample_images(source_adapter, args.num, 64, args.seed)
            source[f"seams_{grid[0]}x{grid[1]}"] = seam_ratio(images, grid)
            save()
    if backfill_seams(args, rows):
        save()
    shown = {args.kimg} if not args.at_kimg else set()
    for grid in map(parse_latent_grid, args.grids.split(",")):
        for encoder in args.encoders.split(","):
            start = {"encoder": encoder, "grid": f"{grid[0]}x{grid[1]}", "kimg": 0.0, "lambda_D": 0.0, "step0": True}
            if args.transfer and not any(all(r.get(k) == v for k, v in start.items()) for r in rows):
                rows.append({**start, **measure(args, transferred(args.init_from, args.train, encoder, grid))})
                save()
            for lam in (float(x) for x in args.lambdas.split(",")):
                if args.at_kimg:
                    shown |= measure_kept(args, rows, encoder, lam, grid, save)
                    continue
                key = (encoder, lam, args.kimg, f"{grid[0]}x{grid[1]}")
                if any((r["encoder"], r.get("lambda_D"), r.get("kimg"), r.get("grid", "4x4")) == key for r in rows):
                    continue
                trainer = fine_tune(args, encoder, lam, grid)
                if trainer is None:
                    sys.exit(f"{run_name(encoder, lam, grid)}: stopped by a signal; rerun to continue it")
                outdir = Path(args.outdir) / run_name(encoder, lam, grid)
                row = {"encoder": encoder, "lambda_D": lam, "kimg": args.kimg, "grid": key[3],
                       **measure(args, trainer.adapter), "img_per_sec": median_speed(outdir)}
                picture(outdir, picture_path(args, outdir.name, args.kimg))
                rows.append(row)
                save()
                print(json.dumps({k: v for k, v in row.items() if k != "leakage_per_layer"}), flush=True)
    done = sorted((r for r in rows if r.get("kimg") in shown and r["encoder"] != "source" and not r.get("step0")),
                  key=lambda r: (r.get("grid", "4x4"), r["encoder"], r["lambda_D"], r["kimg"]))
    starts = [r for r in rows if r.get("step0")]
    pareto_png(done, Path(args.plot))
    if args.figure:
        figure(args, args.figure, Path(args.plot).with_name(Path(args.plot).stem + "-pictures.png"))
    at = ", ".join(f"{k:g}" for k in sorted(shown))
    print(f"\n# SSN fine-tuned {at} kimg (rows in that order) from {args.init_from}; {args.num} samples per metric\n")
    print(table(done, source, starts))


if __name__ == "__main__":
    main()
