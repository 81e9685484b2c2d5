"""ScaleParty training hooks: multi-scale partial generation, matching real crops, inter-scale augmentation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spatialgan import SpatialGANError, batchrng
from spatialgan.core.coords import region_grid
from spatialgan.imageutils import resize_antialiased
from spatialgan.models.scaleparty.options import INTERSCALE_MODES, training_sizes
from spatialgan.models.stylegan2.hooks import StyleGAN2Hooks


def cutmix(images: torch.Tensor, other: torch.Tensor, uniforms: torch.Tensor | None = None) -> torch.Tensor:
    """Each image with a random box (side sqrt(1 - lambda) of the image, lambda ~ U(0, 1), as in CutMix) taken
    from `other`. `uniforms` (B, 3) in [0, 1): lambda and the box's place (drawn here when not given)."""
    b, _, h, w = images.shape
    u = torch.rand(b, 3, device=images.device) if uniforms is None else uniforms.to(images.device)
    cut_h = (h * torch.sqrt(1 - u[:, 0])).long().clamp(min=1)
    cut_w = (w * torch.sqrt(1 - u[:, 0])).long().clamp(min=1)
    top = (u[:, 1] * (h - cut_h + 1)).long()
    left = (u[:, 2] * (w - cut_w + 1)).long()
    rows = torch.arange(h, device=images.device)[None, :, None]
    cols = torch.arange(w, device=images.device)[None, None, :]
    box = ((rows >= top[:, None, None]) & (rows < (top + cut_h)[:, None, None]) &
           (cols >= left[:, None, None]) & (cols < (left + cut_w)[:, None, None]))
    return torch.where(box[:, None], other, images)


def channelmix(images: torch.Tensor, other: torch.Tensor, uniforms: torch.Tensor | None = None) -> torch.Tensor:
    """Each image with a random non-empty, proper subset of its channels taken from `other`. `uniforms` (B,) in
    [0, 1) picks the subset (drawn here when not given)."""
    b, c = images.shape[:2]
    subsets = torch.tensor([[(k >> i) & 1 for i in range(c)] for k in range(1, 2 ** c - 1)], device=images.device)
    u = torch.rand(b, device=images.device) if uniforms is None else uniforms.to(images.device)
    chosen = subsets[(u * len(subsets)).long().clamp(max=len(subsets) - 1)].bool()
    return torch.where(chosen[:, :, None, None], other, images)


def mix_pair(images: torch.Tensor, other: torch.Tensor, mode: str, uniforms: torch.Tensor) -> torch.Tensor:
    """The paper's inter-scale augmentation of `images` with its partner render `other` (resized to match):
    CutMix then ChannelMix ('mix'), or one of them alone. uniforms (B, 4): CutMix's three, ChannelMix's one."""
    other = resize_antialiased(other, tuple(images.shape[-2:]))
    if mode in ("mix", "cutmix"):
        images = cutmix(images, other, uniforms[:, :3])
    if mode in ("mix", "channelmix"):
        images = channelmix(images, other, uniforms[:, 3])
    return images


class ScalePartyHooks(StyleGAN2Hooks):
    """Each batch renders random regions a = (c, s, r): r is r_small or r_large = 1.5 r_small (one per batch),
    the region's side is a fraction f ~ U(scale_min, scale_max) of the frame (one per batch), and each sample's
    centre is uniform over the places where the region lies inside the frame. Reals are cut to the same regions.

    Paper regime (default): r_small = R, so the full frame at the trained resolution is a training configuration;
    reals are loaded dense enough for the densest region (r_large / scale_min px per frame) and never upsampled.
    In `interscale_prob` of the iterations every sample is rendered at both sizes (same z, region and noise); with
    --interscale mix both renders get CutMix then ChannelMix from their partner and D sees both; with l1 the pair
    is tied by an L1 loss at the smaller size. Half regime (the first one here): R/2 and 3R/4 cut from reals at R,
    pairs drawn per sample, only the batch-size render mixed (CutMix or ChannelMix).

    Noise: --train-noise random (default, the official code's) is white noise per rendered pixel, drawn afresh
    for every render, so the two renders of a pair never share it and D's mixed pairs cannot look consistent
    through the noise alone. --train-noise grid (the paper's inference policy) samples each layer's noise where
    its pixels are in image space; off the layers' lattice it is interpolated and so spatially correlated (lag-1
    correlation about 0.47)."""

    def __init__(self, config):
        super().__init__(config)
        cfg = config
        self.paper = cfg.scale_regime == "paper"
        step = cfg.resolution // 4                                       # 2^L with the generator's base of 4
        self.small, self.large = training_sizes(cfg)
        if cfg.multiscale and (self.small % step or self.large % step or self.small * 3 % 2):
            raise SpatialGANError(f"ScaleParty's training sizes r_small = {self.small} and r_large = 1.5 r_small "
                                  f"must be multiples of {step} at resolution {cfg.resolution}")
        if not 0 < cfg.scale_min <= cfg.scale_max <= 1:
            raise SpatialGANError(f"need 0 < scale_min <= scale_max <= 1 (regions inside the real frame), got "
                                  f"{cfg.scale_min}, {cfg.scale_max}")
        if cfg.interscale not in INTERSCALE_MODES:
            raise SpatialGANError(f"interscale must be one of {', '.join(INTERSCALE_MODES)}, got {cfg.interscale!r}")
        if not self.paper and cfg.interscale in ("cutmix", "channelmix"):
            raise SpatialGANError("--interscale cutmix/channelmix need the paper scale regime (--scale-regime paper)")

    def real_resolution(self) -> int:
        cfg = self.config
        if not (self.paper and cfg.multiscale):
            return cfg.resolution
        return max(cfg.resolution, math.ceil(self.large / cfg.scale_min - 1e-9))

    def allow_upscaled_reals(self) -> bool:
        return not (self.paper and self.config.multiscale)

    @property
    def noise_mode(self) -> str:
        return "grid" if self.config.train_noise == "grid" else "random"

    # ------------------------------------------------------------------------------------------ requests
    def sample_request(self, batch_size, device):
        request = super().sample_request(batch_size, device)
        request["noise_seed"] = batchrng.randint(2 ** 31, batch_size, device=device)
        cfg = self.config
        if not cfg.multiscale:
            return request
        size = self.small if float(torch.rand(())) < 0.5 else self.large
        frac = cfg.scale_min + (cfg.scale_max - cfg.scale_min) * float(torch.rand(()))
        request.update(size=size, frac=frac, centers=(batchrng.rand(batch_size, 2) * 2 - 1) * (1 - frac))
        if cfg.interscale != "none" and cfg.interscale_prob > 0:
            # Per sample: the pairing coin (half regime), CutMix or ChannelMix (half regime), CutMix's lambda and
            # box place, ChannelMix's subset. The paper regime pairs a whole iteration on one coin.
            coins = batchrng.rand(batch_size, 6)
            if self.paper:
                paired = float(torch.rand(())) < cfg.interscale_prob
                index = torch.arange(batch_size) if paired else torch.zeros(0, dtype=torch.long)
            else:
                index = torch.nonzero(coins[:, 0] < cfg.interscale_prob)[:, 0]
            request["pair_index"] = index.to(device)
            request["mix_uniforms"] = coins[:, 1:]
            request["partner_size"] = self.large if size == self.small else self.small
        return request

    def regularizer_request(self, batch_size, device):
        """Path length differentiates the main render only: no partner is rendered (it would cost a render whose
        graph the penalty never reaches)."""
        request = self.sample_request(batch_size, device)
        request.pop("pair_index", None)
        return request

    def region_positions(self, request, size: int, pad: int = 0, step: int = 1, index=None) -> torch.Tensor:
        """Positions (B, 2, ...) of each sample's region at `size` output pixels; with step 2^L and pad n_pad, the
        generator's base-level encoding."""
        centers = request["centers"] if index is None else request["centers"][index.cpu()]
        period = 2 * request["frac"] / size * step
        n = size // step
        return torch.cat([region_grid((float(cx), float(cy)), (period, period), (n, n), pad=pad)
                          for cx, cy in centers])

    def _render(self, G, ws, request, size, index=None):
        step = 2 ** G.levels
        enc = self.region_positions(request, size, G.n_pad, step, index).to(ws.device)
        seeds = request["noise_seed"] if index is None else request["noise_seed"][index]
        return G.synthesize(ws, self.noise_mode, enc, seeds)

    def synthesize_request(self, G, ws, request):
        if "size" not in request:
            return G.synthesize(ws, self.noise_mode, None, request["noise_seed"])
        images = self._render(G, ws, request, request["size"])
        index = request.get("pair_index")
        if index is not None and len(index):
            request["partner"] = self._render(G, ws[index], request, request["partner_size"], index)
        return images

    # ------------------------------------------------------------------------------------------ reals and D
    def prepare_reals(self, reals, request):
        """Each real image cut to its sample's region at the request's size; in the paper regime's pair
        iterations, a list of the cuts at both sizes, r_small and r_large (the official code's real_imgs and
        real_imgs_x2), as D sees the fakes of both sizes there."""
        if "size" not in request:
            return resize_antialiased(reals, self.config.resolution)
        cut = self.cut_reals(reals, request, request["size"])
        if self.paper and len(request.get("pair_index", ())) and self.config.interscale not in ("l1", "none"):
            return [cut, self.cut_reals(reals[request["pair_index"].to(reals.device)], request,
                                        request["partner_size"], request["pair_index"])]
        return cut

    def cut_reals(self, reals, request, size: int, index=None):
        """Antialiased downsizing to about the region's sampling period, then bicubic sampling at the exact pixel
        positions of the generated region at `size` pixels."""
        frac, full = request["frac"], reals.shape[-1]
        shrink = frac * full / size                                     # real pixels per output pixel
        source = resize_antialiased(reals, max(size, round(full / shrink))) if shrink > 1 else reals
        grid = self.region_positions(request, size, index=index).to(reals.device, reals.dtype).permute(0, 2, 3, 1)
        out = F.grid_sample(source, grid, mode="bicubic", padding_mode="border", align_corners=False)
        return out.clamp(-1, 1)

    def discriminator_input(self, images, request):
        partner = request.get("partner")
        if self.config.interscale in ("l1", "none") or partner is None:
            return images
        index = request["pair_index"]
        u = request["mix_uniforms"][index.cpu()].to(images.device)
        if self.paper:                   # the pair: each render mixed with its partner, both to D
            return [mix_pair(images, partner, self.config.interscale, u[:, 1:5]),
                    mix_pair(partner, images, self.config.interscale, u[:, 1:5])]
        main, other = images[index], resize_antialiased(partner, images.shape[-1])
        use_cut = (u[:, 0] < 0.5)[:, None, None, None]
        mixed = torch.where(use_cut, cutmix(main, other, u[:, 1:4]), channelmix(main, other, u[:, 4]))
        images = images.clone()
        images[index] = mixed
        return images

    def generator_regularizers(self, G, D, request, images, ws, step):
        partner = request.get("partner")
        if self.config.interscale != "l1" or partner is None:
            return {}
        main = images[request["pair_index"]]
        small = min(main.shape[-1], partner.shape[-1])
        l1 = (resize_antialiased(main, small) - resize_antialiased(partner, small)).abs().mean()
        return {"interscale_l1": self.config.lambda_interscale * l1}
