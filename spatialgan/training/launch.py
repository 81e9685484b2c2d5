"""Starting or resuming a run from options (what `spatialgan train` does), in one process or one torchrun rank."""

from __future__ import annotations

import sys

import torch

from spatialgan import SpatialGANError
from spatialgan.checkpoint import find_snapshots, resolve_checkpoint
from spatialgan.config import TrainConfig


def parse_latent_grid(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SpatialGANError(f"--latent-grid takes ROWSxCOLS such as 4x4, got {text!r}") from None
    return rows, cols


def check_new_run(given: dict) -> None:
    for required in ("data", "outdir"):
        if required not in given:
            raise SpatialGANError(f"train needs --{required} (or --resume RUN_DIR to continue a run)")
    if find_snapshots(given["outdir"]):
        raise SpatialGANError(f"{given['outdir']} already holds a run; pass --resume {given['outdir']} to continue "
                              "it, or choose another --outdir")


def train(given: dict, resume: str | None = None, progress: bool = True):
    """Trains a new run from `given` options, or continues `resume` (given options override its config). Under
    torchrun (WORLD_SIZE > 1) this process is one rank: NCCL on CUDA, Gloo on CPU. Returns the trainer."""
    from spatialgan.training.distributed import barrier, init_from_environment, shutdown
    from spatialgan.training.loop import Trainer

    if not resume:
        check_new_run(given)
        TrainConfig(**given)                 # every option checked before any process group starts
    dist, device_name = init_from_environment(given.get("device", "auto"))
    device = torch.device(device_name) if dist.enabled else None
    try:
        if resume:
            ckpt = resolve_checkpoint(resume)
            given.setdefault("outdir", str(ckpt.parent))
            trainer = Trainer.from_checkpoint(ckpt, given, dist=dist, device=device)
            if dist.is_main:
                print(f"resuming {ckpt} at {trainer.cur_nimg} images", file=sys.stderr)
        else:
            trainer = Trainer(TrainConfig(**given), device, dist=dist)
        trainer.run(progress=progress)
        barrier(dist)          # every rank is done before any tears the group down (Gloo aborts otherwise)
    finally:
        shutdown(dist)
    if dist.is_main and trainer.stopped_by is None:
        where = f" on {dist.world} processes" if dist.enabled else ""
        print(f"done: {trainer.cur_nimg} images{where}; snapshots in {trainer.cfg.outdir}")
    return trainer


def exit_status(trainer) -> int:
    """0 for a finished run; 128 + the signal for one stopped by SIGINT/SIGTERM (as a shell reports it)."""
    signum = trainer.stopped_by
    if signum is None:
        return 0
    return 128 + int(signum) if isinstance(signum, int) else 128 + 15
