"""ScaleParty at inference: any region at any scale, tiled in bounded memory, with noise fixed in image space."""

from __future__ import annotations

import numpy as np
import torch

from spatialgan import SpatialGANError
from spatialgan.core.coords import parse_warp
from spatialgan.imageutils import to_uint8
from spatialgan.models.interface import FOVEATE, PANORAMA, InferenceAdapter, capability_error
from spatialgan.models.scaleparty.generator import NOISE_POLICIES
from spatialgan.models.scaleparty.options import trained_densities


@torch.no_grad()
def render_tiled(G, ws: torch.Tensor, width: int, height: int, center=(0.0, 0.0), scale: float = 1.0,
                 tile: int = 256, noise_mode: str = "grid", noise_seed: int = 0, warp=None,
                 between_tiles=None) -> np.ndarray:
    """(height, width, 3) uint8 render, tile by tile (memory bounded by the tile; with grid noise the tiles join
    exactly)."""
    out = np.empty((height, width, 3), dtype=np.uint8)
    for top, left, img in G.tiles(ws, center, scale, (height, width), tile, noise_mode, noise_seed, warp):
        if between_tiles is not None:
            between_tiles()
        out[top:top + img.shape[-2], left:left + img.shape[-1]] = to_uint8(img)[0]
    return out


CONST_NOISE_MAX_PIXELS = 1 << 20      # 1024 x 1024: about 1.5 GB peak RSS with the shipped model


class ScalePartyAdapter(InferenceAdapter):
    noise_modes = NOISE_POLICIES
    default_noise = "grid"

    @torch.no_grad()
    def sample(self, z, truncation_psi=1.0, noise_mode=None):
        return self.G.render(self.G.map(z, truncation_psi), noise_mode=noise_mode or self.default_noise)

    @torch.no_grad()
    def render_full_frame(self, z, resolution, truncation_psi=1.0, noise_mode=None):
        return self.G.render(self.G.map(z, truncation_psi), scale=self.G.resolution / resolution,
                             size=(resolution, resolution), noise_mode=noise_mode or "grid")

    def trained_densities(self) -> tuple[float, float]:
        return trained_densities(self.config)

    def _warp(self, warp):
        if warp is None or callable(warp):
            return warp
        try:
            return parse_warp(warp)
        except ValueError as exc:
            raise SpatialGANError(f"--warp: {exc}") from None

    @torch.no_grad()
    def render(self, ws: torch.Tensor, view) -> np.ndarray:
        if view.panorama:
            raise capability_error(self.spec, PANORAMA, "--panorama")
        if view.foveate is not None:
            raise capability_error(self.spec, FOVEATE, "--foveate")
        noise = view.noise or self.default_noise
        self.check_noise(noise)
        x0, x1, y0, y1 = view.bounds(self.G.resolution)
        sx = (x1 - x0) * self.G.resolution / (2 * view.width)
        sy = (y1 - y0) * self.G.resolution / (2 * view.height)
        if abs(sx - sy) > 1e-3 * max(sx, sy):
            raise SpatialGANError(f"a scaleparty render has square pixels: region {x0:g},{x1:g},{y0:g},{y1:g} at "
                                  f"{view.width}x{view.height} would stretch them; use --center and --scale, or "
                                  "--warp stretch")
        # 'const' noise is one map resized to each window, so tiles would show seams: it renders in one window,
        # whose memory grows with its pixels (about 1.05 GB per megapixel, measured), so it is bounded.
        if noise == "const" and view.width * view.height > CONST_NOISE_MAX_PIXELS:
            raise SpatialGANError(f"--noise const renders untiled (about 1 GB per megapixel): at most "
                                  f"{CONST_NOISE_MAX_PIXELS} pixels, got {view.width}x{view.height}; the default "
                                  "grid noise renders any size in tiles that join exactly")
        tile = max(view.width, view.height) if noise == "const" else view.tile
        return render_tiled(self.G, ws, view.width, view.height, ((x0 + x1) / 2, (y0 + y1) / 2), sx, tile, noise,
                            view.noise_seed, self._warp(view.warp), view.deadline_check())
