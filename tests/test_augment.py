"""Discriminator augmentation: ADA's bgc ops against direct computations, the p controller, DiffAugment, and the
training loop's use of them (gradients to G, R1 through the pipeline, exact resume, p rising when D memorises)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from test_training import params, tiny_config

from spatialgan.checkpoint import find_snapshots
from spatialgan.training.augment import AdaPipeline, AdaptiveProbability, Augmenter, ada, diffaugment
from spatialgan.training.augment import diffaug as diffaug_module
from spatialgan.training.loop import Trainer

from conftest import write_image_folder


def batch_of(matrix: torch.Tensor, b: int = 2) -> torch.Tensor:
    return matrix.double().expand(b, 3, 3)


def smooth_images(b: int = 2, size: int = 16) -> tuple[torch.Tensor, callable]:
    """Images of a smooth function f(u, v) of the pixel position about the centre, and f itself."""
    def f(u, v):
        return torch.sin(u * 0.21 + v * 0.13) + 0.5 * torch.cos(v * 0.17 - u * 0.05)
    c = torch.arange(size, dtype=torch.float64) + 0.5 - size / 2
    v, u = torch.meshgrid(c, c, indexing="ij")
    return f(u, v).expand(b, 3, size, size).clone(), f


# ------------------------------------------------------------------------------------------- the filters
def test_the_filter_pair_reconstructs_exactly():
    """Biorthogonality: upsampling by the synthesis filter then downsampling by the analysis filter is the
    identity away from the border (so an identity transform is exact)."""
    x = torch.randn(1, 2, 24, 24, dtype=torch.float64)
    y = ada.downsample2x(F.pad(ada.upsample2x(x), (4, 4, 4, 4)))
    torch.testing.assert_close(y[..., 4:-4, 4:-4], x[..., 4:-4, 4:-4], atol=1e-7, rtol=0)
    assert sum(ada.ANALYSIS_LOWPASS) == pytest.approx(1) and sum(ada.SYNTHESIS_LOWPASS) == pytest.approx(1)


# ------------------------------------------------------------------------------------------- geometric ops
def test_p_zero_is_the_identity_exactly():
    x = torch.randn(4, 3, 8, 8)
    assert AdaPipeline()(x, 0.0) is x
    torch.manual_seed(0)
    assert torch.equal(ada.geometric_matrix(64, 8, 8, 0.0, "cpu"), torch.eye(3).expand(64, 3, 3))
    assert torch.equal(ada.colour_matrix(64, 0.0, "cpu"), torch.eye(4).expand(64, 4, 4))


def test_identity_matrix_through_the_resampling_path_is_exact():
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    torch.testing.assert_close(ada.warp(x, batch_of(torch.eye(3))), x, atol=1e-6, rtol=0)


def test_x_flip_matches_a_direct_flip():
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    flip = ada.scale2d(-torch.ones(2), torch.ones(2)).double()
    torch.testing.assert_close(ada.warp(x, flip), x.flip(-1), atol=1e-6, rtol=0)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_rot90_matches_torch_rot90(k):
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    # Output position p reads input position R(k pi/2) p, with y pointing down the rows: torch.rot90 by k.
    g_inv = ada.rotate2d(torch.full((2,), math.pi / 2 * k)).double()
    torch.testing.assert_close(ada.warp(x, g_inv), torch.rot90(x, k, (2, 3)), atol=1e-5, rtol=0)


def test_integer_shift_matches_a_reflect_padded_crop():
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    dx, dy = 3, -2                       # content moves right by 3 and up by 2
    g_inv = ada.translate2d(torch.full((2,), -float(dx)), torch.full((2,), -float(dy))).double()
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    expected = padded[..., 4 - dy:4 - dy + 16, 4 - dx:4 - dx + 16]
    torch.testing.assert_close(ada.warp(x, g_inv), expected, atol=1e-6, rtol=0)


def test_scaling_a_smooth_image_samples_it_at_the_scaled_positions():
    x, f = smooth_images()
    s = 1.5                               # content enlarged 1.5x about the centre: out(p) = in(p / s)
    g_inv = ada.scale2d(torch.full((2,), 1 / s), torch.full((2,), 1 / s)).double()
    c = torch.arange(16, dtype=torch.float64) + 0.5 - 8
    v, u = torch.meshgrid(c, c, indexing="ij")
    torch.testing.assert_close(ada.warp(x, g_inv)[0, 0], f(u / s, v / s), atol=2e-3, rtol=0)


def test_a_rotation_of_a_smooth_image_samples_it_at_the_rotated_positions():
    x, f = smooth_images()
    theta = 0.4
    g_inv = ada.rotate2d(torch.full((2,), -theta)).double()
    c = torch.arange(16, dtype=torch.float64) + 0.5 - 8
    v, u = torch.meshgrid(c, c, indexing="ij")
    cu, su = math.cos(-theta), math.sin(-theta)
    expected = f(cu * u - su * v, su * u + cu * v)
    # Inside the frame (away from the reflected corners) the rotation is the function at rotated positions.
    torch.testing.assert_close(ada.warp(x, g_inv)[0, 0, 4:12, 4:12], expected[4:12, 4:12], atol=3e-3, rtol=0)


def test_parameter_distributions_follow_the_ada_paper():
    torch.manual_seed(0)
    g = ada.geometric_matrix(40000, 16, 16, 1.0, "cpu")
    # |det| = 1 / iso^2 (flips, rotations and anisotropic scaling keep the area): log2 iso ~ N(0, 0.2^2).
    log_det = torch.log2(torch.linalg.det(g[:, :2, :2]).abs())
    assert float(log_det.mean()) == pytest.approx(0, abs=0.01)
    assert float(log_det.std()) == pytest.approx(2 * ada.SCALE_STD, rel=0.03)
    half = ada.geometric_matrix(40000, 16, 16, 0.5, "cpu")
    scaled = (torch.linalg.det(half[:, :2, :2]).abs() - 1).abs() > 1e-6
    assert float(scaled.float().mean()) == pytest.approx(0.5, abs=0.015)           # each op with probability p
    c = ada.colour_matrix(40000, 1.0, "cpu")
    assert torch.allclose(c[:, 3], torch.tensor([0.0, 0, 0, 1]))


# ------------------------------------------------------------------------------------------- colour ops
def rgb_batch(b=3):
    return torch.rand(b, 3, 4, 5, dtype=torch.float64) * 2 - 1


def test_brightness_and_contrast_are_their_formulas():
    x = rgb_batch()
    b = torch.tensor([0.1, -0.3, 0.0], dtype=torch.float64)
    torch.testing.assert_close(ada.apply_colour(x, ada.translate3d(b)), x + b.view(3, 1, 1, 1))
    c = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(ada.apply_colour(x, ada.scale3d(c)), x * c.view(3, 1, 1, 1))


def luma_parts(x):
    grey = x.mean(dim=1, keepdim=True)          # projection on the axis (1, 1, 1) / sqrt(3), per channel
    return grey, x - grey


def test_luma_flip_negates_the_grey_component():
    x = rgb_batch()
    v = torch.tensor(ada.LUMA_AXIS, dtype=torch.float64)
    m = (torch.eye(4, dtype=torch.float64) - 2 * torch.outer(v, v)).expand(3, 4, 4)
    grey, chroma = luma_parts(x)
    torch.testing.assert_close(ada.apply_colour(x, m), chroma - grey)


def test_hue_rotation_keeps_grey_and_rotates_chroma():
    x = rgb_batch()
    theta = torch.tensor([0.3, -1.2, math.pi], dtype=torch.float64)
    out = ada.apply_colour(x, ada.rotate3d(torch.tensor(ada.LUMA_AXIS, dtype=torch.float64), theta))
    grey, chroma = luma_parts(x)
    grey_out, chroma_out = luma_parts(out)
    torch.testing.assert_close(grey_out, grey)
    # A rotation about the axis keeps the chroma's length and turns it by theta: cos = <a, b> / |a||b|.
    torch.testing.assert_close(chroma_out.norm(dim=1), chroma.norm(dim=1))
    cos = (chroma * chroma_out).sum(1) / chroma.norm(dim=1).square()
    torch.testing.assert_close(cos, torch.cos(theta).view(3, 1, 1).expand_as(cos))


def test_saturation_scales_chroma_only():
    x = rgb_batch()
    s = torch.tensor([0.0, 0.5, 3.0], dtype=torch.float64)
    v = torch.tensor(ada.LUMA_AXIS, dtype=torch.float64)
    vv = torch.outer(v, v)
    m = vv + (torch.eye(4, dtype=torch.float64) - vv) * s.view(3, 1, 1)
    grey, chroma = luma_parts(x)
    torch.testing.assert_close(ada.apply_colour(x, m), grey + chroma * s.view(3, 1, 1, 1))


def test_extra_channels_move_with_the_image_and_keep_their_values_under_colour():
    """CIPS's coordinate channels: geometric ops move them with the pixels, colour ops leave them alone."""
    x = torch.randn(2, 5, 16, 16, dtype=torch.float64)
    flip = ada.scale2d(-torch.ones(2), torch.ones(2)).double()
    torch.testing.assert_close(ada.warp(x, flip)[:, 3:], x[:, 3:].flip(-1), atol=1e-6, rtol=0)
    colour = ada.scale3d(torch.full((2,), 3.0, dtype=torch.float64))
    out = ada.apply_colour(x, colour)
    assert torch.equal(out[:, 3:], x[:, 3:])
    torch.testing.assert_close(out[:, :3], 3 * x[:, :3])


# ------------------------------------------------------------------------------------------- DiffAugment
def test_diffaugment_translation_and_cutout_against_direct_computation():
    x = torch.randn(2, 4, 16, 16)
    shifted = diffaug_module.translation(x, torch.tensor([[2, -1], [0, 0]]))
    expected = torch.zeros_like(x[0])
    expected[:, 0:15, 2:] = x[0, :, 1:16, :14]
    torch.testing.assert_close(shifted[0], expected)
    torch.testing.assert_close(shifted[1], x[1])
    cut = diffaug_module.cutout(x, torch.tensor([[8, 8], [0, 15]]))
    assert torch.equal(cut[0, :, 4:12, 4:12], torch.zeros(4, 8, 8))
    assert torch.equal(cut[0, :, :4], x[0, :, :4]) and torch.equal(cut[0, :, 12:], x[0, :, 12:])
    assert int((cut[1] == 0).all(0).sum()) == 4 * 5      # clipped: columns -4..3 and rows 11..18 -> 4 x 5 left


def test_diffaugment_colour_is_its_formula(monkeypatch):
    x = torch.randn(2, 4, 8, 8)
    u = torch.tensor([[0.75, 0.25, 1.0], [0.5, 0.5, 0.5]])
    monkeypatch.setattr(diffaug_module.batchrng, "rand", lambda *a, **k: u)
    out = diffaug_module.colour(x)
    rgb = x[:, :3] + (u[:, 0] - 0.5).view(2, 1, 1, 1)
    m = rgb.mean(1, keepdim=True)
    rgb = (rgb - m) * (2 * u[:, 1]).view(2, 1, 1, 1) + m
    m = rgb.mean((1, 2, 3), keepdim=True)
    rgb = (rgb - m) * (u[:, 2] + 0.5).view(2, 1, 1, 1) + m
    torch.testing.assert_close(out[:, :3], rgb)
    assert torch.equal(out[:, 3:], x[:, 3:])
    assert diffaugment(x).shape == x.shape


# ------------------------------------------------------------------------------------------- the controller
def test_p_rises_falls_and_saturates_at_the_stated_speed():
    ctrl = AdaptiveProbability(p=0.0, target=0.6, ada_kimg=1.0)      # 32 images * 4 steps / 1000 per adjustment
    overfit, underfit = torch.ones(32), -torch.ones(32)
    for step in range(8):
        ctrl.accumulate(overfit)
        ctrl.update(step, 32)
    assert ctrl.p == pytest.approx(2 * 0.128)                        # two adjustments up
    for step in range(8, 8 + 4 * 10):
        ctrl.accumulate(overfit)
        ctrl.update(step, 32)
    assert ctrl.p == 1.0                                             # saturates
    for step in range(48, 48 + 4 * 3):
        ctrl.accumulate(underfit)
        ctrl.update(step, 32)
    assert ctrl.p == pytest.approx(1 - 3 * 0.128)
    for step in range(60, 60 + 4 * 20):
        ctrl.accumulate(underfit)
        ctrl.update(step, 32)
    assert ctrl.p == 0.0                                             # never negative
    at_target = torch.tensor([1.0] * 8 + [-1.0] * 2)                 # r_t = 0.6 exactly: p stays
    for step in range(4):
        ctrl.accumulate(at_target)
        ctrl.update(step, 32)
    assert ctrl.p == 0.0 and ctrl.last_rt == pytest.approx(0.6)


def test_p_uses_every_ranks_signs():
    """The all-reduce: the ratio is of the summed signs, so a rank whose own signs sit below target still rises."""
    ctrl = AdaptiveProbability(p=0.5, target=0.6, ada_kimg=1.0)
    for step in range(4):
        ctrl.accumulate(torch.zeros(8))                              # this rank: r_t = 0
        ctrl.update(step, 16, reduce_sum=lambda t: t + torch.tensor([32.0, 32.0], dtype=t.dtype))
    assert ctrl.last_rt == pytest.approx(32 / 64) and ctrl.p == pytest.approx(0.5 - 0.064)


# ------------------------------------------------------------------------------------------- in training
def test_gradients_reach_g_through_the_pipeline_and_r1_differentiates_through_it(tmp_path):
    t = Trainer(tiny_config(tmp_path, "unused", augment="fixed", augment_p=1.0))
    request = t.hooks.sample_request(4, t.device)
    fakes, _ = t.hooks.generate(t.G, request)
    augmented = t.augment(fakes)
    assert not torch.equal(augmented, fakes)
    t.D(augmented).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in t.G.synthesis.parameters() if p.requires_grad)
    reals = (torch.rand(4, 3, 8, 8) * 2 - 1).requires_grad_(True)
    t.D.zero_grad()
    (grad,) = torch.autograd.grad(t.D(t.augment(reals)).sum(), reals, create_graph=True)
    grad.square().sum().backward()
    weights = [p for name, p in t.D.named_parameters() if name.endswith("weight")]
    assert weights[0].grad is not None and weights[0].grad.abs().sum() > 0      # double backward through it


def test_every_image_d_sees_is_augmented_and_ssn_distortion_is_not(tmp_path, monkeypatch):
    """G main (fakes), D main (fakes, reals) and R1 (reals) pass through the augmentation, once each; SSN's
    distortion regularizer (which never goes through D) does not."""
    t = Trainer(tiny_config(tmp_path, "unused", model="ssn", augment="fixed", augment_p=0.5, r1_interval=1,
                            pl_weight=0.0, lambda_distortion=1.0, distortion_interval=1))
    seen = []
    original = t.augment.__class__.__call__
    monkeypatch.setattr(type(t.augment), "__call__", lambda self, x: seen.append(x.shape) or original(self, x))
    t.train_step(torch.rand(8, 3, 8, 8) * 2 - 1)
    assert len(seen) == 4
    assert "Loss/distortion" in t.stats.means()


def test_scaleparty_augments_each_image_of_a_pair():
    class Cfg:
        augment, augment_p, ada_target, ada_kimg = "fixed", 1.0, 0.6, 500.0
    torch.manual_seed(1)
    pair = [torch.randn(2, 3, 8, 8), torch.randn(2, 3, 12, 12)]
    out = Augmenter(Cfg())(pair)
    assert [o.shape for o in out] == [p.shape for p in pair]
    assert not torch.equal(out[0], pair[0]) and not torch.equal(out[1], pair[1])


def aug_lines(run):
    return [(r["nimg"], r["Augment/p"], r.get("Augment/rt")) for r in map(json.loads, (run / "stats.jsonl")
            .read_text().splitlines()) if "tick" in r]


def test_resume_with_augmentation_is_bit_exact(tmp_path):
    data = write_image_folder(tmp_path / "data", count=20, size=12)
    opts = dict(augment="ada", augment_p=0.3, ada_kimg=0.2, ada_target=0.0)
    full = Trainer(tiny_config(tmp_path / "a", data, kimg=0.32, **opts))
    full.run(progress=False)
    part = Trainer(tiny_config(tmp_path / "b", data, kimg=0.16, **opts))
    part.run(progress=False)
    resumed = Trainer.from_checkpoint(find_snapshots(tmp_path / "b" / "run")[-1], {"kimg": 0.32})
    assert resumed.augment.p == part.augment.p
    resumed.run(progress=False)
    for name in ("G", "G_ema", "D"):
        assert torch.equal(params(getattr(resumed, name)), params(getattr(full, name))), name
    assert aug_lines(tmp_path / "b" / "run") == aug_lines(tmp_path / "a" / "run")
    assert len({p for _, p, _ in aug_lines(tmp_path / "a" / "run")}) > 1          # p moved during the run


def test_p_rises_when_d_memorises_a_tiny_set(tmp_path, monkeypatch):
    """G frozen: D separates its few reals from the fakes, r_t goes to 1 and p climbs at the stated speed."""
    data = write_image_folder(tmp_path / "data", count=4, size=12)
    t = Trainer(tiny_config(tmp_path, data, kimg=0.64, augment="ada", ada_kimg=2.0, lr=0.01, gamma=0.0))
    monkeypatch.setattr(t.opt_G, "step", lambda *a, **k: None)
    t.run(progress=False)
    lines = aug_lines(tmp_path / "run")
    adjustments = t.step // 4
    assert lines[-1][1] >= 0.7 * adjustments * 8 * 4 / 2000          # rose on most adjustments
    assert t.augment.controller.last_rt > 0.6


def test_augment_none_never_touches_images(tmp_path):
    t = Trainer(tiny_config(tmp_path, "unused", augment="none"))
    x = torch.randn(2, 3, 8, 8)
    assert t.augment(x) is x and t.augment.p == 0.0
