"""SSN distortion with and without the distortion regularizer (the direction of the SSN paper's Table 2).

Trains the same small SSN twice on the same data and budget, with lambda_D = 0 and lambda_D = 100, then measures
the distortion metric (spatialgan.models.ssn.distortion) beside quality figures: SWD (x1e3, no weights), the
ResNet-20 proxy FID (when its weights file is found) and sample diversity (mean squared difference between images
of independent latents, [-1, 1]; a model that ignores its latent blocks scores near 0). Data: the demo's crops of
scikit-image's bundled photos.
    python benchmarks/ssn_distortion.py --kimg 100 --resolution 32 --width 128 --device cuda
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.demo import build_demo_dataset  # noqa: E402
from spatialgan.metrics.evaluate import EvalOptions, evaluate  # noqa: E402
from spatialgan.models.ssn.distortion import distortion  # noqa: E402
from spatialgan.training.loop import Trainer  # noqa: E402


@torch.no_grad()
def diversity(trainer, pairs: int = 512) -> float:
    """Mean squared difference between images of independent latents (constant noise)."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2 * pairs, *trainer.adapter.latent_shape(), generator=g).to(trainer.device)
    images = torch.cat([trainer.G_ema(chunk, noise_mode="const") for chunk in z.split(128)])
    return float((images[:pairs] - images[pairs:]).square().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kimg", type=float, default=20)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--num", type=int, default=2000, help="samples for the distortion metric")
    p.add_argument("--outdir", default="runs/ssn-distortion")
    p.add_argument("--lambdas", default="0,100")
    p.add_argument("--init-kimg", type=float, default=0,
                   help="first train a StyleGAN2 this long and start every SSN from it (the paper's transfer recipe)")
    p.add_argument("--resnet20-weights", default=str(Path(__file__).resolve().parents[2] / "shared" / "weights" /
                                                     "resnet20-cifar10-12fca82f.th"))
    args = p.parse_args()
    out = Path(args.outdir)
    data = build_demo_dataset(out / "data.zip", resolution=args.resolution)
    rows = []
    init_from = None
    if args.init_kimg > 0:
        base = TrainConfig(model="stylegan2", data=str(data), outdir=str(out / "stylegan2"), resolution=args.resolution,
                           batch=args.batch, kimg=args.init_kimg, width=args.width, z_dim=128, w_dim=128,
                           device=args.device, snap_kimg=args.init_kimg, tick_kimg=args.init_kimg / 4)
        Trainer(base).run(progress=False)
        init_from = base.outdir
    for lam in [float(x) for x in args.lambdas.split(",")]:
        cfg = TrainConfig(model="ssn", data=str(data), outdir=str(out / f"lambda{lam:g}"), resolution=args.resolution,
                          batch=args.batch, kimg=args.kimg, width=args.width, z_dim=128, w_dim=128,
                          lambda_distortion=lam, device=args.device, snap_kimg=args.kimg, tick_kimg=args.kimg / 4,
                          init_from=init_from)
        trainer = Trainer(cfg)
        start = time.time()
        trainer.run(progress=False)
        seconds = time.time() - start
        d = distortion(trainer.G_ema, args.num, seed=0)
        metrics = ["swd", "fid"] if Path(args.resnet20_weights).is_file() else ["swd"]
        quality = {r["metric"]: r["value"] for r in evaluate(
            trainer.adapter, metrics, str(data),
            EvalOptions(num=args.num, features="resnet20", feature_weights=args.resnet20_weights, cache_dir=""))}
        rows.append({"lambda_D": lam, "distortion": d["value"], "swd": quality["swd"],
                     "proxy_fid": quality.get("fid", float("nan")), "diversity": diversity(trainer),
                     "train_seconds": seconds, "img_per_sec": trainer.cur_nimg / seconds})
        print(json.dumps(rows[-1]), flush=True)
    where = torch.cuda.get_device_name() if torch.device(args.device).type == "cuda" else "cpu"
    start = f", from a {args.init_kimg:g}-kimg StyleGAN2" if args.init_kimg else ""
    print(f"\n# SSN {args.resolution}x{args.resolution}, width {args.width}, batch {args.batch}, "
          f"{args.kimg:g} kimg{start}, "
          f"{where}; distortion over {args.num} samples")
    print("| lambda_D | distortion | SWD x1e3 | proxy FID | diversity | train img/s | train s |\n"
          "|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['lambda_D']:g} | {r['distortion']:.5f} | {r['swd']:.2f} | {r['proxy_fid']:.2f} | "
              f"{r['diversity']:.4f} | {r['img_per_sec']:.0f} | {r['train_seconds']:.0f} |")
    if len(rows) == 2 and rows[1]["distortion"] > 0:
        print(f"\nratio (lambda {rows[0]['lambda_D']:g} / lambda {rows[1]['lambda_D']:g}): "
              f"{rows[0]['distortion'] / rows[1]['distortion']:.1f}x")


if __name__ == "__main__":
    main()
