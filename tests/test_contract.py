"""The model contract: every registered model trains, saves, resumes exactly, samples, runs on two processes, and
works through the CLI. A new model that registers a ModelSpec gets these checks without writing any."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from spatialgan import SpatialGANError, registry
from spatialgan.api import load
from spatialgan.checkpoint import find_snapshots, load_checkpoint
from spatialgan.config import TrainConfig
from spatialgan.models.interface import ANY_REGION, ANY_SCALE, RESAMPLE_BLOCKS
from spatialgan.options import flag_name
from spatialgan.training.loop import Trainer

from conftest import write_image_folder

MODELS = sorted(registry.MODELS)
TINY = dict(batch=8, width=16, z_dim=16, w_dim=16, mapping_layers=2, device="cpu", grid=4, tick_kimg=0.016,
            snap_kimg=0.032, r1_interval=2, pl_interval=2)


def tiny(name: str, tmp_path, data, **extra) -> TrainConfig:
    spec = registry.get_model(name)
    return TrainConfig(model=name, data=str(data), outdir=str(tmp_path), **TINY, **spec.smoke_options, **extra)


def cli_flags(name: str) -> list[str]:
    values = {**TINY, **registry.get_model(name).smoke_options}
    fields = {f.name: f for f in TrainConfig.__dataclass_fields__.values()}
    return [arg for key, value in values.items() for arg in (flag_name(fields[key]), str(value))]


def params(module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()] +
                     [b.detach().flatten().float() for b in module.buffers()])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("contract") / "data", count=16, size=40)   # ScaleParty: 2.5 R


@pytest.mark.parametrize("name", MODELS)
def test_train_save_and_resume_exactly(name, data, tmp_path):
    full = Trainer(tiny(name, tmp_path / "full", data, kimg=0.064))
    full.run(progress=False)
    part = Trainer(tiny(name, tmp_path / "part", data, kimg=0.032))
    part.run(progress=False)
    resumed = Trainer.from_checkpoint(find_snapshots(tmp_path / "part")[-1], {"kimg": 0.064})
    resumed.run(progress=False)
    assert resumed.cur_nimg == full.cur_nimg == 64
    for net in ("G", "G_ema", "D"):
        assert torch.equal(params(getattr(resumed, net)), params(getattr(full, net))), net


@pytest.mark.parametrize("name", MODELS)
def test_api_samples_renders_and_names_missing_capabilities(name, data, tmp_path):
    Trainer(tiny(name, tmp_path, data)).save_snapshot()
    model = load(tmp_path)
    r = model.resolution
    assert model.name == name and model.latents([0, 1]).shape == (2, *model.adapter.latent_shape())
    images = model.sample([0, 1, 2])
    assert images.shape == (3, 3, r, r) and torch.isfinite(images).all()
    torch.testing.assert_close(model.sample([1]), images[1:2], rtol=1e-4, atol=1e-5)     # a seed is a seed
    if model.can(ANY_REGION):
        assert model.render(seed=0, size=(12, 8), center=(0.1, 0.0), scale=0.5).shape == (8, 12, 3)
    else:
        with pytest.raises(SpatialGANError, match=f"{ANY_REGION} .*this one is {name}"):
            model.render(seed=0)
    if model.can(ANY_SCALE):
        assert model.render_full_frame(model.latents([0]), 2 * r).shape == (1, 3, 2 * r, 2 * r)
    if model.can(RESAMPLE_BLOCKS):
        result = model.resample([(0, 1)], count=2, seed=3)
        assert result.images.shape == (2, 3, r, r)
    else:
        with pytest.raises(SpatialGANError, match=f"{RESAMPLE_BLOCKS} \\(ssn\\); this one is {name}"):
            model.resample([(0, 0)], seed=0)


@pytest.mark.parametrize("name", MODELS)
def test_generate_and_evaluate_through_the_cli(name, data, tmp_path, capsys):
    from spatialgan.cli import main

    Trainer(tiny(name, tmp_path / "run", data)).save_snapshot()
    assert main(["generate", "--ckpt", str(tmp_path / "run"), "--seeds", "0-2", "--outdir", str(tmp_path / "g")]) == 0
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["seed0000.png", "seed0001.png", "seed0002.png"]
    report = tmp_path / "report.json"
    assert main(["evaluate", "--ckpt", str(tmp_path / "run"), "--data", str(data), "--metrics", "swd", "--num", "16",
                 "--no-cache", "--out", str(report)]) == 0
    assert '"metric": "swd"' in report.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_two_processes_take_the_same_step_as_one(name, data, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    common = ["-m", "spatialgan", "train", "--model", name, "--data", str(data), "--kimg", "0.016", "--quiet",
              *cli_flags(name)]
    for procs in (1, 2):
        launcher = [sys.executable] + (["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
                                       if procs == 2 else [])
        run = subprocess.run([*launcher, *common, "--outdir", str(tmp_path / str(procs))], capture_output=True,
                             text=True, timeout=300, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
    a, b = (load_checkpoint(find_snapshots(tmp_path / str(p))[-1])["G"] for p in (1, 2))
    for key in a:
        torch.testing.assert_close(a[key].float(), b[key].float(), rtol=1e-4, atol=1e-5, msg=key)
