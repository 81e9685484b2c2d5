"""GPU fast paths that must also run on CPU: float16 high-resolution blocks, torch.compile, the benchmark suite."""

from __future__ import annotations

import pytest
import torch

from spatialgan.core.discriminator import Discriminator
from spatialgan.core.layers.precision import FP16_CLAMP, clamp_fp16, set_fp16_resolutions
from spatialgan.models.stylegan2.generator import StyleGAN2Generator


def test_clamp_applies_to_float16_only():
    x = torch.tensor([-1e4, -3.0, 0.5, 1e4])
    assert torch.equal(clamp_fp16(x), x)
    assert clamp_fp16(x.half()).tolist() == [-FP16_CLAMP, -3.0, 0.5, FP16_CLAMP]


def test_fp16_marks_only_the_highest_resolutions_and_stays_close_to_float32():
    torch.manual_seed(0)
    G = StyleGAN2Generator(32, z_dim=8, w_dim=8, mapping_layers=2, channel_max=16)
    D = Discriminator(32, channel_max=16)
    z = torch.randn(4, 8)
    with torch.no_grad():
        ref_img = G(z, noise_mode="const")
        ref_logit = D(ref_img)
    set_fp16_resolutions(G, D, 2)
    assert [b.use_fp16 for b in G.synthesis.blocks] == [False, False, True, True]        # 4, 8 | 16, 32
    assert [b.use_fp16 for b in D.blocks] == [True, True, False]                        # 32, 16 | 8
    seen = []
    hook = G.synthesis.blocks[3].conv1.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    low = G.synthesis.blocks[0].conv1.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    with torch.no_grad():
        img = G(z, noise_mode="const")
        logit = D(img)
    hook.remove()
    low.remove()
    assert seen == [torch.float32, torch.float16]              # low resolution stays float32
    assert img.dtype == torch.float32 and logit.dtype == torch.float32
    torch.testing.assert_close(img, ref_img, rtol=0, atol=2e-2)
    torch.testing.assert_close(logit, ref_logit, rtol=0, atol=2e-2)


def test_training_with_fp16_blocks_and_the_amp_conflict(tmp_path):
    from spatialgan import SpatialGANError
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(resolution=16, batch=4, width=16, z_dim=8, w_dim=8, mapping_layers=2, device="cpu",
                      outdir=str(tmp_path), fp16_res=2)
    t = Trainer(cfg)
    for _ in range(2):
        t.train_step(torch.rand(4, 3, 16, 16) * 2 - 1)
    means = t.stats.means()
    assert all(torch.isfinite(torch.tensor(v)) for v in means.values())
    assert all(torch.isfinite(p).all() for p in t.G.parameters())
    with pytest.raises(SpatialGANError, match="not both"):
        TrainConfig(amp="bf16", fp16_res=4)


@pytest.mark.slow
def test_compiled_generator_matches_the_eager_one():
    from spatialgan.training.loop import CompiledGenerator

    torch.manual_seed(0)
    G = StyleGAN2Generator(8, z_dim=8, w_dim=8, mapping_layers=2, channel_max=8).eval()
    fast = CompiledGenerator(G)
    z = torch.randn(2, 8)
    with torch.no_grad():
        ws = G.map(z)
        torch.testing.assert_close(fast.map(z), ws)
        torch.testing.assert_close(fast.synthesize(ws, "const"), G.synthesize(ws, "const"), rtol=1e-4, atol=1e-4)
    assert fast.num_ws == G.num_ws                     # everything else is the module's own


def test_allocator_tuning_applies_on_linux_and_is_idempotent():
    import sys

    from spatialgan.runtime import keep_freed_memory

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc tuning applies on Linux only")
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True
