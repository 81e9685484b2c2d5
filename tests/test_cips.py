"""CIPS: coordinates, Fourier features, coordinate embeddings, modulated FC layers and chunked rendering."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from spatialgan import SpatialGANError
from spatialgan.core.coords import pixel_grid
from spatialgan.core.layers.coordinates import CoordinateEmbedding, FourierFeatures, ModulatedLinear, modulated_linear
from spatialgan.core.layers.modulated import modulated_conv2d
from spatialgan.models.cips.generator import CIPSGenerator

SMALL = dict(z_dim=8, w_dim=8, width=16, num_layers=4, mapping_layers=2)


def test_pixel_grid_uses_pixel_centres_and_any_aspect_ratio():
    g = pixel_grid(3, 5)
    assert g.shape == (1, 2, 3, 5)
    torch.testing.assert_close(g[0, 0, 0], torch.tensor([-0.8, -0.4, 0.0, 0.4, 0.8]))
    torch.testing.assert_close(g[0, 1, :, 0], torch.tensor([-2 / 3, 0.0, 2 / 3]))
    assert torch.equal(g[0, 0, 0], g[0, 0, 2])


def test_fourier_features_formula():
    ff = FourierFeatures(6)
    coords = torch.rand(2, 10, 2) * 2 - 1
    ref = torch.sin(coords @ ff.weight.T + ff.bias)
    torch.testing.assert_close(ff(coords), ref)


def test_coordinate_embedding_reads_the_table_exactly_at_trained_pixels_and_interpolates_between():
    emb = CoordinateEmbedding(4, 6, 8)
    grid = pixel_grid(6, 8).flatten(2).transpose(1, 2)                            # (1, 48, 2)
    table = emb.table[0].flatten(1).T                                               # (48, 4), row-major pixels
    torch.testing.assert_close(emb(grid)[0], table)
    # Halfway between two horizontally adjacent pixel centres: the mean of the two entries.
    x0, x1 = -1 + 1 / 8, -1 + 3 / 8
    y0 = -1 + 1 / 6
    mid = emb(torch.tensor([[[(x0 + x1) / 2, y0]]]))[0, 0]
    torch.testing.assert_close(mid, (emb.table[0, :, 0, 0] + emb.table[0, :, 0, 1]) / 2)


def test_modulated_linear_matches_direct_reference_and_a_1x1_modulated_conv():
    g = torch.Generator().manual_seed(0)
    x, weight = torch.randn(2, 7, 5, generator=g), torch.randn(3, 5, generator=g)
    styles = torch.randn(2, 5, generator=g)
    ref = torch.empty(2, 7, 3)
    for b in range(2):
        wb = weight * styles[b][None, :]
        wb = wb / (wb.square().sum(1, keepdim=True) + 1e-8).sqrt()
        ref[b] = x[b] @ wb.T
    torch.testing.assert_close(modulated_linear(x, weight, styles[:, None]), ref)
    conv = modulated_conv2d(x.transpose(1, 2)[..., None], weight[..., None, None], styles)   # (B, 3, N, 1)
    torch.testing.assert_close(conv[..., 0].transpose(1, 2), ref, rtol=1e-5, atol=1e-5)
    # Per-pixel styles: each pixel demodulated with its own style.
    per_pixel = torch.randn(2, 7, 5, generator=g)
    out = modulated_linear(x, weight, per_pixel)
    for b in range(2):
        for n in range(7):
            torch.testing.assert_close(out[b, n], modulated_linear(x[b:b + 1, n:n + 1], weight,
                                                                   per_pixel[b:b + 1, n:n + 1])[0, 0])


def test_modulated_layer_activation_and_torgb():
    layer = ModulatedLinear(5, 3, w_dim=4)
    with torch.no_grad():
        layer.bias.normal_()
    x, w = torch.randn(2, 6, 5), torch.randn(2, 4)
    pre = modulated_linear(x, layer.weight / math.sqrt(5), layer.affine(w)[:, None]) + layer.bias
    torch.testing.assert_close(layer(x, w), F.leaky_relu(pre, 0.2) * math.sqrt(2))
    rgb = ModulatedLinear(5, 3, w_dim=4, demodulate=False, activation=False)
    torch.testing.assert_close(rgb(x, w), (x * rgb.affine(w)[:, None]) @ (rgb.weight / math.sqrt(5)).T)


def test_chunked_render_equals_full_render_and_any_size_works():
    torch.manual_seed(0)
    G = CIPSGenerator(16, **SMALL).eval()
    z = torch.randn(2, 8)
    full = G(z)
    assert full.shape == (2, 3, 16, 16)
    for chunk in (1, 7, 100, 256):
        # Float tolerance: a 1-pixel chunk takes another BLAS path (measured max difference 3e-6 on values ~10).
        torch.testing.assert_close(G(z, chunk=chunk), full, rtol=1e-5, atol=1e-5)
    wide = G(z, coords=pixel_grid(12, 40))                  # non-square: the official code crashes here
    assert wide.shape == (2, 3, 12, 40)
    # Per-pixel latents: a per-pixel w that is the same everywhere gives the ordinary image, chunked or not.
    ws = G.map(z)
    per_pixel = ws[..., None, None].expand(-1, -1, -1, 16, 16)
    torch.testing.assert_close(G.synthesize(per_pixel), full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(G.synthesize(per_pixel, chunk=50), full, rtol=1e-5, atol=1e-5)


def test_pixels_are_conditionally_independent():
    torch.manual_seed(1)
    G = CIPSGenerator(8, **SMALL).eval()
    z = torch.randn(1, 8)
    coords = pixel_grid(8, 8)
    moved = coords.clone()
    moved[0, :, 3, 5] = torch.tensor([0.31, -0.77])
    a, b = G(z, coords=coords), G(z, coords=moved)
    changed = (a - b).abs().sum(1)[0] > 0
    assert changed[3, 5] and changed.sum() == 1


def test_cips_ne_has_no_embedding_and_trains(tmp_path):
    from spatialgan.api import load
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="cips", resolution=8, batch=4, width=16, z_dim=8, w_dim=8, mapping_layers=2,
                      cips_layers=4, coord_embedding=False, device="cpu", outdir=str(tmp_path), grid=4)
    t = Trainer(cfg)
    assert t.G.embedding is None
    before = [p.detach().clone() for p in t.G.parameters()]
    t.train_step(torch.rand(4, 3, 8, 8) * 2 - 1)
    assert any(not torch.equal(a, b) for a, b in zip(before, t.G.parameters()))
    t.save_snapshot()
    model = load(tmp_path)
    assert isinstance(model.G, CIPSGenerator) and model.sample([0, 1]).shape == (2, 3, 8, 8)
    assert model.render_full_frame(torch.randn(1, 8), 24).shape == (1, 3, 24, 24)


def test_cips_cli_train_and_selfssim(tmp_path):
    import json

    from spatialgan.cli import main

    from conftest import write_image_folder

    data = write_image_folder(tmp_path / "data", count=8, size=16)
    run = tmp_path / "run"
    assert main(["train", "--model", "cips", "--data", str(data), "--outdir", str(run), "--kimg", "0.008",
                 "--resolution", "16", "--batch", "4", "--width", "16", "--z-dim", "8", "--w-dim", "8",
                 "--mapping-layers", "2", "--cips-layers", "4", "--device", "cpu", "--quiet"]) == 0
    out = tmp_path / "r.json"
    assert main(["evaluate", "--ckpt", str(run), "--metrics", "selfssim", "--num", "4", "--out", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    assert result["metric"] == "selfssim" and -1 <= result["value"] <= 1


def test_odd_layer_count_is_refused():
    with pytest.raises(SpatialGANError, match="even number"):
        CIPSGenerator(8, **dict(SMALL, num_layers=3))


def test_banded_render_equals_one_shot_and_render_cli(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from spatialgan.api import load
    from spatialgan.cli import main
    from spatialgan.config import TrainConfig
    from spatialgan.imageutils import to_uint8
    from spatialgan.models.cips.render import render_image
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="cips", resolution=8, batch=4, width=16, z_dim=8, w_dim=8, mapping_layers=2,
                      cips_layers=4, device="cpu", outdir=str(tmp_path / "run"), grid=4)
    Trainer(cfg).save_snapshot()
    model = load(tmp_path / "run")
    G, ws = model.G, model.map(model.latents(5))
    one_shot = to_uint8(G.synthesize(ws, coords=pixel_grid(30, 70)))[0]
    for band in (1, 50, 70 * 30):
        banded = render_image(G, ws, 70, 30, band_pixels=band)
        assert np.abs(banded.astype(int) - one_shot.astype(int)).max() <= 1   # uint8 rounding of float noise
    out = tmp_path / "big.png"
    assert main(["render", "--ckpt", str(tmp_path / "run"), "--seed", "5", "--size", "70x30", "--out", str(out),
                 "--band-pixels", "100"]) == 0
    assert np.abs(np.asarray(Image.open(out)).astype(int) - one_shot.astype(int)).max() <= 1
    assert main(["render", "--ckpt", str(tmp_path / "run"), "--size", "70by30", "--out", str(out)]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_render_refuses_fixed_size_models(tmp_path, capsys):
    from spatialgan.cli import main
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(resolution=8, batch=4, width=8, z_dim=8, w_dim=8, mapping_layers=2, device="cpu",
                      outdir=str(tmp_path / "run"), grid=4)
    Trainer(cfg).save_snapshot()
    assert main(["render", "--ckpt", str(tmp_path / "run"), "--size", "16x16", "--out", str(tmp_path / "x.png")]) == 2
    assert "needs a model with any_region (cips, scaleparty); this one is stylegan2" in capsys.readouterr().err


# ------------------------------------------------------------------ cylindrical panoramas
def test_periodic_embedding_wraps_continuously_across_the_seam():
    emb = CoordinateEmbedding(3, 4, 8, periodic_x=True)
    y = -1 + 1 / 4                                                     # first row's centre
    at = lambda x: emb(torch.tensor([[[x, y]]]))[0, 0]                 # noqa: E731
    torch.testing.assert_close(at(1.0), at(-1.0))
    torch.testing.assert_close(at(1.0), (emb.table[0, :, 0, -1] + emb.table[0, :, 0, 0]) / 2)
    torch.testing.assert_close(at(-1 + 1 / 8), emb.table[0, :, 0, 0])  # a column centre: the entry itself
    torch.testing.assert_close(at(0.3 + 2), at(0.3), rtol=1e-5, atol=1e-6)


def test_panorama_is_periodic_and_its_seam_is_as_smooth_as_the_interior():
    torch.manual_seed(2)
    G = CIPSGenerator(8, **SMALL, panorama_frames=4).eval()
    z = torch.randn(1, 8)
    width = 64                                                         # the full circle, 8 columns per frame width
    step = 8 / width
    coords = pixel_grid(8, width + 2, x_range=(-4, 4 + 2 * step))     # two columns past the circle
    img = G(z, coords=coords)
    torch.testing.assert_close(img[..., width:], img[..., :2], rtol=1e-4, atol=1e-4)   # same angle, same colours
    pano = img[..., :width]
    interior = (pano[..., 1:] - pano[..., :-1]).abs().mean(dim=(0, 1, 2))            # per adjacent column pair
    seam = (pano[..., 0] - pano[..., -1]).abs().mean()
    assert seam <= interior.max() and seam < 3 * interior.mean()


def test_cylindrical_training_and_panorama_cli(tmp_path, capsys):
    from PIL import Image

    from spatialgan.cli import main

    from conftest import write_image_folder

    data = write_image_folder(tmp_path / "data", count=8, size=16)
    run = tmp_path / "run"
    assert main(["train", "--model", "cips", "--data", str(data), "--outdir", str(run), "--kimg", "0.008",
                 "--resolution", "8", "--batch", "4", "--width", "16", "--z-dim", "8", "--w-dim", "8",
                 "--mapping-layers", "2", "--cips-layers", "4", "--panorama-frames", "4", "--device", "cpu",
                 "--quiet"]) == 0
    out = tmp_path / "pano.png"
    assert main(["render", "--ckpt", str(run), "--panorama", "--size", "96x8", "--out", str(out)]) == 0
    assert Image.open(out).size == (96, 8)
    flat = tmp_path / "flat"
    assert main(["train", "--model", "cips", "--data", str(data), "--outdir", str(flat), "--kimg", "0.004",
                 "--resolution", "8", "--batch", "4", "--width", "16", "--z-dim", "8", "--w-dim", "8",
                 "--mapping-layers", "2", "--cips-layers", "4", "--device", "cpu", "--quiet"]) == 0
    assert main(["render", "--ckpt", str(flat), "--panorama", "--size", "96x8", "--out", str(out)]) == 2
    assert "cylindrical" in capsys.readouterr().err


def test_cylindrical_requests_carry_random_angles():
    from spatialgan.config import TrainConfig
    from spatialgan.models.cips.hooks import CIPSHooks

    cfg = TrainConfig(model="cips", resolution=8, z_dim=8, w_dim=8, width=16, mapping_layers=2, cips_layers=4,
                      panorama_frames=4, device="cpu")
    hooks = CIPSHooks(cfg)
    request = hooks.sample_request(64, torch.device("cpu"))
    assert request["x_offset"].abs().max() <= 4 and request["x_offset"].std() > 1
    G = CIPSGenerator(8, **SMALL, panorama_frames=4)
    images, _ = hooks.generate(G, request, style_mixing=0)
    # The request's images are the frames at those angles.
    first = G.synthesize(G.map(request["z"][:1]), coords=pixel_grid(8, 8, x_range=(-1 + float(request["x_offset"][0]),
                                                                                   1 + float(request["x_offset"][0]))))
    torch.testing.assert_close(images[:1], first, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ foveated rendering
def test_foveated_axis_and_its_inverse():
    from spatialgan.core.coords import foveated_axis, foveated_axis_inverse, pixel_centers

    xs = foveated_axis(16, 0.25, 2.0)
    assert (xs.diff() > 0).all() and xs.min() > -1 and xs.max() < 1
    gaps = xs.diff()
    assert gaps.min() < 2 / 16 < gaps.max()               # denser than uniform at the fovea, sparser at the rim
    nearest = (xs - 0.25).abs().argmin()
    assert abs(int(gaps.argmin()) - int(nearest)) <= 1     # the densest spot is at the fovea
    torch.testing.assert_close(foveated_axis_inverse(xs, 0.25, 2.0), pixel_centers(16), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(foveated_axis(8, 0.0, 1.0), pixel_centers(8))   # gamma 1, centred: uniform


def test_foveated_render_is_the_plain_render_without_foveation_and_sharp_at_the_fovea():
    from spatialgan.models.cips.render import render_foveated

    torch.manual_seed(3)
    G = CIPSGenerator(16, **SMALL).eval()
    ws = G.map(torch.randn(1, 8))
    plain = G.synthesize(ws, coords=pixel_grid(32, 32))
    same = render_foveated(G, ws, 32, 32, samples=(32, 32), center=(0.0, 0.0), gamma=1.0)
    torch.testing.assert_close(same, plain, rtol=1e-4, atol=1e-4)
    fov = render_foveated(G, ws, 32, 32, samples=(16, 16), center=(0.0, 0.0), gamma=2.0)
    coarse = torch.nn.functional.interpolate(G.synthesize(ws, coords=pixel_grid(16, 16)), size=(32, 32),
                                             mode="bilinear", align_corners=False)
    centre = (slice(None), slice(None), slice(12, 20), slice(12, 20))
    rim = (slice(None), slice(None), slice(0, 4), slice(None))
    # With a quarter of the samples, the fovea is closer to the full render than a uniform coarse render is.
    assert (fov - plain)[centre].abs().mean() < (coarse - plain)[centre].abs().mean()
    assert (fov - plain)[rim].abs().mean() > (fov - plain)[centre].abs().mean()


def test_render_cli_foveated(tmp_path):
    from PIL import Image

    from spatialgan.cli import main
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="cips", resolution=8, batch=4, width=16, z_dim=8, w_dim=8, mapping_layers=2,
                      cips_layers=4, device="cpu", outdir=str(tmp_path / "run"), grid=4)
    Trainer(cfg).save_snapshot()
    out = tmp_path / "fov.png"
    assert main(["render", "--ckpt", str(tmp_path / "run"), "--size", "40x24", "--foveate", "0.2,-0.1",
                 "--samples", "20x12", "--out", str(out)]) == 0
    assert Image.open(out).size == (40, 24)
    assert main(["render", "--ckpt", str(tmp_path / "run"), "--size", "40x24", "--foveate", "0.2",
                 "--out", str(out)]) == 2


# ------------------------------------------------------------------ official CIPS checkpoints
def _official_forward(state, coords, z):
    """CIPSskip's computation written from its public layout: LFF and embedding, conv1, pairs of styled 1x1 convs
    each followed by a ToRGB, mapping `style.*` after pixel norm (noise off)."""
    lrelu = lambda x: F.leaky_relu(x, 0.2) * math.sqrt(2)               # noqa: E731
    w = z / (z.square().mean(1, keepdim=True) + 1e-8).sqrt()
    i = 1
    while f"style.{i}.weight" in state:
        wt, b = state[f"style.{i}.weight"], state[f"style.{i}.bias"]
        w = lrelu(w @ (wt * 0.01 / math.sqrt(wt.shape[1])).T + b * 0.01)
        i += 1

    def styled(x, name, demod=True):
        weight = state[f"{name}.conv.weight"][0, :, :, 0, 0]
        mw, mb = state[f"{name}.conv.modulation.weight"], state[f"{name}.conv.modulation.bias"]
        s = w @ (mw / math.sqrt(mw.shape[1])).T + mb
        wmod = weight[None] / math.sqrt(weight.shape[1]) * s[:, None, :]            # (B, out, in)
        if demod:
            wmod = wmod / (wmod.square().sum(2, keepdim=True) + 1e-8).sqrt()
        return torch.einsum("boi,bihw->bohw", wmod, x)

    ff = torch.sin(F.conv2d(coords, state["lff.ffm.conv.weight"], state["lff.ffm.conv.bias"]))
    emb = state["emb.input"].expand(coords.shape[0], -1, -1, -1)                    # trained grid: direct lookup
    x = torch.cat([ff, emb], 1)
    x = lrelu(styled(x, "conv1") + state["conv1.activate.bias"].view(1, -1, 1, 1))
    rgb, j = 0, 0
    while f"linears.{j}.conv.weight" in state:
        x = lrelu(styled(x, f"linears.{j}") + state[f"linears.{j}.activate.bias"].view(1, -1, 1, 1))
        if j % 2 == 1:
            k = j // 2
            rgb = rgb + styled(x, f"to_rgbs.{k}", demod=False) + state[f"to_rgbs.{k}.bias"]
        j += 1
    return rgb


def test_official_cips_state_dict_converts_exactly(tmp_path):
    from spatialgan.models.cips.official import official_cips_to_ours, ours_to_official_cips

    torch.manual_seed(4)
    ours = CIPSGenerator(8, z_dim=8, w_dim=8, width=16, num_layers=4, mapping_layers=2, channels=[16, 8]).eval()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if name.endswith("bias") and "affine" not in name:
                p.normal_(0, 0.3)
    official = ours_to_official_cips(ours.state_dict())
    assert official["conv1.conv.weight"].shape == (1, 16, 32, 1, 1) and official["emb.input"].shape == (1, 16, 8, 8)
    assert official["to_rgbs.1.bias"].shape == (1, 3, 1, 1) and official["lff.ffm.conv.weight"].shape == (16, 2, 1, 1)
    converted, kwargs = official_cips_to_ours(official)
    assert kwargs["channels"] == [16, 8] and kwargs["resolution"] == 8 and kwargs["num_layers"] == 4
    G = CIPSGenerator(**kwargs).eval()
    G.load_state_dict(converted, strict=False)
    z = torch.randn(2, 8)
    coords = pixel_grid(8, 8).expand(2, -1, -1, -1)
    torch.testing.assert_close(G(z, coords=coords), _official_forward(official, coords, z), rtol=1e-4, atol=1e-4)


def load_without_corner_coords(path):
    from spatialgan.api import Model, load

    model = load(path)
    config = model.config
    config.cips_coords = "pixel-centers"
    G = model.spec.build_generator(config)
    G.load_state_dict(model.G.state_dict())
    return Model(G.eval(), config)


def test_convert_cli_writes_a_usable_run(tmp_path, capsys):
    from spatialgan.cli import main
    from spatialgan.models.cips.official import ours_to_official_cips

    ours = CIPSGenerator(8, z_dim=8, w_dim=8, width=16, num_layers=4, mapping_layers=2)
    official = ours_to_official_cips(ours.state_dict())
    torch.save({"g_ema": official, "g": official}, tmp_path / "cips.pt")
    assert main(["convert", "--cips-official", str(tmp_path / "cips.pt"), "--dest", str(tmp_path / "run"),
                 "--cips-reading", "train"]) == 0
    # With the training-mode reading, generate renders what the official generator computes in training mode:
    # linspace(-1, 1) coordinates, the embedding table read at its own grid, noise off. (The default eval reading
    # is tested against the official code's own images in test_checkpoint_families.py.)
    from spatialgan.api import load

    model = load(tmp_path / "run")
    z = model.latents([0, 1])
    lin = torch.linspace(-1, 1, 8)
    y, x = torch.meshgrid(lin, lin, indexing="ij")
    official_coords = torch.stack([x, y])[None].expand(2, -1, -1, -1)
    expected = _official_forward(official, official_coords, z)
    torch.testing.assert_close(model.sample(z=z), expected, rtol=1e-4, atol=1e-5)
    pixel_centres = load_without_corner_coords(tmp_path / "run").sample(z=z)
    assert (pixel_centres - expected).abs().max() > 1e-3                  # the old convention differs
    assert main(["render", "--ckpt", str(tmp_path / "run"), "--size", "24x16", "--out", str(tmp_path / "a.png")]) == 0
    torch.save({"g_ema": {"x": torch.zeros(1)}}, tmp_path / "bad.pt")
    assert main(["convert", "--cips-official", str(tmp_path / "bad.pt"), "--dest", str(tmp_path / "r2")]) == 2
    assert "no official CIPS generator" in capsys.readouterr().err


def test_per_pixel_noise_only_in_random_mode():
    layer = ModulatedLinear(5, 3, w_dim=4)
    x, w = torch.randn(2, 6, 5), torch.randn(2, 4)
    torch.testing.assert_close(layer(x, w, "random"), layer(x, w, "const"))     # strength 0 at init
    with torch.no_grad():
        layer.noise_strength.fill_(0.5)
    a, b = layer(x, w, "random"), layer(x, w, "random")
    assert not torch.equal(a, b) and torch.equal(layer(x, w, "const"), layer(x, w, "none"))
    torch.manual_seed(9)
    noisy = layer(x, w, "random")
    torch.manual_seed(9)
    noise = torch.randn(2, 6, 1)
    pre = modulated_linear(x, layer.weight / math.sqrt(5), layer.affine(w)[:, None]) + 0.5 * noise + layer.bias
    torch.testing.assert_close(noisy, F.leaky_relu(pre, 0.2) * math.sqrt(2), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ patch training
def test_patch_requests_match_generated_coordinates_and_real_crops():
    from spatialgan.config import TrainConfig
    from spatialgan.models.cips.hooks import CIPSHooks

    cfg = TrainConfig(model="cips", resolution=16, patch_size=8, z_dim=8, w_dim=8, width=16, mapping_layers=2,
                      cips_layers=4, device="cpu")
    hooks = CIPSHooks(cfg)
    torch.manual_seed(0)
    request = hooks.sample_request(32, torch.device("cpu"))
    sides = [s for _, _, s in request["patch_boxes"]]
    assert min(sides) >= 8 and max(sides) <= 16 and len(set(sides)) > 3        # several scales
    coords = hooks.request_coords(request, 32, torch.device("cpu"))
    assert coords.shape == (32, 2, 8, 8) and coords.abs().max() < 1
    # Reals whose colours are their own coordinates: each prepared patch must show its request's coordinates.
    reals = pixel_grid(16, 16).repeat(32, 1, 1, 1)[:, [0, 1, 0]]
    patches = hooks.prepare_reals(reals, request)
    # The paper recipe's D sees RGB plus each pixel's coordinates: those of the request, for reals and fakes.
    assert patches.shape == (32, 5, 8, 8)
    torch.testing.assert_close(patches[:, 3:], coords)
    fakes = torch.zeros(32, 3, 8, 8)
    torch.testing.assert_close(hooks.discriminator_input(fakes, request), torch.cat([fakes, coords], 1))
    full = CIPSHooks(TrainConfig(model="cips", resolution=16, z_dim=8, device="cpu"))
    torch.testing.assert_close(full.discriminator_input(torch.zeros(2, 3, 16, 16), {})[:, 3:],
                               pixel_grid(16, 16).expand(2, -1, -1, -1))
    ada = CIPSHooks(TrainConfig(model="cips", resolution=16, z_dim=8, device="cpu", recipe="ada"))
    assert ada.discriminator_input(fakes, request) is fakes
    # One point-sampling model for reals and fakes: each real patch pixel is the real pixel holding G's sample
    # point (the official strided sub-grid), not a blur of its neighbours: its centre is the point's pixel centre.
    holding = ((coords + 1) * 8).floor()                         # 16 real pixels over [-1, 1]
    torch.testing.assert_close(patches[:, :2], -1 + (2 * holding + 1) / 16, rtol=0, atol=1e-6)
    assert (patches[:, :2] - coords).abs().max() <= 1 / 16 + 1e-6   # within half a real pixel of the point
    same_size = [i for i, (_, _, side) in enumerate(request["patch_boxes"]) if side == 8]
    assert same_size
    torch.testing.assert_close(patches[same_size, :2], coords[same_size], rtol=0, atol=1e-6)   # plain crops: exact


def test_patch_training_step_and_patch_sized_discriminator(tmp_path):
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="cips", resolution=16, patch_size=8, batch=4, width=16, z_dim=8, w_dim=8,
                      mapping_layers=2, cips_layers=4, device="cpu", outdir=str(tmp_path), grid=4)
    t = Trainer(cfg)
    seen = []
    t.D.register_forward_hook(lambda m, inp, out: seen.append(tuple(inp[0].shape[-2:])))
    t.train_step(torch.rand(4, 3, 16, 16) * 2 - 1)
    assert set(seen) == {(8, 8)}
    assert t.sample_grid().shape[-2:] == (16, 16)                                # snapshots show whole frames


def test_blending_two_latents_per_pixel():
    from spatialgan.models.cips.render import blend_styles, horizontal_ramp

    torch.manual_seed(6)
    G = CIPSGenerator(8, **SMALL).eval()
    wa, wb = G.map(torch.randn(1, 8)), G.map(torch.randn(1, 8))
    weights = horizontal_ramp(16, 8, 0.25, 0.75)
    assert torch.allclose(weights.sum(0), torch.ones(8, 16))
    coords = pixel_grid(8, 16)
    mixed = G.synthesize(blend_styles([wa, wb], weights), "const", coords=coords)
    a, b = G.synthesize(wa, "const", coords=coords), G.synthesize(wb, "const", coords=coords)
    torch.testing.assert_close(mixed[..., :4], a[..., :4], rtol=1e-4, atol=1e-4)     # pure first latent
    torch.testing.assert_close(mixed[..., -4:], b[..., -4:], rtol=1e-4, atol=1e-4)   # pure second latent
    middle = mixed[..., 6:10]
    assert (middle - a[..., 6:10]).abs().mean() > 1e-3 and (middle - b[..., 6:10]).abs().mean() > 1e-3


def test_cips_r1_penalises_only_the_rgb_and_the_paper_recipe_takes_the_official_adam_values():
    from spatialgan.config import TrainConfig
    from spatialgan.core.losses import r1_penalty
    from spatialgan.models.cips.hooks import CIPSHooks
    from spatialgan.training.loop import Trainer

    x = torch.randn(2, 5, 4, 4, requires_grad=True)
    logits = (x * torch.arange(1.0, 6.0)[None, :, None, None]).sum(dim=(1, 2, 3))
    torch.testing.assert_close(r1_penalty(x, logits, 3), torch.full((2,), 16.0 * (1 + 4 + 9)))
    assert CIPSHooks(TrainConfig(model="cips", resolution=16, z_dim=8, device="cpu")).r1_channels() == 3
    assert CIPSHooks(TrainConfig(model="cips", resolution=16, z_dim=8, device="cpu", recipe="ada")).r1_channels() \
        is None
    small = dict(model="cips", resolution=8, width=8, z_dim=8, w_dim=8, mapping_layers=2, cips_layers=2, device="cpu",
                 outdir="/dev/null")
    group = Trainer(TrainConfig(**small)).opt_G.param_groups[0]
    assert group["lr"] == pytest.approx(0.0016) and group["betas"][1] == pytest.approx(0.99 ** 0.8)
    group = Trainer(TrainConfig(recipe="ada", pl_weight=0.0, **small)).opt_G.param_groups[0]     # no lazy G reg
    assert group["lr"] == pytest.approx(0.0025) and group["betas"][1] == pytest.approx(0.99)
    old = TrainConfig(**small).to_dict()
    del old["g_adam_interval"]
    assert TrainConfig.from_dict(old).g_adam_interval == 0          # older runs resume with the values they ran


def test_antialiased_patch_sampling_stays_available_and_older_runs_keep_it():
    from spatialgan.config import TrainConfig
    from spatialgan.models.cips.hooks import CIPSHooks

    base = dict(model="cips", resolution=16, patch_size=8, z_dim=8, device="cpu", recipe="ada")
    assert TrainConfig(**base).patch_sampling == "nearest"
    old = TrainConfig(**base).to_dict()
    del old["patch_sampling"]
    assert TrainConfig.from_dict(old).patch_sampling == "antialiased"
    torch.manual_seed(0)
    request = CIPSHooks(TrainConfig(**base)).sample_request(8, torch.device("cpu"))
    reals = torch.rand(8, 3, 16, 16)
    nearest = CIPSHooks(TrainConfig(**base)).prepare_reals(reals, request)
    blurred = CIPSHooks(TrainConfig(**base, patch_sampling="antialiased")).prepare_reals(reals, request)
    scaled = [i for i, (_, _, side) in enumerate(request["patch_boxes"]) if side > 8]
    assert scaled and not torch.allclose(nearest[scaled], blurred[scaled])
    assert nearest[scaled].var() > blurred[scaled].var()          # the resize averages; the sub-grid does not


@pytest.mark.parametrize("patch_size", [None, 8])
def test_declared_trained_densities_are_the_range_patch_training_renders(patch_size):
    """P points over a region of S real pixels are P * R / S pixels per frame height; full frames are R."""
    from spatialgan.config import TrainConfig
    from spatialgan.models.cips.adapter import CIPSAdapter
    from spatialgan.models.cips.hooks import CIPSHooks

    cfg = TrainConfig(model="cips", resolution=16, patch_size=patch_size, z_dim=8, w_dim=8, width=16,
                      mapping_layers=2, cips_layers=4, device="cpu")
    torch.manual_seed(0)
    request = CIPSHooks(cfg).sample_request(256, torch.device("cpu"))
    densities = [8 * 16 / side for _, _, side in request["patch_boxes"]] if patch_size else [16.0]
    assert CIPSAdapter(None, cfg).trained_densities() == (min(densities), max(densities))
