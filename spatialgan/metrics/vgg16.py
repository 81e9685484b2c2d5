"""VGG-16 fc2 features for improved precision/recall (Kynkäänniemi et al. 2019) from torchvision's local weights.

The metric's authors embed images with the ImageNet VGG-16 classifier and take its second fully connected layer
(4096-d, after its ReLU). Here: uint8 -> [0, 1] -> bilinear (antialiased) resize to 224 x 224 -> ImageNet mean/std
-> torchvision's `features` (13 convs, 5 max pools) -> 7x7 average pool -> classifier.0 -> ReLU -> classifier.3 ->
ReLU. Weights: torchvision's `vgg16-397923af.pth`, a local file (no download).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan.metrics.lpips import VGG_FILE, VGG_SHA256_PREFIX, VGG_STAGES
from spatialgan.metrics.weights import load_module_weights

ENV_VAR = "SPATIALGAN_VGG16"
HINT = ("Download torchvision's https://download.pytorch.org/models/vgg16-397923af.pth once and pass "
        "--vgg16-weights PATH (or set SPATIALGAN_VGG16).")
PROTOCOL = ("ImageNet VGG-16 fc2 (4096-d, after ReLU), inputs bilinear-resized to 224 and normalised with ImageNet "
            "mean/std")


class VGG16Features(nn.Module):
    """torchvision's VGG-16 layout (its parameter names), up to the second fully connected layer."""

    def __init__(self, fc_dim: int = 4096):          # fc_dim: 4096 in the real network (smaller in tests)
        super().__init__()
        self.features = nn.ModuleDict({str(i): nn.Conv2d(cin, cout, 3, padding=1)
                                       for stage in VGG_STAGES for i, cin, cout in stage})
        # classifier.6 (the 1000 classes) is unused; it is kept so that the file loads strictly.
        self.classifier = nn.ModuleDict({"0": nn.Linear(512 * 7 * 7, fc_dim), "3": nn.Linear(fc_dim, fc_dim),
                                         "6": nn.Linear(fc_dim, 1000)})
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def features_of(self, images_uint8: torch.Tensor) -> torch.Tensor:
        x = images_uint8.float() / 255
        x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
        x = (x - self.mean) / self.std
        for stage in VGG_STAGES:
            for i, _, _ in stage:
                x = F.relu(self.features[str(i)](x))
            x = F.max_pool2d(x, 2)
        x = F.adaptive_avg_pool2d(x, 7).flatten(1)
        x = F.relu(self.classifier["0"](x))
        return F.relu(self.classifier["3"](x))


class _Extractor(nn.Module):
    def __init__(self, vgg: VGG16Features):
        super().__init__()
        self.vgg = vgg

    def features(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return self.vgg.features_of(images_uint8)


def load_vgg16(path=None, verify: bool = True) -> nn.Module:
    """The network from a local vgg16-397923af.pth (argument or $SPATIALGAN_VGG16), checked by sha256."""
    module = load_module_weights(VGG16Features(), path, ENV_VAR, VGG_FILE, VGG_SHA256_PREFIX, HINT,
                                 "torchvision's VGG-16 state dict", verify)
    return _Extractor(module)
