"""Process-level runtime shared by inference and training: device choice, and CPU heap tuning.

glibc tuning keeps freed tensor memory in the heap instead of returning it to the OS.
By default glibc serves blocks above a (dynamic) threshold with fresh mmap pages and trims the heap top on free,
so every new activation of a few MB page-faults on first touch. In a training step that allocates hundreds of such
tensors this cost more than the arithmetic: CIPS trained 26% faster at 32x32 with the heap kept (measured, see
benchmarks/RESULTS.md). The price is that the process's RSS stays at its peak, which is where it would be anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

from spatialgan import SpatialGANError

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -2, -3, -8
_done = False


def keep_freed_memory() -> bool:
    """Raises glibc's mmap and trim thresholds (Linux with glibc only; elsewhere a no-op). Returns whether it
    applied. Idempotent."""
    global _done
    if _done:
        return True
    mallopt = _mallopt()
    if mallopt is None:
        return False
    ok = all(mallopt(option, value) == 1 for option, value in (
        (M_MMAP_THRESHOLD, 32 << 20),       # glibc's largest allowed value on 64-bit
        (M_TRIM_THRESHOLD, (1 << 31) - 1),
        (M_TOP_PAD, 64 << 20)))
    _done = ok
    return ok


def _mallopt():
    """glibc's mallopt, or None off Linux/glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(count: int = 2) -> bool:
    """Caps glibc's malloc arenas (one per thread by default): a threaded server then keeps a bounded heap."""
    mallopt = _mallopt()
    return bool(mallopt and mallopt(M_ARENA_MAX, count) == 1)


def resolve_device(name: str | torch.device) -> torch.device:
    """'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N', checked to exist."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SpatialGANError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpatialGANError("--device cuda requested but CUDA is not available; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise SpatialGANError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return device
