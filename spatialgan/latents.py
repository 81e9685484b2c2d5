"""Latents from seeds and files: the same z for a seed on every device and in every tool."""

from __future__ import annotations

import torch

from spatialgan import SpatialGANError


def parse_seeds(text: str, limit: int = 1_000_000) -> list[int]:
    """'0-7' -> [0..7]; '1,5,9-11' -> [1, 5, 9, 10, 11]; at most `limit` seeds, each below 2^32."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = (int(v) for v in (part.split("-", 1) if not part.startswith("-") else (part, part)))
                if hi - lo + 1 + len(seeds) > limit:
                    raise SpatialGANError(f"--seeds names more than {limit} seeds ({text!r}); ask for fewer")
                seeds.extend(range(lo, hi + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise SpatialGANError(f"--seeds must look like '0-7' or '1,5,9-11', got {text!r}") from None
    if not seeds or any(not 0 <= s < 2 ** 32 for s in seeds):
        raise SpatialGANError(f"--seeds must name integers within 0..2^32-1, got {text!r}")
    return list(dict.fromkeys(seeds))             # a seed named twice is one image (and one file)


TRUNCATION_RANGE = (-1.0, 2.0)


def check_truncation(psi: float) -> float:
    """Truncation psi within TRUNCATION_RANGE (shared by the CLI, the API and the studio)."""
    import math

    lo, hi = TRUNCATION_RANGE
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or not math.isfinite(psi) or not lo <= psi <= hi:
        raise SpatialGANError(f"truncation psi must be a number within [{lo:g}, {hi:g}], got {psi}")
    return float(psi)


def latent_for_seed(seed: int, shape: int | tuple[int, ...]) -> torch.Tensor:
    """The z of a seed, shape (1, *shape): identical on every device and in every tool (CLI, app, report)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return torch.randn(1, *shape, generator=torch.Generator().manual_seed(seed))


MAX_LATENT_ROWS = 100_000     # one image each
MAX_LATENT_ABS = 1e4          # z ~ N(0, I) and mapped styles are far inside; larger values are not a latent


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
    if not t.is_floating_point():
        raise SpatialGANError(f"{path}: {key} holds {str(t.dtype).replace('torch.', '')} values; a latent is floating "
                              "point")
    t = t.float()
    if t.ndim != len(shape) + 1 or tuple(t.shape[1:]) != shape:
        raise SpatialGANError(f"{path}: {key} of shape {tuple(t.shape)} does not fit this model (needs (N, "
                              f"{', '.join(map(str, shape))}))")
    if not 1 <= t.shape[0] <= MAX_LATENT_ROWS:
        raise SpatialGANError(f"{path}: {key} has {t.shape[0]} rows; give 1..{MAX_LATENT_ROWS}")
    if not torch.isfinite(t).all() or t.abs().max() > MAX_LATENT_ABS:
        raise SpatialGANError(f"{path}: {key} must hold finite values within +-{MAX_LATENT_ABS:g}")
    return t


def load_latent_file(path, shape) -> torch.Tensor:
    """The z saved by the studio's 'download latent', checked against a model's latent shape."""
    return load_latent_tensor(path, "z", shape)
