"""Transfer learning (SSN's recipe): start a run's G (and D) from a trained StyleGAN2, ours or rosinality's."""

from __future__ import annotations

from pathlib import Path

from spatialgan import SpatialGANError
from spatialgan.checkpoint import load_checkpoint, resolve_checkpoint
from spatialgan.config import default_ema_kimg
from spatialgan.models.stylegan2.nvidia import read_stylegan2_ada
from spatialgan.models.stylegan2.rosinality import read_rosinality


def load_generator_weights(path) -> dict:
    """{'G', 'G_ema', optional 'D', 'source'} from one of our checkpoints, a rosinality `.pt` file or a StyleGAN2-ADA
    `.pkl` (read by spatialgan.safe_pickle: tensors and containers only).

    Our checkpoints carry a discriminator with the same layout as every model's here, so it transfers too;
    rosinality's `d` is converted exactly to `--d-layout stylegan2` (StyleGAN2's own D layout)."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".safetensors":
        state = load_checkpoint(resolve_checkpoint(path))
        if "G_ema" not in state:
            raise SpatialGANError(f"--init-from {path}: the checkpoint holds no generator")
        # Generator-only files (shipped models, conversions) carry G_ema alone: start G from it too.
        return {"G": state.get("G", state["G_ema"]), "G_ema": state["G_ema"], "D": state.get("D"),
                "source": "spatialgan", "config": state.get("config") or {}}
    if not path.is_file():
        raise SpatialGANError(f"--init-from {path}: no such file")
    if path.suffix == ".pkl":                  # NVIDIA StyleGAN2-ADA, read without running its code
        found, source = read_stylegan2_ada(path), "stylegan2-ada"
    else:
        found, source = read_rosinality(path), "rosinality"
    recorded = {k: found["config"].get(k) for k in ("upsample", "downsample", "d_layout", "conv_clamp")}
    return {"G": found["G"] or found["G_ema"], "G_ema": found["G_ema"], "D": found["D"], "source": source,
            "config": {k: v for k, v in recorded.items() if v is not None}}


def check_transfer(path, source: dict, config) -> None:
    """Refuses a transfer that would load the weights into a different computation: the upsampling filter has no
    weights, so a mismatch would pass the shape checks and silently give other images."""
    recorded = source.get("config", {})
    d_layout = recorded.get("d_layout", "down-first")      # checkpoints from before the option had the first D
    if source.get("D") is not None and d_layout != config.d_layout:
        raise SpatialGANError(f"--init-from {path}: its discriminator has the {d_layout} layout; pass --d-layout "
                              f"{d_layout} (this run has {config.d_layout}), or D would load into other maths")
    trained = recorded.get("upsample")
    if trained is not None and trained != config.upsample:
        where = {"rosinality": "rosinality's stylegan2-pytorch uses", "stylegan2-ada": "StyleGAN2-ADA uses"}.get(
            source["source"], "it was trained with")
        raise SpatialGANError(f"--init-from {path}: {where} {trained} upsampling; pass --upsample {trained} "
                              f"(this run has --upsample {config.upsample})")


ROSINALITY_EMA_KIMG = 10.0       # its train.py: accumulate(g_ema, g, 0.5 ** (32 / (10 * 1000))) at batch 32
STYLEGAN2_ADA_EMA_KIMG = 10.0    # its pickles do not record it; 10 kimg is StyleGAN2's config F (and rosinality's)


def source_ema_kimg(source: dict) -> float:
    """The G_ema half-life (kimg) the source run used: recorded in our checkpoints, fixed in rosinality's code."""
    if source["source"] == "rosinality":
        return ROSINALITY_EMA_KIMG
    if source["source"] == "stylegan2-ada":
        return STYLEGAN2_ADA_EMA_KIMG
    config = source.get("config") or {}
    recorded = config.get("ema_kimg")
    if isinstance(recorded, (int, float)) and not isinstance(recorded, bool) and recorded >= 0:
        return float(recorded)
    return default_ema_kimg(config.get("batch") if isinstance(config.get("batch"), int) else 32)
