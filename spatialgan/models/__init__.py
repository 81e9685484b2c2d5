"""Generators, the discriminator, and the registry that maps a model name to its parts."""

from spatialgan.models.registry import MODELS, ModelSpec, get_model

__all__ = ["MODELS", "ModelSpec", "get_model"]
