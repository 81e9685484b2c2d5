"""Loading a trained generator from a checkpoint and generating images from seeds."""

from __future__ import annotations

from pathlib import Path

import torch

from spatialgan import SpatialGANError
from spatialgan.models.registry import get_model
from spatialgan.training.checkpoint import load_checkpoint, resolve_checkpoint
from spatialgan.training.config import TrainConfig


def load_generator(path, device: str | torch.device = "cpu", ema: bool = True):
    """Returns (generator in eval mode, TrainConfig, hooks) from a checkpoint file or run folder."""
    state = load_checkpoint(resolve_checkpoint(path))
    cfg = TrainConfig.from_dict(state["config"])
    spec = get_model(cfg.model)
    G = spec.build_generator(cfg)
    try:
        G.load_state_dict(state["G_ema" if ema else "G"])
    except RuntimeError as exc:
        raise SpatialGANError(f"checkpoint {path} does not match its own config: {exc}") from None
    return G.to(device).eval().requires_grad_(False), cfg, spec.hooks(cfg)


def parse_seeds(text: str) -> list[int]:
    """'0-7' -> [0..7]; '1,5,9-11' -> [1, 5, 9, 10, 11]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                seeds.extend(range(int(lo), int(hi) + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise SpatialGANError(f"--seeds must look like '0-7' or '1,5,9-11', got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds):
        raise SpatialGANError(f"--seeds must name non-negative integers, got {text!r}")
    return seeds


def latent_for_seed(seed: int, shape: int | tuple[int, ...]) -> torch.Tensor:
    """The z of a seed, shape (1, *shape): identical on every device and in every tool (CLI, app, report)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return torch.randn(1, *shape, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def generate_images(G, hooks, cfg: TrainConfig, seeds: list[int], truncation_psi: float = 1.0,
                    noise_mode: str = "const", batch: int = 16) -> torch.Tensor:
    device = next(G.parameters()).device
    z = torch.cat([latent_for_seed(s, hooks.latent_shape()) for s in seeds]).to(device)
    return torch.cat([hooks.sample_images(G, chunk, truncation_psi, noise_mode) for chunk in z.split(batch)])


def write_outputs(images: torch.Tensor, seeds: list[int], outdir: str | Path, grid: bool) -> list[Path]:
    from spatialgan.imageutils import save_grid, save_image, to_uint8

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for seed, arr in zip(seeds, to_uint8(images)):
        path = outdir / f"seed{seed:04d}.png"
        save_image(arr, path)
        written.append(path)
    if grid:
        save_grid(images, outdir / "grid.png")
        written.append(outdir / "grid.png")
    return written


def export_generator(src, dest) -> Path:
    """A small inference-only checkpoint: G_ema and the config (no D, optimizer or G), which `load_generator`,
    `generate`, `render` and `serve` read like any checkpoint."""
    from spatialgan.training.checkpoint import save_checkpoint

    state = load_checkpoint(resolve_checkpoint(src))
    small = {"spatialgan_version": state.get("spatialgan_version", ""), "config": state["config"],
             "progress": state.get("progress", {}), "G_ema": state["G_ema"]}
    return save_checkpoint(dest, small)


# Shipped demo models (trained by `spatialgan demo` on scikit-image's bundled CC0/public-domain photos and exported
# with `export_generator`; see benchmarks/RESULTS.md for the commands and figures).
SHIPPED_DIR = Path(__file__).parent / "assets" / "models"
SHIPPED_MODELS = ("ssn", "cips", "scaleparty")


def shipped_models() -> list[Path]:
    paths = [SHIPPED_DIR / f"{name}.safetensors" for name in SHIPPED_MODELS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise SpatialGANError(f"the shipped demo models are missing ({', '.join(missing)} in {SHIPPED_DIR}); pass "
                              "--ckpt, or rebuild them with scripts/build_shipped_models.sh")
    return paths


def load_latent_tensor(path, key: str, shape) -> torch.Tensor:
    """Tensor `key` of a latent file (safetensors, as the studio and `project` write), checked to be finite and
    shaped (N, *shape)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        t = load_file(str(path))[key]
    except (FileNotFoundError, SafetensorError, KeyError, OSError) as exc:
        raise SpatialGANError(f"{path} is not a latent file with a '{key}' tensor: {exc}") from None
    shape = tuple(shape)
    if t.ndim != len(shape) + 1 or tuple(t.shape[1:]) != shape or not torch.isfinite(t).all():
        raise SpatialGANError(f"{path}: {key} of shape {tuple(t.shape)} does not fit this model (needs (N, "
                              f"{', '.join(map(str, shape))}), finite)")
    return t


def load_latent_file(path, hooks) -> torch.Tensor:
    """The z saved by the studio's 'download latent'."""
    return load_latent_tensor(path, "z", hooks.latent_shape())
