"""Studio latency on this machine: SSN block resampling per image at 64x64 (goal: under 200 ms on CPU) and
ScaleParty / CIPS view renders, through the same `Studio` calls the web app makes (PNG encoding included).

    python benchmarks/studio_latency.py --resolution 64 --width 64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialgan.api import load  # noqa: E402
from spatialgan.config import TrainConfig  # noqa: E402
from spatialgan.serve.studio import LoadedModel, Studio  # noqa: E402
from spatialgan.training.loop import Trainer  # noqa: E402


def build(kind: str, resolution: int, width: int, outdir: Path, **extra) -> LoadedModel:
    cfg = TrainConfig(model=kind, resolution=resolution, batch=4, width=width, z_dim=128, w_dim=128,
                      mapping_layers=4, device="cpu", outdir=str(outdir / kind), grid=4, **extra)
    Trainer(cfg).save_snapshot()
    return LoadedModel(kind, load(outdir / kind))


def timed(fn, repeats: int) -> float:
    fn()                                                            # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = {m.name: m for m in (build("ssn", args.resolution, args.width, tmp),
                                      build("scaleparty", 32, args.width, tmp),
                                      build("cips", 32, args.width, tmp, cips_layers=8, panorama_frames=4.0))}
        studio = Studio(models, max_pixels=1 << 20)
        z = studio.sample("ssn", 0)["latent"]
        rows = []
        for count in (1, 4):
            ms = timed(lambda count=count: studio.resample("ssn", z, [[1, 2]], count, seed=1), args.repeats)
            rows.append((f"SSN resample, {count} version(s), {args.resolution}x{args.resolution}", ms, ms / count))
        for kind in ("scaleparty", "cips"):
            latent = studio.sample(kind, 0)["latent"]
            ms = timed(lambda kind=kind, latent=latent: studio.render(kind, latent, 256, 256, scale=0.25),
                       args.repeats)
            rows.append((f"{kind} view 256x256", ms, ms))
    print(f"# width {args.width}, z/w 128, {torch.get_num_threads()} threads, torch {torch.__version__}; median of "
          f"{args.repeats}")
    print("| operation | ms per call | ms per image |\n|---|---|---|")
    for name, ms, per in rows:
        print(f"| {name} | {ms:.1f} | {per:.1f} |")


if __name__ == "__main__":
    main()
