"""Reliability: run folders keep their identity, checkpoint headers are checksummed, bad input is one error line."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spatialgan import SpatialGANError
from spatialgan.checkpoint import find_snapshots, load_checkpoint, save_checkpoint
from spatialgan.cli import main

from conftest import write_image_folder

TINY = ["--resolution", "8", "--batch", "4", "--width", "8", "--z-dim", "8", "--w-dim", "8", "--mapping-layers",
        "2", "--device", "cpu", "--quiet", "--tick-kimg", "0.004"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    data = write_image_folder(root / "data", count=8, size=8)
    for name, kimg in (("a", "0.016"), ("b", "0.032")):
        assert main(["train", "--data", str(data), "--outdir", str(root / name), "--kimg", kimg,
                     "--snap-kimg", "0.008", "--seed", "1" if name == "a" else "2", *TINY]) == 0
    return root


def test_every_snapshot_and_log_line_carries_the_run_id(two_runs):
    run_id = json.loads((two_runs / "a" / "run.json").read_text())["run_id"]
    assert all(load_checkpoint(p)["run_id"] == run_id for p in find_snapshots(two_runs / "a"))
    lines = [json.loads(x) for x in (two_runs / "a" / "stats.jsonl").read_text().splitlines()]
    assert lines and all(r["run_id"] == run_id for r in lines)
    assert run_id != json.loads((two_runs / "b" / "run.json").read_text())["run_id"]


def test_resume_into_another_runs_folder_is_refused_and_loses_nothing(two_runs, capsys):
    before = {p.name: p.read_bytes() for p in (two_runs / "b").iterdir() if p.is_file()}
    snap_a = find_snapshots(two_runs / "a")[0]
    assert main(["train", "--resume", str(snap_a), "--outdir", str(two_runs / "b"), "--kimg", "0.032",
                 "--quiet"]) == 2
    assert "holds another run" in capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in (two_runs / "b").iterdir() if p.is_file()}
    assert after == before


def test_resume_into_an_empty_folder_is_a_new_run_that_records_its_parent(two_runs, tmp_path):
    snap_a = find_snapshots(two_runs / "a")[-1]
    assert main(["train", "--resume", str(snap_a), "--outdir", str(tmp_path / "copy"), "--kimg", "0.024",
                 "--quiet"]) == 0
    parent = json.loads((two_runs / "a" / "run.json").read_text())["run_id"]
    record = json.loads((tmp_path / "copy" / "run.json").read_text())
    assert record["run_id"] != parent
    assert record["parent"] == {"run_id": parent, "checkpoint": str(snap_a), "nimg": 16}
    assert all(load_checkpoint(p)["run_id"] == record["run_id"] for p in find_snapshots(tmp_path / "copy"))


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_fork_cannot_be_resumed_over_its_parent(two_runs, tmp_path, capsys):
    import shutil

    ref = tmp_path / "ref"
    shutil.copytree(two_runs / "b", ref)
    first = find_snapshots(ref)[0]
    assert main(["train", "--resume", str(first), "--outdir", str(tmp_path / "fork"), "--kimg", "0.024",
                 "--lr", "0.01", "--quiet"]) == 0
    before = folder_bytes(ref)
    assert main(["train", "--resume", str(tmp_path / "fork"), "--outdir", str(ref), "--kimg", "0.032",
                 "--quiet"]) == 2
    assert "holds another run" in capsys.readouterr().err
    assert folder_bytes(ref) == before


def test_an_older_snapshot_is_not_resumed_over_later_work(two_runs, tmp_path, capsys):
    import shutil

    ref = tmp_path / "ref"
    shutil.copytree(two_runs / "b", ref)
    before = folder_bytes(ref)
    first = find_snapshots(ref)[0]
    assert main(["train", "--resume", str(first), "--kimg", "0.032", "--quiet"]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert folder_bytes(ref) == before
    # Changed options in the run's own folder make a new run, which needs an empty folder.
    assert main(["train", "--resume", str(ref), "--kimg", "0.04", "--lr", "0.01", "--quiet"]) == 2
    assert "--lr" in capsys.readouterr().err
    assert folder_bytes(ref) == before
    # The same snapshot as a branch into a new folder loses nothing either.
    assert main(["train", "--resume", str(first), "--outdir", str(tmp_path / "branch"), "--kimg", "0.016",
                 "--quiet"]) == 0
    assert folder_bytes(ref) == before


def test_a_legacy_run_without_an_id_resumes_in_its_own_folder_only(two_runs, tmp_path, capsys):
    import shutil

    legacy = tmp_path / "legacy"
    shutil.copytree(two_runs / "a", legacy)
    (legacy / "run.json").unlink()
    snap = find_snapshots(legacy)[-1]
    state = load_checkpoint(snap)
    state.pop("run_id")
    save_checkpoint(snap, state)
    (tmp_path / "other").mkdir()
    shutil.copy(two_runs / "b" / "stats.jsonl", tmp_path / "other" / "stats.jsonl")
    assert main(["train", "--resume", str(snap), "--outdir", str(tmp_path / "other"), "--kimg", "0.02",
                 "--quiet"]) == 2
    assert "holds a run" in capsys.readouterr().err
    # A folder with an id and snapshots of its own is never adopted by a checkpoint without one.
    victim = tmp_path / "victim"
    shutil.copytree(two_runs / "b", victim)
    before = folder_bytes(victim)
    assert main(["train", "--resume", str(legacy), "--outdir", str(victim), "--kimg", "0.02", "--quiet"]) == 2
    assert folder_bytes(victim) == before
    assert main(["train", "--resume", str(legacy), "--kimg", "0.02", "--quiet"]) == 0
    assert (legacy / "run.json").is_file()


def test_convert_refuses_a_folder_that_holds_a_run(two_runs, tmp_path, capsys):
    from spatialgan.models.cips.generator import CIPSGenerator
    from spatialgan.models.cips.official import ours_to_official_cips

    official = ours_to_official_cips(CIPSGenerator(8, z_dim=8, w_dim=8, width=16, num_layers=4,
                                                   mapping_layers=2).state_dict())
    torch.save({"g_ema": official}, tmp_path / "cips.pt")
    before = sorted(p.name for p in (two_runs / "b").iterdir())
    assert main(["convert", "--cips-official", str(tmp_path / "cips.pt"), "--dest", str(two_runs / "b")]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert sorted(p.name for p in (two_runs / "b").iterdir()) == before


def test_orphan_temporary_snapshots_are_removed_on_resume(two_runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(two_runs / "a", run)
    orphan = run / ".network-snapshot-000000016.safetensors.abc123.tmp"
    orphan.write_bytes(b"half a snapshot")
    assert main(["train", "--resume", str(run), "--kimg", "0.02", "--quiet"]) == 0
    assert not orphan.exists()


# ------------------------------------------------------------------ checkpoint header
@pytest.mark.parametrize("span", [[4], [0, 4, 4], [-4, 4], ["0", 4], [0.0, 4], [4, 0], None, "x"])
def test_a_malformed_tensor_span_in_the_header_is_the_one_line_error(tmp_path, span):
    """A flipped bit once turned a data_offsets list into a one-element list: an IndexError, not the clear error."""
    from spatialgan.checkpoint import read_header

    def write(entry) -> Path:
        header = json.dumps({"__metadata__": {}, "t": entry}).encode()
        path = tmp_path / "c.safetensors"
        path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(4))
        return path

    assert read_header(write({"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}))["t"]["data_offsets"] == [0, 4]
    with pytest.raises(SpatialGANError, match="truncated or corrupt"):
        read_header(write({"dtype": "F32", "shape": [1], "data_offsets": span}))
    with pytest.raises(SpatialGANError, match="truncated or corrupt"):
        read_header(write([0, 4]))


def test_any_single_bit_flip_in_the_header_is_the_one_line_error(two_runs):
    path = find_snapshots(two_runs / "a")[-1]
    raw = bytearray(path.read_bytes())
    header_len = int.from_bytes(raw[:8], "little")
    rng = random.Random(0)
    for trial in range(60):
        flipped = bytearray(raw)
        pos = 8 + rng.randrange(header_len)
        flipped[pos] ^= 1 << rng.randrange(8)
        damaged = path.parent / f"flip{trial}.safetensors"
        damaged.write_bytes(bytes(flipped))
        with pytest.raises(SpatialGANError, match="corrupt|checksum|not a spatialgan|format"):
            load_checkpoint(damaged)
        damaged.unlink()


def test_a_valid_json_edit_of_the_config_fails_the_checksum(two_runs, tmp_path):
    path = find_snapshots(two_runs / "a")[-1]
    raw = path.read_bytes()
    edited = raw.replace(b'\\"model\\", \\"stylegan2\\"', b'\\"model\\", \\"cips\\"     ')
    assert edited != raw and len(edited) == len(raw)
    (tmp_path / "edited.safetensors").write_bytes(edited)
    with pytest.raises(SpatialGANError, match="checksum"):
        load_checkpoint(tmp_path / "edited.safetensors")


# ------------------------------------------------------------------ CLI fuzz: bad values, one line, exit 2
BAD_TRAIN = [["--batch", "0"], ["--resolution", "33"], ["--r1-interval", "0"], ["--kimg", "nan"], ["--kimg", "0"],
             ["--lr", "-1"], ["--upsample", "foo"], ["--device", "foo"], ["--seed", "99999999999999999999"],
             ["--width", "0"], ["--width", "-8"], ["--channel-base", "0"], ["--lambda-distortion", "nan"],
             ["--gamma", "-1"], ["--gamma", "nan"], ["--batch", "x"], ["--model", "nope"], ["--crop", "diag"],
             ["--style-mixing", "2"], ["--latent-grid", "4y4"], ["--metrics", "fidd"], ["--init-from", "missing.pt"],
             ["--interscale", "cut"], ["--scale-max", "1.5"], ["--fp16-res", "-1"], ["--workers", "-2"]]


def garbage_lmdb(tmp_path):
    folder = tmp_path / "garbage.lmdb"
    folder.mkdir(exist_ok=True)
    (folder / "data.mdb").write_bytes(b"\x00garbage, not an LMDB" * 100)
    return folder


def bad_cases(tmp_path, data, ckpt):
    out = str(tmp_path / "out")
    base_train = ["train", "--data", str(data), "--outdir", str(tmp_path / "new"), *TINY]
    cases = [base_train + bad for bad in BAD_TRAIN]
    cases += [["train", "--data", str(data), "--outdir", str(ckpt), *TINY],                 # outdir is a file
              ["train", "--data", str(tmp_path / "nothing"), "--outdir", str(tmp_path / "n2"), *TINY],
              ["generate", "--ckpt", "ssn", "--seeds", "0-99999999999", "--outdir", out],
              ["generate", "--ckpt", "ssn", "--seeds", "x", "--outdir", out],
              ["generate", "--ckpt", "ssn", "--trunc", "nan", "--outdir", out],
              ["generate", "--ckpt", "ssn", "--trunc", "inf", "--outdir", out],
              ["generate", "--ckpt", str(tmp_path / "missing"), "--outdir", out],
              ["generate", "--ckpt", str(data), "--outdir", out],
              ["generate", "--ckpt", "ssn", "--device", "foo", "--outdir", out],
              ["generate", "--ckpt", "ssn", "--latent", str(ckpt), "--outdir", out],
              ["resample", "--ckpt", "ssn", "--blocks", "9,9", "--outdir", out],
              ["resample", "--ckpt", "ssn", "--blocks", "a", "--outdir", out],
              ["resample", "--ckpt", "cips", "--blocks", "0,0", "--outdir", out],
              ["resample", "--ckpt", "ssn", "--blocks", "0,0", "--count", "0", "--outdir", out],
              ["resample", "--ckpt", "ssn", "--blocks", "0,0", "--trunc", "nan", "--outdir", out],
              ["render", "--ckpt", "cips", "--size", "8x8", "--out", str(tmp_path / "x.xyz")],
              ["render", "--ckpt", "cips", "--size", "8x8", "--out", str(tmp_path / "no" / "x.png")],
              ["render", "--ckpt", "cips", "--size", "0x8", "--out", out + ".png"],
              ["render", "--ckpt", "cips", "--size", "8x8", "--center", "1", "--out", out + ".png"],
              ["render", "--ckpt", "scaleparty", "--size", "8x8", "--scale", "1e300", "--out", out + ".png"],
              ["render", "--ckpt", "scaleparty", "--size", "8x8", "--warp", "swirl:nan", "--out", out + ".png"],
              ["render", "--ckpt", "cips", "--size", "8x8", "--trunc", "nan", "--out", out + ".png"],
              ["render", "--ckpt", "ssn", "--size", "8x8", "--out", out + ".png"],
              ["render", "--ckpt", "cips", "--size", "8x8", "--gamma", "-1", "--foveate", "0,0", "--out",
               out + ".png"],
              ["evaluate", "--ckpt", "ssn", "--metrics", "swd", "--num", "1"],
              ["evaluate", "--ckpt", "ssn", "--metrics", "nope"],
              ["evaluate", "--ckpt", "ssn", "--metrics", "selfssim", "--num", "4"],
              ["evaluate", "--ckpt", "ssn", "--metrics", "swd", "--data", str(data), "--num", "8", "--out",
               str(tmp_path / "no" / "r.json")],
              ["evaluate", "--ckpt", "ssn", "--metrics", "swd", "--truncation-psi", "nan"],
              ["project", "--ckpt", "ssn", "--image", str(ckpt), "--outdir", out],
              ["project", "--ckpt", "scaleparty", "--image", str(ckpt), "--outdir", out],
              ["convert", "--cips-official", str(ckpt), "--dest", out],
              ["convert", "--cips-official", str(tmp_path / "missing.pt"), "--dest", out],
              ["dataset", "--source", str(tmp_path / "nothing"), "--dest", out + ".zip", "--resolution", "8"],
              ["dataset", "--source", str(data), "--dest", out + ".zip", "--resolution", "100000"],
              ["dataset", "--source", str(data), "--dest", out + ".zip", "--resolution", "0"],
              ["serve", "--port", "0"],
              ["demo", "--kimg", "-1", "--outdir", out],
              ["demo", "--kimg", "nan", "--outdir", out],
              ["generate", "--ckpt", "ssn", "--seeds", "0", "--outdir", "/proc/spatialgan-cannot-write-here"],
              ["train", "--data", str(garbage_lmdb(tmp_path)), "--outdir", str(tmp_path / "n3"), *TINY],
              ["serve", "--ckpt", str(tmp_path / "missing")],
              ["nosuchcommand"]]
    return cases + second_round_cases(tmp_path, data, out)


def bomb_png(path, width=20000, height=20000):
    """A PNG whose header claims width x height pixels, with one tiny row of data (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def latent_file(path, key, tensor):
    from safetensors.torch import save_file

    save_file({key: tensor}, str(path))
    return str(path)


def second_round_cases(tmp_path, data, out):
    """The second reliability probe's inputs (issue 29): each one error line and exit 2."""
    import os

    from spatialgan.api import load
    from spatialgan.models.cips.generator import CIPSGenerator
    from spatialgan.models.cips.official import ours_to_official_cips

    z_shape = load("ssn").adapter.latent_shape()
    sp = load("scaleparty").G
    ws_shape = (sp.num_ws, sp.w_dim)
    official = ours_to_official_cips(CIPSGenerator(8, z_dim=8, w_dim=8, width=16, num_layers=4,
                                                   mapping_layers=2).state_dict())
    odd = {k: v for k, v in official.items() if not k.startswith("linears.3.")}
    torch.save({"g_ema": odd}, tmp_path / "odd.pt")
    misshaped = dict(official, **{"conv1.conv.weight": torch.zeros(1, 3, 5, 1, 1)})
    torch.save({"g_ema": misshaped}, tmp_path / "misshaped.pt")
    os.mkfifo(tmp_path / "pipe.zip")
    t = tmp_path
    return [
        ["project", "--ckpt", "scaleparty", "--image", str(bomb_png(t / "bomb.png")), "--outdir", out],
        ["project", "--ckpt", "scaleparty", "--image", str(t / "bomb.png"), "--lr", "1e300", "--outdir", out],
        ["project", "--ckpt", "scaleparty", "--image", str(t / "bomb.png"), "--lr", "inf", "--outdir", out],
        ["project", "--ckpt", "scaleparty", "--image", str(t / "bomb.png"), "--noise-seed",
         "99999999999999999999", "--outdir", out],
        ["train", "--data", str(data), "--outdir", str(t / "c3"), "--model", "cips", "--cips-layers", "3", *TINY],
        ["convert", "--cips-official", str(t / "odd.pt"), "--dest", str(t / "odd")],
        ["convert", "--cips-official", str(t / "misshaped.pt"), "--dest", str(t / "mis")],
        *[["generate", "--ckpt", "ssn", "--latent", latent_file(t / f"z-{name}.safetensors", "z", value),
           "--outdir", out] for name, value in (("int64", torch.zeros(1, *z_shape, dtype=torch.int64)),
                                                ("bool", torch.zeros(1, *z_shape, dtype=torch.bool)),
                                                ("empty", torch.zeros(0, *z_shape)))],
        *[["render", "--ckpt", "scaleparty", "--ws", latent_file(t / f"ws-{name}.safetensors", "ws", value),
           "--size", "8x8", "--out", out + ".png"]
          for name, value in (("int32", torch.zeros(1, *ws_shape, dtype=torch.int32)),
                              ("empty", torch.zeros(0, *ws_shape)), ("huge", torch.full((1, *ws_shape), 1e30)))],
        ["demo", "--seed", "-1", "--outdir", out],
        ["generate", "--ckpt", "ssn", "--seeds", "0", "--outdir", ""],
        ["dataset", "--source", str(data), "--dest", out + ".zip", "--resolution", "8", "--crop-size", "0.2,0.5"],
        ["dataset", "--source", str(data), "--dest", out + ".zip", "--crops", "1", "--resolution", "8192",
         "--aspect", "20"],
        ["train", "--data", str(data), "--outdir", str(t / "g32"), "--model", "ssn", "--latent-grid", "32x32",
         *TINY],
        ["train", "--data", str(t / "pipe.zip"), "--outdir", str(t / "pipe"), *TINY],
        ["resample", "--ckpt", "ssn", "--blocks", "0,0", "--count", "100000", "--outdir", out],
        ["serve", "--host", "203.0.113.7", "--port", "7861"],
    ]


def test_cli_fuzz_every_bad_input_is_one_error_line_and_exit_2(tmp_path):
    data = write_image_folder(tmp_path / "data", count=4, size=8)
    ckpt = tmp_path / "junk.pt"
    ckpt.write_bytes(b"not a checkpoint at all")
    (tmp_path / "nothing").mkdir()
    script = ("import sys, json\nfrom spatialgan.cli import main\n"
              "for argv in json.loads(sys.stdin.read()):\n"
              "    print('CASE', json.dumps(argv), file=sys.stderr, flush=True)\n"
              "    print('RC', main(argv), file=sys.stderr, flush=True)\n")
    cases = bad_cases(tmp_path, data, ckpt)
    run = subprocess.run([sys.executable, "-c", script], input=json.dumps(cases), capture_output=True, text=True,
                         timeout=600)
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    chunks = run.stderr.split("CASE ")[1:]
    assert len(chunks) == len(cases), run.stderr[-2000:]
    for chunk in chunks:
        argv, rest = chunk.split("\n", 1)
        lines = [x for x in rest.splitlines() if not x.startswith("RC ")]
        rc = [x for x in rest.splitlines() if x.startswith("RC ")]
        assert rc == ["RC 2"], (argv, rest)
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, lines)


def test_evaluate_never_writes_its_report_over_a_snapshot(two_runs, capsys):
    snap = find_snapshots(two_runs / "a")[0]
    before = snap.read_bytes()
    assert main(["evaluate", "--ckpt", str(two_runs / "a"), "--data", str(two_runs / "data"), "--num", "4",
                 "--metrics", "swd", "--out", str(snap)]) == 2
    assert "needs a .json path" in capsys.readouterr().err
    assert snap.read_bytes() == before


def _limit_file_size(limit: int):
    def apply():
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_outputs_are_atomic_on_a_full_disk(two_runs, tmp_path):
    """A file-size limit stands in for a full disk: the write fails part-way; no partial image or report stays."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "spatialgan", "generate", "--ckpt", str(two_runs / "a"),
                           "--seeds", "0-3", "--outdir", str(out), "--grid"], capture_output=True, text=True,
                          preexec_fn=_limit_file_size(60), timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write"), proc.stderr
    assert list(out.iterdir()) == []                         # neither 0-byte PNGs nor temporary files


def test_a_background_writer_error_is_one_line(capsys):
    import threading

    from spatialgan import cli

    def fail():
        raise OSError(28, "No space left on device")

    previous, threading.excepthook = threading.excepthook, cli._report_thread_error
    try:
        t = threading.Thread(target=fail, name="EventFileWriter")
        t.start()
        t.join()
    finally:
        threading.excepthook = previous
    err = capsys.readouterr().err
    assert err == "warning: EventFileWriter: No space left on device\n"


def test_a_huge_non_checkpoint_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.safetensors"
    with open(big, "wb") as f:
        f.truncate(8 * 2 ** 30)                              # sparse: 8 GiB of zeros, no disk used
    # VmHWM (this process image's peak RSS; ru_maxrss would also count the forked pytest before exec).
    code = ("import sys\nfrom spatialgan.checkpoint import load_checkpoint\nfrom spatialgan import "
            "SpatialGANError\ntry:\n    load_checkpoint(sys.argv[1])\nexcept SpatialGANError as e:\n    print(e)\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "print(int(hwm.split()[1]) // 1024)")
    proc = subprocess.run([sys.executable, "-c", code, str(big)], capture_output=True, text=True, timeout=120)
    message, peak_mb = proc.stdout.strip().splitlines()
    assert "truncated or corrupt" in message
    assert int(peak_mb) < 1024, peak_mb                      # not 8 GB: only the first bytes were read


def test_serve_on_a_busy_port_is_one_error_line_before_any_address(capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--ckpt", "ssn", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: cannot listen on 127.0.0.1:") and err.count("\n") == 1


def test_latents_of_any_float_type_load_and_duplicate_seeds_are_one_file(tmp_path, capsys):
    from spatialgan.api import load

    shape = load("ssn").adapter.latent_shape()
    for dtype in (torch.float16, torch.float64):
        path = latent_file(tmp_path / f"z-{dtype}.safetensors", "z", torch.randn(2, *shape).to(dtype))
        assert main(["generate", "--ckpt", "ssn", "--latent", path, "--outdir", str(tmp_path / str(dtype))]) == 0
        assert len(list((tmp_path / str(dtype)).glob("*.png"))) == 2
    assert main(["generate", "--ckpt", "ssn", "--seeds", "3,0-4", "--outdir", str(tmp_path / "dup")]) == 0
    assert "wrote 5 file(s)" in capsys.readouterr().out
    assert len(list((tmp_path / "dup").glob("seed*.png"))) == 5


def test_oversized_zip_members_are_skipped_unread_with_one_warning(tmp_path, capsys):
    import io
    import zipfile

    from PIL import Image

    from spatialgan.data.dataset import MAX_FILE_BYTES, ImageDataset

    path = tmp_path / "bomb.zip"
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="PNG")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.png", b"\0" * (MAX_FILE_BYTES + 1))     # inflates past the limit
        zf.writestr("b.png", buf.getvalue())
    ds = ImageDataset(path, 8)
    for _ in range(3):
        assert ds.load(0)[0].float().mean() > 150                # a.png's draws take b.png
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "MiB limit" in err


def test_a_feature_cache_of_the_wrong_shape_or_with_nan_is_recomputed(tmp_path, capsys):
    from safetensors.torch import save_file

    from spatialgan.metrics.evaluate import load_cached_features

    for bad in (torch.zeros(3, 4), torch.full((5, 4), float("nan")), torch.zeros(5), torch.zeros(5, 4,
                                                                                                 dtype=torch.int32)):
        save_file({"features": bad}, str(tmp_path / "cache.safetensors"))
        assert load_cached_features(tmp_path / "cache.safetensors", rows=5) is None
    assert capsys.readouterr().err.count("recomputing") == 4
    save_file({"features": torch.ones(5, 4)}, str(tmp_path / "cache.safetensors"))
    assert load_cached_features(tmp_path / "cache.safetensors", rows=5).shape == (5, 4)


@pytest.mark.parametrize("forge", ["progress", "rng", "pl_mean", "G_ema", "run_id"])
def test_forged_checkpoints_with_a_recomputed_checksum_are_one_error_line(two_runs, tmp_path, forge, capsys):
    import shutil

    run = tmp_path / "forged"
    shutil.copytree(two_runs / "a", run)
    snap = find_snapshots(run)[-1]
    state = load_checkpoint(snap)
    state[forge] = {"progress": {"cur_nimg": "16"}, "rng": {"torch_cpu": torch.zeros(3)}, "pl_mean": "x",
                    "G_ema": [1, 2], "run_id": 7}[forge]
    save_checkpoint(snap, state)                             # a valid checksum over forged fields
    command = (["generate", "--ckpt", str(run), "--seeds", "0", "--outdir", str(tmp_path / "out")]
               if forge == "G_ema" else ["train", "--resume", str(run), "--kimg", "0.02", "--quiet"])
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
