"""CIFAR-10 ResNet-20 (He et al. 2016, option-A shortcuts) as an in-domain feature extractor for 32x32 data."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan.metrics.weights import load_module_weights

FILENAME = "resnet20-cifar10-12fca82f.th"
SHA256 = "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8"
ENV_VAR = "SPATIALGAN_RESNET20"
HINT = ("It is the BSD-2 licensed CIFAR-10 ResNet-20 of akamaster/pytorch_resnet_cifar10 "
        "(release asset resnet20-12fca82f.th).")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.extra = stride, planes - in_planes

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        # Option A: parameter-free; subsample spatially and zero-pad the new channels equally on both sides.
        if self.stride == 1 and self.extra == 0:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(3):
                blocks.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def features(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> the 64-d globally pooled features before the classifier."""
        x = (images_uint8.float() / 255 - self.mean) / self.std
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return x.mean(dim=(2, 3))

    def forward(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return self.linear(self.features(images_uint8))


def load_resnet20(path=None, verify: bool = True) -> ResNet20:
    """The classifier from a local file (argument or $SPATIALGAN_RESNET20), checked by sha256, in eval mode."""
    return load_module_weights(ResNet20(), path, ENV_VAR, FILENAME, SHA256, HINT, "a ResNet-20 state dict", verify)
