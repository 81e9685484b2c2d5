"""Time of evaluating 10k generated 32x32 images with SWD and the ResNet-20 proxy FID (metrics issue's goal:
under 2 minutes on a 2-core CPU). Real images: the first 10k CIFAR-10 training JPEGs from ../shared.
    python benchmarks/metrics_speed.py --num 10000
The generator is an untrained 32x32 StyleGAN2 at the CPU default width (128): the time does not depend on what
it has learned. Reports wall time without the real-feature cache (first evaluation) and with it.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.metrics.evaluate import EvalOptions, evaluate  # noqa: E402
from spatialgan.registry import get_model, make_adapter  # noqa: E402

SHARED = ROOT.parent / "shared"


def extract_cifar(dest: Path, count: int) -> Path:
    with tarfile.open(SHARED / "data" / "cifar10-jpeg.tar.gz") as tar:
        members = [m for m in tar if m.isfile() and m.name.startswith("train/")][:count]
        for m in members:
            m.name = m.name.replace("/", "_")
            tar.extract(m, dest, filter="data")
    return dest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num", type=int, default=10000)
    p.add_argument("--width", type=int, default=128)
    args = p.parse_args()
    torch.manual_seed(0)
    cfg = TrainConfig(resolution=32, width=args.width, device="cpu")
    spec = get_model(cfg.model)
    G = spec.build_generator(cfg).eval().requires_grad_(False)
    with tempfile.TemporaryDirectory() as tmp:
        data = extract_cifar(Path(tmp) / "reals", args.num)
        options = EvalOptions(num=args.num, features="resnet20", cache_dir=str(Path(tmp) / "cache"),
                              feature_weights=str(SHARED / "weights" / "resnet20-cifar10-12fca82f.th"))
        rows = []
        for label in ("no cache", "cached reals"):
            start = time.time()
            results = evaluate(make_adapter(spec, G, cfg), ["swd", "fid"], str(data), options)
            rows.append((label, time.time() - start, results))
    print(f"# {args.num} generated 32x32 images (width {args.width}) vs {args.num} CIFAR-10 reals, "
          f"{torch.get_num_threads()} CPU threads")
    print("| run | wall s | SWD x1e3 | proxy FID |\n|---|---|---|---|")
    for label, seconds, results in rows:
        values = {r["metric"]: r["value"] for r in results}
        print(f"| {label} | {seconds:.1f} | {values['swd']:.2f} | {values['fid']:.2f} |")


if __name__ == "__main__":
    main()
