"""Training and generation throughput, FLOPs and peak memory of each model, with the ratio to StyleGAN2 (and to
fp32) from the same run.

Example (the figures in RESULTS.md):
    python benchmarks/train_speed.py --models stylegan2 --resolution 32 --width 64 --batch 32
    python benchmarks/train_speed.py --augments none,ada,fixed:0.5,fixed:1,diffaug     # augmentation's cost
    python benchmarks/train_speed.py --models stylegan2,ssn,cips,scaleparty --resolution 64 --width 128 \
        --batch 16 --precisions fp32,bf16 --flops          # bf16 against fp32, FLOPs and % of the GEMM peaks
Training img/s counts full iterations (G, D, lazy R1 every 16 and path length every 4), so windows are whole
multiples of 16 steps; the median over windows is reported. With --flops, one more 16-step cycle runs under a
counting dispatch mode (benchmarks/flops.py): conv/mm/bmm FLOPs of G and D forward and backward, R1 and path length
included by their intervals, per training image; the achieved GFLOP/s is that times the median img/s, set against
fp32 and bf16 square-GEMM peaks measured at the start of the run. --amp alone is --precisions bf16.
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

from benchmarks.flops import FlopCounter, gemm_peak  # noqa: E402
from spatialgan.autocast import autocast  # noqa: E402
from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.training.loop import Trainer, resolve_device  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; whole-process peak


def count_flops_per_image(trainer: Trainer, reals: torch.Tensor) -> float:
    """FLOPs per training image over one whole regularization cycle (16 steps: R1 once, path length 4 times)."""
    with FlopCounter() as counter:
        for _ in range(16):
            trainer.train_step(reals)
    return counter.total / (16 * reals.shape[0])


def measure(model: str, args, augment: str = "ada", precision: str | None = None) -> dict:
    device = resolve_device(args.device)
    precision = precision or ("bf16" if args.amp else "fp32")
    mode, _, p = augment.partition(":")
    cfg = TrainConfig(model=model, augment=mode, augment_p=float(p or 0), resolution=args.resolution,
                      width=args.width, batch=args.batch,
                      channel_base=args.channel_base, z_dim=args.z_dim, w_dim=args.z_dim, device=str(device),
                      amp="bf16" if precision == "bf16" else "off",
                      channels_last=args.channels_last, outdir="/dev/null", recipe=args.recipe,
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
    flops = count_flops_per_image(trainer, reals) if getattr(args, "flops", False) else None
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
    with torch.no_grad(), autocast(device, precision == "bf16"):
        for i in range(args.repeats + 1):
            start = time.perf_counter()
            for _ in range(args.gen_batches):
                trainer.adapter.sample(z)
            sync(device)
            if i:  # first round is warm-up
                gen_rates.append(args.gen_batches * args.batch / (time.perf_counter() - start))
    n_params = sum(p.numel() for p in trainer.G.parameters())
    name = model if augment == "ada" else f"{model} ({augment})"
    return {"model": name, "precision": precision, "flops": flops,
            "train": statistics.median(train_rates), "train_all": train_rates,
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
    p.add_argument("--amp", action="store_true", help="bf16 autocast (the same as --precisions bf16)")
    p.add_argument("--precisions", default=None, help="comma list of fp32, bf16: each model is timed in each, "
                   "and the ratio to fp32 is reported (default: bf16 with --amp, else fp32)")
    p.add_argument("--flops", action="store_true", help="count FLOPs per image and report %% of the GEMM peaks")
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
    precisions = (args.precisions or ("bf16" if args.amp else "fp32")).split(",")
    if set(precisions) - {"fp32", "bf16"}:
        raise SystemExit("--precisions takes fp32 and/or bf16")
    peaks = {}
    if args.flops:
        peaks = {"fp32": gemm_peak(torch.float32, device), "bf16": gemm_peak(torch.bfloat16, device)}
    print(f"# {args.resolution}x{args.resolution}, width {args.width}, channel base {args.channel_base}, "
          f"batch {args.batch}, z/w {args.z_dim}, {where}, torch {torch.__version__}"
          + (f"; 2048^2 GEMM peak fp32 {peaks['fp32']:.1f}, bf16 {peaks['bf16']:.1f} GFLOP/s" if peaks else ""))
    print("| model | precision | layout | params (G) | train img/s (median) | train windows | gen img/s | peak mem MB "
          "| train ratio to StyleGAN2 | ratio to fp32 | GFLOP/img | GFLOP/s | % fp32 peak | % bf16 peak |")
    print("|---" * 14 + "|")
    base, fp32_rate = None, {}
    for model, augment, precision in [(m, a, q) for m in models for a in args.augments.split(",")
                                      for q in precisions]:
        r = measure(model, args, augment, precision)
        base = base or r["train"]
        if precision == "fp32":
            fp32_rate[r["model"]] = r["train"]
        ratio = f"{r['train'] / fp32_rate[r['model']]:.2f}" if r["model"] in fp32_rate else "-"
        windows = ", ".join(f"{x:.1f}" for x in r["train_all"])
        flops = "| - | - | - | - |"
        if r["flops"]:
            achieved = r["flops"] * r["train"] / 1e9
            flops = (f"| {r['flops'] / 1e9:.2f} | {achieved:.1f} | {100 * achieved / peaks['fp32']:.0f}% | "
                     f"{100 * achieved / peaks['bf16']:.0f}% |")
        print(f"| {r['model']} | {precision} | {r['layout']} | {r['params'] / 1e6:.2f}M | {r['train']:.1f} | "
              f"{windows} | {r['gen']:.0f} | {r['mem']:.0f} | {r['train'] / base:.2f} | {ratio} {flops}", flush=True)


if __name__ == "__main__":
    main()
