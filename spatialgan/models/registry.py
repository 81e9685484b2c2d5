"""Maps a model name to its generator, discriminator and training hooks, built from one config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from spatialgan import SpatialGANError
from spatialgan.models.cips import CIPSGenerator
from spatialgan.models.discriminator import Discriminator
from spatialgan.models.scaleparty import ScalePartyGenerator
from spatialgan.models.ssn import SSNGenerator
from spatialgan.models.stylegan2 import StyleGAN2Generator
from spatialgan.training.cips_hooks import CIPSHooks
from spatialgan.training.hooks import TrainingHooks
from spatialgan.training.scaleparty_hooks import ScalePartyHooks
from spatialgan.training.ssn_hooks import SSNHooks


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build_generator: Callable[[object], nn.Module]
    build_discriminator: Callable[[object], nn.Module]
    hooks: type[TrainingHooks]


def build_discriminator(cfg) -> nn.Module:
    # With patch training, D is built for the patches it sees.
    return Discriminator(getattr(cfg, "patch_size", None) or cfg.resolution, img_channels=3, channel_base=cfg.channel_base, channel_max=cfg.width,
                         downsample=cfg.downsample)


def build_stylegan2(cfg) -> nn.Module:
    return StyleGAN2Generator(cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers,
                              channel_base=cfg.channel_base, channel_max=cfg.width, upsample=cfg.upsample)


def build_ssn(cfg) -> nn.Module:
    return SSNGenerator(cfg.resolution, latent_rows=cfg.latent_rows, latent_cols=cfg.latent_cols, z_dim=cfg.z_dim,
                        w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers, channel_base=cfg.channel_base,
                        channel_max=cfg.width, upsample=cfg.upsample)


def build_cips(cfg) -> nn.Module:
    return CIPSGenerator(cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, width=cfg.width, num_layers=cfg.cips_layers,
                         mapping_layers=cfg.mapping_layers, coord_embedding=cfg.coord_embedding,
                         panorama_frames=cfg.panorama_frames, channels=cfg.cips_channels)


def build_scaleparty(cfg) -> nn.Module:
    return ScalePartyGenerator(cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers,
                               channel_base=cfg.channel_base, channel_max=cfg.width)


MODELS: dict[str, ModelSpec] = {
    "stylegan2": ModelSpec("stylegan2", build_stylegan2, build_discriminator, TrainingHooks),
    "ssn": ModelSpec("ssn", build_ssn, build_discriminator, SSNHooks),
    "cips": ModelSpec("cips", build_cips, build_discriminator, CIPSHooks),
    "scaleparty": ModelSpec("scaleparty", build_scaleparty, build_discriminator, ScalePartyHooks),
}


def get_model(name: str) -> ModelSpec:
    if name not in MODELS:
        raise SpatialGANError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    return MODELS[name]
