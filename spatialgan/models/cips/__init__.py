"""CIPS (conditionally-independent pixel synthesis): each pixel from its coordinate and a latent."""

from spatialgan.core.discriminator import build_discriminator
from spatialgan.models.cips.adapter import CIPSAdapter
from spatialgan.models.cips.generator import CIPSGenerator
from spatialgan.models.cips.hooks import CIPSHooks
from spatialgan.models.cips.options import CIPSOptions
from spatialgan.models.interface import ANY_REGION, ANY_SCALE, FOVEATE, PANORAMA, ModelSpec


def build_generator(cfg) -> CIPSGenerator:
    return CIPSGenerator(cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, width=cfg.width, num_layers=cfg.cips_layers,
                         mapping_layers=cfg.mapping_layers, coord_embedding=cfg.coord_embedding,
                         panorama_frames=cfg.panorama_frames, channels=cfg.cips_channels,
                         corner_coords=cfg.cips_coords == "official-corners")


SPEC = ModelSpec(
    name="cips", summary="CIPS (Anokhin et al. 2021): pixels from coordinates; any size, patches, panoramas",
    build_generator=build_generator, build_discriminator=build_discriminator, adapter=CIPSAdapter, hooks=CIPSHooks,
    options=CIPSOptions, capabilities=frozenset({ANY_REGION, ANY_SCALE, PANORAMA, FOVEATE}),
    smoke_options={"resolution": 8, "cips_layers": 2})
