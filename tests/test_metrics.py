"""Metrics against direct reference computations, scipy and scikit-image."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
import torch

from spatialgan import SpatialGANError
from spatialgan.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from spatialgan.metrics.kid import kid, mmd2_unbiased
from spatialgan.metrics.ppl import filtered_mean, path_lengths
from spatialgan.metrics.precision_recall import knn_radii, precision_recall
from spatialgan.metrics.ssim import ssim
from spatialgan.metrics.swd import PatchCollector, laplacian_pyramid, pyr_down, pyr_up, swd_from_collectors

from conftest import SHARED, write_image_folder

RESNET20 = SHARED / "weights" / "resnet20-cifar10-12fca82f.th"
CIFAR = SHARED / "data" / "cifar10-jpeg.tar.gz"
needs_shared = pytest.mark.skipif(not RESNET20.is_file() or not CIFAR.is_file(),
                                  reason="../shared (ResNet-20 weights, CIFAR-10 JPEGs) not present")


# ------------------------------------------------------------------ FID
def test_frechet_distance_known_answer_for_diagonal_gaussians():
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 0.25])
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    expected = 1 + 0 + 4 + ((a.sqrt() - b.sqrt()) ** 2).sum()
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(float(expected), abs=1e-9)


def test_frechet_distance_matches_scipy_sqrtm_formula():
    from scipy import linalg

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    y = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16)) + 0.3
    mu1, s1, mu2, s2 = x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    reference = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert fid_from_features(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(reference, rel=1e-8)
    mu, cov = feature_statistics(torch.from_numpy(x))
    np.testing.assert_allclose(cov.numpy(), s1, rtol=1e-10)
    assert fid_from_features(torch.from_numpy(x), torch.from_numpy(x)) == pytest.approx(0, abs=1e-8)


# ------------------------------------------------------------------ KID
def test_kid_unbiased_estimator_matches_brute_force_loops():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) + 0.5
    k = lambda a, b: (a @ b / 5 + 1) ** 3  # noqa: E731
    m = 12
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    # With subsets as large as the sets, every subset is the whole set: KID is the single estimate.
    assert kid(torch.from_numpy(y), torch.from_numpy(x), num_subsets=3) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_near_zero_for_one_distribution_and_large_for_shifted():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(600, 8, generator=g), torch.randn(600, 8, generator=g)
    assert abs(kid(a, b, num_subsets=20, max_subset_size=300)) < 0.01
    assert kid(a, b + 1, num_subsets=20, max_subset_size=300) > 0.1


# ------------------------------------------------------------------ precision / recall
def test_knn_radii_match_brute_force():
    x = torch.randn(40, 3, dtype=torch.float64)
    d = torch.cdist(x, x)
    expected = torch.tensor([sorted(row.tolist())[3] for row in d], dtype=torch.float64)  # 0 (self) + 3 neighbours
    assert torch.allclose(knn_radii(x, 3, batch=7), expected)


def test_precision_recall_on_point_clouds_with_known_overlap():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 2, generator=g)
    # Half the fakes on the real cloud, half far away: precision ~ 0.5; every real is covered: recall ~ 1.
    fake = torch.cat([torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g) + 50])
    p, r = precision_recall(real, fake)
    assert 0.4 < p <= 0.5 and r > 0.9
    # Fakes collapsed to a small part of the real cloud: precise but low recall.
    p, r = precision_recall(real, 0.1 * torch.randn(400, 2, generator=g))
    assert p > 0.95 and r < 0.3


# ------------------------------------------------------------------ SWD
def test_pyramid_levels_match_scipy_and_reconstruct_exactly():
    from scipy import ndimage

    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
    ref = ndimage.convolve(x[0, 1].numpy(), kernel, mode="mirror")[::2, ::2]
    np.testing.assert_allclose(pyr_down(x)[0, 1].numpy(), ref, rtol=1e-6, atol=1e-6)
    levels = laplacian_pyramid(x, 3)
    assert [tuple(l.shape[-2:]) for l in levels] == [(16, 16), (8, 8), (4, 4)]
    rebuilt = levels[-1]
    for band in reversed(levels[:-1]):
        rebuilt = band + pyr_up(rebuilt)
    assert torch.allclose(rebuilt, x.float(), atol=1e-5)


def _textures(n, seed, smooth):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 32, 32, generator=g)
    if smooth:
        x = torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    return (x * 255).to(torch.uint8)


def _swd(a, b):
    ca, cb = PatchCollector(32, 0), PatchCollector(32, 1)
    ca.add(a)
    cb.add(b)
    return swd_from_collectors(ca, cb)


def test_swd_small_for_one_distribution_and_larger_for_different_ones():
    same = _swd(_textures(200, 0, False), _textures(200, 1, False))
    different = _swd(_textures(200, 0, False), _textures(200, 1, True))
    assert len(same["per_level"]) == 2        # 32x32 and 16x16
    # Sampling noise of SWD with 200 x 128 patches is ~15 (it falls as 1/sqrt(n): ~6.5 at 1000 images).
    assert same["value"] < 20 and different["value"] > 3 * same["value"]


# ------------------------------------------------------------------ SSIM
def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 24, 20, generator=g) * 2 - 1
    b = (a + 0.3 * torch.randn(2, 3, 24, 20, generator=g)).clamp(-1, 1)
    ours = ssim(a, b, data_range=2.0)
    for i in range(2):
        ref = structural_similarity(a[i].numpy().transpose(1, 2, 0).astype(np.float64),
                                    b[i].numpy().transpose(1, 2, 0).astype(np.float64), channel_axis=2,
                                    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=2.0)
        assert float(ours[i]) == pytest.approx(ref, abs=1e-10)
    assert torch.allclose(ssim(a, a), torch.ones(2, dtype=torch.float64))


# ------------------------------------------------------------------ PPL
class _LinearAdapter:
    """An adapter whose image is its latent: the path length is known in closed form."""

    device = torch.device("cpu")

    def latent_shape(self):
        return (3, 2, 2)

    def map(self, z, truncation_psi=1.0):
        return z.double()

    def synthesize(self, w, noise_mode="const"):
        return w


def test_pixel_ppl_equals_closed_form_for_a_linear_generator():
    lengths = path_lengths(_LinearAdapter(), 10, batch=4, sampling="full", seed=3)
    g = torch.Generator().manual_seed(3)
    expected = []
    for n in (4, 4, 2):   # the same draws in the same order
        z = torch.randn(2 * n, 3, 2, 2, generator=g).double()
        torch.rand(n, generator=g)
        expected.append((z[n:] - z[:n]).square().mean(dim=(1, 2, 3)))
    # Images are compared in float32 (as in StyleGAN2-ADA): with epsilon 1e-4 that costs ~1e-3 relative error.
    np.testing.assert_allclose(lengths, torch.cat(expected).numpy(), rtol=3e-3)
    values = np.arange(200.0)
    kept = values[(values >= 1) & (values <= 198)]  # 1st and 99th percentiles of 0..199 ('lower'/'higher')
    assert filtered_mean(values) == pytest.approx(kept.mean())


# ------------------------------------------------------------------ feature extractors
def test_inception_shapes_and_state_dict_loading(tmp_path):
    from spatialgan.metrics.inception import FIDInception, load_inception

    torch.manual_seed(0)
    model = FIDInception().eval()
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(model.state_dict(), path)
    loaded = load_inception(path, verify=False)
    images = (torch.rand(2, 3, 32, 32) * 255).to(torch.uint8)
    feats = loaded.features(images)
    assert feats.shape == (2, 2048) and loaded(images).shape == (2, 1008)
    assert torch.allclose(feats, model.features(images))
    n_params = sum(p.numel() for p in model.parameters())
    assert 23_000_000 < n_params < 24_500_000   # Inception-v3 with a 1008-way classifier and no aux head
    # The real file is checked by sha256: a file with the right name but other bytes is refused.
    with pytest.raises(SpatialGANError, match="sha256"):
        load_inception(path)


def test_missing_inception_weights_name_the_file(tmp_path, monkeypatch, capsys):
    from spatialgan.metrics.inception import load_inception

    monkeypatch.delenv("SPATIALGAN_INCEPTION", raising=False)
    with pytest.raises(SpatialGANError, match="pt_inception-2015-12-05-6726825d.pth"):
        load_inception(None)
    with pytest.raises(SpatialGANError, match="does not exist"):
        load_inception(tmp_path / "nowhere.pth")
    monkeypatch.setenv("SPATIALGAN_INCEPTION", str(tmp_path))   # a folder without the file
    with pytest.raises(SpatialGANError, match="pt_inception-2015-12-05-6726825d.pth"):
        load_inception(None)


def test_resnet20_rejects_wrong_file(tmp_path):
    from spatialgan.metrics.resnet20 import ResNet20, load_resnet20

    path = tmp_path / "resnet20-cifar10-12fca82f.th"
    torch.save({"state_dict": {"module." + k: v for k, v in ResNet20().state_dict().items()}}, path)
    with pytest.raises(SpatialGANError, match="sha256"):
        load_resnet20(path)
    assert load_resnet20(path, verify=False).features(torch.zeros(1, 3, 32, 32, dtype=torch.uint8)).shape == (1, 64)


def _cifar_test_images(per_class: int = 100):
    from PIL import Image

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    images, labels = [], []
    with tarfile.open(CIFAR) as tar:
        for member in tar:
            parts = member.name.split("/")
            if len(parts) == 3 and parts[0] == "test" and parts[1] in classes and member.isfile():
                if int(parts[2].split(".")[0]) < per_class:
                    arr = np.asarray(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB"))
                    images.append(torch.from_numpy(arr.transpose(2, 0, 1).copy()))
                    labels.append(classes.index(parts[1]))
    return torch.stack(images), torch.tensor(labels)


@needs_shared
def test_resnet20_proxy_classifies_cifar10_test_images():
    from spatialgan.metrics.resnet20 import load_resnet20

    images, labels = _cifar_test_images(100)
    assert len(labels) == 1000
    model = load_resnet20(RESNET20)
    with torch.no_grad():
        accuracy = float((model(images).argmax(1) == labels).double().mean())
    assert accuracy >= 0.78, accuracy


# ------------------------------------------------------------------ the evaluate command
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from spatialgan.cli import main

    root = tmp_path_factory.mktemp("evalrun")
    data = write_image_folder(root / "data", count=16, size=20)
    assert main(["train", "--data", str(data), "--outdir", str(root / "run"), "--kimg", "0.008", "--resolution",
                 "16", "--batch", "4", "--width", "8", "--z-dim", "8", "--w-dim", "8", "--mapping-layers", "2",
                 "--device", "cpu", "--quiet"]) == 0
    return root


def test_evaluate_swd_and_ppl_report(tiny_run, tmp_path, capsys):
    from spatialgan.cli import main

    out = tmp_path / "report.json"
    assert main(["evaluate", "--ckpt", str(tiny_run / "run"), "--metrics", "swd,ppl", "--num", "20",
                 "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    names = [r["metric"] for r in report["results"]]
    assert names == ["swd", "ppl_pixel"]
    swd = report["results"][0]
    assert swd["num_samples"] == 20 and swd["num_real"] == 16 and len(swd["per_level"]) == 1 and swd["value"] > 0
    assert "not comparable" in report["results"][1]["protocol"]
    assert "swd" in capsys.readouterr().out


def test_evaluate_without_inception_weights_is_a_clear_error(tiny_run, monkeypatch, capsys):
    from spatialgan.cli import main

    monkeypatch.delenv("SPATIALGAN_INCEPTION", raising=False)
    assert main(["evaluate", "--ckpt", str(tiny_run / "run"), "--metrics", "fid", "--num", "4"]) == 2
    assert "pt_inception-2015-12-05-6726825d.pth" in capsys.readouterr().err


@needs_shared
def test_evaluate_proxy_fid_kid_pr_with_cache(tiny_run, tmp_path):
    from spatialgan.cli import main

    cache, out = tmp_path / "cache", tmp_path / "r.json"
    args = ["evaluate", "--ckpt", str(tiny_run / "run"), "--metrics", "fid,kid,pr", "--num", "16",
            "--features", "resnet20", "--resnet20-weights", str(RESNET20), "--cache-dir", str(cache), "--out", str(out)]
    assert main(args) == 0
    first = json.loads(out.read_text())["results"]
    assert [r["metric"] for r in first] == ["fid", "kid", "precision", "recall"]
    assert all("PROXY" in r["feature_extractor"] for r in first) and first[0]["value"] > 0
    assert len(list(cache.iterdir())) == 1
    assert main(args) == 0       # second run reads the cached real features: same numbers
    assert json.loads(out.read_text())["results"] == first


def test_training_logs_metrics_at_snapshots(tmp_path):
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    data = write_image_folder(tmp_path / "data", count=8, size=16)
    cfg = TrainConfig(data=str(data), outdir=str(tmp_path / "run"), resolution=16, batch=4, kimg=0.008, width=8,
                      z_dim=8, w_dim=8, mapping_layers=2, device="cpu", metrics="swd", metrics_num=8,
                      snap_kimg=0.004, tick_kimg=0.004)
    Trainer(cfg).run(progress=False)
    lines = [json.loads(l) for l in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    swd = [l["Metrics/swd"] for l in lines if "Metrics/swd" in l]
    assert len(swd) == 2 and all(v > 0 for v in swd)
    with pytest.raises(SpatialGANError, match="unknown metric"):
        TrainConfig(metrics="swd,fidd")


# ------------------------------------------------------------------ LPIPS (for PPL)
def _vgg_conv_state(g) -> dict:
    """Random weights for torchvision's VGG16 `features` convs (He-scaled, small biases)."""
    from spatialgan.metrics.lpips import VGG_STAGES

    vgg = {}
    for stage in VGG_STAGES:
        for i, cin, cout in stage:
            vgg[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
            vgg[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.1
    return vgg


def _lpips_files(folder):
    """Random weights in torchvision's VGG16 and the lpips package's layouts."""
    from spatialgan.metrics.lpips import VGG_STAGES

    g = torch.Generator().manual_seed(0)
    vgg = _vgg_conv_state(g)
    vgg["classifier.0.weight"] = torch.zeros(4, 4)     # present in the real file, unused
    lin = {f"lin{k}.model.1.weight": torch.rand(1, stage[-1][2], 1, 1, generator=g)
           for k, stage in enumerate(VGG_STAGES)}
    folder.mkdir()
    torch.save(vgg, folder / "vgg16-397923af.pth")
    torch.save(lin, folder / "vgg.pth")
    return vgg, lin


def _lpips_reference(vgg, lin, a, b):
    import torch.nn.functional as F

    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    stages = [[0, 2], [5, 7], [10, 12, 14], [17, 19, 21], [24, 26, 28]]

    def features(x):
        x, out = (x - shift) / scale, []
        for s, convs in enumerate(stages):
            if s:
                x = F.max_pool2d(x, 2)
            for i in convs:
                x = F.relu(F.conv2d(x, vgg[f"features.{i}.weight"], vgg[f"features.{i}.bias"], padding=1))
            out.append(x)
        return out

    total = torch.zeros(a.shape[0])
    for k, (fa, fb) in enumerate(zip(features(a), features(b))):
        na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total += F.conv2d((na - nb) ** 2, lin[f"lin{k}.model.1.weight"]).mean(dim=(1, 2, 3))
    return total


def test_lpips_matches_direct_computation_and_checks_its_files(tmp_path, monkeypatch):
    from spatialgan.metrics.lpips import load_lpips

    vgg, lin = _lpips_files(tmp_path / "lpips")
    model = load_lpips(tmp_path / "lpips", verify=False)
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    torch.testing.assert_close(model(a, b), _lpips_reference(vgg, lin, a, b), rtol=1e-4, atol=1e-6)
    assert torch.allclose(model(a, a), torch.zeros(2))
    with pytest.raises(SpatialGANError, match="sha256"):        # not the real torchvision file
        load_lpips(tmp_path / "lpips")
    (tmp_path / "lpips" / "vgg.pth").unlink()
    with pytest.raises(SpatialGANError, match="vgg.pth"):
        load_lpips(tmp_path / "lpips", verify=False)
    monkeypatch.delenv("SPATIALGAN_LPIPS", raising=False)
    with pytest.raises(SpatialGANError, match="vgg16-397923af.pth"):
        load_lpips(None)


def test_ppl_with_lpips_distance_is_reported_as_ppl(tiny_run, tmp_path, monkeypatch):
    from spatialgan.api import load
    from spatialgan.metrics import lpips as lpips_module
    from spatialgan.metrics.evaluate import EvalOptions, evaluate

    _lpips_files(tmp_path / "lpips")
    original = lpips_module.load_lpips
    monkeypatch.setattr(lpips_module, "load_lpips", lambda folder: original(folder, verify=False))
    options = EvalOptions(num=8, lpips_dir=str(tmp_path / "lpips"))
    (result,) = evaluate(load(tiny_run / "run").adapter, ["ppl"], None, options)
    assert result["metric"] == "ppl" and "LPIPS" in result["protocol"] and result["value"] > 0


# ------------------------------------------------------------------ SelfSSIM
def _continuous_render(z, resolution):
    """A 'model' that samples a smooth function of position at pixel centres: consistent at every scale."""
    coords = (torch.arange(resolution) + 0.5) / resolution * 2 - 1
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    phase = z[:, :3, None, None]
    return torch.sin(2 * x[None, None] + phase) * torch.cos(3 * y[None, None] - phase)


def _noise_render(z, resolution):
    g = torch.Generator().manual_seed(resolution)
    return torch.rand(z.shape[0], 3, resolution, resolution, generator=g) * 2 - 1


def test_self_ssim_high_for_scale_consistent_renders_and_low_for_inconsistent():
    from spatialgan.metrics.selfssim import downsample_to, self_ssim

    z = torch.randn(4, 8)
    consistent = self_ssim(_continuous_render, z, [32, 64, 128])
    assert consistent > 0.98
    assert self_ssim(_noise_render, z, [32, 64, 128]) < 0.2
    # The stated filter: antialiased bilinear; a constant image stays constant.
    assert torch.allclose(downsample_to(torch.full((1, 3, 64, 64), 0.3), (16, 16)), torch.full((1, 3, 16, 16), 0.3))


def _smooth_pair(size: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    a = torch.nn.functional.interpolate(torch.rand(2, 3, size // 8, size // 8, generator=g), size=(size, size),
                                        mode="bicubic", align_corners=False).clamp(0, 1) * 255
    b = (a + 40 * torch.randn(a.shape, generator=g)).clamp(0, 255)
    return a.double(), b.double()


def test_ms_ssim_against_scikit_image_ssim_per_scale():
    import numpy as np
    from skimage.metrics import structural_similarity
    from skimage.transform import downscale_local_mean

    from spatialgan.metrics.ssim import MS_SSIM_WEIGHTS, ms_ssim

    a, b = _smooth_pair(176, 0)          # 176 = 11 * 2^4: every level keeps the full 11x11 window
    got = ms_ssim(a, b)

    def level_terms(x, y):
        common = dict(channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
        full = structural_similarity(x, y, **common)
        # Luminance -> 1 when C1 dwarfs every mean: what remains is the contrast-structure term.
        contrast = structural_similarity(x, y, K1=1e5, **common)
        return full, contrast

    for i in range(2):
        x, y = a[i].permute(1, 2, 0).numpy(), b[i].permute(1, 2, 0).numpy()
        expected = 1.0
        for level, weight in enumerate(MS_SSIM_WEIGHTS):
            full, contrast = level_terms(x, y)
            expected *= (full if level == len(MS_SSIM_WEIGHTS) - 1 else contrast) ** weight
            x, y = downscale_local_mean(x, (2, 2, 1)), downscale_local_mean(y, (2, 2, 1))
        assert float(got[i]) == pytest.approx(expected, rel=1e-5)
    assert torch.allclose(ms_ssim(a, a), torch.ones(2, dtype=torch.float64))
    assert 0 < float(got.mean()) < 0.99
    np.testing.assert_array_less(ms_ssim(*_smooth_pair(32, 1)).numpy(), 1.0)    # small images: shrinking window


def _nearest_to(image, size, base):
    idx = (torch.arange(base) * size // base)               # nearest: floor(i * in / out)
    return image[:, :, idx][:, :, :, idx]


def test_paper_self_ssim_compares_each_size_with_the_render_at_r():
    """Tables 1 and 3 of the ScaleParty paper: one value per size s, MS-SSIM of the render at s nearest-resized to
    R against the render at R; the reported value is their mean."""
    from spatialgan.metrics.selfssim import PAPER_SCALES, self_ssim_paper, to_8bit
    from spatialgan.metrics.ssim import ms_ssim

    z = torch.randn(3, 8)
    mean, per_size = self_ssim_paper(_continuous_render, z, 32)
    assert list(per_size) == [40, 48, 56, 64] and mean > 0.9
    assert self_ssim_paper(_noise_render, z, 32)[0] < 0.2
    reference = to_8bit(_continuous_render(z, 32))
    for k in PAPER_SCALES:
        size = round(32 * k)
        direct = ms_ssim(_nearest_to(to_8bit(_continuous_render(z, size)), size, 32), reference).mean()
        assert per_size[size] == pytest.approx(float(direct), rel=1e-9)
    assert mean == pytest.approx(sum(per_size.values()) / 4, rel=1e-12)
    # A render that drifts with its size: the value falls with s, as in the paper's tables.
    drift = lambda z, r: _continuous_render(z, r).roll((r - 32) // 4, dims=-1)     # noqa: E731
    values = list(self_ssim_paper(drift, z, 32)[1].values())
    assert values == sorted(values, reverse=True) and values[0] > values[-1]
    with pytest.raises(ValueError, match="scale of 1"):
        self_ssim_paper(_continuous_render, z, 32, (1.0, 1.5))


def test_pairs_self_ssim_pairs_nearest_resized_renders_of_every_scale():
    from spatialgan.metrics.selfssim import PAPER_SCALES, self_ssim_pairs, to_8bit
    from spatialgan.metrics.ssim import ms_ssim

    z = torch.randn(3, 8)
    consistent = self_ssim_pairs(_continuous_render, z, 32)
    assert consistent > 0.9 and self_ssim_pairs(_noise_render, z, 32) < 0.2
    # Direct: the four renders (40, 48, 56, 64 px) nearest-resized to 32, MS-SSIM of all six pairs, averaged.
    renders = [_nearest_to(to_8bit(_continuous_render(z, round(32 * k))), round(32 * k), 32) for k in PAPER_SCALES]
    pairs = [ms_ssim(renders[i], renders[j]) for i in range(4) for j in range(i + 1, 4)]
    assert consistent == pytest.approx(float(torch.stack(pairs).mean()), rel=1e-9)


def test_selfssim_metric_runs_under_random_noise_and_reports_each_size():
    from spatialgan.api import load
    from spatialgan.metrics.evaluate import EvalOptions, evaluate

    model = load("scaleparty")
    record = evaluate(model.adapter, ["selfssim"], None, EvalOptions(num=4, cache_dir=""))[0]
    sizes = {str(int(model.resolution * s)) for s in (1.25, 1.5, 1.75, 2.0)}   # the paper's scales
    assert record["noise"] == "random" and set(record["per_size"]) == sizes
    assert record["value"] == pytest.approx(sum(record["per_size"].values()) / 4)
    grid = evaluate(model.adapter, ["selfssim"], None, EvalOptions(num=4, cache_dir="", noise="grid"))[0]
    assert grid["noise"] == "grid" and grid["value"] != record["value"]


def test_evaluate_noise_policy_reaches_the_renders_and_bad_policies_are_refused(capsys):
    from spatialgan.cli import main

    assert main(["evaluate", "--ckpt", "stylegan2", "--metrics", "diversity", "--num", "4",
                 "--noise", "grid"]) == 2
    assert "noise policies are const, random, none" in capsys.readouterr().err


def test_selfssim_on_a_fixed_size_model_is_a_clear_error(tiny_run, capsys):
    from spatialgan.cli import main

    assert main(["evaluate", "--ckpt", str(tiny_run / "run"), "--metrics", "selfssim", "--num", "2"]) == 2
    assert "selfssim needs a model with any_scale (cips, scaleparty)" in capsys.readouterr().err


# ------------------------------------------------------------------ diversity and resampling change
class _ConstantAdapter:
    """A model that ignores its latent: every image is the same."""

    device = torch.device("cpu")

    def latent_shape(self):
        return (4,)

    def sample(self, z, truncation_psi=1.0, noise_mode=None):
        return torch.full((z.shape[0], 3, 8, 8), 0.25)


class _LatentAdapter(_ConstantAdapter):
    def sample(self, z, truncation_psi=1.0, noise_mode=None):
        return z[:, :3, None, None].expand(-1, -1, 8, 8).tanh()


def test_diversity_is_zero_for_a_model_that_ignores_z_and_the_pair_mean_otherwise():
    from spatialgan.metrics.builtin import pairwise_diversity

    assert pairwise_diversity(_ConstantAdapter(), 40, 8, 0, 1.0) == 0
    value = pairwise_diversity(_LatentAdapter(), 40, 8, 3, 1.0)
    g = torch.Generator().manual_seed(3)
    ref = []
    for n in (8, 8, 4):                      # 20 pairs in batches of 8: the same draws in the same order
        z = torch.randn(2 * n, 4, generator=g)[:, :3].tanh()
        ref.append((z[:n] - z[n:]).square().mean(dim=1))
    assert value == pytest.approx(float(torch.cat(ref).mean()), rel=1e-6) and value > 0


def test_block_change_inside_and_outside_against_a_direct_computation():
    from spatialgan.models.ssn.distortion import block_change

    a = torch.zeros(1, 3, 8, 8)
    b = a.clone()
    b[:, :, 0:4, 4:8] = 1.0                  # block (0, 1) of a 2x2 grid changed by 1 everywhere
    b[:, 0, 6, 1] = 2.0                      # one channel of one pixel outside it changed by 2
    change = block_change(a, b, [(0, 1)], (2, 2))
    assert change["inside"] == pytest.approx(1.0)
    assert change["outside"] == pytest.approx((4.0 / 3) / 48)        # mean over 48 outside pixels, 3 channels
    assert change["ratio"] == pytest.approx(1.0 / ((4.0 / 3) / 48))
    assert block_change(a, a, [(0, 1)], (2, 2))["inside"] == 0


def test_resample_change_of_a_model_with_independent_blocks_is_inside_only():
    from test_ssn import IndependentBlocks

    from spatialgan.models.ssn.distortion import resample_change

    G = IndependentBlocks()
    G.latent_rows = G.latent_cols = 4
    G.z_dim = 8
    G.forward = lambda z, psi=1.0, noise_mode="const": G.synthesize(G.map(z))
    change = resample_change(G, 8, 4, 0)
    assert change["outside"] == 0 and change["inside"] > 0 and change["ratio"] == float("inf")


# ------------------------------------------------------------------ power spectrum (CIPS Sec. 4.3)
def test_ring_averaged_power_spectrum_against_a_direct_dft():
    from spatialgan.metrics.spectrum import power_spectra

    g = torch.Generator().manual_seed(0)
    images = (torch.rand(2, 3, 6, 8, generator=g) * 2 - 1).double()
    ours = power_spectra(images)
    h, w = 6, 8
    for b in range(2):
        luma = (0.299 * images[b, 0] + 0.587 * images[b, 1] + 0.114 * images[b, 2]).double().numpy()
        luma = luma - luma.mean()
        rings: dict[int, list[float]] = {}
        for ky in range(h):                 # the DFT written out term by term
            for kx in range(w):
                f = sum(luma[y, x] * np.exp(-2j * np.pi * (ky * y / h + kx * x / w)) for y in range(h)
                        for x in range(w))
                fy, fx = (ky + h // 2) % h - h // 2, (kx + w // 2) % w - w // 2     # centred frequency
                rings.setdefault(int(round(np.hypot(fy, fx))), []).append(abs(f) ** 2 / (h * w))
        ref = [np.mean(rings[r]) for r in sorted(rings)]
        np.testing.assert_allclose(ours[b].numpy(), ref, rtol=1e-9, atol=1e-12)


def test_spectral_distance_sees_missing_high_frequencies():
    import torch.nn.functional as F

    from spatialgan.metrics.spectrum import SpectrumAccumulator, spectral_distance

    g = torch.Generator().manual_seed(1)
    noise = (torch.rand(64, 3, 32, 32, generator=g) * 255).to(torch.uint8)
    blurred = F.avg_pool2d(noise.float(), 3, 1, 1).round().to(torch.uint8)
    sets = {}
    for name, images in (("a", noise[:32]), ("b", noise[32:]), ("blur", blurred[32:])):
        sets[name] = SpectrumAccumulator()
        sets[name].add(images)
    white = sets["a"].mean()[1:17]
    assert float(white.max() / white.min()) < 1.5                       # white noise: a flat spectrum
    same = spectral_distance(sets["a"].mean(), sets["b"].mean(), 16)
    blur = spectral_distance(sets["a"].mean(), sets["blur"].mean(), 16)
    assert same["value"] < 0.05 and blur["value"] > 5 * same["value"]
    assert blur["high_frequency"] > blur["value"]                       # the loss is at the high end


def test_evaluate_at_scales_renders_each_size_against_reals_of_that_size(tmp_path, capsys):
    from spatialgan.api import load
    from spatialgan.cli import main
    from spatialgan.metrics.evaluate import EvalOptions, evaluate

    from conftest import write_image_folder

    model = load("cips")                                   # the shipped CIPS renders at any size
    r = model.resolution
    sizes = []
    original = model.adapter.render_full_frame
    model.adapter.render_full_frame = lambda z, res, *a: (sizes.append(res), original(z, res, *a))[1]
    data = write_image_folder(tmp_path / "data", count=8, size=r * 3 // 2)
    records = evaluate(model.adapter, ["swd"], str(data), EvalOptions(num=8, scales=(0.5, 1.5), cache_dir=""))
    assert [(x["metric"], x["scale"], x["resolution"]) for x in records] == [("swd", 0.5, r // 2),
                                                                             ("swd", 1.5, r * 3 // 2)]
    assert set(sizes) == {r // 2, r * 3 // 2}
    # Same scale, same result as a direct evaluation of the renders at that size (the wrapper adds nothing).
    again = evaluate(model.adapter, ["swd"], str(data), EvalOptions(num=8, scales=(1.5,), cache_dir=""))
    assert again[0]["value"] == records[1]["value"]
    # Reals smaller than a render are refused (never upsampled); metrics without a scale are named.
    assert main(["evaluate", "--ckpt", "cips", "--data", str(data), "--metrics", "swd", "--num", "4",
                 "--scales", "2"]) == 2
    assert "never upsampled" in capsys.readouterr().err
    assert main(["evaluate", "--ckpt", "cips", "--metrics", "diversity", "--num", "4", "--scales", "1"]) == 2
    assert "--scales applies to" in capsys.readouterr().err
    assert main(["evaluate", "--ckpt", "ssn", "--data", str(data), "--metrics", "swd", "--num", "4",
                 "--scales", "1"]) == 2
    assert "any_scale" in capsys.readouterr().err
    assert main(["evaluate", "--ckpt", "cips", "--metrics", "swd", "--scales", "a,b"]) == 2


def test_vgg16_fc2_features_against_a_direct_forward_and_file_checks(tmp_path):
    import torch.nn.functional as F

    from spatialgan.metrics.vgg16 import VGG16Features, load_vgg16

    g = torch.Generator().manual_seed(0)
    state = _vgg_conv_state(g)
    for name, (fan_in, fan_out) in {"0": (25088, 8), "3": (8, 8), "6": (8, 1000)}.items():
        state[f"classifier.{name}.weight"] = torch.randn(fan_out, fan_in, generator=g) / fan_in ** 0.5
        state[f"classifier.{name}.bias"] = torch.randn(fan_out, generator=g) * 0.1
    model = VGG16Features(fc_dim=8)
    model.load_state_dict(state)                       # torchvision's key names, strictly
    images = torch.randint(0, 256, (2, 3, 40, 40), dtype=torch.uint8)
    # Direct: torchvision's VGG-16 forward written out layer by layer from the state dict.
    x = F.interpolate(images.float() / 255, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    for index in [0, 2, "M", 5, 7, "M", 10, 12, 14, "M", 17, 19, 21, "M", 24, 26, 28, "M"]:
        if index == "M":
            x = F.max_pool2d(x, 2)
        else:
            x = F.relu(F.conv2d(x, state[f"features.{index}.weight"], state[f"features.{index}.bias"], padding=1))
    assert x.shape[-2:] == (7, 7)
    x = F.relu(F.linear(x.flatten(1), state["classifier.0.weight"], state["classifier.0.bias"]))
    expected = F.relu(F.linear(x, state["classifier.3.weight"], state["classifier.3.bias"]))
    torch.testing.assert_close(model.features_of(images), expected, rtol=1e-4, atol=1e-5)
    # The loader names the file it needs, and refuses a file of another layout.
    with pytest.raises(SpatialGANError, match="vgg16-397923af.pth"):
        load_vgg16(None)
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "vgg16-397923af.pth")
    with pytest.raises(SpatialGANError, match="is not"):
        load_vgg16(tmp_path / "vgg16-397923af.pth")
    with pytest.raises(SpatialGANError, match="VGG-16 state dict"):
        load_vgg16(tmp_path / "vgg16-397923af.pth", verify=False)
