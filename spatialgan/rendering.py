"""What to render and where, for models that render any region (`View`); one function serves CLI, studio and API.

Image space: the trained frame spans [-1, 1] on both axes. A view is either an explicit region (x0, x1, y0, y1),
or a centre and a pixel size (`scale` times the trained frame's pixel), or the trained frame itself. Which of its
extras apply (panorama, foveation, warps, noise policies) is each model adapter's business.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from spatialgan import SpatialGANError
from spatialgan.options import option, validate

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


def _pair(flag):
    return lambda text: parse_floats(text, 2, flag)


@dataclass
class View:
    """A render request: output size, where in image space, and the model-specific extras (declared options: the
    `spatialgan render` flags and their help come from here)."""

    width: int = option(1, "output width in pixels", low=1, high=MAX_PIXELS, cli=False)
    height: int = option(1, "output height in pixels", low=1, high=MAX_PIXELS, cli=False)
    center: tuple | None = option(None, "cx,cy in image space (the trained frame spans -1..1)",
                                  parse=_pair("--center"))
    scale: float | None = option(None, "pixel size as a multiple of the trained frame's pixel: 0.25 zooms in 4x, 2 "
                                 "shows twice the frame (extrapolating past it)", low=1e-6, high=1e6)
    region: tuple | None = option(None, "x0,x1,y0,y1 in image space instead of --center/--scale, as "
                                  "--region=-1,1,-1,1 (default: the trained frame)",
                                  parse=lambda text: parse_floats(text, 4, "--region"))
    panorama: bool = option(False, "the whole 360-degree strip of a cylindrical CIPS (trained with "
                            "--panorama-frames); overrides --region")
    foveate: tuple | None = option(None, "cx,cy: foveated render (cips), dense samples around this point",
                                   parse=_pair("--foveate"))
    samples: tuple | None = option(None, "foveated render: WIDTHxHEIGHT samples (default: half of --size)",
                                   parse=lambda text: parse_size(text))
    gamma: float = option(2.0, "foveated render: concentration (1 = uniform)", low=1e-6)
    warp: object = option(None, "scaleparty: warp of the positional encoding, swirl:STRENGTH[:RADIUS] or "
                          "stretch:FX[:FY] (the API also takes a callable on positions)", parse=str)
    noise: str | None = option(None, "scaleparty noise: grid (default; fixed in image space, tiles join exactly), "
                               "const, random or none")
    noise_seed: int = option(0, "seed of the image-space noise (the CLI uses --seed)", low=0, high=2 ** 63 - 1,
                             cli=False)
    tile: int = option(256, "scaleparty: tile side in pixels (bounds memory)", low=1)
    band_pixels: int = option(1 << 16, "cips: pixels rendered at a time (bounds memory)", low=1)
    time_limit: float | None = option(None, "seconds a render may take, checked between tiles and bands (the "
                                      "studio's bound on one request's work)", low=1e-3, cli=False)
    cancelled: object = option(None, "a callable, checked between tiles and bands, that returns True once the "
                               "render is no longer wanted (the studio: its client has gone)", cli=False)

    def __post_init__(self):
        validate(self)
        if self.width * self.height > MAX_PIXELS:
            raise SpatialGANError(f"size {self.width}x{self.height}: at most 2^28 pixels in all")
        if self.region is not None and (self.center is not None or self.scale is not None):
            raise SpatialGANError("give either --region or --center/--scale, not both")
        if self.region is not None:
            x0, x1, y0, y1 = self.region
            if not all(math.isfinite(v) for v in self.region) or x1 <= x0 or y1 <= y0:
                raise SpatialGANError(f"--region needs finite x0 < x1 and y0 < y1, got {self.region}")
        for name in ("center", "region", "foveate"):
            values = getattr(self, name)
            if values is not None and not all(math.isfinite(v) and abs(v) <= 1e6 for v in values):
                raise SpatialGANError(f"--{name} must be finite and within 1e6 of the origin")

    def deadline_check(self):
        """A function to call between tiles or bands: raises once the view's time limit has passed or the render
        was cancelled."""
        if self.time_limit is None and self.cancelled is None:
            return lambda: None
        end = time.monotonic() + (self.time_limit if self.time_limit is not None else math.inf)

        def check():
            if self.cancelled is not None and self.cancelled():
                raise RenderCancelled("the render was cancelled")
            if time.monotonic() > end:
                raise SpatialGANError(f"the render took longer than its limit of {self.time_limit:g} s; ask for "
                                      "fewer pixels or a squarer shape")

        return check

    def bounds(self, resolution: int) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) of the view for a model trained at `resolution`."""
        if self.region is not None:
            return tuple(self.region)
        if self.center is None and self.scale is None:
            return -1.0, 1.0, -1.0, 1.0
        (x0, x1), (y0, y1) = region_for(resolution, self.width, self.height, self.center or (0.0, 0.0),
                                        self.scale or 1.0)
        return x0, x1, y0, y1


class RenderCancelled(SpatialGANError):
    """A render stopped between tiles because nobody waits for it any more."""


def region_for(resolution: int, width: int, height: int, center=(0.0, 0.0), scale: float = 1.0
               ) -> tuple[tuple, tuple]:
    """x and y ranges of a width x height render whose pixels are `scale` times the trained frame's pixel."""
    half_w, half_h = scale * width / resolution, scale * height / resolution
    return (center[0] - half_w, center[0] + half_w), (center[1] - half_h, center[1] + half_h)


@torch.no_grad()
def render_region(adapter, ws: torch.Tensor, view: View) -> np.ndarray:
    """(height, width, 3) uint8 render of one latent's styles `ws` (batch 1) through the model's adapter: the one
    render path of `spatialgan render`, the studio and `Model.render`."""
    return adapter.render(ws, view)
