"""Activation-memory budgets: the bytes each training phase holds for backward, per image, for a small configuration
of every model (measured with benchmarks/memory.py's meter; budgets are the figures measured when it was written,
plus 10%), so that a change which keeps more tensors alive fails here rather than on a user's GPU."""

from __future__ import annotations

import pytest
import torch

from benchmarks.memory import PhaseMeter
from spatialgan.config import TrainConfig
from spatialgan.training.loop import Trainer

# KiB per image: G main, G path length (per image of its shrunk batch), D main (largest of its two calls), D R1.
BUDGETS = {
    "stylegan2": {"G main": 620, "G path length": 765, "D main": 244, "D R1": 367},
    "ssn": {"G main": 2365, "G path length": 1955, "D main": 244, "D R1": 367},        # G main holds R_D too
    "cips": {"G main": 450, "D main": 93, "D R1": 127},                                 # patches 8x8, no path length
    "scaleparty": {"G main": 1350, "G path length": 2010, "D main": 457, "D R1": 730},
}
EXTRA = {"cips": {"patch_size": 8}, "ssn": {"latent_rows": 2, "latent_cols": 2}}


def measure(model: str, tmp_path) -> tuple[dict, list[dict]]:
    cfg = TrainConfig(model=model, resolution=16, width=32, channel_base=512, z_dim=32, w_dim=32, mapping_layers=2,
                      batch=4, recipe="paper", augment="none", device="cpu", outdir=str(tmp_path / model), amp="off",
                      **EXTRA.get(model, {}))
    trainer = Trainer(cfg)
    meter = PhaseMeter([trainer.G, trainer.D, trainer.G_ema], cfg.batch)
    with meter.active():
        trainer.train_step(torch.rand(4, 3, 16, 16) * 2 - 1)
    names = [("G main", 1, 4)] + ([("G path length", 1, 2)] if cfg.pl_weight else []) + [("D main", 2, 4)]
    names += [("D R1", 1, 4)] if cfg.gamma else []
    return {p["phase"]: p["saved"] / 1024 for p in meter.phases(names)}, meter.calls


@pytest.mark.parametrize("model", sorted(BUDGETS))
def test_each_phase_stays_within_its_activation_budget(model, tmp_path):
    measured, calls = measure(model, tmp_path)
    assert set(measured) == set(BUDGETS[model])
    over = {phase: round(kib) for phase, kib in measured.items() if kib > BUDGETS[model][phase]}
    assert not over, f"{model}: KiB per image over budget {over} (budgets {BUDGETS[model]})"
    # Nothing an earlier phase built is still held when a later one backpropagates (a partner render nobody
    # differentiates, a graph kept by a local variable).
    assert [c["carried"] for c in calls] == [0] * len(calls)
    # D main backpropagates fakes and reals one after the other: neither call holds both graphs.
    fake_call, real_call = calls[-3:-1]
    assert max(fake_call["saved"], real_call["saved"]) < 1.5 * min(fake_call["saved"], real_call["saved"])


def test_the_meter_counts_saved_storages_once_and_excludes_weights():
    layer = torch.nn.Linear(256, 256)
    meter = PhaseMeter([layer], batch=1)
    x = torch.randn(64, 256, requires_grad=True)
    with meter.active():
        y = layer(x)                       # saves x (and the weight, which is excluded)
        z = y.relu() * y.relu()            # relu outputs saved by the product; relu saves its output
        z.sum().backward()
    saved = meter.calls[0]["saved"]
    assert saved == x.numel() * 4 + 2 * y.numel() * 4     # x, and the two relu outputs (each one storage)
