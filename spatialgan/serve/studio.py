"""The studio's model operations, independent of HTTP: sample, resample SSN blocks, render any region or scale.

Latents travel to and from the page as base64 float32 (the page keeps the history, so undo/redo and downloads need
no server state). Every request names a model loaded at start-up by its short name, never a path; sizes, scales,
blocks and latents are checked and a bad value raises StudioError (a 400 for the page). Each model renders under
its own lock, so concurrent requests are served one at a time per model.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from spatialgan import SpatialGANError
from spatialgan.imageutils import to_uint8
from spatialgan.models.interface import ANY_REGION, PANORAMA, RESAMPLE_BLOCKS, WS_INPUT


class StudioError(ValueError):
    """A request the studio refuses (shown to the user as a 4xx message)."""


class StudioBusy(Exception):
    """A model's queue is full (a 503 with Retry-After for the page)."""

    def __init__(self, name: str, retry_after: int):
        super().__init__(f"{name} is busy ({retry_after} s); try again shortly")
        self.retry_after = retry_after


class Cancelled(Exception):
    """The request's client went away while it waited or rendered; nothing is sent."""


def shown(value, limit: int = 60) -> str:
    """A value as an error message may echo it: its repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


@dataclass
class LoadedModel:
    """A served model: its short name, the API Model, and a bounded queue: one render at a time, at most
    `max_queue` requests admitted (running or waiting); more are turned away at once."""

    name: str
    model: object
    lock: threading.Lock = field(default_factory=threading.Lock)
    max_queue: int = 4
    admitted: int = 0
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def turn(self, cancelled=None):
        """Waits for this model's turn; StudioBusy when the queue is full, Cancelled when `cancelled()` turns
        True while waiting."""
        with self._count_lock:
            if self.admitted >= self.max_queue:
                raise StudioBusy(self.name, retry_after=max(1, self.admitted))
            self.admitted += 1
        try:
            while not self.lock.acquire(timeout=0.05):
                if cancelled is not None and cancelled():
                    raise Cancelled()
            try:
                if cancelled is not None and cancelled():
                    raise Cancelled()
                with self.model.precision():
                    yield
            finally:
                self.lock.release()
        finally:
            with self._count_lock:
                self.admitted -= 1

    @property
    def kind(self) -> str:
        return self.model.name

    @property
    def adapter(self):
        return self.model.adapter

    def can(self, capability: str) -> bool:
        return self.model.can(capability)

    def info(self) -> dict:
        info = {"name": self.name, "kind": self.kind, "resolution": self.model.resolution,
                "latent_shape": list(self.adapter.latent_shape()),
                "capabilities": sorted(self.model.capabilities)}
        if self.can(RESAMPLE_BLOCKS):
            info["grid"] = list(self.adapter.grid)
        if self.can(ANY_REGION):       # the page opens a view inside these (pixels per frame height)
            info["densities"] = list(self.adapter.trained_densities())
        if self.can(PANORAMA) and self.adapter.panorama_frames:
            info["panorama_frames"] = float(self.adapter.panorama_frames)
        return info


def png_bytes(image: torch.Tensor | np.ndarray) -> bytes:
    array = to_uint8(image)[0] if isinstance(image, torch.Tensor) else image
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def encode_latent(z: torch.Tensor) -> str:
    return base64.b64encode(z.detach().float().cpu().numpy().astype("<f4").tobytes()).decode()


class Studio:
    def __init__(self, models: dict[str, LoadedModel], max_pixels: int = 1 << 20, max_count: int = 8,
                 max_aspect: float = 16.0, render_seconds: float = 20.0):
        if not models:
            raise StudioError("the studio needs at least one model")
        self.models, self.max_pixels, self.max_count = models, max_pixels, max_count
        # A render's cost follows its tiles and bands, not only its pixels: bound the shape and the time too.
        self.max_aspect, self.render_seconds = max_aspect, render_seconds

    # ------------------------------------------------------------------------------------------ checks
    def model(self, name: str) -> LoadedModel:
        if name not in self.models:
            raise StudioError(f"unknown model {shown(name, 40)}; available: {', '.join(self.models)}")
        return self.models[name]

    def decode_latent(self, entry: LoadedModel, text: str) -> torch.Tensor:
        shape = tuple(entry.adapter.latent_shape())
        try:
            raw = base64.b64decode(text, validate=True)
        except (ValueError, TypeError):
            raise StudioError("the latent is not valid base64") from None
        count = math.prod(shape)
        if len(raw) != 4 * count:
            raise StudioError(f"the latent has {len(raw) // 4} values; {entry.name} needs {count} {shape}")
        z = torch.from_numpy(np.frombuffer(raw, dtype="<f4").copy()).reshape(1, *shape)
        if not torch.isfinite(z).all() or z.abs().max() > 1e3:
            raise StudioError("the latent holds non-finite or absurdly large values")
        return z.to(entry.adapter.device)

    def check_size(self, width: int, height: int) -> None:
        if width < 1 or height < 1 or width * height > self.max_pixels:
            raise StudioError(f"size {width}x{height} is outside 1..{self.max_pixels} pixels (the server's cap)")
        if max(width, height) > self.max_aspect * min(width, height):
            raise StudioError(f"size {width}x{height} is more than {self.max_aspect:g}:1; the studio renders views "
                              f"up to that aspect ratio")

    @staticmethod
    def check_truncation(psi: float) -> None:
        from spatialgan.latents import check_truncation

        try:
            check_truncation(psi)
        except SpatialGANError as exc:
            raise StudioError(str(exc)) from None

    # ------------------------------------------------------------------------------------------ operations
    @torch.no_grad()
    def sample(self, name: str, seed: int, truncation: float = 1.0, cancelled=None) -> dict:
        from spatialgan.latents import latent_for_seed

        entry = self.model(name)
        self.check_truncation(truncation)
        if not 0 <= seed < 2 ** 32:
            raise StudioError("seed must be within 0..2^32-1 (torch's generator keeps 32 bits of a seed)")
        z = latent_for_seed(seed, entry.adapter.latent_shape()).to(entry.adapter.device)
        return {"latent": encode_latent(z), "image": self.images(entry, z, truncation, cancelled)[0]}

    def images(self, entry: LoadedModel, z: torch.Tensor, truncation: float, cancelled=None) -> list[str]:
        """Base64 PNGs of a batch of latents, generated in one pass."""
        with entry.turn(cancelled):
            images = entry.adapter.sample(z, truncation, "const").float()
        return [base64.b64encode(png_bytes(images[k:k + 1])).decode() for k in range(images.shape[0])]

    @torch.no_grad()
    def resample(self, name: str, latent: str, blocks: list[list[int]], count: int, seed: int,
                 truncation: float = 1.0, cancelled=None) -> list[dict]:
        """`count` versions of the latent with `blocks` (row, column) redrawn from fresh N(0, I) latents."""
        entry = self.model(name)
        if not entry.can(RESAMPLE_BLOCKS):
            raise StudioError(f"block resampling needs a model with {RESAMPLE_BLOCKS} (ssn); {name} is a "
                              f"{entry.kind} model")
        self.check_truncation(truncation)
        z = self.decode_latent(entry, latent)
        rows, cols = entry.adapter.grid
        if not blocks:
            raise StudioError("choose at least one block")
        for block in blocks:
            if len(block) != 2 or not (0 <= block[0] < rows and 0 <= block[1] < cols):
                raise StudioError(f"block {shown(block)} is outside the {rows}x{cols} latent grid")
        if not 1 <= count <= self.max_count:
            raise StudioError(f"count must be within 1..{self.max_count}")
        from spatialgan.models.ssn.resample import resample_noise_seed

        # Hashed like the CLI's resample seeds, so a fresh draw never repeats the latent of an image seed.
        gen = torch.Generator().manual_seed(resample_noise_seed(seed, -1))
        fresh = torch.randn(count, *z.shape[1:], generator=gen).to(z.device)
        latents = entry.adapter.replace_blocks(z, [tuple(b) for b in blocks], fresh)
        images = self.images(entry, latents, truncation, cancelled)
        return [{"latent": encode_latent(latents[k:k + 1]), "image": images[k]} for k in range(count)]

    @torch.no_grad()
    def render(self, name: str, latent: str, width: int, height: int, center=(0.0, 0.0), scale: float = 1.0,
               truncation: float = 1.0, cancelled=None) -> bytes:
        """A PNG of the latent's image over width x height pixels centred on `center`, pixels `scale` times the
        trained frame's (CIPS and ScaleParty); for a cylindrical CIPS, x wraps around the panorama."""
        from spatialgan.rendering import RenderCancelled, View, render_region

        entry = self.model(name)
        if not entry.can(ANY_REGION):
            raise StudioError(f"{name} ({entry.kind}) renders only its trained frame; zoom needs a model with "
                              f"{ANY_REGION} (cips, scaleparty)")
        self.check_size(width, height)
        self.check_truncation(truncation)
        if not (math.isfinite(scale) and 1e-4 <= scale <= 1e3):
            raise StudioError(f"scale must be within [1e-4, 1e3], got {scale}")
        if not all(math.isfinite(c) and abs(c) <= 1e4 for c in center):
            raise StudioError("the centre must be finite and within 1e4 of the origin")
        z = self.decode_latent(entry, latent)
        view = View(width, height, center=tuple(center), scale=scale, noise_seed=0, time_limit=self.render_seconds,
                    cancelled=cancelled)
        with entry.turn(cancelled):
            try:
                image = render_region(entry.adapter, entry.adapter.map(z, truncation), view)
            except RenderCancelled:
                raise Cancelled() from None
            except SpatialGANError as exc:          # e.g. the time limit
                raise StudioError(str(exc)) from None
        return png_bytes(image)

    def latent_file(self, name: str, latent: str, truncation: float = 1.0) -> bytes:
        """A safetensors file with z (and ws for coordinate models): `spatialgan generate --latent` reads it."""
        from safetensors.torch import save

        entry = self.model(name)
        self.check_truncation(truncation)
        z = self.decode_latent(entry, latent)
        tensors = {"z": z.cpu().contiguous()}
        with torch.no_grad(), entry.turn():
            if entry.can(WS_INPUT):
                tensors["ws"] = entry.adapter.map(z, truncation).cpu().contiguous()
        return save(tensors, metadata={"model": entry.kind, "name": name, "truncation": str(truncation)})
