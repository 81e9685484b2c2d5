"""LPIPS (Zhang et al. 2018, v0.1, VGG16 backbone) from local weight files, for PPL.

Two files in one folder (`--lpips-dir` or $SPATIALGAN_LPIPS): torchvision's ImageNet VGG16 `vgg16-397923af.pth`
and the LPIPS linear heads `vgg.pth` (package lpips, weights/v0.1/vgg.pth). distance(a, b) for images in [-1, 1]:
shift/scale the input, take relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3, normalise each feature vector to unit
length, square the differences, weight the channels with the linear heads, average over space and sum the layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spatialgan import SpatialGANError
from spatialgan.metrics.weights import load_verified_state, locate_weights

VGG_FILE, VGG_SHA256_PREFIX = "vgg16-397923af.pth", "397923af"
LIN_FILE = "vgg.pth"
ENV_VAR = "SPATIALGAN_LPIPS"
HINT = ("Put torchvision's vgg16-397923af.pth (https://download.pytorch.org/models/vgg16-397923af.pth) and the "
        "lpips package's weights/v0.1/vgg.pth in one folder and pass --lpips-dir DIR (or set SPATIALGAN_LPIPS).")
# torchvision VGG16 `features`: conv layer indices and channels; a 2x2 max pool precedes each later stage.
VGG_STAGES = (((0, 3, 64), (2, 64, 64)),
              ((5, 64, 128), (7, 128, 128)),
              ((10, 128, 256), (12, 256, 256), (14, 256, 256)),
              ((17, 256, 512), (19, 512, 512), (21, 512, 512)),
              ((24, 512, 512), (26, 512, 512), (28, 512, 512)))
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


class LPIPS(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.ModuleDict({str(i): nn.Conv2d(cin, cout, 3, padding=1)
                                       for stage in VGG_STAGES for i, cin, cout in stage})
        self.lins = nn.ParameterList([nn.Parameter(torch.ones(stage[-1][2])) for stage in VGG_STAGES])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        out = []
        for s, stage in enumerate(VGG_STAGES):
            if s > 0:
                x = F.max_pool2d(x, 2)
            for i, _, _ in stage:
                x = F.relu(self.features[str(i)](x))
            out.append(x)
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Per-pair distance, shape (B,)."""
        total = 0
        for lin, fa, fb in zip(self.lins, self.taps(a), self.taps(b)):
            fa = fa / (fa.square().sum(1, keepdim=True).sqrt() + 1e-10)
            fb = fb / (fb.square().sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + ((fa - fb).square() * lin.view(1, -1, 1, 1)).sum(1).mean(dim=(1, 2))
        return total


def load_lpips(folder=None, verify: bool = True) -> LPIPS:
    vgg_path = locate_weights(folder, ENV_VAR, VGG_FILE, HINT)
    lin_path = vgg_path.parent / LIN_FILE
    if not lin_path.is_file():
        raise SpatialGANError(f"LPIPS needs {LIN_FILE} beside {vgg_path.name} in {vgg_path.parent}. {HINT}")
    vgg = load_verified_state(vgg_path, VGG_SHA256_PREFIX, VGG_FILE, HINT, verify)
    lin = load_verified_state(lin_path, "", LIN_FILE, HINT, verify=False)
    model = LPIPS()
    try:
        model.features.load_state_dict({k.removeprefix("features."): v for k, v in vgg.items()
                                        if k.startswith("features.")})
        for k, param in enumerate(model.lins):
            param.data.copy_(lin[f"lin{k}.model.1.weight"].reshape(-1))
    except (RuntimeError, KeyError) as exc:
        raise SpatialGANError(f"{vgg_path.parent} does not hold the VGG16 / LPIPS weights expected: {exc}") from None
    return model.eval().requires_grad_(False)


def lpips_distance_for_ppl(model: LPIPS):
    """The distance PPL uses: images above 256 pixels are first area-downsampled to 256 (StyleGAN2's protocol)."""
    def distance(a, b):
        if a.shape[-1] > 256:
            a = F.adaptive_avg_pool2d(a, 256)
            b = F.adaptive_avg_pool2d(b, 256)
        return model(a.float(), b.float())
    return distance
