"""CIPS training hooks: cylindrical frames at random angles and patch training."""

from __future__ import annotations

import torch

from spatialgan import batchrng
from spatialgan.core.coords import pixel_grid
from spatialgan.imageutils import resize_antialiased
from spatialgan.models.stylegan2.hooks import StyleGAN2Hooks


class CIPSHooks(StyleGAN2Hooks):
    """With a cylindrical model, each generated training image is a frame at a random angle of its panorama (the
    reals are taken as such frames), as in CIPS's panorama training.

    Patch training (`patch_size` P < resolution R, the paper's memory-constrained mode): each sample is a P x P
    patch of a random square region of the frame, of side S real pixels with S uniform in [P, R] (multi-scale) at
    a random integer position; the real image is cropped to the same region and resized to P x P (antialiased
    bilinear), so generated and real patches cover the same part of the frame. D sees only patches.

    With --discriminator-coords (the paper recipe, as the official code) D's input is RGB plus the two coordinate
    channels of every pixel, real and generated alike, so D knows where in the frame a patch lies."""

    def sample_request(self, batch_size, device):
        request = super().sample_request(batch_size, device)
        cfg = self.config
        if cfg.panorama_frames:
            request["x_offset"] = (batchrng.rand(batch_size, device=device) * 2 - 1) * cfg.panorama_frames
        if cfg.patch_size and cfg.patch_size < cfg.resolution:
            r, p = cfg.resolution, cfg.patch_size
            sides = batchrng.randint(r - p + 1, batch_size) + p
            places = batchrng.rand(batch_size, 2)
            request["patch_boxes"] = [(int(u * (r - s + 1)), int(v * (r - s + 1)), int(s))
                                      for s, (u, v) in zip(sides.tolist(), places.tolist())]   # (left, top, side)
        return request

    def request_coords(self, request, batch: int, device) -> torch.Tensor | None:
        cfg = self.config
        if "patch_boxes" in request:
            r, p = cfg.resolution, cfg.patch_size
            coords = torch.cat([pixel_grid(p, p, x_range=(-1 + 2 * left / r, -1 + 2 * (left + side) / r),
                                           y_range=(-1 + 2 * top / r, -1 + 2 * (top + side) / r), device=device)
                                for left, top, side in request["patch_boxes"]])
        elif "x_offset" in request:
            coords = pixel_grid(cfg.resolution, cfg.resolution, device=device).repeat(batch, 1, 1, 1)
        else:
            return None
        if "x_offset" in request:
            coords[:, 0] += request["x_offset"][:, None, None]
        return coords

    def synthesize_request(self, G, ws, request):
        coords = self.request_coords(request, ws.shape[0], ws.device)
        return G.synthesize(ws) if coords is None else G.synthesize(ws, coords=coords)

    def prepare_reals(self, reals, request):
        if "patch_boxes" in request:
            p = self.config.patch_size
            crops = [reals[i:i + 1, :, top:top + side, left:left + side] for i, (left, top, side)
                     in enumerate(request["patch_boxes"])]
            reals = torch.cat([resize_antialiased(c, p) for c in crops])
        return self.with_coords(reals, request)

    def discriminator_input(self, images, request):
        return self.with_coords(images, request)

    def with_coords(self, images: torch.Tensor, request) -> torch.Tensor:
        """RGB plus the request's per-pixel coordinates (B, 2, H, W), when D is coordinate-conditioned."""
        if not self.config.cips_discriminator_coords:
            return images
        coords = self.request_coords(request, images.shape[0], images.device)
        if coords is None:
            coords = pixel_grid(images.shape[-2], images.shape[-1], device=images.device).expand(
                images.shape[0], -1, -1, -1)
        return torch.cat([images, coords.to(images.dtype)], 1)
