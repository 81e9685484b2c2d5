"""The command line: help, errors, train/resume (including after SIGKILL), generate, dataset."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from spatialgan.cli import main

from conftest import truncated_png_bytes, write_image_folder

TINY_FLAGS = ["--resolution", "8", "--batch", "8", "--width", "16", "--z-dim", "16", "--w-dim", "16",
              "--mapping-layers", "2", "--device", "cpu", "--quiet"]


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "spatialgan", *args], capture_output=True, text=True,
                          timeout=timeout)


COMMANDS = ["train", "generate", "serve", "resample", "evaluate", "render", "project", "convert", "dataset", "demo"]


@pytest.mark.parametrize("command", [[]] + [[c] for c in COMMANDS])
def test_help_on_every_command(command, capsys):
    assert main(command + ["--help"]) == 0
    assert "usage: spatialgan" in capsys.readouterr().out


def test_argparse_refusals_are_one_error_line_with_exit_2(capsys):
    assert main(["render", "--ckpt", "cips", "--size", "8x8", "--out", "x.png", "--center", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: spatialgan render: argument --center") and err.count("\n") == 1


def test_errors_are_one_line_on_stderr_with_nonzero_exit(tmp_path, capsys):
    assert main(["train", "--outdir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: train needs --data") and "\n" not in err
    assert main(["train", "--data", str(tmp_path / "none"), "--outdir", str(tmp_path / "r")]) == 2
    assert "dataset not found" in capsys.readouterr().err
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    assert main(["generate", "--ckpt", str(tmp_path / "bad.safetensors"), "--outdir", str(tmp_path / "g")]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    assert main(["train", "--model", "nope", "--data", str(tmp_path), "--outdir", str(tmp_path / "r")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_train_generate_and_refuse_to_overwrite(tmp_path, capsys):
    data = write_image_folder(tmp_path / "data", count=16, size=10)
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--outdir", str(run), "--kimg", "0.064", "--tick-kimg", "0.032"]
    assert main(args + TINY_FLAGS) == 0
    assert len(list(run.glob("network-snapshot-*.safetensors"))) == 1
    assert (run / "reals.png").exists() and list(run.glob("fakes*.png")) and list(run.glob("events.out.tfevents*"))
    assert len((run / "stats.jsonl").read_text().splitlines()) == 2
    assert main(args + TINY_FLAGS) == 2
    assert "already holds a run" in capsys.readouterr().err

    out = tmp_path / "gen"
    assert main(["generate", "--ckpt", str(run), "--seeds", "0-3", "--outdir", str(out), "--grid"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png",
                                                     "seed0003.png"]
    first = np.asarray(Image.open(out / "seed0002.png"))
    assert main(["generate", "--ckpt", str(run), "--seeds", "2", "--outdir", str(tmp_path / "gen2")]) == 0
    assert np.array_equal(first, np.asarray(Image.open(tmp_path / "gen2" / "seed0002.png")))
    # Truncation psi 0 maps every seed to the average w: identical images.
    assert main(["generate", "--ckpt", str(run), "--seeds", "0,1", "--outdir", str(tmp_path / "t0"),
                 "--trunc", "0"]) == 0
    a, b = (np.asarray(Image.open(tmp_path / "t0" / f"seed000{i}.png")) for i in (0, 1))
    assert np.array_equal(a, b) and not np.array_equal(first, a)


def test_dataset_command_prints_summary(tmp_path, capsys):
    data = write_image_folder(tmp_path / "data", count=5)
    (data / "a" / "broken.png").write_bytes(truncated_png_bytes())
    assert main(["dataset", "--source", str(data), "--dest", str(tmp_path / "d.zip"), "--resolution", "8"]) == 0
    out = capsys.readouterr().out
    assert "wrote 5 images at 8x8" in out and "skipped 1 unreadable" in out and "broken.png" in out


def stats(run_dir):
    rows = [json.loads(x) for x in (run_dir / "stats.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("timing") and k != "run_id"} for r in rows]


@pytest.mark.slow
def test_sigterm_saves_a_snapshot_and_exits_with_the_signal_status(tmp_path):
    data = write_image_folder(tmp_path / "data", count=16, size=10)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "spatialgan", "train", "--outdir", str(run), "--data", str(data),
                             "--kimg", "1000", "--tick-kimg", "0.032", "--snap-kimg", "1000", *TINY_FLAGS],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "stats.jsonl").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by signal" in err and "done:" not in out
    assert list(run.glob("network-snapshot-*.safetensors"))


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    data = write_image_folder(tmp_path / "data", count=32, size=10)
    common = ["--data", str(data), "--kimg", "3.2", "--tick-kimg", "0.16", "--snap-kimg", "0.32", *TINY_FLAGS]
    ref = run_cli("train", "--outdir", str(tmp_path / "ref"), *common)
    assert ref.returncode == 0, ref.stderr

    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "spatialgan", "train", "--outdir", str(run), *common],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(run.glob("network-snapshot-*.safetensors")) and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    snaps = sorted(run.glob("network-snapshot-*.safetensors"))
    assert snaps and snaps[-1].name != "network-snapshot-000003200.safetensors", "run finished before the kill"
    killed_at = int(snaps[-1].name[17:26])

    resumed = run_cli("train", "--resume", str(run), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert f"at {killed_at} images" in resumed.stderr
    assert stats(run) == stats(tmp_path / "ref")  # same ticks, same losses, nothing duplicated

    from spatialgan.checkpoint import load_checkpoint
    assert {json.loads(x)["run_id"] for x in (run / "stats.jsonl").read_text().splitlines()} == {
        json.loads((run / "run.json").read_text())["run_id"]}              # the resumed run is the same run
    a = load_checkpoint(run / "network-snapshot-000003200.safetensors")
    b = load_checkpoint(tmp_path / "ref" / "network-snapshot-000003200.safetensors")
    assert a["progress"] == b["progress"]
    for key in a["G_ema"]:
        assert (a["G_ema"][key] == b["G_ema"][key]).all(), key
