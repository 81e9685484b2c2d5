"""Runs registered metrics on one model: each shared pass (real/generated features, SWD patches) once; the report."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from spatialgan import SpatialGANError
from spatialgan.metrics.registry import (
    FAKE_FEATURES,
    FAKE_PATCHES,
    FAKE_SPECTRA,
    REAL_FEATURES,
    REAL_PATCHES,
    REAL_SPECTRA,
    metrics,
    parse_metrics,
)
from spatialgan.models.interface import ANY_SCALE, require
from spatialgan.options import option, validate

DEFAULT_CACHE = Path(os.environ.get("SPATIALGAN_CACHE", "~/.cache/spatialgan")).expanduser() / "real-features"


@dataclass
class EvalOptions:
    """How metrics are computed (declared options: `spatialgan evaluate`'s flags come from here)."""

    num: int = option(10000, "number of generated samples", low=2)
    num_real: int | None = option(None, "real images (default: min(dataset size, --num))", low=2)
    seed: int = option(0, "seed of the latents, noise and metric draws", low=0)
    batch: int = option(64, "images per batch", low=1, high=1 << 16)
    truncation_psi: float = option(1.0, "truncation psi of the generated samples", low=-1, high=2)
    features: str = option("inception", "features for fid/kid/pr (vgg16: fc2, the features precision/recall's "
                           "authors use; resnet20: a CIFAR-10 proxy for 32x32 data)",
                           choices=("inception", "vgg16", "resnet20"))
    feature_weights: str | None = option(None, "weights file of the feature extractor", cli=False)
    cache_dir: str | None = option(None, "real-feature cache (default ~/.cache/spatialgan; empty: no cache)")
    ppl_sampling: str = option("end", "PPL path sampling", choices=("end", "full"), cli=False)
    selfssim_scales: tuple = option((1.25, 1.5, 1.75, 2.0), "SelfSSIM render resolutions as multiples of the "
                                    "trained one (official: 1.25-2)", cli=False)
    scales: tuple | None = option(None, "also evaluate at these multiples of the trained resolution (e.g. "
                                  "0.5,0.75,1,1.25,1.5): full-frame renders against real images loaded at each size, "
                                  "never upsampled (fid, kid, pr, swd, spectrum; models with any_scale)",
                                  parse=lambda text: parse_scales(text))
    noise: str | None = option(None, "noise policy of the generated images (default: the model's own; ScaleParty: "
                               "grid, const, random, none; Table 3 of its paper)",
                               choices=("grid", "const", "random", "none"))
    lpips_dir: str | None = option(None, "folder with vgg16-397923af.pth and LPIPS vgg.pth: PPL with LPIPS (or set "
                                   "SPATIALGAN_LPIPS); without it ppl is the pixel-space variant")

    def __post_init__(self):
        validate(self)


SCALED_METRICS = ("fid", "kid", "pr", "swd", "spectrum")


def parse_scales(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(v) and 0.05 <= v <= 16 for v in values):
        raise SpatialGANError(f"--scales takes comma-separated multiples of the trained size in 0.05..16, got {text!r}")
    return values


class ScaledAdapter:
    """A model's full frame rendered at another resolution, seen by the metrics as a model of that size."""

    def __init__(self, adapter, resolution: int):
        self.inner, self.spec, self.G, self.device = adapter, adapter.spec, adapter.G, adapter.device
        self.noise_modes, self.default_noise = adapter.noise_modes, adapter.default_noise
        self.config = copy.copy(adapter.config)
        self.config.resolution = resolution           # not a training config any more: no validation

    def latent_shape(self) -> tuple[int, ...]:
        return self.inner.latent_shape()

    def sample(self, z, truncation_psi: float = 1.0, noise_mode: str | None = None):
        return self.inner.render_full_frame(z, self.config.resolution, truncation_psi, noise_mode)


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


def load_cached_features(path: Path | None, rows: int | None = None) -> torch.Tensor | None:
    """The cached features, or None (recompute) when absent, unreadable, of the wrong shape or not finite."""
    from safetensors.torch import load_file

    if path is None or not path.is_file():
        return None
    try:
        features = load_file(str(path))["features"]
        usable = (features.is_floating_point() and features.ndim == 2 and features.shape[1] > 0
                  and (rows is None or features.shape[0] == rows) and bool(torch.isfinite(features).all()))
    except Exception:   # a damaged cache file is recomputed, never trusted
        usable = False
    if not usable:
        print(f"warning: ignoring unreadable feature cache {path}; recomputing it", file=sys.stderr)
        return None
    return features.float()


def store_cached_features(path: Path | None, features: torch.Tensor) -> None:
    from safetensors.torch import save_file

    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({"features": features.contiguous()}, str(tmp))
    os.replace(tmp, path)


@dataclass
class EvalContext:
    """What a metric's compute function reads: the model, the options and the shared passes' results."""

    adapter: object
    options: EvalOptions
    data: str | None = None
    num_real: int = 0
    extractor: object = None
    real_features: torch.Tensor | None = None
    fake_features: torch.Tensor | None = None
    real_patches: object = None
    fake_patches: object = None
    real_spectra: object = None
    fake_spectra: object = None
    feature_info: dict = field(default_factory=dict)

    @property
    def config(self):
        return self.adapter.config

    def record(self, metric, value, protocol, num=None, **extra) -> dict:
        return {"metric": metric, "value": value, "protocol": protocol,
                "num_samples": self.options.num if num is None else num, "seed": self.options.seed, **extra}


@torch.no_grad()
def _gather_lists(local: list, dist) -> list:
    """Every rank's list items, rank by rank (distributed evaluation); the list itself in one process."""
    if dist is None or not dist.enabled:
        return local
    import torch.distributed as tdist

    gathered: list = [None] * dist.world
    tdist.all_gather_object(gathered, [t.cpu() if isinstance(t, torch.Tensor) else t for t in local])
    return [item for part in gathered for item in part]


def _open_dataset(ctx: EvalContext, names: list[str]):
    from spatialgan.data.dataset import ImageDataset

    if not ctx.data:
        raise SpatialGANError(f"{', '.join(names)} compare with real images: pass --data PATH")
    # At another scale the reals must really have that many pixels: a render is never compared with upsampled data.
    dataset = ImageDataset(ctx.data, ctx.config.resolution, allow_upscale=not isinstance(ctx.adapter, ScaledAdapter))
    ctx.num_real = min(len(dataset), ctx.options.num_real or ctx.options.num)
    if ctx.num_real < 2:
        raise SpatialGANError(f"dataset {ctx.data} has fewer than 2 images")
    return dataset


def _real_pass(ctx: EvalContext, dataset, needs: set) -> None:
    """One pass over the real images feeds the SWD patches and (on a cache miss) the features."""
    from spatialgan.metrics.swd import PatchCollector

    options, cache_path = ctx.options, None
    if REAL_FEATURES in needs:
        cache_path = feature_cache_path(dataset, ctx.num_real, ctx.extractor, options.cache_dir)
        ctx.real_features = load_cached_features(cache_path, ctx.num_real)
    if REAL_PATCHES in needs:
        ctx.real_patches = PatchCollector(ctx.config.resolution, options.seed)
    if REAL_SPECTRA in needs:
        from spatialgan.metrics.spectrum import SpectrumAccumulator

        ctx.real_spectra = SpectrumAccumulator()
    want_features = REAL_FEATURES in needs and ctx.real_features is None
    if not want_features and ctx.real_patches is None and ctx.real_spectra is None:
        return
    feats = []
    for images in real_images(dataset, ctx.num_real, options.batch):
        if ctx.real_patches is not None:
            ctx.real_patches.add(images)
        if ctx.real_spectra is not None:
            ctx.real_spectra.add(images)
        if want_features:
            feats.append(ctx.extractor(images))
    if feats:
        ctx.real_features = torch.cat(feats)
        store_cached_features(cache_path, ctx.real_features)


@torch.no_grad()
def _fake_pass(ctx: EvalContext, needs: set, dist) -> None:
    """Generated images for the features and patches, split across ranks under torch.distributed."""
    from spatialgan.imageutils import to_uint8
    from spatialgan.metrics.swd import PatchCollector

    options, adapter = ctx.options, ctx.adapter
    patches = PatchCollector(ctx.config.resolution, options.seed + 1) if FAKE_PATCHES in needs else None
    if FAKE_SPECTRA in needs:
        from spatialgan.metrics.spectrum import SpectrumAccumulator

        ctx.fake_spectra = SpectrumAccumulator()
    feats, device = [], adapter.device
    # The layers' random noise uses the global RNG: seed it for reproducibility, and restore it afterwards so that
    # evaluating during training does not change the training run.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        rank, world = (dist.rank, dist.world) if dist is not None else (0, 1)
        torch.manual_seed(options.seed + rank)
        gen = torch.Generator().manual_seed(options.seed)
        done, k = 0, -1
        while done < options.num:
            n = min(options.batch, options.num - done)
            z = torch.randn(n, *adapter.latent_shape(), generator=gen).to(device)    # every rank draws every z
            done, k = done + n, k + 1
            if k % world != rank:
                continue
            images = adapter.sample(z, options.truncation_psi, options.noise or "random")
            uint8 = torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2).contiguous()
            if FAKE_FEATURES in needs:
                feats.append(ctx.extractor(uint8))
            if patches is not None:
                patches.add(uint8)
            if ctx.fake_spectra is not None:
                ctx.fake_spectra.add(uint8)
    if FAKE_FEATURES in needs:
        ctx.fake_features = torch.cat(_gather_lists(feats, dist))
    if patches is not None:
        patches.patches = [_gather_lists(level, dist) for level in patches.patches]
        ctx.fake_patches = patches


def evaluate(adapter, names: list[str], data: str | None, options: EvalOptions | None = None, extractor=None,
             dist=None) -> list[dict]:
    """Metric records (metric, value, protocol, num_samples, seed, ...) in the order asked, for a model's
    inference adapter. `extractor` reuses an already built feature extractor (training builds it once).

    With `dist` (a DistributedContext of several ranks, all calling this), the generated images of the shared
    passes are split across ranks (batch k on rank k mod world) and gathered; real images and the other metrics
    run on rank 0, which alone returns the records."""
    options = options or EvalOptions()
    if options.scales:
        return _evaluate_at_scales(adapter, names, data, options, extractor, dist)
    main = dist is None or dist.is_main
    chosen = [metrics()[n] for n in parse_metrics(",".join(names))]
    if options.num < 2:
        raise SpatialGANError("metrics need at least 2 samples (--num)")
    if options.noise is not None and options.noise not in adapter.noise_modes:
        raise SpatialGANError(f"--noise {options.noise}: this {adapter.spec.name} model's noise policies are "
                              f"{', '.join(adapter.noise_modes)}")
    for metric in chosen:
        if metric.capability:
            require(adapter.spec, metric.capability, f"metric {metric.name}")
    needs = set().union(*(m.needs for m in chosen))
    ctx = EvalContext(adapter, options, data)
    if needs & {REAL_FEATURES, REAL_PATCHES, REAL_SPECTRA}:
        dataset = _open_dataset(ctx, [m.name for m in chosen if m.needs])
    if needs & {REAL_FEATURES, FAKE_FEATURES}:
        from spatialgan.metrics.features import build_extractor

        ctx.extractor = extractor or build_extractor(options.features, options.feature_weights, adapter.device)
        ctx.feature_info = {"feature_extractor": ctx.extractor.label, "feature_protocol": ctx.extractor.protocol,
                            "num_real": ctx.num_real, "data": str(data)}
    if main and needs & {REAL_FEATURES, REAL_PATCHES, REAL_SPECTRA}:
        _real_pass(ctx, dataset, needs)
    if needs & {FAKE_FEATURES, FAKE_PATCHES, FAKE_SPECTRA}:
        _fake_pass(ctx, needs, dist)
    if not main:
        return []
    return [record for metric in chosen for record in metric.compute(ctx)]


def _evaluate_at_scales(adapter, names, data, options, extractor, dist) -> list[dict]:
    """evaluate() once per scale k on the full frame rendered at round(k R), against reals loaded at that size
    (the ScaleParty paper's Fig. 3 protocol); each record gains 'scale' and 'resolution'."""
    names = parse_metrics(",".join(names))
    other = [n for n in names if n not in SCALED_METRICS]
    if other:
        raise SpatialGANError(f"--scales applies to {', '.join(SCALED_METRICS)}; not to {', '.join(other)}")
    require(adapter.spec, ANY_SCALE, "evaluating at other scales (--scales)")
    records = []
    for k in options.scales:
        size = max(8, round(k * adapter.config.resolution))
        at = evaluate(ScaledAdapter(adapter, size), names, data, dataclasses.replace(options, scales=None),
                      extractor, dist)
        records += [dict(r, scale=k, resolution=size) for r in at]
    return records


def options_from_args(args, given: dict) -> tuple[EvalOptions, list[str]]:
    """EvalOptions and metric names from `spatialgan evaluate`'s flags, checked before any work."""
    names = parse_metrics(args.metrics)
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise SpatialGANError(f"--out {args.out}: the folder does not exist")
    options = EvalOptions(**given)
    options.feature_weights = {"inception": args.inception_weights, "vgg16": args.vgg16_weights,
                               "resnet20": args.resnet20_weights}[options.features]
    if args.no_cache:
        options.cache_dir = ""
    return options, names


def evaluate_to_report(model, names: list[str], data, options: EvalOptions, out=None, source: str = "") -> str:
    """Runs `evaluate` on a loaded Model, writes the JSON report to `out` (if given) and returns the table."""
    import json

    from spatialgan.atomic import write_atomic

    check_report_path(out)
    results = evaluate(model.adapter, names, data, options)
    if out:
        report = json.dumps({"checkpoint": source, "model": model.name, "results": results}, indent=1)
        write_atomic(out, report.encode())
    return format_table(results)


def check_report_path(out) -> None:
    """A report is a .json file in an existing folder; nothing else (a snapshot above all) is ever replaced."""
    if not out:
        return
    path = Path(out)
    if path.suffix.lower() != ".json":
        raise SpatialGANError(f"--out {out}: a report needs a .json path")
    if not path.parent.is_dir():
        raise SpatialGANError(f"--out {out}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise SpatialGANError(f"--out {out} is a folder")


def format_table(results: list[dict]) -> str:
    lines = [f"{'metric':<12} {'value':>12}  samples  notes"]
    for r in results:
        note = r.get("feature_extractor", "")
        if "per_level" in r:
            note = "per level " + ", ".join(f"{v:.3f}" for v in r["per_level"])
        if "scale" in r:
            note = f"scale {r['scale']:g} ({r['resolution']} px) " + note
        lines.append(f"{r['metric']:<12} {r['value']:>12.6g}  {r['num_samples']:>7}  {note}")
    return "\n".join(lines)
