"""Quality of photo-trained models against crops of held-back photos, beside the real-vs-real floors.

For each model: SWD (x1e3, the metric's Laplacian-pyramid protocol) and the KID proxy (CIFAR-10 ResNet-20
features) between --num generated images and --num crops of held-back photos, and diversity (mean squared pixel
difference, images in [-1, 1], between images of independent latents with constant noise). Floors measured the
same way: two disjoint halves of the held-back crops against each other, and training crops against held-back
crops (what a model that reproduced its training data exactly would score). Models that resample latent blocks
(SSN) add distortion, the resampled block's inside/outside change ratio and encoder leakage (`evaluate`'s
metrics). Writes a Markdown table, a JSON file and, with --quality-json, the file the demo report reads.

    python benchmarks/photo_quality.py --heldout build/photo-models/photos32-heldout.zip \\
        --train build/photo-models/photos32.zip --models ssn,cips,scaleparty,stylegan2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialgan.api import load  # noqa: E402
from spatialgan.data.dataset import ImageDataset  # noqa: E402
from spatialgan.imageutils import from_uint8, to_uint8  # noqa: E402
from spatialgan.metrics.evaluate import EvalOptions, evaluate  # noqa: E402
from spatialgan.metrics.features import build_extractor  # noqa: E402
from spatialgan.metrics.kid import kid  # noqa: E402
from spatialgan.metrics.swd import PatchCollector, swd_from_collectors  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def reals(path: str, start: int, count: int, resolution: int) -> torch.Tensor:
    ds = ImageDataset(path, resolution)
    if start + count > len(ds):
        raise SystemExit(f"{path} has {len(ds)} images; need {start + count}")
    return torch.stack([ds.load(i) for i in range(start, start + count)])


def swd(a: torch.Tensor, b: torch.Tensor, resolution: int) -> float:
    ca, cb = PatchCollector(resolution, 0), PatchCollector(resolution, 1)
    for chunk in a.split(256):
        ca.add(chunk)
    for chunk in b.split(256):
        cb.add(chunk)
    return swd_from_collectors(ca, cb, 0)["value"]          # already x1e3 (the metric's reporting unit)


def diversity(images_uint8: torch.Tensor) -> float:
    x = from_uint8(images_uint8)
    half = x.shape[0] // 2
    return float((x[:half] - x[half:2 * half]).square().mean())


def generated(model, count: int) -> torch.Tensor:
    images = model.sample(range(count), noise_mode=model.adapter.default_noise)
    return torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2).contiguous()


SSN_FIGURES = {"distortion": "distortion", "resample_ratio": "inside/outside", "leakage": "leakage"}


def ssn_figures(model, num: int) -> dict:
    """Distortion, the resampled block's inside/outside change ratio and leakage, for models that resample blocks."""
    if not model.can("resample_blocks"):
        return {}
    records = evaluate(model.adapter, ["distortion", "diversity", "leakage"], None, EvalOptions(num=num, cache_dir=""))
    return {r["metric"]: r["value"] for r in records if r["metric"] in SSN_FIGURES}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--heldout", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--models", default="ssn,cips,scaleparty", help="shipped names, run folders or files")
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--resnet20-weights", default=str(SHARED / "weights" / "resnet20-cifar10-12fca82f.th"))
    p.add_argument("--out", default=None, help="JSON with every figure")
    p.add_argument("--quality-json", default=None, help="write the demo report's quality file here")
    args = p.parse_args()
    torch.manual_seed(0)
    first = load(args.models.split(",")[0])
    Path(args.out or ".").parent.mkdir(parents=True, exist_ok=True)
    r = first.resolution
    held_a, held_b = reals(args.heldout, 0, args.num, r), reals(args.heldout, args.num, args.num, r)
    train = reals(args.train, 0, args.num, r)
    extractor = build_extractor("resnet20", args.resnet20_weights) if Path(args.resnet20_weights).is_file() else None

    def kid_x1e3(a, b):
        return kid(extractor(a), extractor(b)) * 1e3 if extractor is not None else float("nan")

    rows = {"real-vs-real (held-back halves)": (held_b, None), "training crops vs held-back": (train, None)}
    for name in args.models.split(","):
        rows[Path(name).stem] = (None, load(name))      # a shipped name, a run folder or an exported file
    results = {}
    for label, (images, model) in rows.items():
        if model is not None:
            images = generated(model, args.num)
        results[label] = {"swd": swd(held_a, images, r), "kid_x1e3": kid_x1e3(held_a, images),
                          "diversity": diversity(images), **(ssn_figures(model, args.num) if model else {})}
        print(label, json.dumps(results[label]), flush=True)
    floor = results["real-vs-real (held-back halves)"]["swd"]
    crops = results["training crops vs held-back"]["swd"]
    print(f"\n# {args.num} images per set at {r}x{r}; SWD x1e3 and KID x1e3 against crops of held-back photos\n"
          "| set | SWD | SWD / real-vs-real | SWD / training crops | KID proxy | diversity | "
          + " | ".join(SSN_FIGURES.values()) + " |\n|" + "---|" * 9)
    for label, v in results.items():
        extra = " | ".join(f"{v[k]:.4g}" if k in v else "-" for k in SSN_FIGURES)
        print(f"| {label} | {v['swd']:.1f} | {v['swd'] / floor:.1f}x | {v['swd'] / crops:.2f}x | "
              f"{v['kid_x1e3']:.2f} | {v['diversity']:.3f} | {extra} |")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    if args.quality_json:
        models = {k: v for k, v in results.items() if k in rows and rows[k][1] is not None}
        Path(args.quality_json).write_text(json.dumps({
            "about": f"Trained on the CPU on random {r}x{r} crops of 153 of 180 scene photographs (SUN and Urban100 "
                     "photos of landscapes, buildings and streets); 27 photos were held back for evaluation "
                     "(scripts/train_photo_models.sh).",
            "floor_swd": floor, "train_vs_heldout_swd": results["training crops vs held-back"]["swd"],
            "resolution": r, "train_vs_heldout_kid_x1e3": results["training crops vs held-back"]["kid_x1e3"],
            "models": models}, indent=1))


if __name__ == "__main__":
    main()
