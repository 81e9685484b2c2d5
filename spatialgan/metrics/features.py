"""Feature extractors for FID, KID and precision/recall: the FID Inception, VGG-16 fc2 (precision/recall's own), or
the CIFAR-10 ResNet-20 proxy."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spatialgan import SpatialGANError

PROXY_NOTE = "PROXY: in-domain CIFAR-10 ResNet-20 features; not comparable with published Inception FID"


@dataclass
class FeatureExtractor:
    """Maps uint8 images (B, 3, H, W) to float32 features on the CPU (cached as such; statistics use float64)."""
    name: str
    model: nn.Module
    dim: int
    proxy: bool
    protocol: str
    batch: int = 64

    @property
    def label(self) -> str:
        return f"{self.name} ({PROXY_NOTE})" if self.proxy else self.name

    @torch.no_grad()
    def __call__(self, images_uint8: torch.Tensor) -> torch.Tensor:
        if images_uint8.dtype != torch.uint8 or images_uint8.ndim != 4 or images_uint8.shape[1] != 3:
            raise SpatialGANError("feature extractors take uint8 RGB images (B, 3, H, W)")
        device = next(self.model.parameters()).device
        out = [self.model.features(chunk.to(device)).float().cpu() for chunk in images_uint8.split(self.batch)]
        return torch.cat(out)


EXTRACTORS = ("inception", "resnet20", "vgg16")


def build_extractor(name: str, weights=None, device="cpu", verify: bool = True) -> FeatureExtractor:
    if name == "inception":
        from spatialgan.metrics.inception import PROTOCOL, load_inception

        return FeatureExtractor("inception-fid", load_inception(weights, verify).to(device), 2048, False, PROTOCOL, 32)
    if name == "resnet20":
        from spatialgan.metrics.resnet20 import load_resnet20

        protocol = ("CIFAR-10 ResNet-20 (akamaster), 64-d global-average-pooled features of layer3, inputs at "
                    "their own resolution, normalised with ImageNet mean/std")
        return FeatureExtractor("resnet20-cifar10", load_resnet20(weights, verify).to(device), 64, True, protocol, 256)
    if name == "vgg16":
        from spatialgan.metrics.vgg16 import PROTOCOL, load_vgg16

        return FeatureExtractor("vgg16-fc2", load_vgg16(weights, verify).to(device), 4096, False, PROTOCOL, 32)
    raise SpatialGANError(f"unknown feature extractor {name!r}; available: {', '.join(EXTRACTORS)}")
