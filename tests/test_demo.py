"""The embedded default: dataset from bundled photos, a short run, and the HTML report."""

import json
import re

import numpy as np
from PIL import Image

from spatialgan.api import SHIPPED_DIR
from spatialgan.demo import DEMO_PHOTOS, bundled_photos, random_crops, run_demo


def test_demo_photos_are_bundled_and_crops_are_deterministic():
    photos = bundled_photos()
    assert set(photos) == set(DEMO_PHOTOS)
    assert all(p.ndim == 3 and p.shape[2] >= 3 for p in photos.values())
    a = [np.asarray(img) for _, img in random_crops(photos, 6, 32, seed=1)]
    b = [np.asarray(img) for _, img in random_crops(photos, 6, 32, seed=1)]
    assert all(x.shape == (32, 32, 3) and np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])


def test_demo_writes_report_with_pictures(tmp_path):
    report = run_demo(tmp_path / "demo", kimg=0.064, progress=False)
    page = report.read_text()
    for title in ("Training data", "StyleGAN2 samples", "Truncation", "Progress", "Losses", "SSN block resampling",
                  "CIPS: any resolution", "ScaleParty: one latent at any scale"):
        assert title in page
    images = re.findall(r'src="([^"]+)"', page)
    assert len(images) >= 4
    for name in images:
        assert (report.parent / name).stat().st_size > 100
    assert "<svg" in page
    # The shipped models' quality table: both floors, and SSN's own figures when the quality file has them.
    quality = json.loads((SHIPPED_DIR / "quality.json").read_text())
    assert "against held-back photos" in page and f"<td>{quality['floor_swd']:.1f}</td><td>1.0x</td>" in page
    crops = quality["train_vs_heldout_swd"]
    for name, q in quality["models"].items():
        ratios = f"<td>{q['swd'] / quality['floor_swd']:.1f}x</td><td>{q['swd'] / crops:.2f}x</td>"
        assert f"<tr><td>{name}</td><td>{q['swd']:.1f}</td>{ratios}" in page
        if "distortion" in q:
            assert f"<td>{q['distortion']:.4f}</td>" in page
    # The shipped panorama and zooms are rendered at 256 px and more.
    for name in ("shipped-cips-panorama.png", "shipped-scaleparty-zoom.png"):
        assert Image.open(report.parent / name).height >= 256
    # Running it again reuses the finished run instead of training from scratch.
    snaps = sorted((tmp_path / "demo").glob("*/network-snapshot-*"))
    assert {p.parent.name for p in snaps} == {"run", "ssn-run", "cips-run", "scaleparty-run"}
    run_demo(tmp_path / "demo", kimg=0.064, progress=False)
    assert sorted((tmp_path / "demo").glob("*/network-snapshot-*")) == snaps
