"""Single-file checkpoints: tensors in safetensors, everything else as JSON in its header; atomic and checksummed.

A nested state (dicts, lists, tuples, numbers, strings, tensors) is split into a flat tensor dict and a JSON
skeleton that points at the tensors by key. No pickle is involved, so loading can never run code. Format 2's
SHA-256 covers the tensors and the skeleton (config, progress, run id) together; format 1 files (tensors only)
still load.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from spatialgan import SpatialGANError
from spatialgan.atomic import write_atomic

FORMAT = "spatialgan-checkpoint"
FORMAT_VERSION = 2
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".ckpt")


def _flatten(obj: Any, tensors: dict[str, torch.Tensor], prefix: str) -> Any:
    if isinstance(obj, torch.Tensor):
        key = prefix or "root"
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        # Keys keep their type (optimizer state is keyed by int).
        return {"__dict__": [[k, _flatten(v, tensors, f"{prefix}/{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors, f"{prefix}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_flatten(v, tensors, f"{prefix}/{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} at {prefix!r} in a checkpoint")


def _unflatten(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, dict):
        if "__tensor__" in node:
            return tensors[node["__tensor__"]]
        if "__dict__" in node:
            return {k: _unflatten(v, tensors) for k, v in node["__dict__"]}
        if "__tuple__" in node:
            return tuple(_unflatten(v, tensors) for v in node["__tuple__"])
        raise ValueError(f"unexpected checkpoint node {sorted(node)}")
    if isinstance(node, list):
        return [_unflatten(v, tensors) for v in node]
    return node


def _digest(tensors: dict[str, torch.Tensor], skeleton: str | None = None) -> str:
    """SHA-256 of every tensor (name, dtype, shape, bytes) and, from format 2, of the JSON skeleton."""
    h = hashlib.sha256()
    if skeleton is not None:
        h.update(f"skeleton:{len(skeleton)}:".encode() + skeleton.encode())
    for key in sorted(tensors):
        t = tensors[key]
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Writes `state` atomically: temporary file in the same folder, fsync, rename, fsync of the folder."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.dumps(_flatten(state, tensors, ""))
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "skeleton": skeleton,
                "sha256": _digest(tensors, skeleton)}
    data = st_save(tensors, metadata=metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, data)


MAX_HEADER_BYTES = 100 * 2 ** 20     # a spatialgan header (config, skeleton, tensor table) is far smaller


def read_header(path: Path) -> dict:
    """The safetensors header, read and checked against the file's size before any tensor is read: a file that is
    not a checkpoint (8 GB of zeros, say) is refused after reading a few bytes."""
    corrupt = SpatialGANError(f"checkpoint {path} is truncated or corrupt; use an earlier snapshot")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            length = int.from_bytes(f.read(8), "little")
            if size < 8 or not 2 <= length <= min(size - 8, MAX_HEADER_BYTES):
                raise corrupt
            header = json.loads(f.read(length))
    except OSError as exc:
        raise SpatialGANError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    except ValueError:
        raise corrupt from None
    if not isinstance(header, dict):
        raise corrupt
    spans = [entry.get("data_offsets") if isinstance(entry, dict) else None
             for key, entry in header.items() if key != "__metadata__"]
    if not all(valid_span(span) for span in spans) or max((e for _, e in spans), default=0) != size - 8 - length:
        raise corrupt
    return header


def valid_span(span) -> bool:
    """A tensor's data_offsets as safetensors writes them: [begin, end], two ints, 0 <= begin <= end."""
    return (isinstance(span, list) and len(span) == 2 and all(type(x) is int for x in span)
            and 0 <= span[0] <= span[1])


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Loads and verifies a checkpoint; any truncation or corruption raises SpatialGANError naming the file.
    The header is checked first, then the tensors are read through a memory map."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise SpatialGANError(f"checkpoint not found: {path}" if not path.exists() else
                              f"{path} is not a regular file")
    metadata = read_header(path).get("__metadata__", {})
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise SpatialGANError(f"{path} is not a spatialgan checkpoint (no '{FORMAT}' header)")
    try:
        tensors = load_file(str(path))
    except Exception:  # safetensors raises several types for damaged files
        raise SpatialGANError(f"checkpoint {path} is truncated or corrupt; use an earlier snapshot") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise SpatialGANError(f"{path} is not a spatialgan checkpoint (no '{FORMAT}' header)")
    version = str(metadata.get("format_version", ""))
    if version not in ("1", "2"):
        raise SpatialGANError(f"{path} has checkpoint format {version[:10]!r}; this spatialgan reads 1 and 2 "
                              "(a newer file needs a newer spatialgan)")
    skeleton = metadata.get("skeleton")
    if not isinstance(skeleton, str) or _digest(tensors, skeleton if version == "2" else None) != metadata.get(
            "sha256"):
        raise SpatialGANError(f"checkpoint {path} failed its checksum (corrupt); use an earlier snapshot")
    try:
        state = _unflatten(json.loads(skeleton), tensors)
    except Exception:   # only reachable for format 1, whose header is not covered by the checksum
        raise SpatialGANError(f"checkpoint {path} has a damaged header; use an earlier snapshot") from None
    if not isinstance(state, dict):
        raise SpatialGANError(f"checkpoint {path} has a damaged header; use an earlier snapshot")
    return state


def snapshot_name(cur_nimg: int) -> str:
    return f"network-snapshot-{cur_nimg:09d}.safetensors"


def find_snapshots(folder: str | os.PathLike) -> list[Path]:
    """Snapshots written by the trainer in `folder`, oldest first."""
    return sorted(Path(folder).glob("network-snapshot-*.safetensors"))


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or the newest snapshot in a run folder."""
    path = Path(path)
    if path.is_dir():
        snaps = find_snapshots(path)
        if not snaps:
            raise SpatialGANError(f"no network-snapshot-*.safetensors in {path}; pass a checkpoint file instead")
        return snaps[-1]
    if not path.exists():
        raise SpatialGANError(f"checkpoint not found: {path}")
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise SpatialGANError(f"{path}: expected a checkpoint ending in {', '.join(CHECKPOINT_SUFFIXES)}")
    return path


def save_generator_checkpoint(path: str | os.PathLike, config: dict, G_ema: torch.nn.Module,
                              progress: dict | None = None) -> Path:
    """A generator-only checkpoint (config and G_ema; no D, optimizers or G), which every inference tool and
    `train --init-from` read like any checkpoint."""
    from spatialgan import __version__

    return save_checkpoint(path, {"spatialgan_version": __version__, "config": config, "progress": progress or {},
                                  "G_ema": G_ema.state_dict()})


RESTART_RECORD = "restart.json"


def record_restart(folder: str | os.PathLike, source: str | os.PathLike, kimg: float) -> None:
    """Notes in a new run folder that its run continues the export `source`, which was trained for `kimg`."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    record = {"from": str(source), "kimg": float(kimg)}
    write_atomic(Path(folder) / RESTART_RECORD, (json.dumps(record) + "\n").encode())


def restart_kimg(folder: str | os.PathLike) -> float:
    """The kimg a run folder's run counts on from: its export's (record_restart), or 0 for a run that began afresh."""
    path = Path(folder) / RESTART_RECORD
    return float(json.loads(path.read_text())["kimg"]) if path.exists() else 0.0


def export_generator(src, dest) -> Path:
    """A small inference-only copy of a checkpoint: G_ema and the config. `trained_kimg` counts every image its
    weights have seen: the run's own plus, for a run restarted from an export, that export's (record_restart)."""
    path = resolve_checkpoint(src)
    state = load_checkpoint(path)
    progress = state.get("progress", {})
    small = {"spatialgan_version": state.get("spatialgan_version", ""), "config": state["config"],
             "progress": progress, "trained_kimg": restart_kimg(path.parent) + progress.get("cur_nimg", 0) / 1000,
             "G_ema": state["G_ema"]}
    return save_checkpoint(dest, small)


def trained_kimg(state: dict) -> float:
    """The kimg a checkpoint's generator was trained for, across restarts from exports where they are recorded."""
    return float(state.get("trained_kimg", state.get("progress", {}).get("cur_nimg", 0) / 1000))


def copy_matching(module: torch.nn.Module, state: dict, what: str) -> list[str]:
    """Copies every entry of `state` whose name and shape match; a shape mismatch is an error naming the layer.
    Returns the module's entries that the state did not provide (they keep their initialisation)."""
    own = module.state_dict()
    for name, value in state.items():
        if name in own and own[name].shape != value.shape:
            raise SpatialGANError(f"cannot initialise {what} from this checkpoint: {name} has shape "
                                  f"{tuple(value.shape)} there but {tuple(own[name].shape)} here (check --resolution, "
                                  f"--width, --channel-base, --z-dim, --w-dim, --mapping-layers)")
    missing = [k for k in own if k not in state]
    module.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return missing


def load_into(module: torch.nn.Module, state: dict, path, what: str) -> None:
    """Loads a converted state exactly: every entry present and shaped as ours, nothing left over."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    bad = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or extra or bad:
        raise SpatialGANError(f"{path}: the {what} does not map onto ours (missing {missing[:3]}, unexpected "
                              f"{extra[:3]}, mis-shaped {bad[:3]})")
    module.load_state_dict(state)


def load_torch_file(path: str | os.PathLike, what: str):
    """A `.pt`/`.pth` file read with torch.load(weights_only=True) (tensors and containers only, never code).
    Any failure is one line naming the file and what it should be; torch's own advice (to allow pickled code)
    is deliberately not relayed."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SpatialGANError(f"{path}: no such file (expected {what})") from None
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        if "weights_only" in first or "Weights only" in first:
            first = "it holds objects other than tensors, which spatialgan never unpickles"
        raise SpatialGANError(f"cannot read {path} as {what}: {first}") from None
