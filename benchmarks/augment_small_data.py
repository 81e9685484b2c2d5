"""ADA's experiment in small: StyleGAN2 at 32x32 without augmentation, with ADA and with DiffAugment, on a small set
(2,000 crops of 20 photos) and on the full crop set of the shipped models, evaluated against held-back photos.

    python benchmarks/augment_small_data.py prepare --out build/augment
    python benchmarks/augment_small_data.py train --out build/augment --kimg 60      # resumable; SIGTERM saves
    python benchmarks/augment_small_data.py evaluate --out build/augment --stride 2 \\
        --json benchmarks/results/augment-small-data.json
    python benchmarks/augment_small_data.py report --json benchmarks/results/augment-small-data.json \\
        --png benchmarks/augment-curves.png

Both sets are scored against the same crops of the 27 photos the full set holds back. At every snapshot: SWD x1e3
and the KID proxy (CIFAR-10 ResNet-20 features) of G_ema against held-back crops, diversity, and D's sign
statistic E[sign(D(x))] on unaugmented training reals and on held-back reals: a D that memorises its training set
scores the first high and the second low. p comes from stats.jsonl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.photo_quality import SHARED, diversity, reals  # noqa: E402
from spatialgan.checkpoint import find_snapshots, load_checkpoint  # noqa: E402
from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.imageutils import from_uint8, to_uint8  # noqa: E402
from spatialgan.metrics.swd import PatchCollector, swd_from_collectors  # noqa: E402
from spatialgan.registry import get_model, make_adapter  # noqa: E402

SETS = ("small", "full")
AUGMENTS = ("none", "ada", "diffaug")
COMMON = ["--model", "stylegan2", "--resolution", "32", "--batch", "32", "--width", "64", "--z-dim", "128",
          "--w-dim", "128", "--mapping-layers", "4", "--device", "cpu", "--tick-kimg", "1", "--snap-kimg", "5",
          "--grid", "64", "--seed", "0", "--quiet", "--recipe", "ada"]


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "spatialgan", *args], check=True)


def prepare(out: Path) -> None:
    photos = SHARED / "data" / "photos-scenes.tar"
    if not (out / "photos-scenes").is_dir():
        with tarfile.open(photos) as tar:
            tar.extractall(out, filter="data")
    full = out / "full.zip"
    if not full.is_file():       # the shipped models' recipe (scripts/train_photo_models.sh)
        cli("dataset", "--source", str(out / "photos-scenes"), "--dest", str(full), "--resolution", "32",
            "--crops", "20000", "--crop-size", "0.25,0.9", "--hold-out", "0.15", "--hold-out-crops", "4000",
            "--seed", "0")
    small = out / "small.zip"
    if not small.is_file():      # 20 of the full set's training photos, none of its held-back ones
        import zipfile

        with zipfile.ZipFile(full) as zf:
            names = json.loads(zf.read("dataset.json"))["photos"]
        chosen = out / "small-photos"
        chosen.mkdir(exist_ok=True)
        for name in names[::max(1, len(names) // 20)][:20]:
            source = Path(name) if Path(name).exists() else out / "photos-scenes" / name   # names as listed
            link = chosen / Path(name).name
            if not link.exists():
                link.symlink_to(source.resolve())
        cli("dataset", "--source", str(chosen), "--dest", str(small), "--resolution", "32", "--crops", "2000",
            "--crop-size", "0.25,0.9", "--seed", "0")


def train(out: Path, kimg: float, conditions: list[str], ada_kimg: float) -> None:
    for condition in conditions:
        dataset, augment = condition.split("-")
        run = out / condition
        if find_snapshots(run) if run.is_dir() else []:
            cli("train", "--resume", str(run), "--kimg", str(kimg), "--quiet")
        else:
            cli("train", "--data", str(out / f"{dataset}.zip"), "--outdir", str(run), "--kimg", str(kimg),
                "--augment", augment, "--ada-kimg", str(ada_kimg), *COMMON)


def sign_statistic(D, images_uint8: torch.Tensor) -> float:
    with torch.no_grad():
        logits = torch.cat([D(from_uint8(chunk)) for chunk in images_uint8.split(250)])
    return float(torch.sign(logits).mean())


def collect(images: torch.Tensor, resolution: int, seed: int) -> PatchCollector:
    collector = PatchCollector(resolution, seed)
    for chunk in images.split(256):
        collector.add(chunk)
    return collector


def evaluate_snapshot(path: Path, held: dict, train_reals: torch.Tensor, extractor, num: int) -> dict:
    """held: the held-back crops ('images'), their SWD patches ('patches', seed 0) and features ('features'),
    computed once; the figures equal photo_quality's swd() and KID on the same images."""
    state = load_checkpoint(path)
    cfg = TrainConfig.from_dict(state["config"])
    spec = get_model(cfg.model)
    G = spec.build_generator(cfg).eval()
    G.load_state_dict(state["G_ema"])
    D = spec.build_discriminator(cfg).eval()
    D.load_state_dict(state["D"])
    adapter = make_adapter(spec, G, cfg)
    gen = torch.Generator().manual_seed(123)
    z = torch.randn(num, *adapter.latent_shape(), generator=gen)
    fakes = torch.cat([adapter.sample(chunk) for chunk in z.split(250)])
    fakes = torch.from_numpy(to_uint8(fakes)).permute(0, 3, 1, 2).contiguous()
    from spatialgan.metrics.kid import kid

    fake_patches = collect(fakes, cfg.resolution, 1)
    return {"kimg": state["progress"]["cur_nimg"] / 1000,
            "swd": swd_from_collectors(held["patches"], fake_patches, 0)["value"],
            "kid_x1e3": kid(held["features"], extractor(fakes)) * 1e3 if extractor else float("nan"),
            "diversity": diversity(fakes), "sign_train": sign_statistic(D, train_reals),
            "sign_heldout": sign_statistic(D, held["images"])}


def p_curve(run: Path) -> list[tuple[float, float]]:
    rows = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines() if x.strip()]
    return [(r["kimg"], r.get("Augment/p", 0.0)) for r in rows if "tick" in r]


def evaluate(out: Path, num: int, json_path: Path | None, png: Path | None, weights: str, stride: int = 1) -> dict:
    from spatialgan.metrics.features import build_extractor

    torch.manual_seed(0)
    images = reals(str(out / "full-heldout.zip"), 0, num, 32)
    extractor = build_extractor("resnet20", weights) if Path(weights).is_file() else None
    held = {"images": images, "patches": collect(images, 32, 0),
            "features": extractor(images) if extractor else None}
    cache = json.loads(json_path.read_text()) if json_path and json_path.is_file() else {}
    results = {}
    for dataset in SETS:
        train_reals = reals(str(out / f"{dataset}.zip"), 0, min(num, 2000), 32)
        for augment in AUGMENTS:
            run = out / f"{dataset}-{augment}"
            if not run.is_dir():
                continue
            done = {row["kimg"]: row for row in cache.get(run.name, {}).get("snapshots", [])}
            rows = []
            snaps = find_snapshots(run)
            chosen = snaps[stride - 1::stride] + ([snaps[-1]] if len(snaps) % stride else [])
            for snap in chosen:
                kimg = int(snap.stem.split("-")[-1]) / 1000
                rows.append(done.get(kimg) or evaluate_snapshot(snap, held, train_reals, extractor, num))
                print(run.name, json.dumps(rows[-1]), flush=True)
                results[run.name] = {"snapshots": rows, "p": p_curve(run)}
                if json_path:                            # after every snapshot: an interrupted pass keeps its work
                    json_path.write_text(json.dumps({**cache, **results}, indent=1))
    print_table(results)
    if png:
        plot(results, png)
    return results


def print_table(results: dict) -> None:
    print("| set | augment | kimg | final SWD x1e3 | best SWD (kimg) | KID proxy x1e3 | diversity | sign train | "
          "sign held-back | final p |\n|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        rows = r["snapshots"]
        if not rows:
            continue
        last, best = rows[-1], min(rows, key=lambda x: x["swd"])
        dataset, augment = name.split("-")
        p = r["p"][-1][1] if r["p"] else 0.0
        print(f"| {dataset} | {augment} | {last['kimg']:.0f} | {last['swd']:.1f} | {best['swd']:.1f} "
              f"({best['kimg']:.0f}) | {last['kid_x1e3']:.1f} | {last['diversity']:.3f} | {last['sign_train']:.2f} | "
              f"{last['sign_heldout']:.2f} | {p:.3f} |")


COLOURS = {"none": (200, 40, 40), "ada": (30, 110, 200), "diffaug": (40, 160, 60)}


def plot(results: dict, path: Path) -> None:
    """Panels per set: SWD against kimg; D's sign on training (solid) and held-back (thin) reals; p."""
    from PIL import Image, ImageDraw

    panel_w, panel_h, pad = 300, 200, 40
    panels = [("SWD x1e3 vs held-back", "swd"), ("E[sign D]: train (thick), held-back (thin)", "sign"),
              ("augmentation p", "p")]
    image = Image.new("RGB", (pad + len(panels) * (panel_w + pad), pad + len(SETS) * (panel_h + pad)), "white")
    draw = ImageDraw.Draw(image)
    for row, dataset in enumerate(SETS):
        for col, (title, key) in enumerate(panels):
            x0, y0 = pad + col * (panel_w + pad), pad + row * (panel_h + pad)
            series = []
            for augment in AUGMENTS:
                r = results.get(f"{dataset}-{augment}")
                if not r:
                    continue
                snaps = r["snapshots"]
                if key == "swd":
                    series.append((augment, 2, [(s["kimg"], s["swd"]) for s in snaps]))
                elif key == "sign":
                    series.append((augment, 3, [(s["kimg"], s["sign_train"]) for s in snaps]))
                    series.append((augment, 1, [(s["kimg"], s["sign_heldout"]) for s in snaps]))
                else:
                    series.append((augment, 2, [tuple(v) for v in r["p"]]))
            points = [pt for _, _, pts in series for pt in pts]
            if not points:
                continue
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            lo, hi = (min(ys), max(ys)) if key == "swd" else ((-1.0, 1.0) if key == "sign" else (0.0, max(ys + [0.1])))
            span_x, span_y = max(max(xs), 1e-9), max(hi - lo, 1e-9)
            draw.rectangle([x0, y0, x0 + panel_w, y0 + panel_h], outline=(0, 0, 0))
            draw.text((x0, y0 - 14), f"{dataset}: {title}", fill=(0, 0, 0))
            draw.text((x0 - 34, y0), f"{hi:.2f}", fill=(0, 0, 0))
            draw.text((x0 - 34, y0 + panel_h - 10), f"{lo:.2f}", fill=(0, 0, 0))
            draw.text((x0 + panel_w - 40, y0 + panel_h + 2), f"{max(xs):.0f} kimg", fill=(0, 0, 0))
            for augment, width, pts in series:
                xy = [(x0 + x / span_x * panel_w, y0 + panel_h - (y - lo) / span_y * panel_h) for x, y in pts]
                if len(xy) > 1:
                    draw.line(xy, fill=COLOURS[augment], width=width)
    for i, augment in enumerate(AUGMENTS):
        draw.text((pad + i * 90, image.height - 16), augment, fill=COLOURS[augment])
    image.save(path)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=("prepare", "train", "evaluate", "report"))
    p.add_argument("--out", default="build/augment")
    p.add_argument("--kimg", type=float, default=60)
    p.add_argument("--ada-kimg", type=float, default=100,
                   help="p's speed (default 100: at ADA's 500, p could not pass 0.12 in 60 kimg)")
    p.add_argument("--conditions", default=",".join(f"{s}-{a}" for s in SETS for a in AUGMENTS))
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--stride", type=int, default=1, help="evaluate every N-th snapshot (and the last)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--png", type=Path, default=None)
    p.add_argument("--resnet20-weights", default=str(SHARED / "weights" / "resnet20-cifar10-12fca82f.th"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.step == "prepare":
        prepare(out)
    elif args.step == "train":
        train(out, args.kimg, args.conditions.split(","), args.ada_kimg)
    elif args.step == "evaluate":
        evaluate(out, args.num, args.json, args.png, args.resnet20_weights, args.stride)
    else:                        # table and curves from the JSON an evaluate pass wrote
        results = json.loads(args.json.read_text())
        print_table(results)
        if args.png:
            plot(results, args.png)


if __name__ == "__main__":
    main()
