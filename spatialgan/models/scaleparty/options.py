"""ScaleParty's own options: multi-scale partial training and inter-scale augmentation."""

from __future__ import annotations

from dataclasses import dataclass

from spatialgan.options import option

INTERSCALE_MODES = ("mix", "l1", "none")


@dataclass
class ScalePartyOptions:
    multiscale: bool = option(True, "ScaleParty: train on the full frame only (no multi-scale partial generation)",
                              flag="--no-multiscale")
    small_size: int | None = option(None, "ScaleParty: r_small of multi-scale training (default resolution / 2; "
                                    "r_large = 1.5 r_small)", low=4)
    scale_min: float = option(0.6, "ScaleParty: smallest region side, as a fraction of the frame", low=1e-3, high=1)
    scale_max: float = option(1.0, "ScaleParty: largest region side, as a fraction of the frame", low=1e-3, high=1)
    interscale: str = option("mix", "ScaleParty: inter-scale augmentation: mix (CutMix + ChannelMix), l1 "
                             "(consistency loss) or none", choices=INTERSCALE_MODES)
    interscale_prob: float = option(0.2, "ScaleParty: probability that a sample is also rendered at the other size",
                                    low=0, high=1)
    lambda_interscale: float = option(1.0, "ScaleParty: weight of the L1 consistency (--interscale l1)", low=0)
