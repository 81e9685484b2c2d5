"""CIPS's own options: depth, coordinate embedding (CIPS vs CIPS-NE), cylindrical panoramas, patch training."""

from __future__ import annotations

from dataclasses import dataclass

from spatialgan.options import option


@dataclass
class CIPSOptions:
    cips_layers: int = option(14, "CIPS: modulated FC layers, even (a ToRGB after every second)", low=2, high=64)
    coord_embedding: bool = option(True, "CIPS-NE: Fourier features only, no learned coordinate embedding",
                                   flag="--no-coord-embedding")
    panorama_frames: float | None = option(None, "CIPS: train cylindrically; 360 degrees = this many frame widths "
                                           "(e.g. 4)", low=1e-3, high=1e3)
    patch_size: int | None = option(None, "CIPS: train on P x P patches of random regions at random scales (D "
                                    "sees patches)", low=4)
    patch_sampling: str = option("nearest", "CIPS: how real patches are cut: nearest (the real pixels under G's "
                                 "sample points, the official strided sub-grid) or antialiased (a resize of the "
                                 "region, this library's first way)", choices=("nearest", "antialiased"),
                                 legacy="antialiased")
    cips_channels: list | None = option(None, "CIPS: width of each layer pair (None: all --width; official: "
                                        "512..128)", cli=False)
    cips_discriminator_coords: bool | None = option(
        None, "CIPS: D also sees each pixel's two coordinates, as the official code (default from --recipe: paper "
        "on, ada off)", flag="--discriminator-coords", legacy=False)
    cips_coords: str = option("pixel-centers", "CIPS: coordinate convention of the Fourier features; "
                              "official-corners is the official code's linspace(-1, 1), set by `convert`",
                              choices=("pixel-centers", "official-corners"), cli=False)
    cips_embedding_read: str = option("eval", "CIPS, official-corners only: where the coordinate embedding is "
                                      "read: eval (interpolated at the official coordinates, as every official "
                                      "image path does) or train (its table entries, as its training mode does); set "
                                      "by `convert --cips-reading`", choices=("eval", "train"), cli=False)
