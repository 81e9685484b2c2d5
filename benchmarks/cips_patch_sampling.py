"""CIPS patch training: real patches cut as G samples them (nearest: the real pixels under G's points, the official
strided sub-grid) against the first way (antialiased resize of the region). Same data, seed and budget; each
model's full frame is then scored against held-back photos (SWD, diversity).

    python benchmarks/cips_patch_sampling.py --data build/photo-models64/photos64.zip \\
        --heldout build/photo-models64/photos64-heldout.zip --outdir build/cips-patches --kimg 10 \\
        --out benchmarks/results/cips-patch-sampling.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLINGS = ("antialiased", "nearest")


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "spatialgan", *args], check=True, cwd=ROOT)


def train(args, sampling: str) -> Path:
    run = Path(args.outdir) / sampling
    if any(run.glob("network-snapshot-*.safetensors")):
        cli("train", "--resume", str(run), "--kimg", str(args.kimg), "--quiet")
    else:
        cli("train", "--model", "cips", "--data", args.data, "--outdir", str(run), "--kimg", str(args.kimg),
            "--resolution", str(args.resolution), "--patch-size", str(args.patch_size), "--patch-sampling",
            sampling, "--batch", "16", "--width", "64", "--z-dim", "128", "--w-dim", "128", "--mapping-layers", "4",
            "--cips-layers", "8", "--device", "cpu", "--seed", "0", "--tick-kimg", "2", "--snap-kimg", "5",
            "--keep", "1", "--quiet")
    return run


def evaluate(args, run: Path) -> dict:
    out = run / "quality.json"
    cli("evaluate", "--ckpt", str(run), "--data", args.heldout, "--metrics", "swd,diversity", "--num",
        str(args.num), "--no-cache", "--out", str(out))
    return {r["metric"]: r["value"] for r in json.loads(out.read_text())["results"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--heldout", required=True)
    p.add_argument("--outdir", default="build/cips-patches")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--patch-size", type=int, default=32)
    p.add_argument("--kimg", type=float, default=10)
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rows = {s: {"kimg": args.kimg, **evaluate(args, train(args, s))} for s in SAMPLINGS}
    print("| real patches | kimg | full-frame SWD (held-back photos, as `evaluate` reports it) | diversity |")
    print("|---|---|---|---|")
    for s, r in rows.items():
        print(f"| {s} | {r['kimg']:g} | {r['swd']:.1f} | {r['diversity']:.4f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "results": rows}, indent=1))


if __name__ == "__main__":
    main()
