"""Runs a set of metrics on one generator in a single pass over generated and real images; the JSON report."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from spatialgan import SpatialGANError

METRICS = ("fid", "kid", "pr", "swd", "ppl", "selfssim", "distortion")
FEATURE_METRICS = ("fid", "kid", "pr")
DEFAULT_CACHE = Path(os.environ.get("SPATIALGAN_CACHE", "~/.cache/spatialgan")).expanduser() / "real-features"


@dataclass
class EvalOptions:
    num: int = 10000                 # generated samples
    num_real: int | None = None      # real images (default: min(dataset size, num))
    seed: int = 0
    batch: int = 64
    truncation_psi: float = 1.0
    features: str = "inception"      # or "resnet20" (an in-domain proxy for 32x32 data)
    feature_weights: str | None = None
    cache_dir: str | None = None     # None: ~/.cache/spatialgan/real-features; "" disables the cache
    ppl_sampling: str = "end"
    selfssim_scales: tuple[int, ...] = (1, 2, 4)   # render resolutions as multiples of the trained one
    lpips_dir: str | None = None     # folder with vgg16-397923af.pth and vgg.pth: PPL with LPIPS, else pixel PPL


def parse_metrics(text: str) -> list[str]:
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise SpatialGANError(f"unknown metric(s) {', '.join(unknown) or '(none)'}; available: {', '.join(METRICS)}")
    return list(dict.fromkeys(names))


def dataset_digest(dataset, count: int) -> str:
    """Content hash of the first `count` items' file bytes (decoding not needed), plus how they are prepared."""
    h = hashlib.sha256(f"{dataset.resolution}|{count}|center".encode())
    for i in range(count):
        h.update(dataset.source.read(i))
    return h.hexdigest()


def real_images(dataset, count: int, batch: int):
    for start in range(0, count, batch):
        yield torch.stack([dataset.load(i) for i in range(start, min(count, start + batch))])


def feature_cache_path(dataset, count: int, extractor, cache_dir) -> Path | None:
    """Where the real features of this dataset prefix and extractor protocol are cached (None: no cache)."""
    if cache_dir == "":
        return None
    key = hashlib.sha256(f"{dataset_digest(dataset, count)}|{extractor.name}|{extractor.protocol}".encode())
    return Path(cache_dir or DEFAULT_CACHE) / f"{extractor.name}-{key.hexdigest()[:24]}.safetensors"


def load_cached_features(path: Path | None) -> torch.Tensor | None:
    from safetensors.torch import load_file

    if path is None or not path.is_file():
        return None
    try:
        return load_file(str(path))["features"]
    except Exception:   # a damaged cache file is recomputed, never trusted
        print(f"warning: ignoring unreadable feature cache {path}", file=sys.stderr)
        return None


def store_cached_features(path: Path | None, features: torch.Tensor) -> None:
    from safetensors.torch import save_file

    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({"features": features.contiguous()}, str(tmp))
    os.replace(tmp, path)


def _record(metric, value, protocol, options, num, **extra) -> dict:
    return {"metric": metric, "value": value, "protocol": protocol, "num_samples": num, "seed": options.seed,
            **extra}


@torch.no_grad()
def _gather_lists(local: list, dist) -> list:
    """Every rank's list items, rank by rank (distributed evaluation); the list itself in one process."""
    if dist is None or not dist.enabled:
        return local
    import torch.distributed as tdist

    gathered: list = [None] * dist.world
    tdist.all_gather_object(gathered, [t.cpu() if isinstance(t, torch.Tensor) else t for t in local])
    return [item for part in gathered for item in part]


def evaluate(G, hooks, cfg, names: list[str], data: str | None, options: EvalOptions | None = None,
             device=None, extractor=None, dist=None) -> list[dict]:
    """Metric records (metric, value, protocol, num_samples, seed, feature_extractor...) in the order asked.
    `extractor` reuses an already built feature extractor (training builds it once).

    With `dist` (a DistributedContext of several ranks, all calling this), the generated images for the feature
    metrics and SWD are split across ranks (batch k on rank k mod world) and their features and SWD patches
    gathered; real images, PPL, SelfSSIM and distortion run on rank 0, which alone returns the records."""
    from spatialgan.imageutils import to_uint8

    options = options or EvalOptions()
    main = dist is None or dist.is_main
    names = parse_metrics(",".join(names))
    if options.num < 2:
        raise SpatialGANError("metrics need at least 2 samples (--num)")
    need_data = [n for n in names if n in FEATURE_METRICS or n == "swd"]
    dataset = collector_real = collector_fake = None
    if need_data:
        from spatialgan.data.dataset import ImageDataset

        if not data:
            raise SpatialGANError(f"{', '.join(need_data)} compare with real images: pass --data PATH")
        dataset = ImageDataset(data, cfg.resolution)
    num_real = min(len(dataset), options.num_real or options.num) if dataset is not None else 0
    if dataset is not None and num_real < 2:
        raise SpatialGANError(f"dataset {data} has fewer than 2 images")
    if extractor is None and any(n in FEATURE_METRICS for n in names):
        from spatialgan.metrics.features import build_extractor

        extractor = build_extractor(options.features, options.feature_weights,
                                    device or next(G.parameters()).device)
    if not any(n in FEATURE_METRICS for n in names):
        extractor = None
    real = cache_path = None
    if extractor is not None and main:
        cache_path = feature_cache_path(dataset, num_real, extractor, options.cache_dir)
        real = load_cached_features(cache_path)
    if "swd" in names:
        from spatialgan.metrics.swd import PatchCollector

        collector_real = PatchCollector(cfg.resolution, options.seed)
        collector_fake = PatchCollector(cfg.resolution, options.seed + 1)
    if main and (collector_real is not None or (extractor is not None and real is None)):
        # One pass over the real images feeds both the SWD patches and (on a cache miss) the features.
        real_feats = []
        for images in real_images(dataset, num_real, options.batch):
            if collector_real is not None:
                collector_real.add(images)
            if extractor is not None and real is None:
                real_feats.append(extractor(images))
        if real_feats:
            real = torch.cat(real_feats)
            store_cached_features(cache_path, real)
    fake_feats = []
    if extractor is not None or collector_fake is not None:
        device_g = next(G.parameters()).device
        # The layers' random noise uses the global RNG: seed it for reproducibility, and restore it afterwards so
        # that evaluating during training does not change the training run.
        with torch.random.fork_rng(devices=[device_g] if device_g.type == "cuda" else []):
            rank, world = (dist.rank, dist.world) if dist is not None else (0, 1)
            torch.manual_seed(options.seed + rank)
            gen = torch.Generator().manual_seed(options.seed)
            done, k = 0, -1
            while done < options.num:
                n = min(options.batch, options.num - done)
                z = torch.randn(n, *hooks.latent_shape(), generator=gen).to(device_g)    # every rank draws every z
                done, k = done + n, k + 1
                if k % world != rank:
                    continue
                images = hooks.sample_images(G, z, options.truncation_psi, "random")
                uint8 = torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2).contiguous()
                if extractor is not None:
                    fake_feats.append(extractor(uint8))
                if collector_fake is not None:
                    collector_fake.add(uint8)
        fake_feats = _gather_lists(fake_feats, dist)
        if collector_fake is not None:
            collector_fake.patches = [_gather_lists(level, dist) for level in collector_fake.patches]
    if not main:
        return []

    results = []
    if extractor is not None:
        fake = torch.cat(fake_feats)
        common = {"feature_extractor": extractor.label, "feature_protocol": extractor.protocol,
                  "num_real": num_real, "data": str(data)}
        for name in names:
            if name == "fid":
                from spatialgan.metrics.fid import fid_from_features

                results.append(_record("fid", fid_from_features(real, fake), "Fréchet distance of Gaussian fits "
                                       "(unbiased covariance)", options, options.num, **common))
            elif name == "kid":
                from spatialgan.metrics.kid import kid

                results.append(_record("kid", kid(real, fake, seed=options.seed), "unbiased MMD^2, cubic polynomial "
                                       "kernel, 100 subsets of min(1000, n)", options, options.num, **common))
            elif name == "pr":
                from spatialgan.metrics.precision_recall import precision_recall

                p, r = precision_recall(real, fake, k=3)
                for metric, value in (("precision", p), ("recall", r)):
                    results.append(_record(metric, value, "improved precision/recall, k-NN radii with k = 3",
                                           options, options.num, **common))
    for name in names:
        if name == "swd":
            from spatialgan.metrics.swd import PROTOCOL, swd_from_collectors

            out = swd_from_collectors(collector_real, collector_fake, options.seed)
            results.append(_record("swd", out["value"], PROTOCOL, options, options.num, num_real=num_real,
                                   per_level=out["per_level"], data=str(data)))
        elif name == "ppl":
            from spatialgan.metrics.ppl import EPSILON, filtered_mean, path_lengths

            distance, metric = None, "ppl_pixel"
            measure = ("mean squared pixel difference in [-1, 1] (no LPIPS weights given; not comparable with "
                       "published PPL)")
            if options.lpips_dir or os.environ.get("SPATIALGAN_LPIPS"):
                from spatialgan.metrics.lpips import load_lpips, lpips_distance_for_ppl

                distance = lpips_distance_for_ppl(load_lpips(options.lpips_dir).to(next(G.parameters()).device))
                metric, measure = "ppl", "LPIPS (VGG16, v0.1), images above 256 px area-downsampled to 256"
            lengths = path_lengths(G, hooks, options.num, options.batch, options.ppl_sampling, options.seed,
                                   distance)
            results.append(_record(metric, filtered_mean(lengths),
                                   f"PPL in W, sampling '{options.ppl_sampling}', epsilon {EPSILON:g}, distance = "
                                   f"{measure}, 1-99 percentile filter", options, options.num))
        elif name == "selfssim":
            from spatialgan.metrics.selfssim import PROTOCOL, self_ssim

            def render(z, resolution):
                return hooks.render_full_frame(G, z, resolution, options.truncation_psi)

            resolutions = [cfg.resolution * k for k in options.selfssim_scales]
            if min(resolutions) < 11:
                raise SpatialGANError(f"selfssim compares renders with an 11x11 SSIM window; the smallest render "
                                      f"({min(resolutions)} px) is too small")
            gen = torch.Generator().manual_seed(options.seed)
            z = torch.randn(options.num, *hooks.latent_shape(), generator=gen).to(next(G.parameters()).device)
            results.append(_record("selfssim", self_ssim(render, z, resolutions, options.batch),
                                   f"{PROTOCOL}; resolutions {resolutions}", options, options.num))
        elif name == "distortion":
            if cfg.model != "ssn":
                raise SpatialGANError(f"distortion needs an SSN checkpoint; this one holds {cfg.model}")
            from spatialgan.metrics.distortion import distortion

            d = distortion(G, options.num, options.batch, options.seed, options.truncation_psi)
            results.append(_record("distortion", d["value"], d["protocol"], options, d["num_samples"]))
    return results


def format_table(results: list[dict]) -> str:
    lines = [f"{'metric':<12} {'value':>12}  samples  notes"]
    for r in results:
        note = r.get("feature_extractor", "")
        if "per_level" in r:
            note = "per level " + ", ".join(f"{v:.3f}" for v in r["per_level"])
        lines.append(f"{r['metric']:<12} {r['value']:>12.6g}  {r['num_samples']:>7}  {note}")
    return "\n".join(lines)
