"""SSN: spatially modulated conv, spatial latents, block resampling, distortion, and StyleGAN2 transfer."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spatialgan import SpatialGANError
from spatialgan.config import TrainConfig
from spatialgan.core.layers.modulated import ModulatedConv2d, modulated_conv2d, spatially_modulated_conv2d
from spatialgan.models.ssn.blocks import (
    block_bounds,
    block_mask,
    outside_block_distortion,
    replace_blocks,
    replace_one_block_each,
)
from spatialgan.models.ssn.generator import SSNGenerator
from spatialgan.models.ssn.hooks import SSNHooks
from spatialgan.models.stylegan2.generator import StyleGAN2Generator

SMALL = dict(z_dim=8, w_dim=8, mapping_layers=2, channel_max=8)


def test_spatially_modulated_conv_matches_direct_reference():
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    s = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    out = spatially_modulated_conv2d(x, w, s, demodulate=True, padding=1)
    # Direct: y = conv(s*h); energy[n, o, i, j] = sum_{c, di, dj} w[o,c,di,dj]^2 s[n,c,clamp(i+di-1),clamp(j+dj-1)]^2
    y = F.conv2d(s * x, w, padding=1)
    energy = torch.zeros(2, 4, 5, 6, dtype=torch.float64)
    for i in range(5):
        for j in range(6):
            for di in range(3):
                for dj in range(3):
                    ii, jj = min(max(i + di - 1, 0), 4), min(max(j + dj - 1, 0), 5)
                    energy[:, :, i, j] += (w[:, :, di, dj] ** 2 @ (s[:, :, ii, jj] ** 2).t()).t()
    sigma = (energy.mean(dim=(2, 3)) + 1e-8).sqrt()
    torch.testing.assert_close(out, y / sigma[:, :, None, None])
    torch.testing.assert_close(spatially_modulated_conv2d(x, w, s, demodulate=False, padding=1), y)


def test_constant_styles_give_exactly_stylegan2_demodulation():
    x = torch.randn(2, 6, 7, 7, dtype=torch.float64)
    w = torch.randn(5, 6, 3, 3, dtype=torch.float64)
    s = torch.randn(2, 6, dtype=torch.float64)
    spatial = spatially_modulated_conv2d(x, w, s[:, :, None, None].expand(-1, -1, 7, 7), True, 1)
    torch.testing.assert_close(spatial, modulated_conv2d(x, w, s, True, 1), rtol=1e-12, atol=1e-12)
    layer = ModulatedConv2d(6, 5, 3, w_dim=4).double()
    wv = torch.randn(2, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(x, wv[:, :, None, None].expand(-1, -1, 3, 3)), layer(x, wv))


def test_latent_grid_shapes_including_8x8_and_nonsquare():
    for rows, cols in ((4, 4), (8, 8), (2, 3)):
        G = SSNGenerator(16, rows, cols, **SMALL)
        assert G(torch.randn(2, 8, rows, cols)).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="SSN latents"):
        SSNGenerator(16, **SMALL)(torch.randn(2, 8))


def test_mapping_is_the_same_mlp_on_every_block():
    G = SSNGenerator(8, 2, 3, **SMALL)
    z = torch.randn(2, 8, 2, 3)
    w = G.map(z)
    torch.testing.assert_close(w[:, 1, 2], G.mapping(z[:, :, 1, 2]))


def test_resampling_every_block_gives_the_fresh_sample():
    G = SSNGenerator(16, 4, 4, **SMALL).eval()
    z, fresh = torch.randn(1, 8, 4, 4), torch.randn(1, 8, 4, 4)
    all_blocks = [(r, c) for r in range(4) for c in range(4)]
    z_new = z
    for block in all_blocks:  # one block at a time, in turn
        z_new = replace_blocks(z_new, [block], fresh)
    with torch.no_grad():
        assert torch.equal(G(z_new, noise_mode="const"), G(fresh, noise_mode="const"))
        partial = G(replace_blocks(z, all_blocks[:5], fresh), noise_mode="const")
        assert not torch.equal(partial, G(fresh, noise_mode="const"))


def test_transfer_from_stylegan2_reproduces_images_for_constant_latents():
    torch.manual_seed(3)
    sg2 = StyleGAN2Generator(16, **SMALL).eval()
    with torch.no_grad():
        for m in sg2.modules():  # non-trivial noise strengths and biases
            if hasattr(m, "strength"):
                m.strength.fill_(0.2)
    z = torch.randn(2, 8)
    with torch.no_grad():
        ref = sg2(z, noise_mode="const")
    for encoder in ("learned", "bilinear", "nearest"):      # every encoder: the encoder's own weights stay new
        ssn = SSNGenerator(16, 4, 4, spatial_encoder=encoder, **SMALL).eval()
        missing, unexpected = ssn.load_state_dict(sg2.state_dict(), strict=False)
        assert not unexpected and all("spatial_encoder" in k for k in missing)
        with torch.no_grad():
            out = ssn(z[:, :, None, None].expand(-1, -1, 4, 4), noise_mode="const")
        assert (out - ref).abs().max() < 1e-4, encoder


class IndependentBlocks(nn.Module):
    """Each output block depends only on its own latent block (nearest upsampling of a 1x1 projection)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 3)

    def map(self, z, truncation_psi=1.0, update_w_avg=False):
        return z.permute(0, 2, 3, 1)

    def synthesize(self, w_blocks, noise_mode="random"):
        x = self.proj(w_blocks).permute(0, 3, 1, 2)
        return F.interpolate(x, scale_factor=4, mode="nearest")


def test_distortion_regularizer_zero_without_block_interaction_and_positive_with_it():
    cfg = TrainConfig(model="ssn", resolution=16, z_dim=8, device="cpu", distortion_reduction="one-block-sum")
    hooks = SSNHooks(cfg)
    z = torch.randn(6, 8, 4, 4)
    assert hooks.distortion_penalty(IndependentBlocks(), z).abs().max() == 0
    ssn = SSNGenerator(16, 4, 4, **SMALL)
    assert (hooks.distortion_penalty(ssn, z) > 0).all()
    # Mapping only the fresh blocks equals mapping the whole z~ (the mapping runs block by block).
    torch.manual_seed(7)
    fast = hooks.distortion_penalty(ssn, z)
    torch.manual_seed(7)
    rows, cols = torch.randint(0, 4, (6,)), torch.randint(0, 4, (6,))
    fresh = torch.randn(6, 8, 1, 1).expand(-1, -1, 4, 4)
    z_tilde = replace_one_block_each(z, rows, cols, fresh)
    a, b = ssn(z, noise_mode="const"), ssn(z_tilde, noise_mode="const")
    torch.testing.assert_close(fast, outside_block_distortion(a, b, rows, cols, (4, 4), per_block=True))


def test_outside_block_distortion_matches_loop():
    a, b = torch.randn(2, 3, 8, 12), torch.randn(2, 3, 8, 12)
    rows, cols = torch.tensor([0, 1]), torch.tensor([2, 0])
    per_block = outside_block_distortion(a, b, rows, cols, (2, 3), per_block=True)
    mean = outside_block_distortion(a, b, rows, cols, (2, 3), per_block=False)
    for i in range(2):
        blocks = []
        for r in range(2):
            for c in range(3):
                if (r, c) != (int(rows[i]), int(cols[i])):
                    t, bt, l, rt = block_bounds(r, c, (2, 3), (8, 12))
                    blocks.append((a[i, :, t:bt, l:rt] - b[i, :, t:bt, l:rt]).square())
        assert per_block[i].item() == pytest.approx(sum(x.mean().item() for x in blocks), rel=1e-5)
        assert mean[i].item() == pytest.approx(torch.cat([x.flatten() for x in blocks]).mean().item(), rel=1e-5)


def test_block_helpers():
    assert block_bounds(1, 2, (4, 4), (32, 32)) == (8, 16, 16, 24)
    assert block_mask([(0, 0), (3, 3)], (4, 4), (8, 8)).sum() == 8
    with pytest.raises(ValueError, match="outside"):
        block_bounds(4, 0, (4, 4), (32, 32))
    z, fresh = torch.zeros(3, 2, 2, 2), torch.ones(3, 2, 2, 2)
    out = replace_one_block_each(z, torch.tensor([0, 1, 1]), torch.tensor([1, 0, 1]), fresh)
    assert out.sum() == 6 and out[0, :, 0, 1].sum() == 2 and out[2, :, 1, 1].sum() == 2


def test_ssn_trains_with_distortion_and_checkpoints(tmp_path):
    from spatialgan.api import load
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="ssn", resolution=8, batch=4, width=8, z_dim=8, w_dim=8, mapping_layers=2,
                      latent_rows=2, latent_cols=2, distortion_interval=1, device="cpu", outdir=str(tmp_path), grid=4)
    t = Trainer(cfg)
    t.train_step(torch.rand(4, 3, 8, 8) * 2 - 1)
    assert "Loss/distortion" in t.stats.means()
    t.save_snapshot()
    model = load(tmp_path)
    assert isinstance(model.G, SSNGenerator) and model.adapter.latent_shape() == (8, 2, 2)
    assert model.sample([0, 1]).shape == (2, 3, 8, 8)


def test_resample_cli_writes_original_resamples_and_overview(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from spatialgan.cli import main

    from conftest import write_image_folder

    data = write_image_folder(tmp_path / "data", count=8, size=10)
    run = tmp_path / "run"
    assert main(["train", "--model", "ssn", "--data", str(data), "--outdir", str(run), "--kimg", "0.016",
                 "--resolution", "16", "--batch", "8", "--width", "8", "--z-dim", "8", "--w-dim", "8",
                 "--mapping-layers", "2", "--latent-grid", "4x4", "--device", "cpu", "--quiet"]) == 0
    out = tmp_path / "res"
    assert main(["resample", "--ckpt", str(run), "--seed", "3", "--blocks", "0,1", "2,2", "--count", "3",
                 "--outdir", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["latents.safetensors", "original.png", "overview.png", "resample_00.png", "resample_01.png",
                     "resample_02.png"]
    orig = np.asarray(Image.open(out / "original.png")).astype(int)
    res = np.asarray(Image.open(out / "resample_00.png")).astype(int)
    assert orig.shape == (16, 16, 3) and np.abs(orig - res).max() > 0
    assert Image.open(out / "overview.png").size[0] > 4 * 16 * 4  # original with grid + 3 resamples, 4x upscaled
    # The original is the generate command's image of the same seed.
    assert main(["generate", "--ckpt", str(run), "--seeds", "3", "--outdir", str(tmp_path / "g")]) == 0
    assert np.array_equal(orig, np.asarray(Image.open(tmp_path / "g" / "seed0003.png")).astype(int))
    assert main(["resample", "--ckpt", str(run), "--blocks", "9,9", "--outdir", str(out)]) == 2
    assert "outside the 4x4 latent grid" in capsys.readouterr().err
    report = tmp_path / "report.json"
    assert main(["evaluate", "--ckpt", str(run), "--metrics", "distortion", "--num", "8", "--out", str(report)]) == 0
    import json
    result = json.loads(report.read_text())["results"][0]
    assert result["metric"] == "distortion" and result["num_samples"] == 8 and result["value"] > 0
    assert main(["evaluate", "--ckpt", str(run), "--metrics", "fidd"]) == 2
    assert "unknown metric" in capsys.readouterr().err


def test_distortion_metric_zero_for_independent_blocks_and_matches_direct_average():
    from spatialgan.models.ssn.distortion import distortion

    class Independent(IndependentBlocks):
        z_dim, latent_rows, latent_cols = 8, 4, 4

        def forward(self, z, truncation_psi=1.0, noise_mode="const"):
            return self.synthesize(self.map(z))

    assert distortion(Independent(), num_samples=10, batch=4)["value"] == 0
    G = SSNGenerator(16, 4, 4, **SMALL).eval()
    result = distortion(G, num_samples=6, batch=4, seed=5)
    # Direct recomputation with the same random stream, one sample at a time.
    gen = torch.Generator().manual_seed(5)
    values = []
    for n in (4, 2):
        z, fresh = torch.randn(n, 8, 4, 4, generator=gen), torch.randn(n, 8, 4, 4, generator=gen)
        r, c = torch.randint(0, 4, (n,), generator=gen), torch.randint(0, 4, (n,), generator=gen)
        for i in range(n):
            zt = z[i:i + 1].clone()
            zt[:, :, r[i], c[i]] = fresh[i, :, r[i], c[i]]
            with torch.no_grad():
                d = (G(z[i:i + 1], noise_mode="const") - G(zt, noise_mode="const")).square().mean(1)[0]
            t, b, l, rr = block_bounds(int(r[i]), int(c[i]), (4, 4), (16, 16))
            keep = torch.ones(16, 16, dtype=torch.bool)
            keep[t:b, l:rr] = False
            values.append(d[keep].mean().item())
    assert result["value"] == pytest.approx(sum(values) / 6, rel=1e-5)
    assert result["num_samples"] == 6 and "outside one resampled block" in result["protocol"]


def _stylegan2_as_rosinality_file(path, upsample="fir"):
    from spatialgan.models.stylegan2.rosinality import ours_to_rosinality

    torch.manual_seed(5)
    sg2 = StyleGAN2Generator(16, upsample=upsample, **SMALL).eval()
    with torch.no_grad():
        for name, p in sg2.named_parameters():   # every parameter non-trivial, so a wrong mapping shows
            if name.endswith("bias") or name.endswith("strength"):
                p.normal_(0, 0.2)
        sg2.mapping.w_avg.normal_()
    state, latent_avg = ours_to_rosinality(sg2.state_dict())
    torch.save({"g": state, "g_ema": state, "latent_avg": latent_avg}, path)
    return sg2, state


def test_rosinality_layout_keys_and_shapes(tmp_path):
    _, state = _stylegan2_as_rosinality_file(tmp_path / "sg2.pt")
    # The public layout of rosinality/stylegan2-pytorch's Generator (16x16: 4x4 + two upsampling blocks).
    assert state["input.input"].shape == (1, 8, 4, 4)
    assert state["conv1.conv.weight"].shape == (1, 8, 8, 3, 3) and state["to_rgb1.bias"].shape == (1, 3, 1, 1)
    assert {"convs.0.conv.blur.kernel", "convs.3.activate.bias", "to_rgbs.1.upsample.kernel", "noises.noise_4",
            "style.2.weight"} <= set(state)
    assert state["noises.noise_0"].shape == (1, 1, 4, 4) and state["noises.noise_4"].shape == (1, 1, 16, 16)


def test_ssn_initialised_from_a_rosinality_file_reproduces_stylegan2(tmp_path):
    from spatialgan.training.loop import Trainer

    sg2, _ = _stylegan2_as_rosinality_file(tmp_path / "sg2.pt")
    cfg = TrainConfig(model="ssn", resolution=16, width=8, z_dim=8, w_dim=8, mapping_layers=2, upsample="fir",
                      init_from=str(tmp_path / "sg2.pt"), device="cpu", outdir=str(tmp_path / "run"))
    trainer = Trainer(cfg)
    z = torch.randn(3, 8)
    with torch.no_grad():
        ref = sg2(z, truncation_psi=0.7, noise_mode="const")
        for G in (trainer.G, trainer.G_ema):
            out = G(z[:, :, None, None].expand(-1, -1, 4, 4), truncation_psi=0.7, noise_mode="const")
            assert (out - ref).abs().max() < 1e-4
    # A checkpoint of another size is refused with the layer and both shapes named.
    bad = TrainConfig(model="ssn", resolution=16, width=16, z_dim=8, w_dim=8, mapping_layers=2, upsample="fir",
                      init_from=str(tmp_path / "sg2.pt"), device="cpu")
    with pytest.raises(SpatialGANError, match="has shape"):
        Trainer(bad)
    # rosinality's generator upsamples with FIR: a bilinear run would load its weights into other maths.
    bilinear = TrainConfig(model="ssn", resolution=16, width=8, z_dim=8, w_dim=8, mapping_layers=2,
                           upsample="bilinear", init_from=str(tmp_path / "sg2.pt"), device="cpu")
    with pytest.raises(SpatialGANError, match="pass --upsample fir"):
        Trainer(bilinear)


def test_init_from_our_checkpoint_and_bad_files_via_cli(tmp_path, capsys):
    from spatialgan.api import load
    from spatialgan.cli import main

    from conftest import write_image_folder

    data = write_image_folder(tmp_path / "data", count=8, size=16)
    common = ["--data", str(data), "--kimg", "0.004", "--resolution", "16", "--batch", "4", "--width", "8",
              "--z-dim", "8", "--w-dim", "8", "--mapping-layers", "2", "--device", "cpu", "--quiet"]
    assert main(["train", "--outdir", str(tmp_path / "sg2"), *common]) == 0
    # lr 0: the SSN's G stays exactly the transferred StyleGAN2 G through its training step.
    assert main(["train", "--model", "ssn", "--outdir", str(tmp_path / "ssn"), "--init-from", str(tmp_path / "sg2"),
                 "--lr", "0", *common]) == 0
    sg2 = load(tmp_path / "sg2", ema=False).G
    ssn_model = load(tmp_path / "ssn", ema=False)
    ssn, cfg = ssn_model.G, ssn_model.config
    assert cfg.init_from == str(tmp_path / "sg2")
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert (ssn(z[:, :, None, None].expand(-1, -1, 4, 4), noise_mode="const")
                - sg2(z, noise_mode="const")).abs().max() < 1e-4
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["train", "--model", "ssn", "--outdir", str(tmp_path / "x"), "--init-from",
                 str(tmp_path / "junk.pt"), *common]) == 2
    assert "junk.pt" in capsys.readouterr().err


def test_resample_seeds_never_alias_an_image_seed():
    # torch's CPU generator keeps the low 32 bits of a seed: 2^40 + s would be seed s again.
    import torch

    from spatialgan.latents import latent_for_seed
    from spatialgan.models.ssn.resample import resample_noise_seed

    seeds = {resample_noise_seed(s, k) for s in range(50) for k in range(8)}
    assert len(seeds) == 400 and all(0 <= s < 2 ** 32 for s in seeds) and not seeds & set(range(10_000))
    for s in range(5):
        fresh = latent_for_seed(resample_noise_seed(s, 0), (8, 2, 2))
        assert not torch.equal(fresh, latent_for_seed(s, (8, 2, 2)))


def test_transfer_keeps_the_sources_g_ema_and_half_life(tmp_path):
    """StyleGAN2's paper configurations have no EMA ramp-up; a ramp-up would overwrite the transferred G_ema with
    the raw G at the first step. An --init-from run keeps the source's G_ema and averages at its pace."""
    from spatialgan.checkpoint import save_checkpoint
    from spatialgan.training.loop import Trainer

    small = dict(resolution=16, width=8, z_dim=8, w_dim=8, mapping_layers=2, device="cpu", batch=4,
                 upsample="fir")
    assert TrainConfig(recipe="paper", **small).ema_rampup == 0.0
    assert TrainConfig(recipe="ada", **small).ema_rampup == 0.05
    source = Trainer(TrainConfig(outdir=str(tmp_path / "sg2"), ema_kimg=3.0, **small))
    with torch.no_grad():                       # G_ema far from G, as after a long run
        for p in source.G_ema.parameters():
            p.add_(torch.randn_like(p))
    path = save_checkpoint(tmp_path / "sg2" / "network-snapshot-000000000.safetensors", source.state_dict())
    for recipe in ("paper", "ada"):
        cfg = TrainConfig(model="ssn", init_from=str(path), recipe=recipe, outdir=str(tmp_path / recipe),
                          **small)
        trainer = Trainer(cfg)
        assert cfg.ema_rampup == 0.0 and cfg.ema_kimg == 3.0
        trainer.train_step(torch.rand(4, 3, 16, 16) * 2 - 1)
        beta = 0.5 ** (4 / 3000)
        sources, current = dict(source.G_ema.named_parameters()), dict(trainer.G.named_parameters())
        shared = [name for name, _ in trainer.G_ema.named_parameters() if name in sources]
        assert len(shared) > 10
        for name in shared:
            expected = current[name].detach().lerp(sources[name], beta)
            assert torch.allclose(dict(trainer.G_ema.named_parameters())[name], expected, atol=1e-6), name
    rosinality = {"source": "rosinality"}
    from spatialgan.training.transfer import source_ema_kimg

    assert source_ema_kimg(rosinality) == 10.0
