"""ScaleParty's pad-free generator (first part of issue 5)."""

from __future__ import annotations

import pytest
import torch

from spatialgan.models.scaleparty import ScalePartyGenerator

SMALL = dict(z_dim=8, w_dim=8, mapping_layers=2, channel_max=8)


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


def test_a_region_rendered_alone_equals_the_same_region_of_a_larger_render():
    torch.manual_seed(0)
    G = ScalePartyGenerator(16, **SMALL).eval()
    ws = G.map(torch.randn(1, 8))
    with torch.no_grad():
        wide = G.synthesis(ws, "none", G.encoding(center=(0.0, 0.0), size=(16, 32)))      # x in [-2, 2]
        right = G.synthesis(ws, "none", G.encoding(center=(1.0, 0.0), size=(16, 16)))     # x in [0, 2]
        inner = G.synthesis(ws, "none", G.encoding(center=(0.0, 0.0), size=(16, 16)))     # x in [-1, 1]
    # No padding anywhere: each pixel depends only on the positions around it.
    torch.testing.assert_close(right, wide[..., 16:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(inner, wide[..., 8:24], rtol=1e-5, atol=1e-5)


def test_scaleparty_trains_and_renders_full_frames_at_other_resolutions(tmp_path):
    from spatialgan.training.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="scaleparty", resolution=16, batch=4, width=8, z_dim=8, w_dim=8, mapping_layers=2,
                      device="cpu", outdir=str(tmp_path), grid=4)
    t = Trainer(cfg)
    t.train_step(torch.rand(4, 3, 16, 16) * 2 - 1)
    assert t.hooks.render_full_frame(t.G_ema, torch.randn(2, 8), 32).shape == (2, 3, 32, 32)
    t.save_snapshot()
