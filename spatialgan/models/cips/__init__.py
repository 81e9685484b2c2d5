"""CIPS (conditionally-independent pixel synthesis): each pixel from its coordinate and a latent."""

from spatialgan.core.discriminator import Discriminator
from spatialgan.models.cips.adapter import CIPSAdapter
from spatialgan.models.cips.generator import CIPSGenerator
from spatialgan.models.cips.hooks import CIPSHooks
from spatialgan.models.cips.options import CIPSOptions
from spatialgan.models.interface import ADA_RECIPE, ANY_REGION, ANY_SCALE, FOVEATE, PANORAMA, ModelSpec


def build_generator(cfg) -> CIPSGenerator:
    return CIPSGenerator(cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, width=cfg.width, num_layers=cfg.cips_layers,
                         mapping_layers=cfg.mapping_layers, coord_embedding=cfg.coord_embedding,
                         panorama_frames=cfg.panorama_frames, channels=cfg.cips_channels,
                         corner_coords=cfg.cips_coords == "official-corners",
                         embedding_read=getattr(cfg, "cips_embedding_read", "eval"))


def build_discriminator(cfg) -> Discriminator:
    """StyleGAN2's D; with the paper's recipe it also sees each pixel's two coordinates (5 input channels)."""
    return Discriminator(cfg.patch_size or cfg.resolution, img_channels=5 if cfg.cips_discriminator_coords else 3,
                         channel_base=cfg.channel_base, channel_max=cfg.width, downsample=cfg.downsample,
                         layout=cfg.d_layout)


# The official CIPS code: R1 weight 10, lr 0.002, no path length, no style mixing, coordinates into D
# (no upsampling layers, so --upsample does not apply).
# The official code corrects G's Adam for g_reg_every 4 although it has no path length: lr 0.0016, beta2 0.992.
PAPER_RECIPE = {"gamma": 10.0, "lr": 0.002, "pl_weight": 0.0, "style_mixing": 0.0, "cips_discriminator_coords": True,
                "ema_rampup": 0.0, "g_adam_interval": 4}

SPEC = ModelSpec(
    name="cips", summary="CIPS (Anokhin et al. 2021): pixels from coordinates; any size, patches, panoramas",
    build_generator=build_generator, build_discriminator=build_discriminator, adapter=CIPSAdapter, hooks=CIPSHooks,
    options=CIPSOptions, capabilities=frozenset({ANY_REGION, ANY_SCALE, PANORAMA, FOVEATE}),
    smoke_options={"resolution": 8, "cips_layers": 2},
    recipes={"paper": PAPER_RECIPE, "ada": {**ADA_RECIPE, "cips_discriminator_coords": False}})
