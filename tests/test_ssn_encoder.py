"""SSN's spatial encoders, their leakage measure, R_D's stated scale, legacy options and the transfer guard."""

import pytest
import torch
import torch.nn.functional as F

from spatialgan import SpatialGANError
from spatialgan.config import TrainConfig
from spatialgan.models.ssn.blocks import outside_block_distortion, replace_one_block_each
from spatialgan.models.ssn.encoder import (
    ENCODERS,
    LearnedFootprint,
    bilinear_blocks,
    generator_leakage,
    leakage,
    nearest_blocks,
)
from spatialgan.models.ssn.generator import SSNGenerator
from spatialgan.models.ssn.hooks import SSNHooks
from spatialgan.models.stylegan2.generator import StyleGAN2Generator

SMALL = dict(z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8)


def _bilinear_taps(blocks: int, size: int) -> torch.Tensor:
    """(blocks, size) weights of half-pixel bilinear upsampling along one axis, written out from its definition:
    pixel i samples source coordinate (i + 0.5) * blocks / size - 0.5, clamped to the first and last block."""
    taps = torch.zeros(blocks, size)
    for i in range(size):
        x = min(max((i + 0.5) * blocks / size - 0.5, 0.0), blocks - 1.0)
        left = int(x)
        frac = x - left
        taps[left, i] += 1 - frac
        if frac > 0:
            taps[left + 1, i] += frac
    return taps


def _bilinear_leakage(grid, size) -> float:
    """Separable: block (r, c)'s influence is u_r(y) v_c(x), so its inside share is the product of axis shares."""
    ty, tx = _bilinear_taps(grid[0], size[0]), _bilinear_taps(grid[1], size[1])
    shares = []
    for r in range(grid[0]):
        for c in range(grid[1]):
            top, bottom = r * size[0] // grid[0], (r + 1) * size[0] // grid[0]
            left, right = c * size[1] // grid[1], (c + 1) * size[1] // grid[1]
            inside = ty[r, top:bottom].sum() / ty[r].sum() * tx[c, left:right].sum() / tx[c].sum()
            shares.append(1 - float(inside))
    return sum(shares) / len(shares)


@pytest.mark.parametrize("grid,size", [((4, 4), (8, 8)), ((4, 4), (32, 32)), ((3, 5), (16, 16)), ((4, 4), (4, 4))])
def test_leakage_of_bilinear_matches_its_definition_and_nearest_has_none(grid, size):
    assert leakage(bilinear_blocks, grid, size) == pytest.approx(_bilinear_leakage(grid, size), abs=1e-6)
    assert leakage(nearest_blocks, grid, size) == 0
    if size == (8, 8):   # interior blocks leak 1 - 0.75^2 = 0.4375, edge ones 0.34, corners 0.23: mean 87/256
        assert leakage(bilinear_blocks, grid, size) == pytest.approx(87 / 256)


def test_leakage_of_the_learned_footprint_follows_its_kernel():
    # A 1-tap footprint is nearest (0); a 3x3 footprint leaks exactly its off-centre mass across each block edge.
    assert leakage(LearnedFootprint(kernel_size=1), (4, 4), (16, 16)) == 0
    foot = LearnedFootprint(kernel_size=3, centre_weight_1d=0.8)
    torch.testing.assert_close(foot.kernel().sum(), torch.tensor(1.0))
    # 16x16 from a 4x4 grid: 4-pixel blocks; 1D, a block's edge pixels (not at the border) send 0.1 outward.
    grid, size = (4, 4), (16, 16)
    kernel = foot.kernel().detach()
    expected = []
    for r in range(4):
        for c in range(4):
            onehot = torch.zeros(1, 1, 4, 4)
            onehot[0, 0, r, c] = 1
            x = nearest_blocks(onehot, size)
            padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")[0, 0]
            out = torch.zeros(size)
            for i in range(16):                     # the blur as an explicit loop
                for j in range(16):
                    out[i, j] = (padded[i:i + 3, j:j + 3] * kernel).sum()
            inside = torch.zeros(size, dtype=torch.bool)
            inside[4 * r:4 * r + 4, 4 * c:4 * c + 4] = True
            expected.append(float(out[~inside].sum() / out.sum()))
    assert leakage(foot, grid, size) == pytest.approx(sum(expected) / len(expected), abs=1e-6)
    assert 0 < leakage(foot, grid, size) < leakage(bilinear_blocks, grid, size)


@pytest.mark.parametrize("encoder", [e for e in ENCODERS if not e.startswith("spade")])  # spade*: exact at start
def test_every_convex_encoder_reproduces_stylegan2_at_constant_latents_even_after_training_moves_it(encoder):
    sg2 = StyleGAN2Generator(16, **SMALL).eval()
    ssn = SSNGenerator(16, 4, 4, spatial_encoder=encoder, **SMALL).eval()
    missing = ssn.load_state_dict(sg2.state_dict(), strict=False).missing_keys
    assert all("spatial_encoder" in k for k in missing) and (encoder == "learned") == bool(missing)
    with torch.no_grad():
        for p in ssn.parameters():              # a trained footprint: any logits at all
            if p.ndim == 2 and p.shape == (3, 3):
                p.copy_(torch.randn(3, 3))
        z = torch.randn(3, 8)
        ref = sg2(z, noise_mode="const")
        out = ssn(z[:, :, None, None].expand(-1, -1, 4, 4), noise_mode="const")
    assert (out - ref).abs().max() < 1e-4


def test_generator_leakage_lists_every_modulated_layer_with_its_size():
    G = SSNGenerator(16, 4, 4, spatial_encoder="bilinear", **SMALL)
    rows = generator_leakage(G)
    assert len(rows) == 2 + 3 + 3                       # 4x4: conv1, torgb; 8 and 16: conv0, conv1, torgb
    assert {r["size"] for r in rows} == {4, 8, 16}
    for r in rows:
        assert r["leakage"] == pytest.approx(_bilinear_leakage((4, 4), (r["size"],) * 2), abs=1e-6)
    assert all(r["leakage"] == 0 for r in generator_leakage(SSNGenerator(16, 4, 4, spatial_encoder="nearest",
                                                                         **SMALL)))


@pytest.mark.parametrize("reduction", ["mean", "one-block-sum", "paper"])
def test_distortion_regularizer_on_its_stated_scale_against_a_direct_loop(reduction):
    cfg = TrainConfig(model="ssn", resolution=16, z_dim=8, device="cpu", distortion_reduction=reduction)
    G = SSNGenerator(16, 4, 4, **SMALL)
    z = torch.randn(5, 8, 4, 4)
    torch.manual_seed(3)
    value = SSNHooks(cfg).distortion_penalty(G, z).detach()
    torch.manual_seed(3)
    rows, cols = torch.randint(0, 4, (5,)), torch.randint(0, 4, (5,))
    fresh = torch.randn(5, 8, 1, 1).expand(-1, -1, 4, 4)
    with torch.no_grad():
        a = G(z, noise_mode="const")
        b = G(replace_one_block_each(z, rows, cols, fresh), noise_mode="const")
    for i in range(5):
        per_block = [(a[i, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4] - b[i, :, 4 * r:4 * r + 4, 4 * c:4 * c + 4])
                     .square().mean() for r in range(4) for c in range(4) if (r, c) != (rows[i], cols[i])]
        scale = {"mean": 1 / len(per_block), "one-block-sum": 1, "paper": 16}[reduction]
        expected = sum(per_block) * scale
        assert float(value[i]) == pytest.approx(float(expected), rel=1e-4)
    if reduction == "mean":     # equal blocks: the mean over blocks is the distortion metric's outside-pixel mean
        metric = outside_block_distortion(a, b, rows, cols, (4, 4), per_block=False)
        torch.testing.assert_close(value, metric, rtol=1e-4, atol=1e-7)


def test_checkpoints_that_predate_an_option_keep_the_value_they_ran_with():
    old = TrainConfig(model="ssn", device="cpu").to_dict()
    for key in ("spatial_encoder", "distortion_reduction"):
        del old[key]
    restored = TrainConfig.from_dict(old)
    assert restored.spatial_encoder == "bilinear" and restored.distortion_reduction == "one-block-sum"
    old["distortion_reduction"] = "sum"             # the option's earlier name for one-block-sum
    assert TrainConfig.from_dict(old).distortion_reduction == "one-block-sum"
    fresh = TrainConfig(model="ssn", device="cpu", spatial_encoder="spade-bilinear")
    assert fresh.distortion_reduction == "mean"
    assert TrainConfig.from_dict(fresh.to_dict()).spatial_encoder == "spade-bilinear"   # a recorded value wins


def test_init_from_refuses_an_upsampling_filter_other_than_the_source_s(tmp_path):
    from spatialgan.checkpoint import save_generator_checkpoint
    from spatialgan.training.loop import Trainer

    sg2_cfg = TrainConfig(model="stylegan2", resolution=8, width=8, z_dim=8, w_dim=8, mapping_layers=2,
                          upsample="bilinear", device="cpu")
    G = StyleGAN2Generator(8, z_dim=8, w_dim=8, mapping_layers=2, channel_max=8)
    path = save_generator_checkpoint(tmp_path / "sg2.safetensors", sg2_cfg.to_dict(), G)
    common = dict(model="ssn", resolution=8, width=8, z_dim=8, w_dim=8, mapping_layers=2, latent_rows=2,
                  latent_cols=2, device="cpu", init_from=str(path), outdir=str(tmp_path / "run"))
    with pytest.raises(SpatialGANError, match="pass --upsample bilinear"):
        Trainer(TrainConfig(upsample="fir", **common))
    Trainer(TrainConfig(upsample="bilinear", **common))


def test_paper_reduction_is_eq2_in_expectation(monkeypatch):
    """Eq. 2 sums over every block a, and over b != a; the trainer draws one a per sample. With every a drawn once
    (same z, same fresh latent), the mean of the 'paper' penalty over the draws is eq. 2 computed directly."""
    import spatialgan.models.ssn.hooks as hooks_module

    G = SSNGenerator(16, 2, 2, **SMALL)
    z = torch.randn(1, 8, 2, 2).expand(4, -1, -1, -1)
    fresh = torch.randn(1, 8, 1, 1)

    draws = iter([torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])])      # rows, then columns: all 4

    class EveryBlock:
        randint = staticmethod(lambda high, n, device=None: next(draws))
        randn = staticmethod(lambda n, *shape, device=None, dtype=None: fresh.expand(n, -1, -1, -1))

    monkeypatch.setattr(hooks_module, "batchrng", EveryBlock)
    cfg = TrainConfig(model="ssn", resolution=16, z_dim=8, device="cpu", latent_rows=2, latent_cols=2,
                      distortion_reduction="paper")
    estimate = SSNHooks(cfg).distortion_penalty(G, z).detach().mean()
    with torch.no_grad():
        a = G(z[:1], noise_mode="const")
        eq2 = 0.0
        for r in range(2):
            for c in range(2):
                zt = z[:1].clone()
                zt[:, :, r, c] = fresh[:, :, 0, 0]
                b = G(zt, noise_mode="const")
                eq2 += sum(float((a[..., 8 * i:8 * i + 8, 8 * j:8 * j + 8] - b[..., 8 * i:8 * i + 8, 8 * j:8 * j + 8])
                                 .square().mean()) for i in range(2) for j in range(2) if (i, j) != (r, c))
    assert float(estimate) == pytest.approx(eq2, rel=1e-4)


def test_the_constructor_config_and_cli_share_one_default_encoder():
    """SSNGenerator once defaulted to bilinear while its docstring, the config and the CLI said learned; the 64-px
    sweep then chose bilinear (benchmarks/RESULTS.md), and all three say so."""
    import dataclasses

    from spatialgan.cli import build_parser
    from spatialgan.models.ssn.options import SSNOptions

    default = next(f.default for f in dataclasses.fields(SSNOptions) if f.name == "spatial_encoder")
    assert default == "bilinear" == TrainConfig(model="ssn", device="cpu").spatial_encoder
    assert build_parser().parse_args(["train", "--data", "x"]).spatial_encoder in (None, default)
    G = SSNGenerator(16, 4, 4, **SMALL)
    assert G.spatial_encoder == default
    convs = [m for m in G.synthesis.modules() if hasattr(m, "spatial_encoder") and not isinstance(m, SSNGenerator)]
    assert convs and all(m.spatial_encoder is None for m in convs)      # None: the core's bilinear spread
    learned = SSNGenerator(16, 4, 4, **SMALL, spatial_encoder="learned")
    assert set(G.state_dict()) == set(SSNGenerator(16, 4, 4, **SMALL, spatial_encoder="bilinear").state_dict())
    assert set(G.state_dict()) != set(learned.state_dict())


def test_spade_encoder_starts_exactly_at_the_transferred_stylegan2_and_reaches_across_seams():
    """The paper's spatial encoder (SPADE-style): nearest block styles plus conv3x3 -> ReLU -> conv3x3 of the
    nearest-resized w. Its last conv starts at zero, so a transfer starts at the StyleGAN2 image; once trained,
    a block's w changes the styles next to its seams (not only inside), and a constant grid stays constant."""
    from spatialgan.models.ssn.encoder import SpadeEncoder, generator_leakage, nearest_blocks

    torch.manual_seed(0)
    sg2 = StyleGAN2Generator(16, **SMALL).eval()
    ssn = SSNGenerator(16, 4, 4, spatial_encoder="spade", **SMALL).eval()
    missing, _ = ssn.load_state_dict(sg2.state_dict(), strict=False)
    assert missing and all("spatial_encoder" in k for k in missing)
    z = torch.randn(2, 8)
    with torch.no_grad():
        torch.testing.assert_close(ssn(z[:, :, None, None].expand(-1, -1, 4, 4), noise_mode="const"),
                                   sg2(z, noise_mode="const"), rtol=0, atol=1e-5)
    encoder = SpadeEncoder(w_dim=8, channels=5)
    with torch.no_grad():
        encoder.to_style.normal_()
    styles, w_map = torch.randn(1, 5, 2, 2), torch.randn(1, 8, 2, 2)
    out = encoder(styles, (8, 8), w_map)
    # Direct: nearest styles + conv(relu(conv(nearest w))) with replicate padding and equalized gains.
    x = F.pad(nearest_blocks(w_map, (8, 8)), (1,) * 4, mode="replicate")
    h = torch.relu(F.conv2d(x, encoder.shared / (8 * 9) ** 0.5, encoder.shared_bias))
    expected = nearest_blocks(styles, (8, 8)) + F.conv2d(F.pad(h, (1,) * 4, mode="replicate"),
                                                         encoder.to_style / (32 * 9) ** 0.5)
    torch.testing.assert_close(out, expected)
    constant = encoder(torch.ones(1, 5, 2, 2), (8, 8), torch.ones(1, 8, 2, 2))
    assert torch.allclose(constant, constant[..., :1, :1].expand_as(constant))
    moved = w_map.clone()
    moved[0, :, 0, 0] += 1
    change = (encoder(styles, (8, 8), moved) - out).abs().sum(1)[0]
    assert change[:4, :4].sum() > 0 and change[4:6, :4].sum() > 0 and change[6:, 6:].sum() == 0   # 2-px reach
    with torch.no_grad():
        for m in ssn.modules():
            if isinstance(m, SpadeEncoder):
                m.to_style.normal_()
    rows = generator_leakage(ssn)
    assert rows and all(0 < r["leakage"] < 1 for r in rows)


def test_spade_bilinear_starts_as_the_bilinear_ssn_and_adds_the_same_residual():
    """spade-bilinear: the SPADE residual on the bilinear spread. At transfer (residual at zero) it renders exactly
    what the bilinear SSN renders from the same independent blocks, not the nearest patchwork that spade starts
    from; with a trained residual it is bilinear(styles) + conv(relu(conv(nearest w)))."""
    from spatialgan.models.ssn.encoder import make_encoder, nearest_blocks

    torch.manual_seed(0)
    source = StyleGAN2Generator(16, **SMALL).state_dict()
    made = {}
    for kind in ("bilinear", "spade", "spade-bilinear"):
        made[kind] = SSNGenerator(16, 4, 4, spatial_encoder=kind, **SMALL).eval()
        made[kind].load_state_dict(source, strict=False)
    z = torch.randn(2, 8, 4, 4)
    with torch.no_grad():
        images = {kind: G(z, noise_mode="const") for kind, G in made.items()}
    torch.testing.assert_close(images["spade-bilinear"], images["bilinear"], rtol=0, atol=1e-5)
    assert (images["spade"] - images["bilinear"]).abs().max() > 1e-2
    encoder = make_encoder("spade-bilinear", w_dim=8, channels=5)
    with torch.no_grad():
        encoder.to_style.normal_()
    styles, w_map = torch.randn(1, 5, 2, 2), torch.randn(1, 8, 2, 2)
    x = F.pad(nearest_blocks(w_map, (8, 8)), (1,) * 4, mode="replicate")
    h = torch.relu(F.conv2d(x, encoder.shared / (8 * 9) ** 0.5, encoder.shared_bias))
    expected = F.interpolate(styles, size=(8, 8), mode="bilinear", align_corners=False) + F.conv2d(
        F.pad(h, (1,) * 4, mode="replicate"), encoder.to_style / (32 * 9) ** 0.5)
    torch.testing.assert_close(encoder(styles, (8, 8), w_map), expected)
