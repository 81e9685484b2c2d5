"""Training and generation throughput and peak memory of each model, with the ratio to StyleGAN2 from the same run.

Example (the figures in RESULTS.md):
    python benchmarks/train_speed.py --models stylegan2 --resolution 32 --width 64 --batch 32
    python benchmarks/train_speed.py --augments none,ada,fixed:0.5,fixed:1,diffaug     # augmentation's cost
Training img/s counts full iterations (G, D, lazy R1 every 16 and path length every 4), so windows are whole
multiples of 16 steps; the median over windows is reported.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.training.loop import Trainer, resolve_device  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; whole-process peak


def measure(model: str, args, augment: str = "ada") -> dict:
    device = resolve_device(args.device)
    mode, _, p = augment.partition(":")
    cfg = TrainConfig(model=model, augment=mode, augment_p=float(p or 0), resolution=args.resolution,
                      width=args.width, batch=args.batch,
                      channel_base=args.channel_base, z_dim=args.z_dim, w_dim=args.z_dim, device=str(device),
                      amp=args.amp, channels_last=args.channels_last, outdir="/dev/null", recipe=args.recipe,
                      **({"spatial_encoder": args.spatial_encoder} if model == "ssn" else {}))
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)
    trainer = Trainer(cfg, device)
    reals = torch.rand(args.batch, 3, args.resolution, args.resolution, device=device) * 2 - 1
    window = 16 * args.window_cycles
    for _ in range(args.warmup):
        trainer.train_step(reals)
    sync(device)
    train_rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(window):
            trainer.train_step(reals)
        sync(device)
        train_rates.append(window * args.batch / (time.perf_counter() - start))
    trainer.stats.means()
    z = torch.randn(args.batch, *trainer.adapter.latent_shape(), device=device)
    gen_rates = []
    with torch.no_grad():
        for i in range(args.repeats + 1):
            start = time.perf_counter()
            for _ in range(args.gen_batches):
                trainer.adapter.sample(z)
            sync(device)
            if i:  # first round is warm-up
                gen_rates.append(args.gen_batches * args.batch / (time.perf_counter() - start))
    n_params = sum(p.numel() for p in trainer.G.parameters())
    name = model if augment == "ada" else f"{model} ({augment})"
    return {"model": name, "train": statistics.median(train_rates), "train_all": train_rates,
            "gen": statistics.median(gen_rates), "mem": peak_memory_mb(device), "params": n_params,
            "layout": "NHWC" if cfg.channels_last else "NCHW"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="stylegan2", help="comma list; stylegan2 is always measured first")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channel-base", type=int, default=32768, help="16384 is StyleGAN2-ADA's paper256 config")
    p.add_argument("--channels-last", type=int, choices=[0, 1], default=None,
                   help="force NHWC (1) or NCHW (0); default: the trainer's (NHWC on CPU, NCHW on CUDA)")
    p.add_argument("--z-dim", type=int, default=512)
    p.add_argument("--recipe", default="paper", help="training recipe of every model")
    p.add_argument("--spatial-encoder", default="learned", help="SSN's spatial encoder")
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", action="store_true")
    p.add_argument("--warmup", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--window-cycles", type=int, default=1, help="timed window = 16 * this many steps")
    p.add_argument("--gen-batches", type=int, default=5)
    p.add_argument("--augments", default="ada", help="comma list of augment settings to time each model with: "
                   "none, ada (p as a run starts: 0), fixed:P (the pipeline at P, what ada costs once p is P), "
                   "diffaug; ratios are to the first")
    args = p.parse_args()
    models = ["stylegan2"] + [m for m in args.models.split(",") if m and m != "stylegan2"]
    device = resolve_device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    print(f"# {args.resolution}x{args.resolution}, width {args.width}, channel base {args.channel_base}, "
          f"batch {args.batch}, z/w {args.z_dim}, "
          f"{'bf16 ' if args.amp else ''}{where}, torch {torch.__version__}")
    print("| model | layout | params (G) | train img/s (median) | train windows | gen img/s | peak mem MB | "
          "train ratio to StyleGAN2 |")
    print("|---|---|---|---|---|---|---|---|")
    base = None
    for model, augment in [(m, a) for m in models for a in args.augments.split(",")]:
        r = measure(model, args, augment)
        base = base or r["train"]
        windows = ", ".join(f"{x:.1f}" for x in r["train_all"])
        print(f"| {r['model']} | {r['layout']} | {r['params'] / 1e6:.2f}M | {r['train']:.1f} | {windows} | "
              f"{r['gen']:.0f} | {r['mem']:.0f} | {r['train'] / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
