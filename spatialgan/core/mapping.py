"""The StyleGAN2 mapping network z -> w, with the running w average used for truncation."""

from __future__ import annotations

import torch
from torch import nn

from spatialgan.core.layers.equalized import EqualizedLinear
from spatialgan.core.layers.precision import full_precision


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scales x so that its mean square along `dim` is 1 (StyleGAN's pixel norm on z)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


@torch.no_grad()
def mean_w(mapping: "MappingNetwork", count: int = 10000, seed: int = 0) -> torch.Tensor:
    """The truncation centre for weights that carry none: the mean w of `count` seeded latents."""
    z = torch.randn(count, mapping.z_dim, generator=torch.Generator().manual_seed(seed))
    return mapping(z).mean(0)


class MappingNetwork(nn.Module):
    """`num_layers` equalized FC layers with lrelu and a reduced learning rate (lr_multiplier, default 0.01)."""

    def __init__(self, z_dim: int = 512, w_dim: int = 512, num_layers: int = 8, hidden_dim: int | None = None,
                 lr_multiplier: float = 0.01, w_avg_beta: float = 0.995):
        super().__init__()
        hidden_dim = hidden_dim or w_dim
        dims = [z_dim] + [hidden_dim] * (num_layers - 1) + [w_dim]
        self.layers = nn.Sequential(*[
            EqualizedLinear(dims[i], dims[i + 1], lr_multiplier=lr_multiplier, activation="lrelu")
            for i in range(num_layers)
        ])
        self.z_dim, self.w_dim, self.w_avg_beta = z_dim, w_dim, w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, update_w_avg: bool = False) -> torch.Tensor:
        """Maps z (..., z_dim) to w (..., w_dim); the feature axis is the last one."""
        with full_precision(z):      # w reaches every layer: its rounding would move every pixel
            w = self.layers(normalize_2nd_moment(z.float(), dim=-1))
        if update_w_avg:
            with torch.no_grad():
                batch_mean = w.detach().reshape(-1, self.w_dim).mean(0).to(self.w_avg.dtype)
                self.w_avg.copy_(batch_mean.lerp(self.w_avg, self.w_avg_beta))
        if truncation_psi != 1.0:
            w = self.w_avg.to(w.dtype).lerp(w, truncation_psi)
        return w
