"""Checkpoint round trips, atomic writes, and refusal of damaged files."""

import os

import pytest
import torch

from spatialgan import SpatialGANError
from spatialgan.checkpoint import find_snapshots, load_checkpoint, resolve_checkpoint, save_checkpoint, snapshot_name


def nested_state():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.0, 0.99))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    return {"model": model.state_dict(), "opt": opt.state_dict(), "counter": 1234, "name": "run",
            "ratio": 0.25, "flags": [True, None], "pair": (1, 2.5), "bf16": torch.ones(2, dtype=torch.bfloat16),
            "scalar": torch.tensor(3.0), "empty": torch.zeros(0)}


def test_round_trip_preserves_types_and_values(tmp_path):
    state = nested_state()
    path = save_checkpoint(tmp_path / "c.safetensors", state)
    loaded = load_checkpoint(path)
    assert loaded["counter"] == 1234 and loaded["name"] == "run" and loaded["ratio"] == 0.25
    assert loaded["flags"] == [True, None] and loaded["pair"] == (1, 2.5)
    assert set(loaded["opt"]["state"]) == {0, 1}  # int keys survive
    assert loaded["opt"]["param_groups"][0]["betas"] == (0.0, 0.99)
    for k, v in state["model"].items():
        assert torch.equal(loaded["model"][k], v)
    assert loaded["bf16"].dtype == torch.bfloat16 and loaded["empty"].shape == (0,)
    opt = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=1e-3, betas=(0.0, 0.99))
    opt.load_state_dict(loaded["opt"])
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temporary file left behind


def test_truncated_checkpoint_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", nested_state())
    data = path.read_bytes()
    for cut in (4, 100, len(data) - 7):
        path.write_bytes(data[:cut])
        with pytest.raises(SpatialGANError, match="truncated or corrupt|checksum"):
            load_checkpoint(path)


def test_flipped_byte_in_tensor_data_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", {"w": torch.arange(1000.0)})
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(SpatialGANError, match="checksum"):
        load_checkpoint(path)


def test_foreign_and_missing_files_are_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(SpatialGANError, match="not a spatialgan checkpoint"):
        load_checkpoint(tmp_path / "other.safetensors")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x04not a checkpoint")
    with pytest.raises(SpatialGANError):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(SpatialGANError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(SpatialGANError, match="no network-snapshot"):
        resolve_checkpoint(tmp_path)


def test_resolve_picks_newest_snapshot(tmp_path):
    for n in (64, 1024, 128):
        save_checkpoint(tmp_path / snapshot_name(n), {"n": n})
    assert resolve_checkpoint(tmp_path).name == snapshot_name(1024)
    assert [load_checkpoint(p)["n"] for p in find_snapshots(tmp_path)] == [64, 128, 1024]


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "c.safetensors", {"n": 1})

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(SpatialGANError, match="cannot write .*c.safetensors: disk full"):
        save_checkpoint(path, {"n": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["n"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


def write_format_1(path, state):
    """A checkpoint as spatialgan wrote them before format 2: the digest covers the tensors only."""
    import json

    from safetensors.torch import save_file

    from spatialgan.checkpoint import FORMAT, _digest, _flatten

    tensors: dict = {}
    skeleton = _flatten(state, tensors, "")
    save_file(tensors, str(path), metadata={"format": FORMAT, "format_version": "1", "skeleton": json.dumps(skeleton),
                                             "sha256": _digest(tensors)})
    return path


def test_format_1_checkpoints_and_old_runs_still_load(tmp_path):
    state = nested_state()
    loaded = load_checkpoint(write_format_1(tmp_path / "old.safetensors", state))
    assert loaded["counter"] == 1234 and torch.equal(loaded["model"]["weight"], state["model"]["weight"])
    # A format-1 generator checkpoint (like the models shipped before format 2) loads through the API.
    from spatialgan.api import load
    from spatialgan.config import TrainConfig
    from spatialgan.registry import get_model

    cfg = TrainConfig(model="ssn", resolution=8, width=8, z_dim=8, w_dim=8, mapping_layers=2, latent_rows=2,
                      latent_cols=2, device="cpu")
    G = get_model("ssn").build_generator(cfg)
    write_format_1(tmp_path / "ssn.safetensors", {"config": cfg.to_dict(), "G_ema": G.state_dict()})
    assert load(tmp_path / "ssn.safetensors").sample([0]).shape == (1, 3, 8, 8)
    # A damaged format-1 tensor is still refused.
    raw = bytearray((tmp_path / "old.safetensors").read_bytes())
    raw[-3] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(raw))
    with pytest.raises(SpatialGANError, match="checksum"):
        load_checkpoint(tmp_path / "bad.safetensors")
