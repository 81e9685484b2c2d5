"""spatialgan: position-aware GAN image synthesis (StyleGAN2, SSN, CIPS, ScaleParty)."""

__version__ = "0.1.0"


class SpatialGANError(Exception):
    """A user-facing error: the message says what went wrong and what to do."""


def __getattr__(name: str):
    # `spatialgan.load(...)` and `spatialgan.Model` without importing torch on `import spatialgan`.
    if name in ("load", "Model", "View"):
        from spatialgan import api, rendering

        return getattr(rendering if name == "View" else api, name)
    raise AttributeError(f"module 'spatialgan' has no attribute {name!r}")


__all__ = ["SpatialGANError", "load", "Model", "View", "__version__"]
