"""The metric registry: each metric registers itself with what it needs (shared passes, a model capability).

`evaluate` reads the needs of the metrics asked for, runs each shared pass once (real features, generated
features, SWD patches) and calls every metric with the results. Built-in metrics live in metrics/builtin.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from spatialgan import SpatialGANError

# Shared passes a metric can need.
REAL_FEATURES, FAKE_FEATURES = "real_features", "fake_features"
REAL_PATCHES, FAKE_PATCHES = "real_patches", "fake_patches"
REAL_SPECTRA, FAKE_SPECTRA = "real_spectra", "fake_spectra"
PASSES = (REAL_FEATURES, FAKE_FEATURES, REAL_PATCHES, FAKE_PATCHES, REAL_SPECTRA, FAKE_SPECTRA)


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable                 # (EvalContext) -> list of records
    needs: frozenset = frozenset()    # shared passes
    capability: str | None = None     # a model capability the metric needs (spatialgan.models.interface)
    summary: str = ""


_METRICS: dict[str, Metric] = {}


def register_metric(name: str, needs=(), capability: str | None = None, summary: str = ""):
    """Decorator: registers `compute(ctx) -> list[dict]` under `name`."""
    unknown = set(needs) - set(PASSES)
    if unknown:
        raise ValueError(f"unknown passes {sorted(unknown)}")

    def wrap(compute):
        _METRICS[name] = Metric(name, compute, frozenset(needs), capability, summary)
        return compute

    return wrap


def metrics() -> dict[str, Metric]:
    import spatialgan.metrics.builtin  # noqa: F401  (registers the built-in metrics)

    return _METRICS


def parse_metrics(text: str) -> list[str]:
    known = metrics()
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in known]
    if unknown or not names:
        raise SpatialGANError(f"unknown metric(s) {', '.join(unknown) or '(none)'}; available: {', '.join(known)}")
    return list(dict.fromkeys(names))


def needs_features(names) -> bool:
    known = metrics()
    return any(REAL_FEATURES in known[n].needs for n in names if n in known)
