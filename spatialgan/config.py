"""The run configuration: the engine's options plus every model's own, stored flat in each checkpoint.

`CoreOptions` are the options every model shares; each model package declares its own dataclass
(spatialgan.models.<name>.options), and `TrainConfig` is their union, so old flat checkpoints keep loading and
`cfg.latent_rows` reads the same as `cfg.lr`. Every value is checked against its declaration on construction.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import MISSING, asdict, dataclass, fields

from spatialgan import SpatialGANError
from spatialgan.autocast import AMP_MODES, check_amp
from spatialgan.core.discriminator import D_LAYOUTS
from spatialgan.models.interface import ADA_RECIPE
from spatialgan.options import option, validate
from spatialgan.registry import MODELS, get_model

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:[0-9]+)?")
ARCH, OPTIM, DATA, RUN, METRICS = "architecture", "optimisation", "data", "run", "evaluation at snapshots"
AUGMENT = "discriminator augmentation"
AUGMENT_MODES = ("none", "ada", "fixed", "diffaug")


RECIPES = ("paper", "ada")


def default_ema_kimg(batch: int) -> float:
    """StyleGAN2-ADA's G_ema half-life: 10 kimg at batch 32, proportional to the batch."""
    return batch * 10 / 32


def recipe_help(name: str) -> str:
    """' (from --recipe: paper: stylegan2 10, ssn 1, ...; ada: ...)' for an option the recipes set."""
    parts = []
    for recipe in RECIPES:
        values = [(m, spec.recipes.get(recipe, {}).get(name, "-")) for m, spec in MODELS.items()]
        shown = {v for _, v in values}
        text = (f"{next(iter(shown))}" if len(shown) == 1 else
                ", ".join(f"{m} {v}" for m, v in values))
        parts.append(f"{recipe}: {text}")
    return " (from --recipe: " + "; ".join(parts).replace("None", "0.0002 res^2/batch") + ")"


@dataclass
class CoreOptions:
    model: str = option("stylegan2", f"model to train: {', '.join(MODELS)}", group=RUN)
    data: str | None = option(None, "folder, .zip or LMDB of images", group=DATA)
    outdir: str = option("runs/run", "run folder (checkpoints, stats, grids)", group=RUN)
    resolution: int = option(32, "output resolution (a power of two)", low=4, high=8192, group=ARCH)
    batch: int = option(32, "batch size (the global batch under torchrun)", low=1, high=1 << 16, group=OPTIM)
    kimg: float = option(100.0, "training length in thousands of real images", low=1e-6, group=RUN)
    width: int | None = option(None, "maximum channel count (default 512 on CUDA, 128 on CPU)", low=1,
                               high=1 << 14, group=ARCH)
    channel_base: int = option(32768, "channels at resolution r: min(channel_base / r, width)", low=1, group=ARCH)
    z_dim: int = option(512, "latent size", low=1, high=1 << 14, group=ARCH)
    w_dim: int = option(512, "style size", low=1, high=1 << 14, group=ARCH)
    mapping_layers: int = option(8, "mapping network depth", low=1, high=64, group=ARCH)
    upsample: str | None = option(None, "generator upsampling (fir: StyleGAN2's own, exact for rosinality "
                                  f"transfer){recipe_help('upsample')}", choices=("bilinear", "fir"), group=ARCH)
    conv_clamp: float | None = option(None, "clamp G's layer outputs to +-X in every precision (StyleGAN2-ADA's "
                                      "conv_clamp, read from its pickles; default: only float16 regions, at 256)",
                                      low=0, group=ARCH)
    downsample: str = option("fir", "discriminator downsampling", choices=("fir", "avg"), group=ARCH)
    d_layout: str = option("stylegan2", "discriminator down convs: stylegan2 (blur, then the 3x3 conv at stride 2, "
                           "as NVIDIA's and rosinality's D, so their weights load) or down-first (downsample, then "
                           "the conv at the low resolution: this library's first D)", choices=D_LAYOUTS, group=ARCH,
                           legacy="down-first")
    recipe: str = option("paper", "training defaults: paper (each model's paper and official code) or ada "
                         "(StyleGAN2-ADA's optimiser values only: heuristic R1 weight, lr 0.0025, bilinear; "
                         "augmentation is --augment, on with either recipe); the flags marked 'from --recipe' "
                         "override single values", choices=RECIPES, group=OPTIM, legacy="ada")
    augment: str = option("ada", "what D's inputs go through: ada (StyleGAN2-ADA's bgc pipeline, p adapted to D's "
                          "overfitting; p stays 0 while D does not overfit), fixed (bgc at --augment-p), diffaug "
                          "(DiffAugment: colour, translation, cutout) or none (the papers' own training)",
                          choices=AUGMENT_MODES, group=AUGMENT, legacy="none")
    augment_p: float = option(0.0, "augmentation probability: ada's start, fixed's value", low=0, high=1,
                              group=AUGMENT)
    ada_target: float = option(0.6, "ada: target of r_t = E[sign(D(real))]; p rises while r_t is above it", low=0,
                               high=1, group=AUGMENT)
    ada_kimg: float = option(500.0, "ada: kimg for p to move from 0 to 1 at steady overfitting", low=1e-3,
                             group=AUGMENT)
    lr: float | None = option(None, f"Adam learning rate (G and D){recipe_help('lr')}", low=0, high=1,
                              group=OPTIM)
    beta1: float = option(0.0, "Adam beta1", low=0, high=0.999999, group=OPTIM)
    beta2: float = option(0.99, "Adam beta2", low=0, high=0.999999, group=OPTIM)
    gamma: float | None = option(None, f"R1 weight{recipe_help('gamma')}", low=0, group=OPTIM)
    r1_interval: int = option(16, "R1 every N steps (lazy)", low=1, group=OPTIM)
    pl_weight: float | None = option(None, f"path-length regularizer weight{recipe_help('pl_weight')}", low=0,
                                     group=OPTIM)
    pl_interval: int = option(4, "path length every N steps (lazy)", low=1, group=OPTIM)
    pl_batch_shrink: int = option(2, "path length on batch / N samples", low=1, group=OPTIM)
    pl_decay: float = option(0.01, "decay of the path-length running mean", low=0, high=1, group=OPTIM)
    style_mixing: float | None = option(None, f"style mixing probability{recipe_help('style_mixing')}", low=0,
                                        high=1, group=OPTIM)
    g_adam_interval: int | None = option(None, "G's Adam lr and beta2 take the lazy-regularisation correction "
                                         "(x N/(N+1), ^N/(N+1)) for this interval; 0: path length's when it is "
                                         f"on{recipe_help('g_adam_interval')}", low=0, high=1 << 16, group=OPTIM,
                                         legacy=0)
    ema_kimg: float | None = option(None, "G_ema half-life in kimg (default batch * 10 / 32; with --init-from, the "
                                    "source run's)", low=0, group=OPTIM)
    ema_rampup: float | None = option(None, "G_ema ramp-up: the half-life is capped at this fraction of the images "
                                      f"seen; 0: none{recipe_help('ema_rampup')}; with --init-from 0, so the "
                                      "source's G_ema is kept", low=0, group=OPTIM, legacy=0.05)
    crop: str = option("center", "how reals are made square", choices=("center", "random", "none"), group=DATA)
    xflip: bool = option(False, "random horizontal flips of reals", group=DATA)
    workers: int | None = option(None, "data loader processes (default 0 on CPU, 3 on CUDA)", low=0, high=256,
                                 group=DATA)
    init_from: str | None = option(None, "start from a trained StyleGAN2: our checkpoint, a rosinality .pt or a "
                                   "StyleGAN2-ADA .pkl (SSN's transfer recipe)", group=RUN)
    seed: int = option(0, "random seed", low=0, high=2 ** 63 - 1, group=RUN)
    device: str = option("auto", "auto, cpu, cuda or cuda:N", group=RUN)
    amp: str = option("auto", "bf16 autocast: auto (only where it measured faster for this configuration on this "
                      "machine; fp32 on CPUs without bf16 units), bf16 or off", choices=AMP_MODES, group=RUN,
                      legacy="off")
    fp16_res: int = option(0, "float16 in the N highest-resolution blocks of G and D, activations clamped to "
                           "+-256 (StyleGAN2-ADA uses 4)", low=0, high=16, group=RUN)
    compile: bool = option(False, "torch.compile the networks for the main G and D phases (regularizers stay "
                           "eager)", group=RUN)
    channels_last: bool | None = option(None, "NHWC tensors (default: on CPU, where it measured ~12% faster)",
                                        cli=False, group=RUN)
    tick_kimg: float = option(1.0, "kimg between stats lines", low=1e-6, group=RUN)
    snap_kimg: float = option(10.0, "kimg between snapshots", low=1e-6, group=RUN)
    keep: int = option(0, "snapshots to keep (0: all)", low=0, group=RUN)
    grid: int = option(64, "images in each snapshot grid", low=1, high=1024, group=RUN)
    metrics: str = option("", "metrics at each snapshot, comma list such as swd,fid (see `evaluate`)",
                          group=METRICS)
    metrics_num: int = option(2000, "generated samples per evaluation", low=2, group=METRICS)
    metrics_features: str = option("inception", "features for fid/kid/pr (resnet20: a CIFAR-10 proxy)",
                                   choices=("inception", "resnet20"), group=METRICS)
    metrics_weights: str | None = option(None, "weights file of the feature extractor", group=METRICS)


class _ConfigBehaviour:
    """Defaults that depend on other options, checks across options, and flat (de)serialisation."""

    def __post_init__(self):
        validate(self)
        get_model(self.model)                       # a clear error listing the registered models
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise SpatialGANError(f"device (--device) must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        import torch

        on_cuda = self.device.startswith("cuda") or (self.device == "auto" and torch.cuda.is_available())
        if self.width is None:
            self.width = 512 if on_cuda else 128    # a CPU cannot train 512 wide
        if self.channels_last is None:
            self.channels_last = not on_cuda        # NCHW measured faster on CUDA
        if self.d_layout == "stylegan2" and self.downsample != "fir":
            raise SpatialGANError("--d-layout stylegan2 blurs with StyleGAN2's FIR filter; with --downsample avg "
                                  "pass --d-layout down-first")
        if self.amp == "bf16" and self.fp16_res:
            raise SpatialGANError("choose bf16 autocast (--amp) or float16 high-resolution blocks (--fp16-res), "
                                  "not both")
        if self.resolution & (self.resolution - 1):
            raise SpatialGANError(f"resolution (--resolution) must be a power of two, got {self.resolution}")
        if self.init_from and self.ema_rampup is None:
            self.ema_rampup = 0.0                   # a ramp-up would overwrite the transferred G_ema with G at once
        self.apply_recipe()
        if self.gamma is None:
            self.gamma = 0.0002 * self.resolution ** 2 / self.batch
        if self.ema_kimg is None and not self.init_from:    # with --init-from: the source's (set by the trainer)
            self.ema_kimg = default_ema_kimg(self.batch)
        if self.pl_weight > 0 and self.batch // self.pl_batch_shrink < 1:
            raise SpatialGANError("--batch is too small for the path-length batch shrink")
        if self.metrics:
            from spatialgan.metrics.registry import parse_metrics

            self.metrics = ",".join(parse_metrics(self.metrics))

    def apply_recipe(self) -> None:
        """Options left unset (None) take the model's recipe values; the resolved values are what is saved."""
        for name, value in {**ADA_RECIPE, **self.spec.recipes.get(self.recipe, {})}.items():
            if getattr(self, name) is None:        # a model without recipes runs StyleGAN2-ADA's values
                setattr(self, name, value)

    @property
    def spec(self):
        return get_model(self.model)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """From flat keys (every checkpoint so far); unknown keys are ignored, and options a checkpoint predates
        take their declared `legacy` value (what that run used), not today's default."""
        known = {f.name for f in fields(cls)}
        if isinstance(values.get("amp"), bool):      # saved before --amp took auto/bf16/off
            values = {**values, "amp": check_amp(values["amp"])}
        if values.get("distortion_reduction") == "sum":      # its name before the paper's scale was added
            values = {**values, "distortion_reduction": "one-block-sum"}
        older = {f.name: f.metadata["legacy"] for f in fields(cls)
                 if f.name not in values and f.metadata.get("legacy", MISSING) is not MISSING}
        return cls(**older, **{k: v for k, v in values.items() if k in known})


def _union_fields() -> list[tuple]:
    specs, seen = [], set()
    for cls in [CoreOptions] + [spec.options for spec in MODELS.values() if spec.options is not None]:
        for f in fields(cls):
            if f.name in seen:
                raise TypeError(f"option {f.name} is declared twice")
            seen.add(f.name)
            copy = dataclasses.field(default=f.default, default_factory=f.default_factory, metadata=f.metadata)
            specs.append((f.name, f.type, copy))
    return specs


TrainConfig = dataclasses.make_dataclass("TrainConfig", _union_fields(), bases=(_ConfigBehaviour,))
TrainConfig.__module__ = __name__
TrainConfig.__doc__ = "Every option of a run: CoreOptions plus each registered model's options."


def model_option_fields(name: str) -> list:
    cls = get_model(name).options
    return [] if cls is None else list(fields(cls))
