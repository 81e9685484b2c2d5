"""Other codebases' checkpoints -> spatialgan checkpoints (`spatialgan convert`): StyleGAN2-ADA pickles, rosinality
`.pt` files and official CIPS files. The written folder is read by generate, render, evaluate, serve and
`train --init-from` like any of ours; no file is unpickled with code (see spatialgan.safe_pickle)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from spatialgan import SpatialGANError
from spatialgan.checkpoint import find_snapshots, load_torch_file, save_checkpoint
from spatialgan.models.cips.official import convert_official_cips
from spatialgan.models.stylegan2 import build_generator as build_stylegan2
from spatialgan.models.stylegan2.nvidia import load_into, read_stylegan2_ada
from spatialgan.models.stylegan2.rosinality import (
    is_rosinality_generator,
    rosinality_discriminator_to_ours,
    rosinality_to_ours,
)

FAMILIES = ("stylegan2-ada", "rosinality", "cips-official")
CONVERTED_NAME = "network-snapshot-000000000.safetensors"


def _check_dest(dest) -> Path:
    if find_snapshots(dest):
        raise SpatialGANError(f"{dest} already holds a run; choose another --dest")
    return Path(dest) / CONVERTED_NAME


def _write(dest, config: dict, weights: dict, source: dict, path) -> Path:
    """Loads every generator state into our StyleGAN2 exactly (which checks the conversion), then writes the file."""
    out = _check_dest(dest)
    config = {**config, "outdir": str(dest), "device": "cpu"}
    state = {"config": config, "progress": {}, "source": source}
    for key in ("G_ema", "G"):
        if weights.get(key) is not None:
            G = build_stylegan2(SimpleNamespace(**config))
            load_into(G, weights[key], path, "generator")
            state[key] = G.state_dict()
    if weights.get("D") is not None:
        state["D"] = weights["D"]
    from spatialgan import __version__

    return save_checkpoint(out, {"spatialgan_version": __version__, **state})


def convert_stylegan2_ada(src, dest) -> Path:
    """A StyleGAN2-ADA network pickle -> our StyleGAN2 (G_ema, G and D when the pickle has them)."""
    found = read_stylegan2_ada(src)
    config = {k: v for k, v in found["config"].items() if not k.startswith("source_")}
    config["conv_clamp"] = found["config"]["source_conv_clamp"]
    source = {"family": "stylegan2-ada", "file": Path(src).name,
              **{k[len("source_"):]: v for k, v in found["config"].items() if k.startswith("source_")}}
    return _write(dest, config, found, source, src)


def rosinality_config(g_state: dict) -> dict:
    """Our StyleGAN2 config for a rosinality generator: its sizes read from the weights (channel_multiplier 2 is
    channel_base 32768 with max 512; other multipliers give other per-resolution widths, read here exactly)."""
    to_rgbs = 1 + len({k.split(".")[1] for k in g_state if k.startswith("to_rgbs.")})
    resolution = 2 ** (to_rgbs + 1)
    widths = [g_state["conv1.conv.weight"].shape[1]] + [
        g_state[f"convs.{2 * i + 1}.conv.weight"].shape[1] for i in range(to_rgbs - 1)]
    width = max(widths)
    bases = {w * 2 ** (i + 2) for i, w in enumerate(widths) if w < width}
    base = bases.pop() if len(bases) == 1 else width * resolution
    n_mlp = len({k.split(".")[1] for k in g_state if k.startswith("style.") and k.endswith(".weight")})
    return {"model": "stylegan2", "resolution": resolution, "z_dim": g_state["style.1.weight"].shape[1],
            "w_dim": g_state["style.1.weight"].shape[0], "mapping_layers": n_mlp, "width": int(width),
            "channel_base": int(base), "upsample": "fir", "downsample": "fir", "d_layout": "stylegan2",
            "ema_kimg": 10.0}


def convert_rosinality(src, dest) -> Path:
    """A rosinality stylegan2-pytorch `.pt` -> our StyleGAN2 (`--upsample fir`), with `latent_avg` as w_avg."""
    ckpt = load_torch_file(src, "a rosinality stylegan2-pytorch checkpoint")
    g_state = ckpt.get("g_ema", ckpt.get("g")) if isinstance(ckpt, dict) else None
    if not isinstance(g_state, dict) or not is_rosinality_generator(g_state):
        raise SpatialGANError(f"{src}: not a rosinality stylegan2-pytorch checkpoint (expected 'g_ema' with "
                              "input.input / conv1 / style.1)")
    latent_avg = ckpt.get("latent_avg")
    try:
        config = rosinality_config(g_state)
        if latent_avg is None:       # its generate.py computes the mean of 4096 w when it needs one
            latent_avg = _mean_w(rosinality_to_ours(g_state), config)
        weights = {"G_ema": rosinality_to_ours(g_state, latent_avg),
                   "G": rosinality_to_ours(ckpt["g"], latent_avg) if isinstance(ckpt.get("g"), dict) else None,
                   "D": rosinality_discriminator_to_ours(ckpt["d"]) if isinstance(ckpt.get("d"), dict) else None}
    except (KeyError, IndexError, AttributeError, TypeError, ValueError) as exc:
        raise SpatialGANError(f"{src}: an incomplete rosinality checkpoint ({type(exc).__name__}: "
                              f"{str(exc)[:120]})") from None
    return _write(dest, config, weights, {"family": "rosinality", "file": Path(src).name}, src)


def _mean_w(state: dict, config: dict) -> torch.Tensor:
    G = build_stylegan2(SimpleNamespace(**config, conv_clamp=None))
    G.load_state_dict(state, strict=False)
    with torch.no_grad():
        z = torch.randn(10000, G.z_dim, generator=torch.Generator().manual_seed(0))
        return G.mapping(z).mean(0)


def convert(family: str, src, dest, resolution: int | None = None, cips_reading: str = "eval") -> Path:
    """The one entry point (the CLI's): `family` is one of FAMILIES."""
    if not Path(src).is_file():
        raise SpatialGANError(f"{src}: no such file")
    if family == "stylegan2-ada":
        return convert_stylegan2_ada(src, dest)
    if family == "rosinality":
        return convert_rosinality(src, dest)
    if family == "cips-official":
        return convert_official_cips(src, dest, resolution, reading=cips_reading)
    raise SpatialGANError(f"unknown checkpoint family {family!r}; expected one of {', '.join(FAMILIES)}")
