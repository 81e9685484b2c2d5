"""Other codebases' checkpoints: StyleGAN2-ADA pickles, rosinality files and official CIPS files convert exactly, and
hostile pickles never run. The fixtures in tests/data/checkpoints were written by those codebases' own code
(scripts/make_checkpoint_fixtures.py), with the images their own forward passes render."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from spatialgan import SpatialGANError
from spatialgan.cli import main
from spatialgan.imageutils import to_uint8

DATA = Path(__file__).parent / "data" / "checkpoints"
NVIDIA = DATA / "stylegan2-ada-tiny.pkl"
ROSINALITY = DATA / "rosinality-tiny.pt"
CIPS = DATA / "cips-tiny.pt"


def expected(name: str) -> dict:
    return load_file(str(DATA / f"{name}-expected.safetensors"))


def generated_pngs(outdir: Path, count: int) -> np.ndarray:
    files = sorted(outdir.glob("*.png"))
    files = [f for f in files if f.name != "grid.png"]
    assert len(files) == count
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]).astype(int)


def reference_pngs(images: torch.Tensor) -> np.ndarray:
    return to_uint8(images).astype(int)


def convert_cli(tmp_path, flag, src, *extra) -> Path:
    dest = tmp_path / "converted"
    assert main(["convert", flag, str(src), "--dest", str(dest), *extra]) == 0
    return dest


# ------------------------------------------------------------------ NVIDIA StyleGAN2-ADA pickles
def test_a_stylegan2_ada_pickle_generates_its_own_pixels(tmp_path):
    dest = convert_cli(tmp_path, "--stylegan2-ada", NVIDIA)
    ref = expected("stylegan2-ada-tiny")
    for trunc, key in (("1", "psi1"), ("0.7", "psi07")):
        out = tmp_path / f"gen{key}"
        assert main(["generate", "--ckpt", str(dest), "--latent", str(DATA / "stylegan2-ada-tiny-latent.safetensors"),
                     "--noise-mode", "const", "--trunc", trunc, "--outdir", str(out), "--amp", "off"]) == 0
        diff = np.abs(generated_pngs(out, 4) - reference_pngs(ref[key]))
        assert diff.max() <= 2, f"psi {trunc}: {diff.max()} levels from G_ema's own image"


def test_a_stylegan2_ada_pickle_reads_its_architecture_g_and_d(tmp_path):
    from spatialgan.api import load
    from spatialgan.checkpoint import load_checkpoint, resolve_checkpoint
    from spatialgan.core.discriminator import Discriminator

    dest = convert_cli(tmp_path, "--stylegan2-ada", NVIDIA)
    model = load(dest, amp="off")
    cfg = model.config
    assert (cfg.resolution, cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.channel_base, cfg.width) == (
        16, 32, 32, 2, 256, 32)
    assert cfg.conv_clamp == 256 and cfg.fp16_res == 2 and cfg.upsample == "fir" and cfg.d_layout == "stylegan2"
    ref = expected("stylegan2-ada-tiny")
    with torch.no_grad():
        torch.testing.assert_close(model.G(ref["z"], noise_mode="const"), ref["psi1"], rtol=0, atol=1e-4)
    state = load_checkpoint(resolve_checkpoint(dest))
    assert set(state) >= {"G", "G_ema", "D"} and state["source"]["family"] == "stylegan2-ada"
    assert not torch.equal(state["G"]["synthesis.blocks.0.const"], state["G_ema"]["synthesis.blocks.0.const"])
    D = Discriminator(16, channel_base=256, channel_max=32, layout="stylegan2")
    D.load_state_dict(state["D"])
    with torch.no_grad():
        torch.testing.assert_close(D(ref["image"]), ref["D"], rtol=0, atol=1e-4)


def test_a_stylegan2_ada_pickle_starts_an_ssn_run_exactly(tmp_path):
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="ssn", resolution=16, width=32, channel_base=256, z_dim=32, w_dim=32, mapping_layers=2,
                      upsample="fir", init_from=str(NVIDIA), device="cpu", outdir=str(tmp_path / "run"))
    trainer = Trainer(cfg)
    assert trainer.cfg.conv_clamp == 256 and trainer.cfg.ema_kimg == 10.0
    ref = expected("stylegan2-ada-tiny")
    z = ref["z"][:, :, None, None].expand(-1, -1, 2, 2)          # the same z in every block of SSN's grid
    with torch.no_grad():
        out = trainer.G_ema(z, truncation_psi=0.7, noise_mode="const")
    assert (out - ref["psi07"]).abs().max() < 1e-4


def test_conv_clamp_limits_every_layer_in_fp32():
    from spatialgan.models.stylegan2.generator import StyleGAN2Generator

    torch.manual_seed(0)
    G = StyleGAN2Generator(8, z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=8).eval()
    with torch.no_grad():
        G.synthesis.blocks[0].const.mul_(1e4)                 # activations far beyond 256
        z = torch.randn(2, 8)
        free = G(z, noise_mode="const")
        G.synthesis.set_conv_clamp(256)
        seen = []
        hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.abs().max().item()))
                 for m in G.synthesis.modules() if type(m).__name__ in ("StyledConv", "ToRGB")]
        clamped = G(z, noise_mode="const")
        for h in hooks:
            h.remove()
    assert max(seen) <= 256 and (free - clamped).abs().max() > 1


def test_conditional_and_unusual_generators_are_refused():
    from spatialgan.models.stylegan2.nvidia import generator_architecture
    from spatialgan.safe_pickle import PersistentRecord

    base = {"z_dim": 8, "w_dim": 8, "img_resolution": 16, "img_channels": 3}
    for kwargs, message in (({"c_dim": 10}, "conditional"), ({"img_channels": 1}, "RGB"),
                            ({"synthesis_kwargs": {"architecture": "resnet"}}, "skip")):
        record = PersistentRecord("Generator", {"_init_kwargs": {**base, **kwargs}})
        with pytest.raises(SpatialGANError, match=message):
            generator_architecture(record, "x.pkl")


# ------------------------------------------------------------------ hostile pickles
class _Reduce:
    """Pickles as fn(*args); callable, so that one payload can call what another returns."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args

    def __call__(self, *args):
        raise AssertionError("only pickled")


def _persistent_payload(marker: Path, monkeypatch) -> bytes:
    """A pickle calling NVIDIA's persistent loader with source code that would write `marker` if it were run."""
    import types

    src = f"open({str(marker)!r}, 'w').write('ran')\nclass Generator: pass\n"
    meta = {"type": "class", "version": 4, "module_src": src, "class_name": "Generator", "state": {}}
    package, module = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):     # a stand-in so that pickle can name the real one; never called
        raise AssertionError

    _reconstruct_persistent_obj.__module__ = module.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    monkeypatch.setitem(sys.modules, "torch_utils", package)
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", module)
    data = pickle.dumps({"G_ema": _Reduce(_reconstruct_persistent_obj, (meta,))})
    monkeypatch.delitem(sys.modules, "torch_utils.persistence")
    monkeypatch.delitem(sys.modules, "torch_utils")
    return data


def _torch_bytes_payload(marker: Path) -> bytes:
    """torch's storage hook given a nested pickle that would run a command."""
    inner = pickle.dumps(_Reduce(os.system, (f"touch {marker}",)))
    import torch.storage

    return pickle.dumps({"G_ema": _Reduce(torch.storage._load_from_bytes, (inner,))})


HOSTILE = {
    "os.system": lambda m: pickle.dumps({"G_ema": _Reduce(os.system, (f"touch {m}",))}),
    "builtins.eval": lambda m: pickle.dumps(_Reduce(eval, (f"open({str(m)!r}, 'w')",))),
    "builtins.__import__": lambda m: pickle.dumps(_Reduce(__import__, ("tabnanny",))),
    "subprocess.Popen": lambda m: pickle.dumps([_Reduce(subprocess.Popen, (["touch", str(m)],))]),
    "builtins.getattr": lambda m: pickle.dumps(
        _Reduce(_Reduce(getattr, (_Reduce(__import__, ("os",)), "system")), (f"touch {m}",))),
    "nested torch bytes": _torch_bytes_payload,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pickles_are_refused_and_never_run(tmp_path, capsys, name):
    marker = tmp_path / "ran"
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(HOSTILE[name](marker))
    assert main(["convert", "--stylegan2-ada", str(bad), "--dest", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "bad.pkl" in err[0]
    assert not marker.exists() and not (tmp_path / "out").exists() and "tabnanny" not in sys.modules
    assert main(["train", "--model", "ssn", "--init-from", str(bad), "--outdir", str(tmp_path / "run"),
                 "--data", str(tmp_path), "--device", "cpu", "--quiet"]) == 2
    assert not marker.exists()


def test_persistent_source_code_is_kept_as_text_never_run(tmp_path, capsys, monkeypatch):
    from spatialgan.safe_pickle import PersistentRecord, load_pickle_safely

    marker = tmp_path / "ran"
    path = tmp_path / "persistent.pkl"
    path.write_bytes(_persistent_payload(marker, monkeypatch))
    found = load_pickle_safely(path, "a pickle")
    assert isinstance(found["G_ema"], PersistentRecord) and found["G_ema"].module_chars > 0
    assert main(["convert", "--stylegan2-ada", str(path), "--dest", str(tmp_path / "out")]) == 2
    assert "error:" in capsys.readouterr().err and not marker.exists()


def test_a_damaged_pickle_is_one_line(tmp_path, capsys):
    good = NVIDIA.read_bytes()
    bad = tmp_path / "cut.pkl"
    bad.write_bytes(good[: len(good) // 2])
    assert main(["convert", "--stylegan2-ada", str(bad), "--dest", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cut.pkl" in err[0]


# ------------------------------------------------------------------ rosinality
def test_a_rosinality_file_converts_to_its_own_pixels_and_d(tmp_path):
    from spatialgan.checkpoint import load_checkpoint, resolve_checkpoint
    from spatialgan.core.discriminator import Discriminator

    dest = convert_cli(tmp_path, "--rosinality", ROSINALITY)
    ref = expected("rosinality-tiny")
    from safetensors.torch import save_file

    save_file({"z": ref["z"]}, str(tmp_path / "z.safetensors"))
    for trunc, key in (("1", "psi1"), ("0.7", "psi07")):
        out = tmp_path / f"gen{key}"
        assert main(["generate", "--ckpt", str(dest), "--latent", str(tmp_path / "z.safetensors"), "--noise-mode",
                     "const", "--trunc", trunc, "--outdir", str(out), "--amp", "off"]) == 0
        assert np.abs(generated_pngs(out, 4) - reference_pngs(ref[key])).max() <= 2
    state = load_checkpoint(resolve_checkpoint(dest))
    assert state["config"]["channel_base"] == 256 and state["config"]["width"] == 32
    D = Discriminator(16, channel_base=256, channel_max=32, layout="stylegan2")
    D.load_state_dict(state["D"])
    with torch.no_grad():
        torch.testing.assert_close(D(ref["image"]), ref["D"], rtol=0, atol=1e-4)
    assert main(["evaluate", "--ckpt", str(dest), "--metrics", "diversity", "--num", "8"]) == 0
    from spatialgan.serve.app import load_studio

    studio = load_studio([str(dest)], amp="off")
    assert studio.sample("stylegan2", seed=3)["image"]


def test_ssn_from_a_file_written_by_rosinalitys_code_reproduces_its_images(tmp_path):
    # The state dict comes from rosinality's Generator and the images from its own forward (not from our writer).
    from spatialgan.config import TrainConfig
    from spatialgan.training.loop import Trainer

    cfg = TrainConfig(model="ssn", resolution=16, width=32, channel_base=256, z_dim=32, w_dim=32, mapping_layers=2,
                      upsample="fir", init_from=str(ROSINALITY), device="cpu", outdir=str(tmp_path / "run"))
    trainer = Trainer(cfg)
    ref = expected("rosinality-tiny")
    z = ref["z"][:, :, None, None].expand(-1, -1, 2, 2)
    with torch.no_grad():
        out = trainer.G_ema(z, truncation_psi=0.7, noise_mode="const")
        trained = trainer.G(z, noise_mode="const")
    assert (out - ref["psi07"]).abs().max() < 1e-4
    assert (trained - ref["psi1"]).abs().max() > 1e-2        # G is rosinality's g, which differs from its g_ema


# ------------------------------------------------------------------ official CIPS
def test_official_cips_renders_its_eval_mode_pixels_at_every_size(tmp_path):
    from spatialgan.api import load
    from spatialgan.core.coords import pixel_grid

    dest = convert_cli(tmp_path, "--cips-official", CIPS)
    ref = expected("cips-tiny")
    out = tmp_path / "gen"
    assert main(["generate", "--ckpt", str(dest), "--latent", str(DATA / "cips-tiny-latent.safetensors"),
                 "--noise-mode", "const", "--outdir", str(out), "--amp", "off"]) == 0
    assert np.abs(generated_pngs(out, 4) - reference_pngs(ref["eval16"])).max() <= 2
    model = load(dest, amp="off")
    with torch.no_grad():
        for size in (16, 24, 9):
            img = model.G(ref["z"], noise_mode="const", coords=pixel_grid(size, size))
            assert (img - ref[f"eval{size}"]).abs().max() < 1e-4, size
        # The band renderer (render, the studio) gives the same pixels at another size, one-row bands included.
        from spatialgan.models.cips.render import render_image

        ws = model.G.map(ref["z"][:1])
        banded = render_image(model.G, ws, 24, 24, band_pixels=24)
    assert np.abs(banded.astype(int) - reference_pngs(ref["eval24"][:1])[0]).max() <= 1
    assert main(["render", "--ckpt", str(dest), "--size", "24x24", "--out", str(tmp_path / "r.png")]) == 0


def test_official_cips_training_mode_reading_is_an_option(tmp_path):
    from spatialgan.api import load

    dest = convert_cli(tmp_path, "--cips-official", CIPS, "--cips-reading", "train")
    ref = expected("cips-tiny")
    model = load(dest, amp="off")
    with torch.no_grad():
        img = model.G(ref["z"], noise_mode="const")
    assert (img - ref["train16"]).abs().max() < 1e-4
    assert (img - ref["eval16"]).abs().max() > 1e-2          # the two readings differ


def test_convert_refuses_a_used_destination_and_a_missing_file(tmp_path, capsys):
    dest = convert_cli(tmp_path, "--rosinality", ROSINALITY)
    assert main(["convert", "--rosinality", str(ROSINALITY), "--dest", str(dest)]) == 2
    assert main(["convert", "--stylegan2-ada", str(tmp_path / "none.pkl"), "--dest", str(tmp_path / "x")]) == 2
    assert main(["convert", "--rosinality", str(NVIDIA), "--dest", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error:") for line in err)


def test_a_converted_pickle_starts_an_ssn_run_from_the_cli(tmp_path):
    from spatialgan.api import load

    from conftest import write_image_folder

    dest = convert_cli(tmp_path, "--stylegan2-ada", NVIDIA)
    data = write_image_folder(tmp_path / "data", count=8, size=16)
    assert main(["train", "--model", "ssn", "--init-from", str(dest), "--outdir", str(tmp_path / "ssn"),
                 "--data", str(data), "--kimg", "0.004", "--resolution", "16", "--batch", "4", "--width", "32",
                 "--channel-base", "256", "--z-dim", "32", "--w-dim", "32", "--mapping-layers", "2",
                 "--latent-rows", "2", "--latent-cols", "2", "--upsample", "fir", "--lr", "0", "--device", "cpu",
                 "--quiet"]) == 0
    ssn = load(tmp_path / "ssn", amp="off")
    ref = expected("stylegan2-ada-tiny")
    with torch.no_grad():
        out = ssn.G(ref["z"][:, :, None, None].expand(-1, -1, 2, 2), noise_mode="const")
    # One EMA step (beta ~0.99 at 10 kimg) moves G_ema a percent of the way towards the pickle's G.
    assert ssn.config.conv_clamp == 256 and (out - ref["psi1"]).abs().max() < 2e-3
