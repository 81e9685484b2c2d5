"""ScaleParty: pad-free generator, noise policies, any-region rendering, tiling, multi-scale training hooks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from spatialgan import SpatialGANError
from spatialgan.core.layers.noise import grid_noise, lattice_gaussian
from spatialgan.models.scaleparty.generator import ScalePartyGenerator

SMALL = dict(z_dim=8, w_dim=8, mapping_layers=2, channel_max=8)


def noisy_generator(resolution=16, seed=0):
    """A small generator whose noise is switched on, so that noise policies show in the output."""
    torch.manual_seed(seed)
    G = ScalePartyGenerator(resolution, **SMALL).eval()
    for layer in [G.input_conv, *G.convs]:
        layer.noise.strength.data.fill_(0.7)
    return G


def test_sizes_follow_the_margin_arithmetic_and_any_aspect_ratio():
    G = ScalePartyGenerator(16, **SMALL).eval()
    z = torch.randn(2, 8)
    assert G(z, noise_mode="none").shape == (2, 3, 16, 16)
    assert G(z, noise_mode="none", encoding=G.encoding(size=(16, 24))).shape == (2, 3, 16, 24)
    enc = G.encoding(size=(16, 16))
    assert enc.shape == (1, 2, 4 + 8, 4 + 8)                              # n + 2 n_pad at the base level
    with pytest.raises(ValueError, match="multiples of 4"):
        G.encoding(size=(16, 18))
    with pytest.raises(ValueError, match="n_pad"):
        ScalePartyGenerator(16, n_pad=3, **SMALL)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_every_feature_map_keeps_n_2l_plus_the_margin(n):
    G = ScalePartyGenerator(32, **SMALL).eval()                            # L = 3
    seen = []
    hooks = [layer.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[-2:])))
             for layer in [G.input_conv, *G.convs]]
    with torch.no_grad():
        out = G.synthesize(G.map(torch.randn(1, 8)), "grid", G.encoding(size=(8 * n, 8 * n)))
    for h in hooks:
        h.remove()
    # Input conv: n + 6. At level l: n 2^l + 8 after the first conv, n 2^l + 6 after the second.
    expected = [n + 6] + [s for l in (1, 2, 3) for s in (n * 2 ** l + 8, n * 2 ** l + 6)]
    assert seen == [(s, s) for s in expected]
    assert out.shape[-2:] == (8 * n, 8 * n)


def test_a_region_rendered_alone_equals_the_same_region_of_a_larger_render():
    G = noisy_generator()
    ws = G.map(torch.randn(1, 8))
    with torch.no_grad():
        wide = G.synthesize(ws, "grid", G.encoding(center=(0.0, 0.0), size=(16, 32)))      # x in [-2, 2]
        right = G.synthesize(ws, "grid", G.encoding(center=(1.0, 0.0), size=(16, 16)))     # x in [0, 2]
        inner = G.synthesize(ws, "grid", G.encoding(center=(0.0, 0.0), size=(16, 16)))     # x in [-1, 1]
    # No padding anywhere, and noise fixed in image space: each pixel depends only on where it is.
    torch.testing.assert_close(right, wide[..., 16:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(inner, wide[..., 8:24], rtol=1e-5, atol=1e-5)


def test_render_is_the_full_frame_at_scale_one_and_any_size_works():
    G = noisy_generator()
    ws = G.map(torch.randn(2, 8))
    with torch.no_grad():
        torch.testing.assert_close(G.render(ws), G.synthesize(ws, "grid"))
        assert G.render(ws, size=(7, 13), scale=0.3, center=(0.2, -0.4)).shape == (2, 3, 7, 13)
    with pytest.raises(ValueError):
        G.render(ws, scale=0.0)


def test_shifting_the_centre_by_one_output_pixel_shifts_the_render_by_one_pixel():
    G = noisy_generator()
    ws = G.map(torch.randn(1, 8))
    scale = 0.37
    pixel = 2 * scale / 16
    with torch.no_grad():
        a = G.render(ws, center=(0.11, -0.23), scale=scale, size=(20, 24))
        b = G.render(ws, center=(0.11 + pixel, -0.23), scale=scale, size=(20, 24))
        c = G.render(ws, center=(0.11, -0.23 - 3 * pixel), scale=scale, size=(20, 24))
    torch.testing.assert_close(b[..., :, :-1], a[..., :, 1:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(c[..., 3:, :], a[..., :-3, :], rtol=1e-5, atol=1e-5)
    assert (b - a).abs().mean() > 0.05          # the content does move


@pytest.mark.parametrize("tile", [8, 11])
def test_tiled_render_equals_the_full_render_with_grid_noise_and_warps(tile):
    from spatialgan.core.coords import swirl

    G = noisy_generator()
    ws = G.map(torch.randn(2, 8))
    for warp in (None, swirl(2.0, 0.8)):
        with torch.no_grad():
            full = G.render(ws, center=(0.3, 0.1), scale=0.45, size=(30, 37), warp=warp)
            tiled = G.render(ws, center=(0.3, 0.1), scale=0.45, size=(30, 37), warp=warp, tile=tile)
        torch.testing.assert_close(tiled, full, rtol=1e-5, atol=1e-5)
    with torch.no_grad():                       # fresh noise per tile cannot match: the test would notice
        r1 = G.render(ws, size=(30, 37), noise_mode="random", tile=tile)
        r2 = G.render(ws, size=(30, 37), noise_mode="random")
    assert (r1 - r2).abs().max() > 1e-3


def test_a_stretch_warp_equals_rendering_at_half_the_scale():
    from spatialgan.core.coords import stretch

    G = noisy_generator()
    ws = G.map(torch.randn(1, 8))
    with torch.no_grad():
        warped = G.render(ws, scale=0.8, size=(16, 24), warp=stretch(2.0, 2.0))
        zoomed = G.render(ws, scale=0.4, size=(16, 24))
    torch.testing.assert_close(warped, zoomed, rtol=1e-5, atol=1e-5)


def test_noise_policies():
    G = noisy_generator()
    ws = G.map(torch.randn(2, 8))
    with torch.no_grad():
        grid0, grid0b = G.render(ws, noise_seed=0), G.render(ws, noise_seed=0)
        grid1 = G.render(ws, noise_seed=1)
        per_image = G.render(ws, noise_seed=torch.tensor([1, 0]))
        const_a, const_b = G.render(ws, noise_mode="const"), G.render(ws, noise_mode="const")
        const_big = G.render(ws, noise_mode="const", size=(32, 32), scale=0.5)
        rand_a, rand_b = G.render(ws, noise_mode="random"), G.render(ws, noise_mode="random")
        none = G.render(ws, noise_mode="none")
    torch.testing.assert_close(grid0, grid0b)
    assert (grid0 - grid1).abs().max() > 1e-2
    torch.testing.assert_close(per_image[0], grid1[0])
    torch.testing.assert_close(per_image[1], grid0[1])
    torch.testing.assert_close(const_a, const_b)
    assert const_big.shape[-1] == 32
    assert (rand_a - rand_b).abs().max() > 1e-2
    for img in (grid0, const_a, rand_a):
        assert (img - none).abs().max() > 1e-2
    with pytest.raises(ValueError, match="noise_mode"):
        G.render(ws, noise_mode="sparkle")


def test_grid_noise_is_white_on_its_lattice_and_anchored_in_image_space():
    from spatialgan.core.coords import region_grid

    period = 2 / 64
    on_lattice = region_grid(size=(96, 96), period=(period, period))     # centres sit on lattice points
    n = grid_noise(on_lattice, period, stream=3)
    assert abs(float(n.mean())) < 0.05 and abs(float(n.std()) - 1) < 0.05
    flat = n[0, 0]
    assert abs(float(torch.corrcoef(torch.stack([flat[:, :-1].flatten(), flat[:, 1:].flatten()]))[0, 1])) < 0.05
    # The value at a lattice point is that point's own Gaussian, whatever region is asked for.
    k = torch.arange(-16, 80)                                            # x = -1.5 .. 1.5: lattice -16 .. 79
    direct = lattice_gaussian(k[None, :, None], k[None, None, :], 3, torch.tensor([0]).view(-1, 1, 1))
    torch.testing.assert_close(n[:, 0].double(), direct.transpose(1, 2), rtol=0, atol=1e-5)
    part = region_grid(center=(0.25, -0.5), size=(10, 12), period=(period, period))
    torch.testing.assert_close(grid_noise(part, period, 3), n[..., 27:37, 50:62], rtol=0, atol=1e-5)
    # Between lattice points: the bilinear blend of the four neighbours, renormalised to unit variance.
    halfway = on_lattice[..., :1, :2].clone()
    halfway[:, 0] += period / 2
    expected = (n[0, 0, 0, 0] + n[0, 0, 0, 1]) / 2 / (2 * 0.25) ** 0.5
    assert float(grid_noise(halfway, period, 3)[0, 0, 0, 0]) == pytest.approx(float(expected), abs=1e-5)
    fine = grid_noise(region_grid(size=(96, 96), period=(period / 3, period / 3)), period, 3)
    assert abs(float(fine.std()) - 1) < 0.1
    assert (grid_noise(part, period, 4) - grid_noise(part, period, 3)).abs().max() > 0.1   # layers differ


def test_scaleparty_trains_and_renders_full_frames_at_other_resolutions(tmp_path):
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    for mode in ("mix", "l1", "none"):
        cfg = TrainConfig(model="scaleparty", resolution=16, batch=4, width=8, z_dim=8, w_dim=8, mapping_layers=2,
                          device="cpu", outdir=str(tmp_path / mode), grid=4, interscale=mode, interscale_prob=1.0)
        t = Trainer(cfg)
        t.train_step(torch.rand(4, 3, 16, 16) * 2 - 1)
        means = t.stats.means()
        assert ("Loss/interscale_l1" in means) == (mode == "l1")
    assert t.adapter.render_full_frame(torch.randn(2, 8), 32).shape == (2, 3, 32, 32)
    assert t.adapter.render_full_frame(torch.randn(2, 8), 20).shape == (2, 3, 20, 20)
    t.save_snapshot()


def hooks_for(**overrides):
    from spatialgan.config import TrainConfig
    from spatialgan.models.scaleparty.hooks import ScalePartyHooks

    base = dict(model="scaleparty", resolution=32, batch=8, width=8, z_dim=8, w_dim=8, device="cpu")
    return ScalePartyHooks(TrainConfig(**{**base, **overrides}))


def paired_render(hooks, G, seed: int, batch: int):
    """A seeded training request of `batch` samples, its styles and G's render of it (the partner renders land in
    request['partner'])."""
    torch.manual_seed(seed)
    request = hooks.sample_request(batch, torch.device("cpu"))
    ws = G.map(request["z"])
    with torch.no_grad():
        return request, ws, hooks.synthesize_request(G, ws, request)


def test_training_requests_cover_two_sizes_random_scales_and_regions_inside_the_frame():
    from spatialgan import SpatialGANError

    for regime, sizes in (("paper", (32, 48)), ("half", (16, 24))):
        hooks = hooks_for(interscale_prob=0.5, scale_regime=regime)
        assert (hooks.small, hooks.large) == sizes
        seen, paired = set(), set()
        for _ in range(40):
            r = hooks.sample_request(8, torch.device("cpu"))
            seen.add(r["size"])
            paired.add(len(r["pair_index"]))
            assert 0.6 <= r["frac"] <= 1.0
            assert (r["centers"].abs() <= 1 - r["frac"] + 1e-6).all()         # the region stays inside the frame
            assert r["partner_size"] == (set(sizes) - {r["size"]}).pop()
        assert seen == set(sizes)
        if regime == "paper":
            assert paired == {0, 8}               # a whole iteration is paired, or none of it
        else:
            assert len(paired) > 2                # pairs drawn per sample
    with pytest.raises(SpatialGANError, match="multiples of 8"):
        hooks_for(small_size=12)
    with pytest.raises(SpatialGANError, match="scale_max"):
        hooks_for(scale_max=1.2)
    with pytest.raises(SpatialGANError, match="interscale"):
        hooks_for(interscale="blend")


def test_generated_regions_and_real_crops_show_the_same_place():
    hooks = hooks_for()
    request = {"z": torch.randn(2, 8), "noise_seed": torch.tensor([5, 6]), "size": 16, "frac": 0.4,
               "centers": torch.tensor([[0.3, -0.2], [-0.4, 0.1]])}
    # A real image that is a smooth function of position: its crop must be that function at the region's pixels.
    xs = (torch.arange(32) + 0.5) / 16 - 1
    ramp = (0.5 * xs[None, :] - 0.3 * xs[:, None]).expand(2, 3, 32, 32)
    crops = hooks.prepare_reals(ramp, request)
    pos = hooks.region_positions(request, 16)
    expected = (0.5 * pos[:, :1] - 0.3 * pos[:, 1:]).expand(-1, 3, -1, -1)
    # PyTorch's bicubic (a = -0.75) is off a ramp by < 3e-3 here; a half-pixel misplacement would be 1.6e-2.
    torch.testing.assert_close(crops, expected, rtol=0, atol=3e-3)
    assert abs(float((crops - expected).mean())) < 2e-4                 # no systematic offset
    # Downsizing reals (a region wider than its pixels) goes through an antialiased resize first.
    wide = dict(request, frac=0.9, centers=torch.zeros(2, 2))
    assert hooks.prepare_reals(ramp, wide).shape == (2, 3, 16, 16)
    # The generator's base-level encoding of a request is the same lattice as the real crop's.
    G = ScalePartyGenerator(32, **SMALL)
    enc = hooks.region_positions(request, 16, pad=G.n_pad, step=8)
    torch.testing.assert_close(enc[:1], G.encoding(center=(0.3, -0.2), scale=0.4 * 32 / 16, size=(16, 16)))


def test_inter_scale_pairs_render_the_same_region_and_mix_for_the_discriminator():
    from spatialgan.imageutils import resize_antialiased as resize
    from spatialgan.models.scaleparty.hooks import channelmix, cutmix

    hooks = hooks_for(interscale_prob=1.0, scale_regime="half", train_noise="grid")
    G = noisy_generator(32)
    request, ws, images = paired_render(hooks, G, seed=3, batch=4)
    partner = request["partner"]
    assert partner.shape[-1] == request["partner_size"] and len(partner) == 4
    # The partner of sample 0 is that sample's region at the other size, with the same image-space noise.
    c = request["centers"][0]
    scale = request["frac"] * 32 / request["partner_size"]
    with torch.no_grad():
        alone = G.synthesize(ws[:1], "grid", G.encoding((float(c[0]), float(c[1])), scale,
                                                       (request["partner_size"],) * 2), request["noise_seed"][:1])
    torch.testing.assert_close(partner[:1], alone, rtol=1e-5, atol=1e-5)
    mixed = hooks.discriminator_input(images, request)
    other = resize(partner, images.shape[-1])
    from_main, from_other = (mixed == images), (mixed == other)
    assert bool((from_main | from_other).all())                  # every value comes from one of the two renders
    for k in range(4):                                           # and each mixed sample takes some from its partner
        assert bool((from_other[k] & ~from_main[k]).any()) and bool((from_main[k] & ~from_other[k]).any())

    a, b = torch.zeros(64, 3, 12, 12), torch.ones(64, 3, 12, 12)
    cut = cutmix(a, b)
    for img in cut:
        rows, cols = torch.nonzero(img[0], as_tuple=True)
        assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)   # one rectangle
        assert bool((img == img[0]).all())                       # the same box on every channel
    area = cut.mean(dim=(1, 2, 3))
    assert 0.2 < float(area.mean()) < 0.65                       # E[1 - lambda] = 1/2, floored to whole pixels
    mix = channelmix(a, b)
    per_channel = mix.mean(dim=(2, 3))
    assert bool(((per_channel == 0) | (per_channel == 1)).all())  # whole channels
    swapped = per_channel.sum(1)
    assert bool(((swapped >= 1) & (swapped <= 2)).all())          # a proper, non-empty subset
    assert len({tuple(row.tolist()) for row in per_channel}) == 6


def _reference_pair_mix(x, y, u, mode):
    """The paper's augmentation written out per sample: y resized to x; a CutMix box of side int(h sqrt(1 - u0))
    at (int(u1 (h - side + 1)), int(u2 (w - side + 1))); ChannelMix's subset number int(u3 * 6) of the 6 proper,
    non-empty subsets of RGB (bit i: channel i); pixels in the box or channels in the subset come from y."""
    y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
    out = x.clone()
    h, w = x.shape[-2:]
    for i in range(len(x)):
        take = torch.zeros(3, h, w, dtype=torch.bool)
        if mode in ("mix", "cutmix"):
            side_h, side_w = max(1, int(h * (1 - float(u[i, 0])) ** 0.5)), max(1, int(w * (1 - float(u[i, 0])) ** 0.5))
            top, left = int(float(u[i, 1]) * (h - side_h + 1)), int(float(u[i, 2]) * (w - side_w + 1))
            take[:, top:top + side_h, left:left + side_w] = True
        if mode in ("mix", "channelmix"):
            subset = min(int(float(u[i, 3]) * 6), 5) + 1
            for c in range(3):
                if (subset >> c) & 1:
                    take[c] = True
        out[i][take] = y[i][take]
    return out


@pytest.mark.parametrize("mode", ["mix", "cutmix", "channelmix"])
def test_paper_inter_scale_augmentation_mixes_both_renders_of_a_pair_and_feeds_d_both(mode):
    hooks = hooks_for(interscale_prob=1.0, interscale=mode)
    torch.manual_seed(5)
    request = hooks.sample_request(6, torch.device("cpu"))
    size, other = request["size"], request["partner_size"]
    images, partner = torch.randn(6, 3, size, size), torch.randn(6, 3, other, other)
    request["partner"] = partner
    got = hooks.discriminator_input(images, request)
    assert isinstance(got, list) and [t.shape[-1] for t in got] == [size, other]
    u = request["mix_uniforms"][:, 1:5]
    torch.testing.assert_close(got[0], _reference_pair_mix(images, partner, u, mode))
    torch.testing.assert_close(got[1], _reference_pair_mix(partner, images, u, mode))
    assert not torch.equal(got[0], images) and not torch.equal(got[1], partner)


def test_the_training_step_shows_d_both_mixed_renders(tmp_path):
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="scaleparty", resolution=16, batch=4, width=8, z_dim=8, w_dim=8, mapping_layers=2,
                      interscale_prob=1.0, device="cpu", outdir=str(tmp_path / "run"))
    trainer = Trainer(cfg)
    seen = []
    forward = trainer.D.forward
    trainer.D.forward = lambda x: (seen.append(tuple(x.shape)), forward(x))[1]
    trainer.train_step(torch.rand(4, 3, trainer.hooks.real_resolution(), trainer.hooks.real_resolution()) * 2 - 1)
    sizes = {s[-1] for s in seen}
    assert sizes == {16, 24}                     # every fake batch came with its partner at the other size
    assert len(seen) >= 4                        # G phase: the pair; D phase: the pair and the reals


def test_paper_regime_loads_reals_dense_enough_and_never_upsamples(tmp_path):
    from spatialgan.data.dataset import ImageDataset

    from conftest import write_image_folder

    hooks = hooks_for()
    assert hooks.real_resolution() == 80 and not hooks.allow_upscaled_reals()      # ceil(48 / 0.6)
    assert hooks_for(scale_regime="half").real_resolution() == 32
    assert hooks_for(multiscale=False).allow_upscaled_reals()
    small = write_image_folder(tmp_path / "small", count=2, size=32)
    with pytest.raises(SpatialGANError, match="at least 80 px, never upsampled.*--resolution 80"):
        ImageDataset(small, 80, allow_upscale=False).load(0)
    assert ImageDataset(small, 80).load(0).shape == (3, 80, 80)                     # other models may upscale
    assert ImageDataset(write_image_folder(tmp_path / "big", count=2, size=96), 80, allow_upscale=False
                        ).load(1).shape == (3, 80, 80)
    # The full-frame request (no region) gets reals at the trained resolution.
    assert hooks.prepare_reals(torch.zeros(2, 3, 80, 80), {"z": None}).shape == (2, 3, 32, 32)


def test_l1_consistency_is_the_mean_absolute_difference_at_the_smaller_size():
    hooks = hooks_for(interscale="l1", lambda_interscale=3.0)
    images = torch.rand(4, 3, 24, 24)
    partner = torch.rand(2, 3, 16, 16)
    request = {"pair_index": torch.tensor([1, 3]), "partner": partner}
    got = hooks.generator_regularizers(None, None, request, images, None, 0)["interscale_l1"]
    small = F.interpolate(images[[1, 3]], size=(16, 16), mode="bilinear", align_corners=False, antialias=True)
    assert float(got) == pytest.approx(3.0 * float((small - partner).abs().mean()))


@pytest.fixture()
def scaleparty_run(tmp_path):
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="scaleparty", resolution=16, batch=4, width=8, z_dim=8, w_dim=8, mapping_layers=2,
                      device="cpu", outdir=str(tmp_path / "run"), grid=4)
    trainer = Trainer(cfg)
    for layer in [trainer.G_ema.input_conv, *trainer.G_ema.convs]:
        layer.noise.strength.data.fill_(0.5)
    trainer.save_snapshot()
    return tmp_path / "run"


def test_render_cli_any_region_scale_warp_and_tiles(scaleparty_run, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from spatialgan.api import load
    from spatialgan.cli import main
    from spatialgan.core.coords import swirl
    from spatialgan.imageutils import to_uint8

    model = load(scaleparty_run)
    G, ws = model.G, model.map(model.latents(3))
    out = tmp_path / "r.png"
    args = ["render", "--ckpt", str(scaleparty_run), "--seed", "3", "--size", "37x21", "--center", "0.2,-0.3",
            "--scale", "0.4", "--out", str(out)]
    with torch.no_grad():
        full = to_uint8(G.render(ws, center=(0.2, -0.3), scale=0.4, size=(21, 37), noise_seed=3))[0]
        warped = to_uint8(G.render(ws, center=(0.2, -0.3), scale=0.4, size=(21, 37), noise_seed=3,
                                   warp=swirl(1.5)))[0]
    assert main(args + ["--tile", "8"]) == 0
    assert np.abs(np.asarray(Image.open(out)).astype(int) - full.astype(int)).max() <= 1
    assert main(args + ["--warp", "swirl:1.5"]) == 0
    assert np.abs(np.asarray(Image.open(out)).astype(int) - warped.astype(int)).max() <= 1
    # Without --scale the full frame is stretched to the size (square pixels only).
    assert main(["render", "--ckpt", str(scaleparty_run), "--size", "32x32", "--out", str(out)]) == 0
    assert Image.open(out).size == (32, 32)
    for bad, message in ((["--warp", "twirl:1"], "unknown warp"), (["--noise", "fizz"], "--noise"),
                         (["--panorama"], "cips"), (["--scale", "-1"], "--scale"), (["--center", "1"], "--center"),
                         (["--region=-1,1,-1,1"], "either --region")):
        assert main(args + bad) == 2
        assert message in capsys.readouterr().err
    assert main(["render", "--ckpt", str(scaleparty_run), "--size", "32x16", "--region=-1,1,-1,1",
                 "--out", str(out)]) == 2
    assert "square pixels" in capsys.readouterr().err


def test_projection_finds_a_latent_and_the_cli_writes_renders_of_it(scaleparty_run, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from spatialgan import SpatialGANError
    from spatialgan.api import load
    from spatialgan.cli import main
    from spatialgan.imageutils import save_image, to_uint8
    from spatialgan.models.scaleparty.project import load_target, project

    G = load(scaleparty_run).G
    torch.manual_seed(4)
    with torch.no_grad():       # a target the model can make: its render of a w away from the mean
        target = G.render(G.map(torch.randn(1, 8)), noise_seed=0).clamp(-1, 1)
    photo = tmp_path / "photo.png"
    save_image(to_uint8(target)[0], photo)
    loaded = load_target(photo, 16)
    assert (loaded - target).abs().max() < 2 / 255 + 1e-6
    result = project(G, loaded, steps=60, lr=0.1)
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert result.perceptual == "pyramid-l1"

    outdir = tmp_path / "proj"
    assert main(["project", "--ckpt", str(scaleparty_run), "--image", str(photo), "--outdir", str(outdir),
                 "--steps", "20"]) == 0
    for name in ("target.png", "projection.png", "scales.png", "warps.png", "latent.safetensors"):
        assert (outdir / name).is_file()
    # The saved latent reproduces the projection through `render --ws`.
    again = tmp_path / "again.png"
    assert main(["render", "--ckpt", str(scaleparty_run), "--ws", str(outdir / "latent.safetensors"),
                 "--size", "16x16", "--out", str(again)]) == 0
    projection = np.asarray(Image.open(outdir / "projection.png"))[::4, ::4]
    assert np.abs(np.asarray(Image.open(again)).astype(int) - projection.astype(int)).max() <= 1

    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    assert main(["project", "--ckpt", str(scaleparty_run), "--image", str(tmp_path / "broken.png"),
                 "--outdir", str(outdir)]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    assert main(["render", "--ckpt", str(scaleparty_run), "--ws", str(tmp_path / "bad.safetensors"),
                 "--size", "16x16", "--out", str(again)]) == 2
    with pytest.raises(SpatialGANError, match="16x16"):
        project(G, torch.zeros(1, 3, 8, 8))


def test_laplacian_l1_against_a_direct_computation():
    from spatialgan.models.scaleparty.project import laplacian_l1

    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    expected, x, y = 0.0, a, b
    for _ in range(3):
        xd, yd = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        xu = F.interpolate(xd, scale_factor=2, mode="bilinear", align_corners=False)
        yu = F.interpolate(yd, scale_factor=2, mode="bilinear", align_corners=False)
        expected += float(((x - xu) - (y - yu)).abs().mean())
        x, y = xd, yd
    expected += float((x - y).abs().mean())
    assert float(laplacian_l1(a, b)) == pytest.approx(expected, rel=1e-6)
    assert float(laplacian_l1(a, a)) == 0.0


def test_training_noise_is_fresh_per_render_by_default_and_grid_on_request():
    """The official code trains with random noise drawn independently for the two renders of a pair; the paper's
    image-space (grid) noise is its inference policy, kept as --train-noise grid."""
    from spatialgan.config import TrainConfig

    assert hooks_for().noise_mode == "random"
    legacy = TrainConfig(model="scaleparty", device="cpu").to_dict()
    del legacy["train_noise"]
    assert TrainConfig.from_dict(legacy).train_noise == "grid"          # runs from before keep what they ran
    G = noisy_generator(32)
    for noise, same in (("random", False), ("grid", True)):
        hooks = hooks_for(interscale_prob=1.0, train_noise=noise)
        request, ws, first = paired_render(hooks, G, seed=4, batch=3)
        first_partner = request["partner"]
        with torch.no_grad():
            second = hooks.synthesize_request(G, ws, request)
        assert torch.equal(first, second) is same
        assert torch.equal(first_partner, request["partner"]) is same


def test_pair_iterations_give_d_reals_at_both_sizes_of_the_same_regions():
    from spatialgan.imageutils import resize_antialiased as resize

    hooks = hooks_for(interscale_prob=1.0)
    torch.manual_seed(2)
    request = hooks.sample_request(4, torch.device("cpu"))
    full = hooks.real_resolution()
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, full), torch.linspace(-1, 1, full), indexing="ij")
    reals = torch.stack([torch.sin(3 * xx + k) * torch.cos(2 * yy) for k in range(3)])[None].expand(4, -1, -1, -1)
    cuts = hooks.prepare_reals(reals, request)
    assert isinstance(cuts, list) and [c.shape[-1] for c in cuts] == [request["size"], request["partner_size"]]
    small = min(request["size"], request["partner_size"])
    a, b = (resize(c, small) for c in cuts)
    assert (a - b).abs().mean() < 0.03                           # the same place, at two densities
    unpaired = hooks_for(interscale_prob=0.0)
    request = unpaired.sample_request(4, torch.device("cpu"))
    assert not isinstance(unpaired.prepare_reals(reals, request), list)


def test_the_training_step_shows_d_reals_at_both_sizes(tmp_path):
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="scaleparty", resolution=16, batch=4, width=8, z_dim=8, w_dim=8, mapping_layers=2,
                      interscale_prob=1.0, device="cpu", outdir=str(tmp_path / "run"), augment="none")
    trainer = Trainer(cfg)
    res = trainer.hooks.real_resolution()
    reals = torch.rand(4, 3, res, res) * 2 - 1
    sizes = []
    forward = trainer.D.forward
    trainer.D.forward = lambda x: (sizes.append(x.shape[-1]), forward(x))[1]
    trainer.train_step(reals)              # step 0: R1 too, on both sizes
    assert sizes.count(16) == 4 and sizes.count(24) == 4      # G: pair; D: fake pair, real pair; R1: real pair


def test_path_length_requests_render_no_partner():
    hooks = hooks_for(interscale_prob=1.0)
    assert len(hooks.sample_request(4, torch.device("cpu"))["pair_index"]) == 4
    assert len(hooks.regularizer_request(4, torch.device("cpu")).get("pair_index", ())) == 0


@pytest.mark.parametrize("overrides", [dict(scale_regime="paper"), dict(scale_regime="half"),
                                       dict(scale_regime="paper", scale_min=0.3, scale_max=0.8),
                                       dict(multiscale=False)])
def test_declared_trained_densities_are_the_range_training_renders(overrides):
    """The adapter's density range (where the studio opens a view) is the span of r / f over training requests."""
    from spatialgan.models.scaleparty.adapter import ScalePartyAdapter

    hooks = hooks_for(**overrides)
    torch.manual_seed(0)
    densities = []
    for _ in range(400):
        r = hooks.sample_request(2, torch.device("cpu"))
        densities.append(r["size"] / r["frac"] if "size" in r else 32.0)   # without multi-scale: the full frame
        if "partner_size" in r:
            densities.append(r["partner_size"] / r["frac"])
    lo, hi = ScalePartyAdapter(None, hooks.config).trained_densities()
    assert lo <= min(densities) + 1e-6 and max(densities) <= hi + 1e-6
    assert min(densities) < lo * 1.05 and max(densities) > hi * 0.95      # and the range is no wider than that
