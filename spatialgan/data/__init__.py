"""Image datasets (folder, zip, LMDB), deterministic resumable sampling, and dataset packing."""

from spatialgan.data.dataset import ImageDataset, InfiniteSampler, open_source

__all__ = ["ImageDataset", "InfiniteSampler", "open_source"]
