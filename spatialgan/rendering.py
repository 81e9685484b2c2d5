"""What to render and where, for models that render any region (`View`); one function serves CLI, studio and API.

Image space: the trained frame spans [-1, 1] on both axes. A view is either an explicit region (x0, x1, y0, y1),
or a centre and a pixel size (`scale` times the trained frame's pixel), or the trained frame itself. Which of its
extras apply (panorama, foveation, warps, noise policies) is each model adapter's business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from spatialgan import SpatialGANError

MAX_PIXELS = 1 << 28


def parse_size(text: str) -> tuple[int, int]:
    """'2048x512' -> (width 2048, height 512)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SpatialGANError(f"--size takes WIDTHxHEIGHT such as 512x256, got {text!r}") from None
    if w < 1 or h < 1 or w * h > MAX_PIXELS:
        raise SpatialGANError(f"--size {text}: each side must be positive and the image at most 2^28 pixels")
    return w, h


def parse_floats(text: str, count: int, flag: str) -> tuple[float, ...]:
    """'0.1,-0.2' -> (0.1, -0.2): exactly `count` finite numbers, else a one-line error naming `flag`."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise SpatialGANError(f"{flag} takes {count} comma-separated numbers, got {text!r}")
    return values


@dataclass
class View:
    """A render request: output size, where in image space, and the model-specific extras."""

    width: int
    height: int
    center: tuple[float, float] | None = None
    scale: float | None = None
    region: tuple[float, float, float, float] | None = None     # x0, x1, y0, y1
    panorama: bool = False                  # cylindrical CIPS: the whole 360-degree strip
    foveate: tuple[float, float] | None = None   # CIPS: dense samples around this point
    samples: tuple[int, int] | None = None  # foveated render: sample grid (default half the size)
    gamma: float = 2.0                      # foveated render: concentration
    warp: object = None                     # ScaleParty: 'swirl:2', 'stretch:2' or a callable on positions
    noise: str | None = None                # ScaleParty noise policy (default grid)
    noise_seed: int = 0
    tile: int = 256                         # ScaleParty: tile side
    band_pixels: int = 1 << 16              # CIPS: pixels rendered at a time

    def __post_init__(self):
        if not (isinstance(self.width, int) and isinstance(self.height, int)) or self.width < 1 or self.height < 1 \
                or self.width * self.height > MAX_PIXELS:
            raise SpatialGANError(f"size {self.width}x{self.height}: each side must be positive, at most 2^28 "
                                  "pixels in all")
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise SpatialGANError(f"--scale must be a positive number, got {self.scale}")
        if self.region is not None and (self.center is not None or self.scale is not None):
            raise SpatialGANError("give either --region or --center/--scale, not both")
        if self.region is not None:
            x0, x1, y0, y1 = self.region
            if not all(math.isfinite(v) for v in self.region) or x1 <= x0 or y1 <= y0:
                raise SpatialGANError(f"--region needs finite x0 < x1 and y0 < y1, got {self.region}")
        if self.center is not None and not all(math.isfinite(c) for c in self.center):
            raise SpatialGANError("the centre must be finite")
        if self.tile < 1 or self.band_pixels < 1:
            raise SpatialGANError("--band-pixels and --tile must be positive")

    def bounds(self, resolution: int) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) of the view for a model trained at `resolution`."""
        if self.region is not None:
            return tuple(self.region)
        if self.center is None and self.scale is None:
            return -1.0, 1.0, -1.0, 1.0
        (x0, x1), (y0, y1) = region_for(resolution, self.width, self.height, self.center or (0.0, 0.0),
                                        self.scale or 1.0)
        return x0, x1, y0, y1


def region_for(resolution: int, width: int, height: int, center=(0.0, 0.0), scale: float = 1.0
               ) -> tuple[tuple, tuple]:
    """x and y ranges of a width x height render whose pixels are `scale` times the trained frame's pixel."""
    half_w, half_h = scale * width / resolution, scale * height / resolution
    return (center[0] - half_w, center[0] + half_w), (center[1] - half_h, center[1] + half_h)


def view_options_from_args(args) -> tuple[tuple[int, int], dict]:
    """(size, View fields) from `spatialgan render`'s flags."""
    view = dict(panorama=args.panorama, gamma=args.gamma, warp=args.warp, noise=args.noise, tile=args.tile,
                band_pixels=args.band_pixels, scale=args.scale)
    if args.center:
        view["center"] = parse_floats(args.center, 2, "--center")
    if args.region:
        view["region"] = parse_floats(args.region, 4, "--region")
    if args.foveate:
        view["foveate"] = parse_floats(args.foveate, 2, "--foveate")
    if args.samples:
        view["samples"] = parse_size(args.samples)
    return parse_size(args.size), view


@torch.no_grad()
def render_region(adapter, ws: torch.Tensor, view: View) -> np.ndarray:
    """(height, width, 3) uint8 render of one latent's styles `ws` (batch 1) through the model's adapter."""
    return adapter.render(ws, view)
