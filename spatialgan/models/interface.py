"""The interface every model package implements: its spec, capabilities, inference adapter and training hooks.

A model plugs in by exporting a `ModelSpec` (see spatialgan.registry). Its generator has
`map(z, truncation_psi) -> ws` and `synthesize(ws, noise_mode, **request) -> images`; its `InferenceAdapter`
turns a trained generator into samples and renders (used by the API, CLI, studio and metrics); its
`TrainingHooks` tell the one training loop what to generate, how to match reals and which losses to add.
Tools ask a spec's capabilities, never its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from spatialgan import SpatialGANError

# What a model can do beyond sampling whole images at its trained resolution.
RESAMPLE_BLOCKS = "resample_blocks"   # redraw latent blocks, keep the rest (SSN)
DISTORTION = "distortion"             # the distortion metric of block resampling (SSN)
ANY_REGION = "any_region"             # render any region of image space (CIPS, ScaleParty)
ANY_SCALE = "any_scale"               # render the frame at any resolution (CIPS, ScaleParty; SelfSSIM)
PANORAMA = "panorama"                 # cylindrical 360-degree strips, when trained so (CIPS)
FOVEATE = "foveate"                   # foveated renders (CIPS)
WARP = "warp"                         # warps of the positional encoding (ScaleParty)
PROJECT = "project"                   # find the latent of a photo (ScaleParty)
GRID_NOISE = "grid_noise"             # noise fixed in image space, tiles join exactly (ScaleParty)
WS_INPUT = "ws_input"                 # renders from a W+ latent file (ScaleParty)
INIT_FROM_STYLEGAN2 = "init_from_stylegan2"   # starts exactly from a trained StyleGAN2 (StyleGAN2, SSN)

CAPABILITIES = (RESAMPLE_BLOCKS, DISTORTION, ANY_REGION, ANY_SCALE, PANORAMA, FOVEATE, WARP, PROJECT, GRID_NOISE,
                WS_INPUT, INIT_FROM_STYLEGAN2)


@dataclass(frozen=True)
class ModelSpec:
    """Everything the engine, the tools and the API need to know about one model."""

    name: str
    summary: str
    build_generator: Callable[[object], nn.Module]
    build_discriminator: Callable[[object], nn.Module]
    adapter: type["InferenceAdapter"]
    hooks: type["TrainingHooks"]
    options: type | None = None              # dataclass of the model's own training options
    capabilities: frozenset = field(default_factory=frozenset)
    # The smallest options that exercise every part of the model (contract tests, smoke benchmarks).
    smoke_options: dict = field(default_factory=dict)
    # Training defaults per recipe ('paper': the model's paper and official code; 'ada': StyleGAN2-ADA's
    # heuristic, this library's first defaults). Each value fills an option the user left unset.
    recipes: dict = field(default_factory=dict)

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


# StyleGAN2-ADA's values for the engine-wide options a recipe sets (R1 weight None: 0.0002 res^2 / batch).
ADA_RECIPE = {"gamma": None, "lr": 0.0025, "pl_weight": 2.0, "style_mixing": 0.9, "upsample": "bilinear",
              "ema_rampup": 0.05}


def capability_error(spec: ModelSpec, capability: str, what: str) -> SpatialGANError:
    """'what needs a model that can X (a, b); this one is c': which models can, from the registry."""
    from spatialgan.registry import models_with

    able = ", ".join(models_with(capability)) or "none"
    return SpatialGANError(f"{what} needs a model with {capability} ({able}); this one is {spec.name}")


def require(spec: ModelSpec, capability: str, what: str) -> None:
    if not spec.can(capability):
        raise capability_error(spec, capability, what)


def z_latent_shape(config) -> tuple[int, ...]:
    return (config.z_dim,)


class InferenceAdapter:
    """A trained generator as a tool sees it: latents, styles, samples and (per capability) renders.

    The defaults are StyleGAN2's: z ~ N(0, I) of shape (z_dim,), whole images at the trained resolution."""

    spec: ModelSpec | None = None            # set by the registry
    noise_modes = ("const", "random", "none")
    default_noise = "const"

    def __init__(self, G: nn.Module, config):
        self.G, self.config = G, config

    @property
    def device(self) -> torch.device:
        return next(self.G.parameters()).device

    def latent_shape(self) -> tuple[int, ...]:
        return z_latent_shape(self.config)

    def map(self, z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        """z -> the styles the synthesis takes (interpolated by PPL, edited by tools)."""
        return self.G.map(z, truncation_psi=truncation_psi)

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        return self.G.synthesize(ws, noise_mode)

    def check_noise(self, noise_mode: str) -> None:
        if noise_mode not in self.noise_modes:
            raise SpatialGANError(f"--noise: a {self.config.model} model takes {', '.join(self.noise_modes)}; got "
                                  f"{noise_mode!r}")

    @torch.no_grad()
    def sample(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_mode: str | None = None) -> torch.Tensor:
        """Images (B, 3, R, R) in [-1, 1] of the trained frame."""
        return self.G(z, truncation_psi=truncation_psi, noise_mode=noise_mode or self.default_noise)

    def render_full_frame(self, z: torch.Tensor, resolution: int, truncation_psi: float = 1.0,
                          noise_mode: str | None = None) -> torch.Tensor:
        """The whole frame at any resolution (models with ANY_SCALE; SelfSSIM uses it)."""
        raise capability_error(self.spec, ANY_SCALE, "rendering the frame at another resolution")

    def render(self, ws: torch.Tensor, view) -> "object":
        """(H, W, 3) uint8 render of a spatialgan.rendering.View (models with ANY_REGION)."""
        raise capability_error(self.spec, ANY_REGION, "rendering a region")

    def trained_densities(self) -> tuple[float, float]:
        """The lowest and highest pixel densities (pixels per frame height) the model was trained at: where a
        view of it is inside what it learned."""
        return float(self.config.resolution), float(self.config.resolution)


class TrainingHooks:
    """How the training loop drives one model. The defaults are the identity parts of StyleGAN2's recipe; the
    StyleGAN2 package adds style mixing and every other model derives from it or from this."""

    def __init__(self, config):
        self.config = config

    def latent_shape(self) -> tuple[int, ...]:
        return z_latent_shape(self.config)

    def sample_request(self, batch_size: int, device: torch.device) -> dict:
        """What to generate next: at least the latent 'z'."""
        from spatialgan import batchrng

        return {"z": batchrng.randn(batch_size, *self.latent_shape(), device=device)}

    def regularizer_request(self, batch_size: int, device: torch.device) -> dict:
        """What the path-length phase generates (default: a training request)."""
        return self.sample_request(batch_size, device)

    def generate(self, G: nn.Module, request: dict, update_w_avg: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (images, ws); ws is the tensor the path-length regularizer differentiates against."""
        ws = G.map(request["z"], update_w_avg=update_w_avg)
        return self.synthesize_request(G, ws, request), ws

    def synthesize_request(self, G: nn.Module, ws: torch.Tensor, request: dict) -> torch.Tensor:
        """Images for a training request from its styles (CIPS adds the request's coordinates here)."""
        return G.synthesize(ws)

    def real_resolution(self) -> int:
        """The size at which the loop loads real images (ScaleParty: denser than the frame for its large renders)."""
        return self.config.resolution

    def allow_upscaled_reals(self) -> bool:
        """False: a source image smaller than real_resolution is an error, never an upsampled real."""
        return True

    def prepare_reals(self, reals: torch.Tensor, request: dict) -> torch.Tensor:
        """Transforms real images to match the request (crops at a scale, patches...). Identity here."""
        return reals

    def r1_channels(self) -> int | None:
        """How many leading channels of D's input R1 penalises (None: all; CIPS: the RGB, not the coordinates)."""
        return None

    def discriminator_input(self, images: torch.Tensor, request: dict) -> torch.Tensor | list[torch.Tensor]:
        """Last change to generated images before D (e.g. inter-scale augmentation); a list is several batches
        (each its own D call, logits concatenated). Identity here."""
        return images

    def generator_regularizers(self, G: nn.Module, D: nn.Module, request: dict, images: torch.Tensor,
                               ws: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        """Extra weighted losses added to the generator's main loss, by name (logged as Loss/<name>)."""
        return {}
