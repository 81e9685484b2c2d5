"""Every benchmark script parses its own command line (its --help renders); helper modules are not scripts."""

import contextlib
import io
import runpy
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted(p for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")
                 if 'if __name__ == "__main__":' in p.read_text())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_help_renders(script, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    assert "usage:" in out.getvalue()


def test_ssn_sweep_table_compares_with_lambda_0_only_when_that_run_exists():
    from benchmarks.ssn_distortion import table

    row = dict(grid="4x4", kimg=4.0, resample_ratio=1.0, leakage=0.0, seams=1.1, swd=90.0, kid=0.5, ppl_pixel=0.5,
               img_per_sec=5.0)
    rows = [dict(row, encoder="bilinear", lambda_D=0.0, distortion=0.012, diversity=0.30),
            dict(row, encoder="bilinear", lambda_D=100.0, distortion=0.004, diversity=0.24),
            dict(row, encoder="nearest", lambda_D=100.0, distortion=0.005, diversity=0.31)]
    lines = table(rows, None).splitlines()[2:]
    assert "| 0.00400 | 3.0x lower | - | 0.240 | 0.80x | - |" in lines[1]
    assert "| 0.00500 | - | - | 0.310 | - | - |" in lines[2]
    # With the transfer before any step: each run of that encoder and grid is also compared with its start.
    start = dict(row, encoder="bilinear", lambda_D=0.0, kimg=0.0, step0=True, distortion=0.02, diversity=0.40)
    source = dict(diversity=0.45, seams_4x4=1.1, swd=50.0, kid=0.4, ppl_pixel=0.9)
    header, rule, source_line, *lines = table(rows, source, [start]).splitlines()
    assert header.count("|") == rule.count("|") == source_line.count("|") == lines[0].count("|")
    assert "| 0.300 | 1.00x | 0.75x |" in lines[1] and "| 90.0 | 1.80x |" in lines[1]
    assert lines[0].startswith("| bilinear | 4x4 | - (step 0) | 0.02000 | - | - | 0.400 | - | - |")
    assert "| 0.01200 | 1.0x lower | 1.7x lower | 0.300 | 1.00x | 0.75x |" in lines[1]
    assert "| 0.00400 | 3.0x lower | 5.0x lower | 0.240 | 0.80x | 0.60x |" in lines[2]
    assert "| 0.00500 | - | - | 0.310 | - | - |" in lines[3]


def test_training_speed_of_a_run_without_stats_is_unknown_not_an_error(tmp_path):
    import json
    import math

    from benchmarks.training_curves import median_speed

    assert math.isnan(median_speed(tmp_path))          # e.g. a folder holding only a copied snapshot
    ticks = [{"tick": k, "timing/img_per_sec": v} for k, v in enumerate([3.0, 9.0, 5.0])]
    (tmp_path / "stats.jsonl").write_text("\n".join(map(json.dumps, ticks + [{"Metrics/swd": 1.0}])) + "\n")
    assert median_speed(tmp_path) == 5.0


def test_fixed_pattern_finds_a_blob_every_sample_shares_and_ignores_a_colour_shift():
    import torch

    from benchmarks.fixed_pattern import local_difference, mean_image, peak

    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (1600, 3, 16, 16), generator=g, dtype=torch.uint8)
    fake = (torch.randint(0, 256, (1600, 3, 16, 16), generator=g) + 30).clamp(max=255)   # brighter everywhere
    assert peak(local_difference(mean_image(fake), mean_image(real)))["peak_levels"] < 20
    fake[:, :, 5, 11] = 0                                                                 # the same dark spot
    found = peak(local_difference(mean_image(fake), mean_image(real)))
    assert found["at_row_col"] == [5, 11] and found["peak_levels"] > 150
