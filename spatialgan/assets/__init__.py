"""Package data: the shipped demo models (spatialgan/assets/models/*.safetensors)."""
