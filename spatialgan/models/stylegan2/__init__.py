"""StyleGAN2: the core every other model builds on (mapping, synthesis, discriminator, recipe)."""

from spatialgan.core.discriminator import build_discriminator
from spatialgan.models.interface import ADA_RECIPE, INIT_FROM_STYLEGAN2, InferenceAdapter, ModelSpec
from spatialgan.models.stylegan2.generator import StyleGAN2Generator
from spatialgan.models.stylegan2.hooks import StyleGAN2Hooks


def build_generator(cfg) -> StyleGAN2Generator:
    G = StyleGAN2Generator(cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers,
                           channel_base=cfg.channel_base, channel_max=cfg.width, upsample=cfg.upsample)
    G.synthesis.set_conv_clamp(getattr(cfg, "conv_clamp", None))
    return G


class StyleGAN2Adapter(InferenceAdapter):
    """Whole images at the trained resolution (the base adapter's behaviour)."""


# Config F of the StyleGAN2 paper and official code: R1 weight 10, path length 2, mixing 0.9, lr 0.002, FIR.
# The paper configurations (StyleGAN2 config-f, StyleGAN2-ADA paper256/512/1024) have no EMA ramp-up.
PAPER_RECIPE = {"gamma": 10.0, "lr": 0.002, "pl_weight": 2.0, "style_mixing": 0.9, "upsample": "fir", "ema_rampup": 0.0}

SPEC = ModelSpec(
    name="stylegan2", summary="StyleGAN2 (Karras et al. 2020), the baseline and the transfer source",
    build_generator=build_generator, build_discriminator=build_discriminator, adapter=StyleGAN2Adapter,
    hooks=StyleGAN2Hooks, options=None, capabilities=frozenset({INIT_FROM_STYLEGAN2}),
    smoke_options={"resolution": 8}, recipes={"paper": PAPER_RECIPE, "ada": ADA_RECIPE})
