"""The built-in metrics, each registered with the passes and capability it needs: fid, kid, pr, swd, ppl,
selfssim, selfssim_pairs, selfssim_aa, diversity, spectrum,
distortion, leakage."""

from __future__ import annotations

import os

import torch

from spatialgan import SpatialGANError
from spatialgan.metrics.registry import (
    FAKE_FEATURES,
    FAKE_PATCHES,
    FAKE_SPECTRA,
    REAL_FEATURES,
    REAL_PATCHES,
    REAL_SPECTRA,
    register_metric,
)
from spatialgan.models.interface import ANY_SCALE, DISTORTION, RESAMPLE_BLOCKS

FEATURES = (REAL_FEATURES, FAKE_FEATURES)


@register_metric("fid", needs=FEATURES, summary="Fréchet Inception distance")
def fid(ctx) -> list[dict]:
    from spatialgan.metrics.fid import fid_from_features

    value = fid_from_features(ctx.real_features, ctx.fake_features)
    return [ctx.record("fid", value, "Fréchet distance of Gaussian fits (unbiased covariance)", **ctx.feature_info)]


@register_metric("kid", needs=FEATURES, summary="kernel Inception distance")
def kid(ctx) -> list[dict]:
    from spatialgan.metrics.kid import kid as kid_value

    value = kid_value(ctx.real_features, ctx.fake_features, seed=ctx.options.seed)
    return [ctx.record("kid", value, "unbiased MMD^2, cubic polynomial kernel, 100 subsets of min(1000, n)",
                       **ctx.feature_info)]


@register_metric("pr", needs=FEATURES, summary="improved precision and recall")
def precision_recall(ctx) -> list[dict]:
    from spatialgan.metrics.precision_recall import precision_recall as pr

    p, r = pr(ctx.real_features, ctx.fake_features, k=3)
    return [ctx.record(name, value, "improved precision/recall, k-NN radii with k = 3", **ctx.feature_info)
            for name, value in (("precision", p), ("recall", r))]


@register_metric("swd", needs=(REAL_PATCHES, FAKE_PATCHES), summary="sliced Wasserstein distance of patches")
def swd(ctx) -> list[dict]:
    from spatialgan.metrics.swd import PROTOCOL, swd_from_collectors

    out = swd_from_collectors(ctx.real_patches, ctx.fake_patches, ctx.options.seed)
    return [ctx.record("swd", out["value"], PROTOCOL, num_real=ctx.num_real, per_level=out["per_level"],
                       data=str(ctx.data))]


@register_metric("ppl", summary="perceptual path length in W (LPIPS, or pixels without its weights)")
def ppl(ctx) -> list[dict]:
    from spatialgan.metrics.ppl import EPSILON, filtered_mean, path_lengths

    options, distance, metric = ctx.options, None, "ppl_pixel"
    measure = "mean squared pixel difference in [-1, 1] (no LPIPS weights given; not comparable with published PPL)"
    if options.lpips_dir or os.environ.get("SPATIALGAN_LPIPS"):
        from spatialgan.metrics.lpips import load_lpips, lpips_distance_for_ppl

        distance = lpips_distance_for_ppl(load_lpips(options.lpips_dir).to(ctx.adapter.device))
        metric, measure = "ppl", "LPIPS (VGG16, v0.1), images above 256 px area-downsampled to 256"
    lengths = path_lengths(ctx.adapter, options.num, options.batch, options.ppl_sampling, options.seed, distance)
    return [ctx.record(metric, filtered_mean(lengths), f"PPL in W, sampling '{options.ppl_sampling}', epsilon "
                       f"{EPSILON:g}, distance = {measure}, 1-99 percentile filter")]


def _full_frame_latents(ctx, noise: str | None = None) -> tuple:
    options = ctx.options
    gen = torch.Generator().manual_seed(options.seed)
    z = torch.randn(options.num, *ctx.adapter.latent_shape(), generator=gen).to(ctx.adapter.device)
    noise = noise or options.noise

    def render(z, resolution):
        return ctx.adapter.render_full_frame(z, resolution, options.truncation_psi, noise)

    return z, render


def _check_selfssim_size(ctx, name: str) -> None:
    if min(ctx.options.selfssim_scales) * ctx.config.resolution < 16:
        raise SpatialGANError(f"{name} takes MS-SSIM of renders resized to {ctx.config.resolution} px; it needs "
                              "at least 16 px")


@register_metric("selfssim", capability=ANY_SCALE,
                 summary="consistency across scales (paper: MS-SSIM of each size 1.25-2R against R, random noise)")
def selfssim(ctx) -> list[dict]:
    from spatialgan.metrics.selfssim import PAPER_PROTOCOL, self_ssim_paper

    _check_selfssim_size(ctx, "selfssim")
    scales = ctx.options.selfssim_scales
    noise = ctx.options.noise or ("random" if "random" in ctx.adapter.noise_modes else ctx.adapter.default_noise)
    z, render = _full_frame_latents(ctx, noise)
    value, per_size = self_ssim_paper(render, z, ctx.config.resolution, scales, ctx.options.batch)
    return [ctx.record("selfssim", value, PAPER_PROTOCOL.format(scales=", ".join(f"{k:g}" for k in scales)),
                       noise=noise, per_size={str(k): v for k, v in per_size.items()})]


@register_metric("selfssim_pairs", capability=ANY_SCALE,
                 summary="SelfSSIM over every pair of sizes 1.25-2R (R itself not included), MS-SSIM")
def selfssim_pairs(ctx) -> list[dict]:
    from spatialgan.metrics.selfssim import PAIRS_PROTOCOL, self_ssim_pairs

    _check_selfssim_size(ctx, "selfssim_pairs")
    scales = ctx.options.selfssim_scales
    z, render = _full_frame_latents(ctx)
    value = self_ssim_pairs(render, z, ctx.config.resolution, scales, ctx.options.batch)
    return [ctx.record("selfssim_pairs", value, PAIRS_PROTOCOL.format(scales=", ".join(f"{k:g}" for k in scales)),
                       noise=ctx.options.noise or ctx.adapter.default_noise)]


@register_metric("selfssim_aa", capability=ANY_SCALE,
                 summary="SelfSSIM, first variant: single-scale SSIM after antialiased downsampling (1x/2x/4x)")
def selfssim_aa(ctx) -> list[dict]:
    from spatialgan.metrics.selfssim import PROTOCOL, self_ssim

    resolutions = [ctx.config.resolution * k for k in (1, 2, 4)]
    z, render = _full_frame_latents(ctx)
    return [ctx.record("selfssim_aa", self_ssim(render, z, resolutions, ctx.options.batch),
                       f"{PROTOCOL}; resolutions {resolutions}", noise=ctx.options.noise or ctx.adapter.default_noise)]


@register_metric("distortion", capability=DISTORTION, summary="SSN: change outside a resampled block")
def distortion(ctx) -> list[dict]:
    from spatialgan.models.ssn.distortion import distortion as measure

    options = ctx.options
    d = measure(ctx.adapter.G, options.num, options.batch, options.seed, options.truncation_psi)
    return [ctx.record("distortion", d["value"], d["protocol"], num=d["num_samples"])]


@register_metric("leakage", capability=DISTORTION,
                 summary="SSN: share of a latent block's style influence outside its image block, per layer")
def leakage(ctx) -> list[dict]:
    from spatialgan.models.ssn.encoder import generator_leakage

    layers = generator_leakage(ctx.adapter.G)
    value = sum(r["leakage"] for r in layers) / len(layers)
    return [ctx.record("leakage", value, "one-hot block styles through each layer's spatial encoder: influence "
                       "outside the block / total, mean over blocks; value = mean over layers", per_layer=layers)]


SEAMS_PROTOCOL = ("mean absolute step between neighbouring pixels across latent block boundaries over the mean step "
                  "elsewhere, rows and columns averaged, constant noise; about 1 for images unrelated to the grid")


@torch.no_grad()
def sample_images(adapter, num: int, batch: int, seed: int, truncation_psi: float = 1.0) -> torch.Tensor:
    """num float32 images on the CPU from seeded latents, constant noise."""
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([adapter.sample(torch.randn(min(batch, num - done), *adapter.latent_shape(), generator=gen)
                                     .to(adapter.device), truncation_psi, "const").float().cpu()
                      for done in range(0, num, batch)])


@register_metric("seams", capability=DISTORTION,
                 summary="SSN: how strongly samples show the latent block grid (a patchwork scores well above 1)")
def seams(ctx) -> list[dict]:
    from spatialgan.models.ssn.blocks import seam_ratio

    o = ctx.options
    images = sample_images(ctx.adapter, o.num, o.batch, o.seed, o.truncation_psi)
    return [ctx.record("seams", seam_ratio(images, ctx.adapter.grid), SEAMS_PROTOCOL, num=o.num)]


DIVERSITY_PROTOCOL = ("mean squared pixel difference (images in [-1, 1]) between images of independent latents, "
                      "constant noise; 0 for a model that ignores its latent")


@torch.no_grad()
def pairwise_diversity(adapter, num: int, batch: int, seed: int, truncation_psi: float) -> float:
    """Mean over num/2 pairs of independent latents of the images' mean squared difference."""
    gen = torch.Generator().manual_seed(seed)
    pairs, total, done = max(1, num // 2), 0.0, 0
    while done < pairs:
        n = min(batch, pairs - done)
        z = torch.randn(2 * n, *adapter.latent_shape(), generator=gen).to(adapter.device)
        images = adapter.sample(z, truncation_psi, "const").float()
        total += float((images[:n] - images[n:]).square().mean(dim=(1, 2, 3)).sum())
        done += n
    return total / pairs


@register_metric("diversity", summary="how different the images of independent latents are (collapse shows here)")
def diversity(ctx) -> list[dict]:
    o = ctx.options
    records = [ctx.record("diversity", pairwise_diversity(ctx.adapter, o.num, o.batch, o.seed, o.truncation_psi),
                          DIVERSITY_PROTOCOL)]
    if ctx.adapter.spec.can(RESAMPLE_BLOCKS):
        from spatialgan.models.ssn.distortion import resample_change

        change = resample_change(ctx.adapter.G, o.num, o.batch, o.seed, o.truncation_psi)
        protocol = ("one random latent block redrawn per image, constant noise: mean squared change inside that "
                    "block's pixels and outside them; ratio = inside / outside")
        records += [ctx.record(f"resample_{k}", change[k], protocol, num=change["num_samples"])
                    for k in ("inside", "outside", "ratio")]
    return records


@register_metric("spectrum", needs=(REAL_SPECTRA, FAKE_SPECTRA),
                 summary="distance of the azimuthally averaged power spectra (CIPS Sec. 4.3)")
def spectrum(ctx) -> list[dict]:
    from spatialgan.metrics.spectrum import PROTOCOL, spectral_distance

    real, fake = ctx.real_spectra.mean(), ctx.fake_spectra.mean()
    d = spectral_distance(real, fake, ctx.real_spectra.max_radius)
    return [ctx.record("spectrum", d["value"], PROTOCOL, num_real=ctx.num_real, data=str(ctx.data),
                       high_frequency=d["high_frequency"], real_spectrum=real.tolist(), fake_spectrum=fake.tolist())]
