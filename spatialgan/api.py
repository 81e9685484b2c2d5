"""The Python API: `spatialgan.load(...)` gives a `Model` that samples, resamples SSN blocks and renders regions.

    import spatialgan
    m = spatialgan.load("ssn")                 # a shipped name, a run folder or a checkpoint file
    images = m.sample([0, 1, 2])               # (3, 3, R, R) in [-1, 1]
    edit = m.resample(seed=0, blocks=[(0, 1)], count=4)
    cips = spatialgan.load("cips")
    strip = cips.render(seed=2, size=(256, 64), panorama=True)   # (64, 256, 3) uint8

The CLI and the studio are thin layers over this module. Inference never imports the training engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from spatialgan import SpatialGANError
from spatialgan.autocast import autocast, check_amp, config_key, median_seconds, use_bf16
from spatialgan.checkpoint import load_checkpoint, resolve_checkpoint
from spatialgan.config import TrainConfig
from spatialgan.latents import check_truncation, latent_for_seed
from spatialgan.models.interface import ANY_REGION, RESAMPLE_BLOCKS, WS_INPUT, require
from spatialgan.registry import get_model, make_adapter
from spatialgan.rendering import View, render_region
from spatialgan.runtime import resolve_device

MAX_RESAMPLES = 256          # per call: the resamples and the overview strip stay in memory

# Shipped demo models (see benchmarks/RESULTS.md for how they were trained; G_ema only).
SHIPPED_DIR = Path(__file__).parent / "assets" / "models"
SHIPPED_MODELS = ("ssn", "cips", "scaleparty", "stylegan2")


def shipped_models() -> list[Path]:
    paths = [SHIPPED_DIR / f"{name}.safetensors" for name in SHIPPED_MODELS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise SpatialGANError(f"the shipped demo models are missing ({', '.join(missing)} in {SHIPPED_DIR}); pass "
                              "--ckpt, or rebuild them with scripts/train_photo_models.sh")
    return paths


def resolve_source(source: str | Path | None) -> Path:
    """A checkpoint file, run folder (its newest snapshot) or shipped model name (None: the shipped SSN)."""
    if source is None or (str(source) in SHIPPED_MODELS and not Path(source).exists()):
        return shipped_models()[SHIPPED_MODELS.index(str(source or "ssn"))]
    return resolve_checkpoint(source)


class Model:
    """A trained generator (G_ema) with its config, its model spec and its inference adapter."""

    def __init__(self, G: torch.nn.Module, config: TrainConfig, source: str = "", amp: str = "auto"):
        self.G, self.config, self.source = G, config, source
        self.spec = get_model(config.model)
        self.adapter = make_adapter(self.spec, G, config)
        self.amp = check_amp(amp)
        self._bf16: bool | None = None       # decided on first use (a probe may time both precisions)

    @property
    def bf16(self) -> bool:
        """Whether this model renders under bf16 autocast (--amp; auto: where measured faster here)."""
        if self._bf16 is None:
            key = config_key("infer", self.config)
            self._bf16 = use_bf16(self.amp, self.device, key, self._seconds_per_batch)
        return self._bf16

    def _seconds_per_batch(self, bf16: bool) -> float:
        z = torch.randn(8, *self.adapter.latent_shape(), generator=torch.Generator().manual_seed(0)).to(self.device)
        with torch.no_grad(), autocast(self.device, bf16):
            return median_seconds(lambda: self.adapter.sample(z), self.device)

    def precision(self):
        """The autocast context the model computes under (bf16 or none); tools that call the adapter use it."""
        return autocast(self.device, self.bf16)

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {self.resolution}px, from {self.source or 'memory'})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def capabilities(self) -> frozenset:
        return self.spec.capabilities

    @property
    def device(self) -> torch.device:
        return self.adapter.device

    @property
    def trained_densities(self) -> tuple[float, float]:
        """Pixels per frame height (2 units) the model was trained at, lowest and highest: a render whose
        height / (region height / 2) lies inside is a view it learned; the studio opens there."""
        return self.adapter.trained_densities()

    def can(self, capability: str) -> bool:
        return self.spec.can(capability)

    # ------------------------------------------------------------------------------------------ latents
    def latents(self, seeds) -> torch.Tensor:
        """z for each seed (B, *latent_shape), identical to the CLI's and the studio's."""
        seeds = [seeds] if isinstance(seeds, int) else list(seeds)
        bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2 ** 32]
        if bad or not seeds:
            raise SpatialGANError(f"seeds are integers within 0..2^32-1 (at least one), got {bad[:3] or seeds}")
        shape = self.adapter.latent_shape()
        return torch.cat([latent_for_seed(s, shape) for s in seeds]).to(self.device)

    def _latent(self, seed: int | None, z: torch.Tensor | None) -> torch.Tensor:
        if (seed is None) == (z is None):
            raise SpatialGANError("give a seed or a latent z, not both or neither")
        return self.latents([seed]) if z is None else z.to(self.device)

    def map(self, z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        with torch.no_grad():
            return self.adapter.map(z.to(self.device), truncation_psi)

    # ------------------------------------------------------------------------------------------ operations
    @torch.no_grad()
    def sample(self, seeds=None, z: torch.Tensor | None = None, truncation_psi: float = 1.0,
               noise_mode: str | None = None, batch: int = 16) -> torch.Tensor:
        """Images (B, 3, R, R) in [-1, 1] for seeds or latents, in batches of `batch`."""
        check_truncation(truncation_psi)
        z = self.latents(seeds) if z is None else z.to(self.device)
        if noise_mode is not None:
            self.adapter.check_noise(noise_mode)
        with self.precision():
            return torch.cat([self.adapter.sample(chunk, truncation_psi, noise_mode).float()
                              for chunk in z.split(batch)])

    def resample(self, blocks, count: int = 4, seed: int | None = None, z: torch.Tensor | None = None,
                 truncation_psi: float = 1.0):
        """SSN: the image of `seed` (or latent z) and `count` versions with `blocks` [(row, col)...] redrawn."""
        from spatialgan.models.ssn.resample import resample_blocks

        require(self.spec, RESAMPLE_BLOCKS, "block resampling")
        check_truncation(truncation_psi)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_RESAMPLES:
            raise SpatialGANError(f"count must be a whole number within 1..{MAX_RESAMPLES}, got {count}")
        with self.precision():
            return resample_blocks(self.adapter, self._latent(seed, z), [tuple(b) for b in blocks], count,
                                   truncation_psi, image_seed=seed or 0)

    @torch.no_grad()
    def render(self, seed: int | None = None, z: torch.Tensor | None = None, ws: torch.Tensor | None = None,
               size: tuple[int, int] | None = None, truncation_psi: float = 1.0, **view) -> np.ndarray:
        """(H, W, 3) uint8 render of one latent over any region (CIPS, ScaleParty): size=(width, height) and
        the fields of spatialgan.rendering.View (center, scale, region, panorama, foveate, warp, noise, ...)."""
        require(self.spec, ANY_REGION, "rendering a region")
        check_truncation(truncation_psi)
        width, height = size or (self.resolution, self.resolution)
        if seed is not None:
            view.setdefault("noise_seed", seed)      # image-space noise follows the image's seed
        spec = View(width, height, **view)
        if ws is None:
            ws = self.adapter.map(self._latent(seed, z), truncation_psi)
        else:
            require(self.spec, WS_INPUT, "rendering from a W+ latent")
        with self.precision():
            return render_region(self.adapter, ws.to(self.device), spec)

    def render_full_frame(self, z: torch.Tensor, resolution: int, truncation_psi: float = 1.0) -> torch.Tensor:
        with self.precision():
            return self.adapter.render_full_frame(z.to(self.device), resolution, truncation_psi).float()


def load(source: str | Path | None = "ssn", device: str = "cpu", ema: bool = True, amp: str = "auto") -> Model:
    """A Model from a shipped name ('ssn', 'cips', 'scaleparty'), a run folder or a checkpoint file. amp: 'auto'
    (bf16 where it measured faster on this machine), 'bf16' or 'off'."""
    check_amp(amp)
    path = resolve_source(source)
    state = load_checkpoint(path)
    if not isinstance(state.get("config"), dict):
        raise SpatialGANError(f"{path} holds no model configuration; is it a spatialgan checkpoint?")
    config = TrainConfig.from_dict(state["config"])
    key = "G_ema" if ema or "G" not in state else "G"
    G = get_model(config.model).build_generator(config)
    try:
        G.load_state_dict(state[key])
    except (KeyError, RuntimeError, TypeError, AttributeError, ValueError) as exc:   # forged or mismatched fields
        raise SpatialGANError(f"checkpoint {path} does not match its own config: {str(exc)[:300]}") from None
    G = G.to(resolve_device(device)).eval().requires_grad_(False)
    return Model(G, config, str(path), amp=amp)
