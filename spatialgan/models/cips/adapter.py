"""CIPS at inference: every pixel from its coordinate, so any region, size, panorama strip or foveated render."""

from __future__ import annotations

import numpy as np
import torch

from spatialgan import SpatialGANError
from spatialgan.core.coords import pixel_grid
from spatialgan.imageutils import to_uint8
from spatialgan.models.cips.render import render_foveated, render_image
from spatialgan.models.interface import GRID_NOISE, WARP, InferenceAdapter, capability_error


class CIPSAdapter(InferenceAdapter):
    @torch.no_grad()
    def render_full_frame(self, z, resolution, truncation_psi=1.0, noise_mode=None):     # CIPS has no noise
        coords = pixel_grid(resolution, resolution, device=z.device)
        return self.G.synthesize(self.G.map(z, truncation_psi), "const", coords=coords, chunk=1 << 16)

    def trained_densities(self) -> tuple[float, float]:
        """Patch training (P x P points over regions of side S in [P, R] real pixels) spans P..R pixels per frame."""
        r, p = self.config.resolution, self.config.patch_size
        return (float(p), float(r)) if p and p < r else (float(r), float(r))

    @property
    def panorama_frames(self) -> float | None:
        return self.G.panorama_frames

    def bounds(self, view) -> tuple[float, float, float, float]:
        if not view.panorama:
            return view.bounds(self.G.resolution)
        if not self.panorama_frames:
            raise SpatialGANError("--panorama needs a CIPS trained with cylindrical coordinates (--panorama-frames); "
                                  "this one is planar")
        return -self.panorama_frames, self.panorama_frames, -1.0, 1.0

    @torch.no_grad()
    def render(self, ws: torch.Tensor, view) -> np.ndarray:
        if view.warp is not None:
            raise capability_error(self.spec, WARP, "--warp")
        if view.noise is not None:
            raise capability_error(self.spec, GRID_NOISE, "--noise")
        if view.foveate is None:
            x0, x1, y0, y1 = self.bounds(view)
            return render_image(self.G, ws, view.width, view.height, (x0, x1), (y0, y1), view.band_pixels,
                                view.deadline_check())
        cx, cy = view.foveate
        if not (-1 < cx < 1 and -1 < cy < 1) or view.gamma <= 0:
            raise SpatialGANError("--foveate must lie inside the frame (-1..1) and --gamma be positive")
        samples = view.samples or (max(1, view.width // 2), max(1, view.height // 2))
        image = render_foveated(self.G, ws, view.width, view.height, samples, (cx, cy), view.gamma, view.band_pixels)
        return to_uint8(image)[0]
