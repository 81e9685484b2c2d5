"""ScaleParty's scale consistency by training objective (the direction of its Tables 1-3), on crops of real photos.

The same ScaleParty is trained with the paper's scale regime (r_small = R, r_large = 1.5 R, reals never
upsampled), from scratch or fine-tuned from --init-from, under each inter-scale objective, same start, data, seed
and budget: `none` (multi-scale partial training only), `mix` (CutMix then ChannelMix of both renders of a pair,
both to D: the paper's), `l1` (an L1 tie between the scales, its ablation), and optionally `cutmix`/`channelmix`
alone (its Fig. 4). Per run:
  - SelfSSIM, the paper's protocol (MS-SSIM of the full frame rendered at each size s in 1.25-2 R, nearest-resized
    to R, against the render at R; one value per s and their mean; random noise), the all-pairs variant and the
    first variant (single-scale SSIM after antialiased downsampling, 1x/2x/4x);
  - quality of the full frame at R against crops of held-back photos: SWD x1e3 and the KID proxy x1e3 (CIFAR-10
    ResNet-20), with diversity beside them (a blurry or collapsed model is trivially self-consistent);
  - with --noise-table, official SelfSSIM of each run under every noise policy (the paper's Table 3);
  - with --scales, SWD and the KID proxy of the full frame rendered at each multiple of R against held-back crops
    loaded at that size (the direction of its Fig. 3; the held-back zip must hold max(scales) R px).
Results go to a JSON file; finished runs are reused on a rerun (and measured at --scales if they were not yet). Runs
snapshot every --snap-kimg and SIGTERM saves one: a rerun continues an unfinished run from its newest snapshot, so
a long from-scratch comparison spans sessions.

    spatialgan dataset --source photos-scenes --dest photos80.zip --resolution 80 --crops 10000 \\
        --crop-size 0.25,0.9 --hold-out 0.15 --hold-out-crops 2000 --seed 0
    python benchmarks/scaleparty_consistency.py --init-from build/photo-models/scaleparty \\
        --train photos80.zip --heldout photos80-heldout.zip --kimg 6 --variants none,mix,l1 --noise-table
    python benchmarks/scaleparty_consistency.py --train photos80.zip --heldout photos80-heldout.zip \\
        --kimg 60 --variants none,mix --seed 0 --outdir runs/scaleparty-scratch-seed0 --results scratch-seed0.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.training_curves import median_speed  # noqa: E402
from spatialgan import SpatialGANError, api  # noqa: E402
from spatialgan.checkpoint import find_snapshots, load_checkpoint, resolve_checkpoint  # noqa: E402
from spatialgan.metrics.evaluate import EvalOptions, evaluate, parse_scales  # noqa: E402
from spatialgan.training import launch  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
NOISE_POLICIES = ("grid", "const", "random", "none")


def base_config(args) -> dict:
    """The architecture and optimiser values: the source's with --init-from, else the shipped 32-px photo model's."""
    base = {"resolution": 32, "width": 64, "z_dim": 128, "w_dim": 128, "mapping_layers": 4, "batch": 32}
    if not args.init_from:
        return {**base, "recipe": args.recipe}
    source = load_checkpoint(resolve_checkpoint(args.init_from))["config"]
    # Only the objective (and the regime) is what varies.
    return {k: source[k] for k in (*base, "gamma", "lr", "pl_weight", "style_mixing", "upsample")}


def train(args, variant: str):
    """Trains VARIANT to --kimg, continuing its newest snapshot; None when a signal stopped it (snapshot saved)."""
    outdir = Path(args.outdir) / variant
    if find_snapshots(outdir):
        trainer = launch.train({"kimg": args.kimg}, resume=str(outdir), progress=False)
    else:
        trainer = launch.train(dict(**base_config(args), model="scaleparty", data=args.train, kimg=args.kimg,
                                    init_from=args.init_from, outdir=str(outdir), interscale=variant,
                                    scale_regime="paper", interscale_prob=args.interscale_prob, device=args.device,
                                    seed=args.seed, snap_kimg=min(args.snap_kimg, args.kimg),
                                    tick_kimg=min(4.0, args.kimg / 4), keep=1, grid=16), progress=False)
    return None if trainer.stopped_by is not None else trainer


def measure(args, trainer) -> dict:
    out = {}
    consistency = EvalOptions(num=args.selfssim_num, cache_dir="")
    for r in evaluate(trainer.adapter, ["selfssim", "selfssim_pairs", "selfssim_aa"], None, consistency):
        out[r["metric"]] = r["value"]
        if "per_size" in r:                    # the paper's protocol: one value per render size
            out["selfssim_per_size"] = r["per_size"]
    quality = EvalOptions(num=args.num, features="resnet20", feature_weights=args.resnet20_weights, cache_dir="")
    names = ["swd", "diversity"] + (["kid"] if Path(args.resnet20_weights).is_file() else [])
    for r in evaluate(trainer.adapter, names, args.heldout, quality):
        out[r["metric"]] = r["value"]
    if args.noise_table:
        for noise in NOISE_POLICIES:
            options = EvalOptions(num=args.selfssim_num, cache_dir="", noise=noise)
            out[f"selfssim_{noise}"] = evaluate(trainer.adapter, ["selfssim"], None, options)[0]["value"]
    return out


def measure_scales(args, adapter) -> dict:
    options = EvalOptions(num=args.num, features="resnet20", feature_weights=args.resnet20_weights, cache_dir="",
                          scales=args.scales)
    names = ["swd"] + (["kid"] if Path(args.resnet20_weights).is_file() else [])
    return {f"{r['metric']}@{r['scale']:g}": r["value"] for r in evaluate(adapter, names, args.heldout, options)}


def scales_table(rows: list[dict], scales: tuple) -> str:
    head = " | ".join(f"{k:g} R" for k in scales)
    lines = [f"| objective | metric | {head} |", "|---|---|" + "---|" * len(scales)]
    for r in rows:
        for metric, factor in (("swd", 1.0), ("kid", 1e3)):
            if f"{metric}@{scales[0]:g}" in r:
                cells = " | ".join(f"{r[f'{metric}@{k:g}'] * factor:.1f}" for k in scales)
                lines.append(f"| {r['variant']} | {metric.upper()} x1e3 | {cells} |")
    return "\n".join(lines)


def table(rows: list[dict], noise_table: bool) -> str:
    sizes = sorted(rows[0].get("selfssim_per_size", {}), key=float) if rows else []
    lines = ["| objective | SelfSSIM (paper) | " + "".join(f"at {s} | " for s in sizes)
             + "all pairs | first variant | SWD x1e3 | KID x1e3 | diversity | train img/s |",
             "|---|---|" + "---|" * len(sizes) + "---|---|---|---|---|---|"]
    for r in rows:
        per_size = "".join(f"{r['selfssim_per_size'][s]:.4f} | " for s in sizes)
        lines.append(f"| {r['variant']} | {r['selfssim']:.4f} | {per_size}{r.get('selfssim_pairs', float('nan')):.4f}"
                     f" | {r['selfssim_aa']:.4f} | {r['swd']:.1f} | {r.get('kid', float('nan')) * 1e3:.1f} | "
                     f"{r['diversity']:.3f} | {r['img_per_sec']:.1f} |")
    if noise_table:
        lines += ["", "| objective | " + " | ".join(f"SelfSSIM, {n} noise" for n in NOISE_POLICIES) + " |",
                  "|---|" + "---|" * len(NOISE_POLICIES)]
        for r in rows:
            lines.append(f"| {r['variant']} | " + " | ".join(f"{r[f'selfssim_{n}']:.4f}" for n in NOISE_POLICIES)
                         + " |")
    return "\n".join(lines)


def scales_arg(text: str) -> tuple:
    try:
        return parse_scales(text)
    except SpatialGANError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init-from", default=None, help="a trained ScaleParty run folder (G and D) to start from")
    p.add_argument("--train", required=True, help="training crops with at least 2.5 R px (.zip)")
    p.add_argument("--heldout", required=True, help="crops of held-back photos (.zip)")
    p.add_argument("--variants", default="none,mix,l1")
    p.add_argument("--kimg", type=float, default=6)
    p.add_argument("--snap-kimg", type=float, default=4, help="kimg between snapshots (a rerun continues)")
    p.add_argument("--recipe", default="ada", help="training recipe of a from-scratch run (without --init-from)")
    p.add_argument("--interscale-prob", type=float, default=0.2)
    p.add_argument("--num", type=int, default=2000, help="samples for SWD, KID and diversity")
    p.add_argument("--selfssim-num", type=int, default=256, help="latents for SelfSSIM")
    p.add_argument("--noise-table", action="store_true")
    p.add_argument("--scales", type=scales_arg, default=None, help="also SWD/KID at these multiples of R")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--outdir", default="runs/scaleparty-consistency")
    p.add_argument("--results", default="benchmarks/results/scaleparty-consistency.json")
    p.add_argument("--resnet20-weights", default=str(SHARED / "weights" / "resnet20-cifar10-12fca82f.th"))
    args = p.parse_args()
    path = Path(args.results)
    rows = json.loads(path.read_text()) if path.is_file() else []
    for variant in args.variants.split(","):
        if any(r["variant"] == variant and r["kimg"] == args.kimg for r in rows):
            continue
        trainer = train(args, variant)
        if trainer is None:
            sys.exit(f"{variant}: stopped by a signal; rerun the same command to continue it")
        rows.append({"variant": variant, "kimg": args.kimg, "seed": args.seed, "from": args.init_from or "scratch",
                     **measure(args, trainer), "img_per_sec": median_speed(Path(args.outdir) / variant)})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=1))
        print(json.dumps(rows[-1]), flush=True)
    done = [r for r in rows if r["kimg"] == args.kimg]
    for r in done:
        if args.scales and any(f"swd@{k:g}" not in r for k in args.scales):
            # The dicts in `done` are those of `rows`, so the file gains the new figures in place.
            r.update(measure_scales(args, api.load(Path(args.outdir) / r["variant"]).adapter))
            path.write_text(json.dumps(rows, indent=1))
    start = f"fine-tuned from {args.init_from}" if args.init_from else "trained from scratch"
    print(f"\n# ScaleParty {start}, {args.kimg:g} kimg per objective, seed {args.seed}\n")
    print(table(done, args.noise_table and all("selfssim_grid" in r for r in done)))
    if args.scales:
        print("\n" + scales_table(done, args.scales))


if __name__ == "__main__":
    main()
