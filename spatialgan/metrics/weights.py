"""Locating and verifying local weight files: nothing is ever downloaded."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from spatialgan import SpatialGANError
from spatialgan.checkpoint import load_torch_file


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate_weights(path: str | os.PathLike | None, env_var: str, filename: str, hint: str) -> Path:
    """The weights path from the argument, else from `env_var`; a clear error naming the file when missing."""
    chosen = path or os.environ.get(env_var)
    if not chosen:
        raise SpatialGANError(f"this metric needs the weights file {filename}; pass its path with the option "
                              f"shown in --help or set {env_var}. {hint}")
    chosen = Path(chosen).expanduser()
    if chosen.is_dir():
        chosen = chosen / filename
    if not chosen.is_file():
        raise SpatialGANError(f"weights file {chosen} does not exist; expected {filename}. {hint}")
    return chosen


def load_verified_state(path: Path, sha256_prefix: str, filename: str, hint: str, verify: bool = True) -> dict:
    """torch.load (weights only, to CPU) after checking the file's sha256 starts with `sha256_prefix`."""
    if verify:
        digest = sha256_of(path)
        if not digest.startswith(sha256_prefix):
            raise SpatialGANError(f"{path} is not {filename}: its sha256 is {digest[:16]}..., expected "
                                  f"{sha256_prefix}... {hint}")
    state = load_torch_file(path, f"the weights file {filename}")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise SpatialGANError(f"{path} does not hold a state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_module_weights(module: torch.nn.Module, path, env_var: str, filename: str, sha256_prefix: str, hint: str,
                        what: str, verify: bool = True) -> torch.nn.Module:
    """Locates, verifies and loads a local weights file into `module` (BatchNorm step counters may be absent);
    any other missing or unexpected key is an error naming the file. Returns the module in eval mode."""
    path = locate_weights(path, env_var, filename, hint)
    state = load_verified_state(path, sha256_prefix, filename, hint, verify)
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:                      # a tensor of another shape
        reason = str(exc).strip().splitlines()[-1].strip()
        raise SpatialGANError(f"{path} is not {what} ({reason})") from None
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SpatialGANError(f"{path} is not {what} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return module.eval().requires_grad_(False)
