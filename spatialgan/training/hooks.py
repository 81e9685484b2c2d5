"""Model hooks: how a model samples what to generate and which extra losses it adds, without its own loop.

The base class is StyleGAN2's behaviour. SSN adds a distortion regularizer through `generator_regularizers`,
ScaleParty overrides `sample_request`/`prepare_reals`/`discriminator_input` for multi-scale partial generation,
CIPS overrides them for patch training.
"""

from __future__ import annotations

import torch
from torch import nn

from spatialgan import batchrng


class TrainingHooks:
    """StyleGAN2: z ~ N(0, I), style mixing with probability `style_mixing`, whole images."""

    def __init__(self, config):
        self.config = config

    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one sample's z (without the batch axis)."""
        return (self.config.z_dim,)

    def sample_request(self, batch_size: int, device: torch.device) -> dict:
        """What to generate next: at least the latent 'z'."""
        return {"z": batchrng.randn(batch_size, *self.latent_shape(), device=device)}

    def generate(self, G: nn.Module, request: dict, update_w_avg: bool = False,
                 style_mixing: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (images, ws); ws is the tensor the path-length regularizer differentiates against."""
        mixing = self.config.style_mixing if style_mixing is None else style_mixing
        z = request["z"]
        ws = G.map(z, update_w_avg=update_w_avg)
        if mixing > 0:
            # One coin and one cutoff per batch, as in StyleGAN2-ADA.
            cutoff = int(torch.randint(1, ws.shape[1], ()))
            if float(torch.rand(())) < mixing:
                ws2 = G.map(batchrng.randn(*z.shape, device=z.device, dtype=z.dtype))
                layer = torch.arange(ws.shape[1], device=ws.device)[None, :, None]
                ws = torch.where(layer < cutoff, ws, ws2)
        return self.synthesize_request(G, ws, request), ws

    def synthesize_request(self, G: nn.Module, ws: torch.Tensor, request: dict) -> torch.Tensor:
        """Images for a training request from its styles (CIPS adds the request's coordinates here)."""
        return G.synthesis(ws)

    def prepare_reals(self, reals: torch.Tensor, request: dict) -> torch.Tensor:
        """Transforms real images to match the request (crops at a scale, patches...). Identity here."""
        return reals

    def discriminator_input(self, images: torch.Tensor, request: dict) -> torch.Tensor:
        """Last change to generated images before D (e.g. inter-scale augmentation). Identity here."""
        return images

    def generator_regularizers(self, trainer, request: dict, images: torch.Tensor, ws: torch.Tensor,
                               step: int) -> dict[str, torch.Tensor]:
        """Extra weighted losses added to the generator's main loss, by name (logged as Loss/<name>)."""
        return {}

    def map_latents(self, G: nn.Module, z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        """z -> the intermediate latent the synthesis takes (interpolated by PPL, edited by tools)."""
        return G.map(z, truncation_psi=truncation_psi)

    def synthesize(self, G: nn.Module, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        return G.synthesis(w, noise_mode)

    def render_full_frame(self, G: nn.Module, z: torch.Tensor, resolution: int,
                          truncation_psi: float = 1.0) -> torch.Tensor:
        """The whole image at any resolution (models with continuous coordinates override this; SelfSSIM uses it)."""
        from spatialgan import SpatialGANError

        raise SpatialGANError(f"a {self.config.model} model renders only at its trained resolution; selfssim needs "
                              "a model that renders at any scale (cips, scaleparty)")

    @torch.no_grad()
    def sample_images(self, G: nn.Module, z: torch.Tensor, truncation_psi: float = 1.0,
                      noise_mode: str = "const") -> torch.Tensor:
        """Images for snapshot grids and `generate`."""
        return G(z, truncation_psi=truncation_psi, noise_mode=noise_mode)
