"""Shared fixtures: small image folders with every kind of awkward file, and the shared/ folder."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# --amp auto measures bf16 against fp32 on CPUs with bf16 units and caches the verdict per machine: tests must not
# depend on the machine or on a user's cache, so auto means fp32 here (the probe's own tests turn it back on).
os.environ["SPATIALGAN_AMP_PROBE"] = "0"
os.environ["SPATIALGAN_CACHE"] = tempfile.mkdtemp(prefix="spatialgan-test-cache-")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


def write_image_folder(root: Path, count: int = 24, size: int = 20, seed: int = 0) -> Path:
    """Smooth random colour images (PNG and JPEG) in a two-level tree."""
    rng = np.random.default_rng(seed)
    (root / "a").mkdir(parents=True, exist_ok=True)
    (root / "b").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        c = rng.uniform(0, 255, (3, 3))
        arr = np.stack([c[k, 0] * xx + c[k, 1] * yy + c[k, 2] * (1 - xx) for k in range(3)], -1) / 2
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        sub = "a" if i % 2 else "b"
        img.save(root / sub / (f"img{i:03d}.png" if i % 3 else f"img{i:03d}.jpg"))
    return root


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return write_image_folder(tmp_path / "images")


def truncated_png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8) + 100).save(buf, format="PNG")
    return buf.getvalue()[:60]
