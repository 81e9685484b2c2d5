"""ScaleParty scale consistency with and without inter-scale augmentation (the direction of the paper's Table 2).

Trains the same small ScaleParty generator on the same data and budget with every training option equal except
the scale-consistency objective: `none` (multi-scale partial training only), `mix` (CutMix + ChannelMix of the
two scales for D, the paper's method) and `l1` (L1 between the scales, the paper's ablation). Then measures:
  - SelfSSIM over trained scales: full-frame renders at 16, 24 and 32 pixels (sampling periods all inside the
    trained range), compared at 16 (spatialgan.metrics.selfssim: antialiased-bilinear downsampling, SSIM);
  - SelfSSIM with an unseen scale: renders at 16 and 64 pixels (64 samples the frame 1.6x finer than any
    training region did);
  - quality at 32x32 full frame: SWD (x1e3) and the ResNet-20 proxy FID against the real images, and sample
    diversity (mean squared difference between renders of independent latents), since a blurry or collapsed
    model is trivially self-consistent.
Data: the demo's crops of scikit-image's bundled photos.
    python benchmarks/scaleparty_consistency.py --kimg 40 --variants none,mix,l1
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
from spatialgan.metrics.selfssim import self_ssim  # noqa: E402
from spatialgan.training.loop import Trainer  # noqa: E402


@torch.no_grad()
def diversity(trainer, pairs: int = 256) -> float:
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2 * pairs, *trainer.adapter.latent_shape(), generator=g).to(trainer.device)
    images = torch.cat([trainer.adapter.sample(chunk) for chunk in z.split(128)])
    return float((images[:pairs] - images[pairs:]).square().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kimg", type=float, default=40)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--num", type=int, default=1000, help="samples for SWD / proxy FID")
    p.add_argument("--selfssim-num", type=int, default=256, help="latents for SelfSSIM")
    p.add_argument("--variants", default="none,mix,l1")
    p.add_argument("--interscale-prob", type=float, default=0.2)
    p.add_argument("--outdir", default="runs/scaleparty-consistency")
    p.add_argument("--resnet20-weights", default=str(Path(__file__).resolve().parents[2] / "shared" / "weights" /
                                                     "resnet20-cifar10-12fca82f.th"))
    args = p.parse_args()
    out = Path(args.outdir)
    data = build_demo_dataset(out / "data.zip", resolution=args.resolution)
    r = args.resolution
    rows = []
    for variant in args.variants.split(","):
        torch.manual_seed(0)
        cfg = TrainConfig(model="scaleparty", data=str(data), outdir=str(out / variant), resolution=r,
                          batch=args.batch, kimg=args.kimg, width=args.width, z_dim=128, w_dim=128,
                          interscale=variant, interscale_prob=args.interscale_prob, device=args.device,
                          snap_kimg=args.kimg, tick_kimg=args.kimg / 4)
        trainer = Trainer(cfg)
        start = time.time()
        trainer.run(progress=False)
        seconds = time.time() - start
        z = torch.randn(args.selfssim_num, cfg.z_dim, generator=torch.Generator().manual_seed(2)).to(trainer.device)

        def render(zb, res, adapter=trainer.adapter):
            return adapter.render_full_frame(zb, res)

        seen = self_ssim(render, z, [r // 2, 3 * r // 4, r])
        unseen = self_ssim(render, z, [r // 2, 2 * r])
        metrics = ["swd", "fid"] if Path(args.resnet20_weights).is_file() else ["swd"]
        quality = {q["metric"]: q["value"] for q in evaluate(
            trainer.adapter, metrics, str(data),
            EvalOptions(num=args.num, features="resnet20", feature_weights=args.resnet20_weights, cache_dir=""))}
        rows.append({"variant": variant, "selfssim_seen": seen, "selfssim_unseen": unseen, "swd": quality["swd"],
                     "proxy_fid": quality.get("fid", float("nan")), "diversity": diversity(trainer),
                     "train_seconds": seconds, "img_per_sec": trainer.cur_nimg / seconds})
        print(json.dumps(rows[-1]), flush=True)
    where = torch.cuda.get_device_name() if torch.device(args.device).type == "cuda" else "cpu"
    print(f"\n# ScaleParty {r}x{r} frame, width {args.width}, batch {args.batch}, {args.kimg:g} kimg, {where}; "
          f"interscale probability {args.interscale_prob}")
    print(f"| objective | SelfSSIM {r // 2}/{3 * r // 4}/{r} (seen) | SelfSSIM {r // 2}/{2 * r} (unseen) | "
          f"SWD x1e3 | proxy FID | diversity | train img/s |\n|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['variant']} | {row['selfssim_seen']:.4f} | {row['selfssim_unseen']:.4f} | {row['swd']:.1f} | "
              f"{row['proxy_fid']:.1f} | {row['diversity']:.4f} | {row['img_per_sec']:.0f} |")


if __name__ == "__main__":
    main()
