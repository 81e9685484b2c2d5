"""CIPS training hooks: cylindrical frames at random angles and patch training."""

from __future__ import annotations

import torch

from spatialgan import batchrng
from spatialgan.core.coords import pixel_grid
from spatialgan.imageutils import resize_antialiased
from spatialgan.models.stylegan2.hooks import StyleGAN2Hooks


def nearest_patch(image: torch.Tensor, box: tuple[int, int, int], size: int) -> torch.Tensor:
    """The real pixels under G's P x P sample points of the box (left, top, side): the point of output pixel k
    lies at left + (k + 1/2) side / P real pixels, and the pixel holding it is taken (a strided sub-grid, as the
    official code cuts real patches), so real and generated patches follow one point-sampling model."""
    left, top, side = box
    offsets = ((torch.arange(size, dtype=torch.float64) + 0.5) * side / size).floor().long()
    rows, cols = (top + offsets).to(image.device), (left + offsets).to(image.device)
    return image.index_select(-2, rows).index_select(-1, cols)


def resized_patch(image: torch.Tensor, box: tuple[int, int, int], size: int) -> torch.Tensor:
    """The box resized to P x P (antialiased bilinear): a blur of the region that G does not compute."""
    left, top, side = box
    return resize_antialiased(image[..., top:top + side, left:left + side], size)


class CIPSHooks(StyleGAN2Hooks):
    """With a cylindrical model, each generated training image is a frame at a random angle of its panorama (the
    reals are taken as such frames), as in CIPS's panorama training.

    Patch training (`patch_size` P < resolution R, the paper's memory-constrained mode): each sample is a P x P
    patch of a random square region of the frame, of side S real pixels with S uniform in [P, R] (multi-scale) at
    a random integer position. G point-samples the region at P x P pixel centres, and the real patch is the real
    pixels at those same points (`nearest_patch`, the official code's strided sub-grid): one sampling model for
    both, so D cannot tell them apart by blur. D sees only patches.

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
            cut = nearest_patch if self.config.patch_sampling == "nearest" else resized_patch
            reals = torch.cat([cut(reals[i:i + 1], box, self.config.patch_size)
                               for i, box in enumerate(request["patch_boxes"])])
        return self.with_coords(reals, request)

    def r1_channels(self) -> int | None:
        return 3 if self.config.cips_discriminator_coords else None      # not the coordinate channels

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
