"""A restricted unpickler for other codebases' pickles (NVIDIA's network-snapshot-*.pkl): tensors and containers only.

`pickle.load` calls whatever a file names, and NVIDIA's pickles name their own loader, which imports source code
stored in the file. This unpickler resolves a global only from a fixed table of tensor rebuild functions and plain
containers, each replaced by a function of ours where the original would do more than build data. NVIDIA's
persistent classes become inert `PersistentRecord`s holding the class name, the init arguments and the state; their
stored source code is kept as text and never compiled. Anything else a file names refuses the whole file.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from spatialgan import SpatialGANError

MAX_PICKLE_BYTES = 8 * 2 ** 30


@dataclass
class PersistentRecord:
    """What NVIDIA's `persistent_class` pickled for one object, without its code."""

    class_name: str
    state: dict
    module_chars: int = 0

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """The module's state dict (parameters and persistent buffers, submodules included), as torch would key it."""
        out = {}
        skip = self.state.get("_non_persistent_buffers_set") or set()
        for kind in ("_parameters", "_buffers"):
            for name, value in (self.state.get(kind) or {}).items():
                if isinstance(value, torch.Tensor) and not (kind == "_buffers" and name in skip):
                    out[prefix + name] = value.detach()
        for name, child in (self.state.get("_modules") or {}).items():
            if isinstance(child, PersistentRecord):
                out.update(child.tensors(f"{prefix}{name}."))
        return out


class _EasyDict(dict):
    """dnnlib.EasyDict's data (a dict whose state is set through __setstate__ or item assignment)."""


@dataclass
class _Dtype:
    """numpy.dtype's pickled form, enough to decode a numeric scalar (no numpy call is made for the file)."""

    code: str
    endian: str = "<"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) > 1 and state[1] in "<>|=":
            self.endian = state[1]


_STRUCT = {"f2": "e", "f4": "f", "f8": "d", "i1": "b", "i2": "h", "i4": "i", "i8": "q", "u1": "B", "u2": "H",
           "u4": "I", "u8": "Q", "b1": "?"}


def _numpy_dtype(code, *_args) -> _Dtype:
    if not isinstance(code, str) or code not in _STRUCT:
        raise pickle.UnpicklingError(f"a numpy dtype {str(code)[:20]!r} (only numeric scalars are read)")
    return _Dtype(code)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, _Dtype) or not isinstance(data, bytes):
        raise pickle.UnpicklingError("a numpy scalar that is not a plain number")
    fmt = ("<" if dtype.endian in "<|=" else ">") + _STRUCT[dtype.code]
    if struct.calcsize(fmt) != len(data):
        raise pickle.UnpicklingError("a numpy scalar of the wrong length")
    return struct.unpack(fmt, data)[0]


def _persistent_object(meta) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise pickle.UnpicklingError("a persistent object that is not a pickled class instance")
    return PersistentRecord(class_name=str(meta.get("class_name")), state=dict(meta["state"]),
                            module_chars=len(meta.get("module_src") or ""))


def _storage_from_bytes(data):
    """torch's storage pickling nests a torch.save stream; it is read with torch's own weights-only unpickler."""
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError("a tensor storage that is not bytes")
    with warnings.catch_warnings():         # torch notes a protocol other than its own; the data are still checked
        warnings.simplefilter("ignore")
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _allowed() -> dict[tuple[str, str], object]:
    from torch import _utils

    return {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
        ("torch._utils", "_rebuild_tensor_v2"): _utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _utils._rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _utils._rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_object,
        ("dnnlib.util", "EasyDict"): _EasyDict,
        ("numpy", "dtype"): _numpy_dtype,
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    }


class RefusedPickle(pickle.UnpicklingError):
    """The file names something outside the allow-list."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves globals from `_allowed()` only; persistent IDs (a different protocol of torch's) are refused."""

    _table: dict | None = None

    def find_class(self, module: str, name: str):
        if RestrictedUnpickler._table is None:
            RestrictedUnpickler._table = _allowed()
        found = RestrictedUnpickler._table.get((module, name))
        if found is None:
            raise RefusedPickle(f"it names {module}.{name}, which is not a tensor or a container")
        return found

    def persistent_load(self, pid):
        raise RefusedPickle("it uses persistent IDs (not a plain pickle of tensors and containers)")


def load_pickle_safely(path: str | Path, what: str):
    """Unpickles `path` with RestrictedUnpickler; anything refused or damaged is one SpatialGANError naming the
    file. Nothing the file names is imported or called."""
    path = Path(path)
    if not path.is_file():
        raise SpatialGANError(f"{path}: no such file (expected {what})")
    if path.stat().st_size > MAX_PICKLE_BYTES:
        raise SpatialGANError(f"{path}: {path.stat().st_size / 2**30:.1f} GB is larger than any {what}")
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except RefusedPickle as exc:
        raise SpatialGANError(f"refused {path}: {exc}; spatialgan never runs code from a pickle") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError,
            RuntimeError, struct.error, MemoryError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise SpatialGANError(f"cannot read {path} as {what}: {first}") from None
