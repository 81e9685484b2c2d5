"""The training engine: determinism, exact resume, model hooks, and that it actually learns."""

import json

import pytest
import torch

from spatialgan import registry
from spatialgan.checkpoint import find_snapshots
from spatialgan.config import TrainConfig
from spatialgan.data.dataset import ImageDataset
from spatialgan.models.interface import ModelSpec, TrainingHooks
from spatialgan.training.loop import Trainer

from conftest import write_image_folder

TINY = dict(resolution=8, batch=8, width=16, z_dim=16, w_dim=16, mapping_layers=2, device="cpu", grid=8,
            tick_kimg=0.032, snap_kimg=0.064, r1_interval=4, pl_interval=2)


def tiny_config(tmp_path, data, **overrides):
    return TrainConfig(**{**TINY, "data": str(data), "outdir": str(tmp_path / "run"), **overrides})


def params(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_same_seed_same_run(tmp_path):
    reals = torch.rand(8, 3, 8, 8) * 2 - 1
    a, b = (Trainer(tiny_config(tmp_path, "unused")) for _ in range(2))
    for t in (a, b):
        torch.manual_seed(5)
        for _ in range(5):  # includes PL and R1 steps
            t.train_step(reals)
    assert torch.equal(params(a.G), params(b.G)) and torch.equal(params(a.D), params(b.D))
    assert torch.equal(params(a.G_ema), params(b.G_ema))
    assert a.cur_nimg == 40 and a.step == 5


def test_regularizers_run_on_their_intervals(tmp_path):
    t = Trainer(tiny_config(tmp_path, "unused", r1_interval=3, pl_interval=2))
    reals = torch.rand(8, 3, 8, 8) * 2 - 1
    seen = []
    for _ in range(6):
        t.train_step(reals)
        stats = t.stats.means()
        seen.append(("Loss/r1_penalty" in stats, "Loss/pl_penalty" in stats))
    assert seen == [(True, True), (False, False), (False, True), (True, False), (False, True), (False, False)]
    assert t.opt_D.param_groups[0]["lr"] == pytest.approx(0.002 * 3 / 4)       # the paper recipe's lr
    assert t.opt_G.param_groups[0]["betas"][1] == pytest.approx(0.99 ** (2 / 3))


def loss_lines(run_dir):
    lines = [json.loads(x) for x in (run_dir / "stats.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("timing") and k != "run_id"} for r in lines]


def test_resumed_run_continues_the_same_run(tmp_path):
    data = write_image_folder(tmp_path / "data", count=20, size=12)
    full = Trainer(tiny_config(tmp_path / "a", data, kimg=0.32))
    full.run(progress=False)

    part = Trainer(tiny_config(tmp_path / "b", data, kimg=0.16))
    part.run(progress=False)
    resumed = Trainer.from_checkpoint(find_snapshots(tmp_path / "b" / "run")[-1], {"kimg": 0.32})
    assert resumed.cur_nimg == 160
    resumed.run(progress=False)

    assert resumed.cur_nimg == full.cur_nimg == 320
    for name in ("G", "G_ema", "D"):
        torch.testing.assert_close(params(getattr(resumed, name)), params(getattr(full, name)), rtol=0, atol=0)
    assert loss_lines(tmp_path / "b" / "run") == loss_lines(tmp_path / "a" / "run")
    torch.testing.assert_close(resumed.pl_mean, full.pl_mean, rtol=0, atol=0)


class ConstantRegularizerHooks(TrainingHooks):
    calls = 0

    def generator_regularizers(self, G, D, request, images, ws, step):
        ConstantRegularizerHooks.calls += 1
        return {"mean_brightness": 10.0 * images.mean().square()}


def test_a_model_adds_its_regularizer_through_hooks(tmp_path, monkeypatch):
    from spatialgan.models import stylegan2

    spec = ModelSpec("test-model", "a fake model", stylegan2.build_generator, stylegan2.build_discriminator,
                     stylegan2.StyleGAN2Adapter, ConstantRegularizerHooks)
    monkeypatch.setitem(registry.MODELS, "test-model", spec)
    t = Trainer(tiny_config(tmp_path, "unused", model="test-model"))
    t.train_step(torch.rand(8, 3, 8, 8) * 2 - 1)
    assert ConstantRegularizerHooks.calls == 1
    assert "Loss/mean_brightness" in t.stats.means()


def test_training_learns_the_data_colour(tmp_path):
    """A dataset of one orange colour: after a short run the generator's mean colour is close to it."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "orange"
    root.mkdir()
    for i in range(8):
        Image.fromarray(np.full((8, 8, 3), (230, 120, 20), np.uint8)).save(root / f"{i}.png")
    # A 1.2-kimg run needs StyleGAN2-ADA's EMA ramp-up for G_ema to follow G (the paper recipe has none).
    cfg = tiny_config(tmp_path, root, kimg=1.2, lr=0.005, style_mixing=0.0, snap_kimg=100, ema_rampup=0.05)
    t = Trainer(cfg)
    target = torch.tensor([230, 120, 20]) / 127.5 - 1
    with torch.no_grad():
        before = (t.G(torch.randn(64, 16)).mean(dim=(0, 2, 3)) - target).abs().max()
    t.run(ImageDataset(root, 8), progress=False)
    with torch.no_grad():
        after = (t.G_ema(torch.randn(64, 16)).mean(dim=(0, 2, 3)) - target).abs().max()
    assert before > 0.4 and after < 0.15, (before, after)


def test_config_defaults_follow_the_recipe_and_device():
    cfg = TrainConfig(resolution=256, batch=64, device="cpu", recipe="ada")
    assert cfg.gamma == pytest.approx(0.0002 * 256 ** 2 / 64)
    assert (cfg.lr, cfg.upsample) == (0.0025, "bilinear")
    paper = {m: TrainConfig(model=m, device="cpu") for m in ("stylegan2", "ssn", "cips", "scaleparty")}
    assert [paper[m].gamma for m in paper] == [10.0, 1.0, 10.0, 10.0]
    assert paper["cips"].pl_weight == 0 and paper["cips"].style_mixing == 0 and paper["cips"].cips_discriminator_coords
    assert paper["stylegan2"].upsample == "fir" and paper["scaleparty"].scale_regime == "paper"
    # A flag beats the recipe; the resolved values are what a checkpoint stores, and it reloads unchanged.
    mine = TrainConfig(model="cips", device="cpu", gamma=0.5, pl_weight=1.0)
    assert (mine.gamma, mine.pl_weight, mine.lr) == (0.5, 1.0, 0.002)
    assert TrainConfig.from_dict(mine.to_dict()) == mine
    # A checkpoint from before recipes (no 'recipe' key) keeps the values it recorded and reads as 'ada'.
    old = {k: v for k, v in TrainConfig(model="cips", device="cpu", recipe="ada").to_dict().items()
           if k not in ("recipe", "cips_discriminator_coords", "scale_regime")}
    restored = TrainConfig.from_dict(old)
    assert restored.recipe == "ada" and restored.cips_discriminator_coords is False and restored.gamma == old["gamma"]
    assert cfg.ema_kimg == pytest.approx(20.0)
    assert (cfg.beta1, cfg.beta2) == (0.0, 0.99) and isinstance(cfg.beta1, float)
    assert cfg.width == 128 and cfg.channels_last is True      # CPU defaults
    assert TrainConfig(device="cuda").width == 512 and TrainConfig(device="cuda").channels_last is False
    assert TrainConfig.from_dict({**cfg.to_dict(), "unknown_future_key": 1}) == cfg


def test_a_stop_signal_at_any_point_of_an_iteration_ends_in_a_snapshot(tmp_path, monkeypatch):
    """The signal lands right after a tick's bookkeeping: the run must still end with a snapshot (it once left the
    loop through its condition and saved nothing)."""
    import os
    import signal

    data = write_image_folder(tmp_path / "data", count=8, size=8)
    t = Trainer(tiny_config(tmp_path, data, kimg=10, snap_kimg=10))
    original = Trainer._end_tick
    sent = []

    def end_tick_then_signal(self, logger, start):
        record = original(self, logger, start)
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
        return record

    monkeypatch.setattr(Trainer, "_end_tick", end_tick_then_signal)
    t.run(progress=False)
    assert t.stopped_by == signal.SIGTERM
    snaps = find_snapshots(tmp_path / "run")
    assert snaps and snaps[-1].name == f"network-snapshot-{t.cur_nimg:09d}.safetensors"


def test_a_stop_signal_saves_the_snapshot_without_evaluating_metrics(tmp_path, monkeypatch):
    """A stop must end within a scheduler's grace period: the snapshot is written, the metrics are left to the
    resumed run (they once took minutes after SIGTERM on 2 cores)."""
    import os
    import signal

    data = write_image_folder(tmp_path / "data", count=8, size=8)
    t = Trainer(tiny_config(tmp_path, data, kimg=10, snap_kimg=10, metrics="diversity", metrics_num=4))
    monkeypatch.setattr(Trainer, "evaluate_metrics", lambda self, dataset: pytest.fail("evaluated after a stop"))
    original = Trainer.train_step

    def step_then_signal(self, reals):
        original(self, reals)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Trainer, "train_step", step_then_signal)
    t.run(progress=False)
    assert t.stopped_by == signal.SIGTERM
    assert find_snapshots(tmp_path / "run")
