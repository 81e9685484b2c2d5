"""scripts/train_photo_models.sh keeps its resume rules: an unfinished run continues, a finished run is reused, a
run folder that is gone restarts from its export, and SSN starts from the StyleGAN2 it can find (tiny networks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from spatialgan.checkpoint import load_checkpoint, resolve_checkpoint

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "photos-scenes.tar"


def snapshots(run: Path) -> list[str]:
    return sorted(p.name for p in run.glob("network-snapshot-*.safetensors"))


def run_id(run: Path) -> str:
    return json.loads((run / "run.json").read_text())["run_id"]


@pytest.mark.slow
@pytest.mark.skipif(not PHOTOS.is_file(), reason="needs ../shared/data/photos-scenes.tar")
def test_photo_script_resumes_reuses_and_restarts(tmp_path):
    out, exports, results = tmp_path / "out", tmp_path / "exports", tmp_path / "results"

    def script(*args, env_extra=None, **kimg):
        env = {**os.environ, "PHOTO_MODELS_SMOKE": "1", "OMP_NUM_THREADS": "1",
               **{f"KIMG_{k.upper()}": str(v) for k, v in kimg.items()}, **(env_extra or {})}
        done = subprocess.run(["bash", str(ROOT / "scripts" / "train_photo_models.sh"), "--resolution", "32",
                               "--exports", str(exports), "--results", str(results), *args, str(out)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    script("--only", "stylegan2", "--no-export", stylegan2=0.008)
    first, ident = snapshots(out / "stylegan2"), run_id(out / "stylegan2")
    script("--only", "stylegan2", "--no-export", stylegan2=0.016)         # unfinished: continues the same run
    assert run_id(out / "stylegan2") == ident and snapshots(out / "stylegan2")[-1] > first[-1]
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "stylegan2").iterdir()}
    script("--only", "stylegan2", "--no-export", stylegan2=0.016)         # finished: reused, nothing rewritten
    assert {p.name: p.stat().st_mtime_ns for p in (out / "stylegan2").iterdir()} == finished

    script("--only", "stylegan2,ssn,scaleparty", stylegan2=0.016, ssn=0.008, scaleparty=0.008)
    assert {p.name for p in exports.glob("*.safetensors")} == {"stylegan2.safetensors", "ssn.safetensors",
                                                                "scaleparty.safetensors"}
    quality = json.loads((exports / "quality.json").read_text())
    assert set(quality["models"]) == {"stylegan2", "ssn", "scaleparty"} and quality["resolution"] == 32
    assert "distortion" in quality["models"]["ssn"] and "distortion" not in quality["models"]["stylegan2"]
    assert "<polyline" in (results / "photo-training-curves-32.svg").read_text()
    sp_config = json.loads((out / "scaleparty" / "run.json").read_text())
    assert sp_config["run_id"]
    assert (out / "photos80.zip").is_file()                       # ScaleParty's reals at 2.5 R, never upsampled

    shutil.rmtree(out / "stylegan2")                                # lost, its export finished: kept as it is
    assert "kept as exported" in script("--only", "stylegan2", "--no-export", stylegan2=0.016)
    assert not (out / "stylegan2").exists()
    assert "restarting from" in script("--only", "stylegan2", stylegan2=0.024)   # lost, unfinished: from its export
    assert snapshots(out / "stylegan2") and run_id(out / "stylegan2") != ident
    restarted = load_checkpoint(resolve_checkpoint(out / "stylegan2"))["progress"]["cur_nimg"] / 1000
    assert 0.008 <= restarted < 0.016                               # only the kimg the export lacked
    restarted_files = {p.name: p.stat().st_mtime_ns for p in (out / "stylegan2").iterdir()}
    script("--only", "stylegan2", "--no-export", stylegan2=0.024)    # finished, counting from its export: reused
    assert {p.name: p.stat().st_mtime_ns for p in (out / "stylegan2").iterdir()} == restarted_files
    assert load_checkpoint(exports / "stylegan2.safetensors")["trained_kimg"] == pytest.approx(0.016 + restarted)
    history = json.loads((results / "results" / "photo-training-curves-32.json").read_text())["runs"]["stylegan2"]
    first, second = history[ident], history[run_id(out / "stylegan2")]     # the lost run's curve is kept
    assert first and second and min(k for k, _ in second) >= max(k for k, _ in first) - 1e-9
    shutil.rmtree(out / "stylegan2")
    shutil.rmtree(out / "ssn")                                      # SSN without a StyleGAN2 run: from the export
    assert "kept as exported" in script("--only", "ssn", "--no-export", ssn=0.008)
    choice = {"SSN_ENCODER": "bilinear", "SSN_GRID": "2x2", "SSN_LAMBDA": "3"}     # the 64-px sweep's choice
    script("--only", "ssn", "--no-export", ssn=0.016, env_extra=choice)          # unfinished: anew from StyleGAN2
    assert snapshots(out / "ssn")
    config = load_checkpoint(resolve_checkpoint(out / "ssn"))["config"]
    assert (config["spatial_encoder"], config["latent_rows"], config["latent_cols"],
            config["lambda_distortion"]) == ("bilinear", 2, 2, 3.0)
