"""StyleGAN2: the core every other model builds on (mapping, synthesis, discriminator, recipe)."""

from spatialgan.core.discriminator import build_discriminator
from spatialgan.models.interface import INIT_FROM_STYLEGAN2, InferenceAdapter, ModelSpec
from spatialgan.models.stylegan2.generator import StyleGAN2Generator
from spatialgan.models.stylegan2.hooks import StyleGAN2Hooks


def build_generator(cfg) -> StyleGAN2Generator:
    return StyleGAN2Generator(cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers,
                              channel_base=cfg.channel_base, channel_max=cfg.width, upsample=cfg.upsample)


class StyleGAN2Adapter(InferenceAdapter):
    """Whole images at the trained resolution (the base adapter's behaviour)."""


SPEC = ModelSpec(
    name="stylegan2", summary="StyleGAN2 (Karras et al. 2020), the baseline and the transfer source",
    build_generator=build_generator, build_discriminator=build_discriminator, adapter=StyleGAN2Adapter,
    hooks=StyleGAN2Hooks, options=None, capabilities=frozenset({INIT_FROM_STYLEGAN2}),
    smoke_options={"resolution": 8})
