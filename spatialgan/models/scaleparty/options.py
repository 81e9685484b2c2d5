"""ScaleParty's own options: multi-scale partial training and inter-scale augmentation."""

from __future__ import annotations

from dataclasses import dataclass

from spatialgan.options import option

INTERSCALE_MODES = ("mix", "cutmix", "channelmix", "l1", "none")
SCALE_REGIMES = ("paper", "half")


@dataclass
class ScalePartyOptions:
    multiscale: bool = option(True, "ScaleParty: train on the full frame only (no multi-scale partial generation)",
                              flag="--no-multiscale")
    scale_regime: str | None = option(
        None, "ScaleParty: paper: r_small = R and r_large = 1.5 R, reals loaded at 1.5 R (never upsampled), pairs "
        "in --interscale-prob of the iterations, both mixed images to D; half: this library's first regime (R/2 "
        "and 3R/4 cut from reals at R, pairs per sample, one image mixed) (default from --recipe: paper / ada)",
        choices=SCALE_REGIMES, legacy="half")
    small_size: int | None = option(None, "ScaleParty: r_small of multi-scale training (default from the scale "
                                    "regime: R or R/2; r_large = 1.5 r_small)", low=4)
    scale_min: float = option(0.6, "ScaleParty: smallest region side, as a fraction of the frame", low=1e-3, high=1)
    scale_max: float = option(1.0, "ScaleParty: largest region side, as a fraction of the frame", low=1e-3, high=1)
    interscale: str = option("mix", "ScaleParty: inter-scale augmentation: mix (CutMix then ChannelMix, the "
                             "paper's), cutmix or channelmix alone (its Fig. 4 ablation), l1 (consistency loss) or "
                             "none", choices=INTERSCALE_MODES)
    interscale_prob: float = option(0.2, "ScaleParty: probability of an inter-scale pair (per iteration; per "
                                    "sample in the half regime)", low=0, high=1)
    train_noise: str = option("random", "ScaleParty: training noise: random (the official code's: white per "
                              "pixel, drawn afresh for each render, so the two renders of a pair never share it) "
                              "or grid (fixed in image space, the paper's inference policy; interpolated, so "
                              "spatially correlated, off the layers' lattice)", choices=("grid", "random"),
                              legacy="grid")
    lambda_interscale: float = option(1.0, "ScaleParty: weight of the L1 consistency (--interscale l1)", low=0)


def training_sizes(config) -> tuple[int, int]:
    """(r_small, r_large): the two sizes multi-scale training renders regions at."""
    small = config.small_size or (config.resolution if config.scale_regime == "paper" else config.resolution // 2)
    return small, small * 3 // 2


def trained_densities(config) -> tuple[float, float]:
    """The lowest and highest pixel densities (pixels per frame height) training rendered: a region of side f of
    the frame at r pixels has r / f, with f in [scale_min, scale_max] and r in (r_small, r_large)."""
    if not config.multiscale:
        return float(config.resolution), float(config.resolution)
    small, large = training_sizes(config)
    return small / config.scale_max, large / config.scale_min
