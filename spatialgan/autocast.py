"""bf16 autocast where it pays: what the hardware offers, a timed probe per configuration, cached per machine.

`--amp auto` runs bf16 only where it measured faster for the configuration at hand. A CPU without bf16 units
(no avx512_bf16 / AMX / Arm bf16) is answered at once with fp32: there bf16 matmuls are emulated and ran ~100x
slower here (benchmarks/RESULTS.md). Otherwise the caller's probe times both precisions once; the verdict is cached
in ~/.cache/spatialgan/autocast.json (SPATIALGAN_CACHE overrides the folder) under the machine and the
configuration, so later runs start at once. SPATIALGAN_AMP_PROBE=0 turns probing off (unmeasured means fp32).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from spatialgan import SpatialGANError

AMP_MODES = ("auto", "bf16", "off")
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})     # x86 AVX-512 BF16, Intel AMX, Arm FEAT_BF16
# Options that do not change a step's arithmetic: a bf16 verdict measured once holds whatever their values.
NOT_ARITHMETIC = frozenset({"data", "outdir", "kimg", "seed", "tick_kimg", "snap_kimg", "keep", "grid", "metrics",
                            "metrics_num", "metrics_features", "metrics_weights", "init_from", "workers", "amp",
                            "device", "batch", "xflip", "crop"})
MIN_SPEEDUP = 1.05          # bf16 must beat fp32 by this much: within noise, fp32 is exact and wins


def check_amp(mode) -> str:
    """'auto' | 'bf16' | 'off'; True/False from older checkpoints and configs read as 'bf16'/'off'."""
    if isinstance(mode, bool):
        return "bf16" if mode else "off"
    if mode not in AMP_MODES:
        raise SpatialGANError(f"--amp must be one of {', '.join(AMP_MODES)}, got {mode!r}")
    return mode


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports; empty where unreadable."""
    try:
        return parse_cpu_flags(Path("/proc/cpuinfo").read_text())
    except OSError:
        return frozenset()


def parse_cpu_flags(text: str) -> frozenset[str]:
    """The first 'flags' (x86) or 'Features' (Arm) line of /proc/cpuinfo text, as a set."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def hardware_bf16(device: torch.device) -> bool:
    """Whether the device has bf16 arithmetic units (CUDA: compute capability 8.0 and up)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    return bool(cpu_flags() & BF16_CPU_FLAGS)


def machine_key(device: torch.device) -> str:
    """What a measurement depends on besides the configuration: the processor, threads and torch build."""
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        where = f"{_cpu_model()} x{torch.get_num_threads()}"
    return f"{where} | torch {torch.__version__}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def config_key(purpose: str, config, batch: int | None = None) -> str:
    """'train ssn 64px width 64 batch 16 <digest of the arithmetic options>': what a verdict is measured for."""
    rest = {k: v for k, v in sorted(config.to_dict().items()) if k not in NOT_ARITHMETIC}
    digest = hashlib.sha1(repr(rest).encode()).hexdigest()[:10]
    shown = f" batch {batch}" if batch is not None else ""
    return f"{purpose} {config.model} {config.resolution}px width {config.width}{shown} {digest}"


def cache_path() -> Path:
    base = os.environ.get("SPATIALGAN_CACHE") or Path.home() / ".cache" / "spatialgan"
    return Path(base) / "autocast.json"


def _read_cache() -> dict:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}                       # absent or damaged: measure again
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, verdict: dict) -> None:
    from spatialgan.atomic import write_atomic

    data = _read_cache()
    data[key] = verdict
    try:
        cache_path().parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache_path(), json.dumps(data, indent=1, sort_keys=True).encode())
    except OSError as exc:              # a read-only home: the choice still holds for this process
        print(f"warning: could not cache the bf16 measurement in {cache_path()}: {exc}", file=sys.stderr)


def probing_enabled() -> bool:
    return os.environ.get("SPATIALGAN_AMP_PROBE", "1") != "0"


def use_bf16(mode: str, device: torch.device, config_key: str,
             probe: Callable[[bool], float] | None = None) -> bool:
    """Whether to autocast to bf16. `probe(bf16)` returns seconds per unit of work in that precision; it runs
    only for 'auto' on bf16 hardware with no cached verdict for (machine, config_key)."""
    mode = check_amp(mode)
    if mode == "off":
        return False
    if mode == "bf16":
        if not hardware_bf16(device):
            print(f"warning: --amp bf16 on a {device.type} without bf16 units is emulated and much slower than "
                  "fp32; --amp auto picks the faster", file=sys.stderr)
        return True
    if not hardware_bf16(device):
        return False
    key = f"{machine_key(device)} | {config_key}"
    cached = _read_cache().get(key)
    if isinstance(cached, dict) and isinstance(cached.get("bf16"), bool):
        return cached["bf16"]
    if probe is None or not probing_enabled():
        return False
    fp32_s, bf16_s = probe(False), probe(True)
    verdict = {"bf16": fp32_s > bf16_s * MIN_SPEEDUP, "fp32_s": fp32_s, "bf16_s": bf16_s}
    _write_cache(key, verdict)
    return verdict["bf16"]


def median_seconds(run: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    """Median wall time of `run()` over `repeats` calls after one untimed warm-up call (CUDA synchronised)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on the device when enabled, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
