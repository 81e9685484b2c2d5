"""The model registry: a model name gives its spec (builders, adapter, hooks, options, capabilities)."""

from __future__ import annotations

from spatialgan import SpatialGANError
from spatialgan.models import cips, scaleparty, ssn, stylegan2
from spatialgan.models.interface import ModelSpec

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (stylegan2.SPEC, ssn.SPEC, cips.SPEC, scaleparty.SPEC)}


def get_model(name: str) -> ModelSpec:
    if name not in MODELS:
        raise SpatialGANError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name]


def models_with(capability: str) -> list[str]:
    return [name for name, spec in MODELS.items() if spec.can(capability)]


def make_adapter(spec: ModelSpec, G, config):
    adapter = spec.adapter(G, config)
    adapter.spec = spec
    return adapter
