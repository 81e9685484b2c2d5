"""The benchmark suite: training img/s, generation img/s and peak memory of every model, with the ratio to
StyleGAN2 measured in the same run, as a Markdown table.

Each model is measured in its own process, so peak memory (CUDA max allocated, or the process's peak RSS on CPU)
belongs to that model alone; the measurement itself is benchmarks/train_speed.py's (median over timed windows of
whole training iterations, lazy regularizers included).
    python benchmarks/run.py --resolution 32 --width 64 --batch 32 --out benchmarks/cpu32.md
    python benchmarks/run.py --device cuda --resolution 256 --width 512 --batch 32 --channel-base 16384
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = ("stylegan2", "ssn", "cips", "scaleparty")


def options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channel-base", type=int, default=32768)
    p.add_argument("--z-dim", type=int, default=512)
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks")
    p.add_argument("--channels-last", type=int, choices=[0, 1], default=None)
    p.add_argument("--warmup", type=int, default=4)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--window-cycles", type=int, default=1)
    p.add_argument("--gen-batches", type=int, default=5)
    p.add_argument("--out", default=None, help="also write the table to this Markdown file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)   # measure one model, print JSON
    return p


def worker(args) -> None:
    from benchmarks.train_speed import measure

    result = measure(args.worker, args)
    result.pop("train_all", None)
    print("RESULT " + json.dumps(result))


def main() -> None:
    args = options().parse_args()
    if args.worker:
        return worker(args)
    models = ["stylegan2"] + [m for m in args.models.split(",") if m and m != "stylegan2"]
    passthrough = [a for a in sys.argv[1:]]
    rows = []
    for model in models:
        proc = subprocess.run([sys.executable, __file__, *passthrough, "--worker", model], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parents[1])
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            raise SystemExit(f"{model} failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(lines[-1][7:]))
        print(f"{model}: {rows[-1]['train']:.1f} train img/s, {rows[-1]['gen']:.0f} gen img/s", file=sys.stderr)
    cuda = args.device.startswith("cuda")
    where = torch.cuda.get_device_name() if cuda else f"{platform.processor() or platform.machine()} CPU"
    flags = " ".join(f for f, on in (("bf16", args.amp), ("torch.compile", args.compile)) if on)
    base = rows[0]
    lines = [f"{args.resolution}x{args.resolution}, width {args.width}, channel base {args.channel_base}, batch "
             f"{args.batch}, z/w {args.z_dim}; {where}, torch {torch.__version__} {flags}".rstrip(), "",
             "| model | params (G) | train img/s | gen img/s | peak memory MB | train vs StyleGAN2 | "
             "gen vs StyleGAN2 | memory vs StyleGAN2 |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.2f}M | {r['train']:.1f} | {r['gen']:.0f} | {r['mem']:.0f} "
                     f"| {r['train'] / base['train']:.2f}x | {r['gen'] / base['gen']:.2f}x | "
                     f"{r['mem'] / base['mem']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
