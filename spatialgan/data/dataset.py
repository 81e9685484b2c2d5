"""Image datasets read from a folder tree, a .zip or an LMDB (LSUN layout), square-cropped and resized."""

from __future__ import annotations

import io
import math
import os
import random
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from spatialgan import SpatialGANError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
RESIZE_FILTER = Image.LANCZOS  # stated filter: Lanczos (antialiased when downscaling)
CROP_MODES = ("center", "random", "none")
MAX_FILE_BYTES = 256 * 2 ** 20       # one encoded image; larger members are skipped unread (zip bombs)
MAX_IMAGE_PIXELS = 120_000_000       # decoded pixels (a 120-megapixel photo); larger headers are refused undecoded


class ImageTooLarge(SpatialGANError):
    """An image file or its decoded size is over the limits above."""


def _check_file_size(size: int, name: str) -> None:
    if size > MAX_FILE_BYTES:
        raise ImageTooLarge(f"{name} is {size / 2 ** 20:.0f} MiB, over the {MAX_FILE_BYTES // 2 ** 20} MiB limit "
                            "for one image")


class FolderSource:
    """Image files found recursively under a folder, in sorted order."""

    def __init__(self, root: Path):
        self.root = root
        self.names = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())

    def read(self, i: int) -> bytes:
        path = self.root / self.names[i]
        _check_file_size(path.stat().st_size, self.names[i])
        return path.read_bytes()

    def describe(self, i: int) -> str:
        return str(self.root / self.names[i])


class ZipSource:
    """Image members of a .zip; the archive is opened lazily in each process (DataLoader workers)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with zipfile.ZipFile(path) as zf:
                self.names = sorted(n for n in zf.namelist() if n.lower().endswith(IMAGE_EXTENSIONS))
        except zipfile.BadZipFile as exc:
            raise SpatialGANError(f"{path} is not a readable zip file ({exc})") from None
        self._zip, self._pid = None, None

    def read(self, i: int) -> bytes:
        if self._zip is None or self._pid != os.getpid():
            self._zip, self._pid = zipfile.ZipFile(self.path), os.getpid()
        _check_file_size(self._zip.getinfo(self.names[i]).file_size, self.names[i])     # before inflating it
        return self._zip.read(self.names[i])

    def describe(self, i: int) -> str:
        return f"{self.path}:{self.names[i]}"

    def __getstate__(self):
        return {**self.__dict__, "_zip": None, "_pid": None}


class LmdbSource:
    """An LMDB whose values are encoded images (the LSUN release layout); keys are listed once at open."""

    def __init__(self, path: Path):
        import lmdb

        self.path = path
        try:
            env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False,
                            subdir=path.is_dir())
            with env.begin(write=False) as txn:
                self.names = [k for k, _ in txn.cursor()]
            env.close()
        except lmdb.Error as exc:
            raise SpatialGANError(f"{path} is not a readable LMDB ({type(exc).__name__})") from None
        self._env, self._pid = None, None

    def read(self, i: int) -> bytes:
        import lmdb

        if self._env is None or self._pid != os.getpid():
            self._env = lmdb.open(str(self.path), readonly=True, lock=False, readahead=False, meminit=False,
                                  subdir=self.path.is_dir())
            self._pid = os.getpid()
        with self._env.begin(write=False) as txn:
            value = txn.get(self.names[i])
        if value is None:
            raise KeyError(self.names[i])
        return value

    def describe(self, i: int) -> str:
        return f"{self.path}[{self.names[i].decode(errors='replace')}]"

    def __getstate__(self):
        return {**self.__dict__, "_env": None, "_pid": None}


def open_source(path: str | os.PathLike):
    """Chooses the reader from the path: a folder (LMDB if it holds data.mdb), a .zip, or an .mdb/.lmdb file."""
    path = Path(path)
    if not path.exists():
        raise SpatialGANError(f"dataset not found: {path}")
    if not (path.is_dir() or path.is_file()):          # a pipe or a device would block or never end
        raise SpatialGANError(f"dataset {path} is neither a folder nor a regular file")
    if path.is_dir():
        source = LmdbSource(path) if (path / "data.mdb").exists() else FolderSource(path)
    elif path.suffix.lower() == ".zip":
        source = ZipSource(path)
    elif path.suffix.lower() in (".mdb", ".lmdb"):
        source = LmdbSource(path)
    else:
        raise SpatialGANError(f"unsupported dataset {path}: give a folder of images, a .zip, or an LMDB")
    if not source.names:
        raise SpatialGANError(f"dataset {path} contains no images ({', '.join(IMAGE_EXTENSIONS)})")
    return source


def to_rgb(img: Image.Image) -> Image.Image:
    """Explicit conversion to RGB: alpha is composited over white; palette, grey and 16-bit modes are expanded."""
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        # 16-bit data (I;16*, and PNG's 16-bit grey that Pillow opens as I) maps 65535 to 255 whatever the
        # image's own maximum, so a dark 16-bit image stays dark; other 32-bit data falls back to its range.
        sixteen_bit = img.mode.startswith("I;16") or img.format == "PNG" or arr.max() > 255
        arr = arr / 257.0 if sixteen_bit else arr
        img = Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), mode="L")
    return img.convert("RGB") if img.mode != "RGB" else img


def open_image(source) -> Image.Image:
    """Opens (bytes or a path) and decodes fully, so truncated files fail here, not later; converts to RGB. The
    pixel count in the header is checked before decoding (decompression bombs)."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
        w, h = img.size
        if w * h > MAX_IMAGE_PIXELS:
            raise ImageTooLarge(f"image of {w}x{h} pixels is over the limit of {MAX_IMAGE_PIXELS / 1e6:g} "
                                "megapixels")
        img.load()
        return to_rgb(img)


def decode_image(data: bytes) -> Image.Image:
    return open_image(data)


def crop_square(img: Image.Image, mode: str, rng: np.random.Generator | None = None) -> Image.Image:
    """Crops the largest square: centred, or at a random offset ('random'); 'none' keeps the image."""
    w, h = img.size
    if mode == "none" or w == h:
        return img
    s = min(w, h)
    if mode == "center":
        left, top = (w - s) // 2, (h - s) // 2
    elif mode == "random":
        rng = rng or np.random.default_rng()
        left, top = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
    else:
        raise ValueError(f"crop must be one of {CROP_MODES}, got {mode!r}")
    return img.crop((left, top, left + s, top + s))


def prepare_image(img: Image.Image, resolution: int | None, crop: str = "center",
                  rng: np.random.Generator | None = None) -> Image.Image:
    img = crop_square(img, crop, rng)
    if resolution is not None and img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), RESIZE_FILTER)
    return img


def _reason(exc: Exception) -> str:
    """A decoder error in a few words, without Pillow's '<_io.BytesIO object at 0x...>'."""
    if isinstance(exc, UnidentifiedImageError):
        return "not a recognised image format"
    text = re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "the file", str(exc).strip().splitlines()[0] if
                  str(exc).strip() else type(exc).__name__)
    return text[:160]


def _probe_order(index: int, n: int):
    """index, then every other index once, in steps that depend on `index` (coprime with n, so the walk covers
    the whole dataset)."""
    step = random.Random(index).randrange(1, n) if n > 1 else 1
    while math.gcd(step, n) != 1:
        step += 1
    for attempt in range(n):
        yield (index + attempt * step) % n


class ImageDataset(torch.utils.data.Dataset):
    """Returns uint8 tensors (3, R, R). Items are keyed by index or (index, seed); the seed drives random crop
    and x-flip, so a resumed run sees exactly the same augmented images. Unreadable files are reported once
    (per process) and replaced by the next readable one."""

    def __init__(self, path: str | os.PathLike, resolution: int, crop: str = "center", xflip: bool = False,
                 allow_upscale: bool = True):
        if crop not in CROP_MODES:
            raise SpatialGANError(f"--crop must be one of {', '.join(CROP_MODES)}, got {crop!r}")
        self.path, self.resolution, self.crop, self.xflip = str(path), resolution, crop, xflip
        self.allow_upscale = allow_upscale
        self.source = open_source(path)
        self.reported: set[int] = set()

    def __len__(self) -> int:
        return len(self.source.names)

    def load(self, index: int, seed: int | None = None) -> torch.Tensor:
        rng = np.random.default_rng(seed) if seed is not None else None
        n = len(self)
        # Stand-ins for an unreadable file are spread over the dataset (a step that depends on the index), so
        # several bad files do not all hand their draws to the same neighbour.
        for i in _probe_order(index, n):
            try:
                img = decode_image(self.source.read(i))
            except Exception as exc:  # any decoder failure: report once and move on
                if i not in self.reported:
                    self.reported.add(i)
                    print(f"warning: skipping unreadable image {self.source.describe(i)}: {_reason(exc)}",
                          file=sys.stderr)
                continue
            if not self.allow_upscale and min(img.size) < self.resolution:
                raise SpatialGANError(
                    f"{self.source.describe(i)} is {img.size[0]}x{img.size[1]}; this run needs real images of at "
                    f"least {self.resolution} px, never upsampled (remake the dataset from the photos with "
                    f"`spatialgan dataset --resolution {self.resolution}`)")
            img = prepare_image(img, self.resolution, "center" if (self.crop == "random" and rng is None)
                                else self.crop, rng)
            arr = np.asarray(img, dtype=np.uint8)
            if self.xflip and rng is not None and rng.random() < 0.5:
                arr = arr[:, ::-1]
            return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
        raise SpatialGANError(f"no readable image in dataset {self.path}")

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, tuple):
            return self.load(*key)
        return self.load(int(key))


class InfiniteSampler(torch.utils.data.Sampler):
    """Yields (index, seed) forever from position `start`: epoch e is a permutation seeded by (seed, e), and item
    p's augmentation seed depends only on (seed, p). Starting at p = images already seen resumes exactly."""

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True, start: int = 0):
        self.size, self.seed, self.shuffle, self.start = size, seed, shuffle, start

    def _order(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.size)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=g)

    def __iter__(self):
        pos = self.start
        epoch, order = pos // self.size, self._order(pos // self.size)
        while True:
            if pos // self.size != epoch:
                epoch, order = pos // self.size, self._order(pos // self.size)
            yield int(order[pos % self.size]), (self.seed * 7_919 + pos) % (2 ** 63)
            pos += 1
