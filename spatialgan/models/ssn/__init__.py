"""SSN (spatially stochastic networks): a grid of latent blocks, spatially modulated convs, block resampling."""

from spatialgan import SpatialGANError
from spatialgan.core.discriminator import build_discriminator
from spatialgan.models.interface import ADA_RECIPE, DISTORTION, INIT_FROM_STYLEGAN2, RESAMPLE_BLOCKS, ModelSpec
from spatialgan.models.ssn.adapter import SSNAdapter
from spatialgan.models.ssn.generator import SSNGenerator
from spatialgan.models.ssn.hooks import SSNHooks
from spatialgan.models.ssn.options import SSNOptions
from spatialgan.models.stylegan2 import PAPER_RECIPE as STYLEGAN2_PAPER


def build_generator(cfg) -> SSNGenerator:
    if max(cfg.latent_rows, cfg.latent_cols) > cfg.resolution:
        raise SpatialGANError(f"SSN's latent grid {cfg.latent_rows}x{cfg.latent_cols} is finer than the "
                              f"{cfg.resolution}x{cfg.resolution} image: a block must cover at least one pixel")
    G = SSNGenerator(cfg.resolution, latent_rows=cfg.latent_rows, latent_cols=cfg.latent_cols, z_dim=cfg.z_dim,
                     w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers, channel_base=cfg.channel_base,
                     channel_max=cfg.width, upsample=cfg.upsample, spatial_encoder=cfg.spatial_encoder)
    G.synthesis.set_conv_clamp(getattr(cfg, "conv_clamp", None))
    return G


# SSN's paper (Sec. 4): StyleGAN2's recipe with R1 weight 1 (and path length 2), fine-tuned from a StyleGAN2.
PAPER_RECIPE = {**STYLEGAN2_PAPER, "gamma": 1.0}

SPEC = ModelSpec(
    name="ssn", summary="spatially stochastic networks (Wang et al. 2021): resample latent blocks of an image",
    build_generator=build_generator, build_discriminator=build_discriminator, adapter=SSNAdapter, hooks=SSNHooks,
    options=SSNOptions, capabilities=frozenset({RESAMPLE_BLOCKS, DISTORTION, INIT_FROM_STYLEGAN2}),
    smoke_options={"resolution": 8, "latent_rows": 2, "latent_cols": 2},
    recipes={"paper": PAPER_RECIPE, "ada": ADA_RECIPE})
