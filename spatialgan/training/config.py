"""The training configuration: every hyperparameter of a run, stored in each checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from spatialgan import SpatialGANError


@dataclass
class TrainConfig:
    model: str = "stylegan2"
    data: str | None = None
    outdir: str = "runs/run"
    resolution: int = 32
    batch: int = 32
    kimg: float = 100.0
    # Architecture
    width: int | None = None         # channel_max; None: 512 on CUDA, 128 on CPU (a CPU cannot train 512 wide)
    channel_base: int = 32768        # channels at resolution r: min(channel_base / r, width)
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    upsample: str = "bilinear"
    downsample: str = "fir"
    latent_rows: int = 4             # SSN: latent block grid
    latent_cols: int = 4
    cips_layers: int = 14            # CIPS: modulated FC layers (a ToRGB after every second)
    coord_embedding: bool = True     # CIPS: learned coordinate embeddings (False: CIPS-NE)
    panorama_frames: float | None = None  # CIPS: cylindrical coordinates, 360 degrees = this many frame widths
    patch_size: int | None = None    # CIPS: train on P x P patches of random regions (D sees patches)
    cips_channels: list | None = None     # CIPS: width of each layer pair (None: all --width; official: 512..128)
    multiscale: bool = True          # ScaleParty: train on random regions at two sizes and random scales
    small_size: int | None = None    # ScaleParty: r_small (default resolution / 2); r_large = 1.5 r_small
    scale_min: float = 0.6           # ScaleParty: region side as a fraction of the frame, uniform in [min, max]
    scale_max: float = 1.0
    interscale: str = "mix"          # ScaleParty: inter-scale augmentation: mix (CutMix + ChannelMix), l1, none
    interscale_prob: float = 0.2     # ScaleParty: probability that a sample is also rendered at the other size
    lambda_interscale: float = 1.0   # ScaleParty: weight of the L1 consistency (interscale = l1)
    # Optimisation
    lr: float = 0.0025
    beta1: float = 0.0
    beta2: float = 0.99
    gamma: float | None = None       # R1 weight; None: StyleGAN2-ADA heuristic 0.0002 * res^2 / batch
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing: float = 0.9
    lambda_distortion: float = 100.0  # SSN: weight of the distortion regularizer R_D
    distortion_interval: int = 4      # SSN: R_D every N steps (lazy, weight scaled by N), on half the batch
    ema_kimg: float | None = None    # EMA half-life in kimg; None: batch * 10 / 32
    ema_rampup: float | None = 0.05
    # Data
    crop: str = "center"
    xflip: bool = False
    workers: int | None = None       # None: 0 on CPU, 3 on CUDA
    init_from: str | None = None     # start G (and D) from this checkpoint: ours, or a rosinality .pt
    # Run
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    fp16_res: int = 0                # float16 in the N highest-resolution blocks of G and D, clamped (ADA: 4)
    compile: bool = False            # torch.compile G's map/synthesis and D for the main G and D phases
    channels_last: bool | None = None  # None: NHWC on CPU (~12% faster there), NCHW on CUDA (faster there, measured)
    tick_kimg: float = 1.0
    snap_kimg: float = 10.0
    keep: int = 0                    # snapshots to keep (0: all)
    grid: int = 64                   # images in each snapshot grid
    # Evaluation at each snapshot (logged as Metrics/<name> to stats.jsonl and TensorBoard)
    metrics: str = ""                # comma list, e.g. "swd,fid"; empty: none
    metrics_num: int = 2000          # generated samples per evaluation
    metrics_features: str = "inception"  # or "resnet20" (proxy)
    metrics_weights: str | None = None   # feature-extractor weights file

    def __post_init__(self):
        if self.width is None:
            import torch

            on_cuda = self.device.startswith("cuda") or (self.device == "auto" and torch.cuda.is_available())
            self.width = 512 if on_cuda else 128
        if self.channels_last is None:
            import torch

            self.channels_last = not (self.device.startswith("cuda") or
                                      (self.device == "auto" and torch.cuda.is_available()))
        if self.amp and self.fp16_res:
            raise SpatialGANError("choose bf16 autocast (--amp) or float16 high-resolution blocks (--fp16-res), "
                                  "not both")
        if self.gamma is None:
            self.gamma = 0.0002 * self.resolution ** 2 / self.batch
        if self.ema_kimg is None:
            self.ema_kimg = self.batch * 10 / 32
        if self.batch < 1:
            raise SpatialGANError(f"--batch must be positive, got {self.batch}")
        if self.pl_weight > 0 and self.batch // self.pl_batch_shrink < 1:
            raise SpatialGANError("--batch is too small for the path-length batch shrink")
        if self.beta1 != float(self.beta1) or self.beta2 != float(self.beta2):
            raise SpatialGANError("Adam betas must be numbers")
        self.beta1, self.beta2 = float(self.beta1), float(self.beta2)
        if self.metrics:
            from spatialgan.metrics.evaluate import parse_metrics

            self.metrics = ",".join(parse_metrics(self.metrics))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
