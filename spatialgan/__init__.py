"""spatialgan: position-aware GAN image synthesis (StyleGAN2, SSN, CIPS, ScaleParty)."""

__version__ = "0.1.0"


class SpatialGANError(Exception):
    """A user-facing error: the message says what went wrong and what to do."""
