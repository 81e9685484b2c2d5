"""Other codebases' checkpoints -> spatialgan checkpoints (`spatialgan convert`): StyleGAN2-ADA pickles, rosinality
`.pt` files and official CIPS files. The written folder is read by generate, render, evaluate, serve and
`train --init-from` like any of ours; no file is unpickled with code (see spatialgan.safe_pickle)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from spatialgan import SpatialGANError
from spatialgan.checkpoint import find_snapshots, load_into, save_checkpoint
from spatialgan.core.mapping import mean_w
from spatialgan.models.cips.official import convert_official_cips
from spatialgan.models.stylegan2 import build_generator as build_stylegan2
from spatialgan.models.stylegan2.nvidia import read_stylegan2_ada
from spatialgan.models.stylegan2.rosinality import read_rosinality

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
    source = {"family": "stylegan2-ada", "file": Path(src).name, **found["source"]}
    return _write(dest, found["config"], found, source, src)


def convert_rosinality(src, dest) -> Path:
    """A rosinality stylegan2-pytorch `.pt` -> our StyleGAN2 (`--upsample fir`), with `latent_avg` as w_avg (else
    the mean w of 10k latents, as its generate.py estimates one)."""
    found = read_rosinality(src)
    if not found["has_latent_avg"]:
        G = build_stylegan2(SimpleNamespace(**found["config"], conv_clamp=None))
        G.load_state_dict(found["G_ema"], strict=False)
        for key in ("G_ema", "G"):
            if found[key] is not None:
                found[key]["mapping.w_avg"] = mean_w(G.mapping)
    return _write(dest, found["config"], found, {"family": "rosinality", "file": Path(src).name}, src)


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
