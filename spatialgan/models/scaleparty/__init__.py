"""ScaleParty (arbitrary-scale synthesis): scale-consistent encodings, a pad-free generator, any region at any scale."""

from spatialgan.core.discriminator import build_discriminator
from spatialgan.models.interface import (
    ADA_RECIPE,
    ANY_REGION,
    ANY_SCALE,
    GRID_NOISE,
    PROJECT,
    WARP,
    WS_INPUT,
    ModelSpec,
)
from spatialgan.models.scaleparty.adapter import ScalePartyAdapter
from spatialgan.models.scaleparty.generator import ScalePartyGenerator
from spatialgan.models.scaleparty.hooks import ScalePartyHooks
from spatialgan.models.scaleparty.options import ScalePartyOptions
from spatialgan.models.stylegan2 import PAPER_RECIPE as STYLEGAN2_PAPER


def build_generator(cfg) -> ScalePartyGenerator:
    return ScalePartyGenerator(cfg.resolution, z_dim=cfg.z_dim, w_dim=cfg.w_dim, mapping_layers=cfg.mapping_layers,
                               channel_base=cfg.channel_base, channel_max=cfg.width)


# The paper's FFHQ recipe (on mmgeneration's StyleGAN2): R1 weight 10, lr 0.002; r_small = R, r_large = 1.5 R.
# Its generator has its own upsampling, so --upsample does not apply (left at the engine's value).
PAPER_RECIPE = {**{k: v for k, v in STYLEGAN2_PAPER.items() if k != "upsample"}, "scale_regime": "paper"}

SPEC = ModelSpec(
    name="scaleparty", summary="arbitrary-scale synthesis (Ntavelis et al. 2022): any region at any scale",
    build_generator=build_generator, build_discriminator=build_discriminator, adapter=ScalePartyAdapter,
    hooks=ScalePartyHooks, options=ScalePartyOptions,
    capabilities=frozenset({ANY_REGION, ANY_SCALE, WARP, PROJECT, GRID_NOISE, WS_INPUT}),
    smoke_options={"resolution": 16},
    recipes={"paper": PAPER_RECIPE, "ada": {**ADA_RECIPE, "scale_regime": "half"}})
