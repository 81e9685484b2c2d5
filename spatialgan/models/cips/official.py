"""Weights from the official CIPS code (saic-mdal/CIPS, CIPSskip) <-> our CIPSGenerator; `spatialgan convert`.

CIPSskip keys: lff.ffm.conv.{weight,bias} (Fourier features, a 1x1 conv), emb.input (coordinate embedding),
conv1 (input layer), linears.{j}, to_rgbs.{k}, style.{1..n} (mapping). Styled layers hold conv.weight
(1, out, in, 1, 1), conv.modulation.{weight,bias}, noise.weight and activate.bias; ToRGBs conv.* and bias.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from spatialgan import SpatialGANError
from spatialgan.checkpoint import copy_matching, find_snapshots, load_torch_file, save_generator_checkpoint
from spatialgan.core.mapping import mean_w
from spatialgan.models.cips import build_generator


def is_official_cips(state: dict) -> bool:
    return "lff.ffm.conv.weight" in state and "conv1.conv.weight" in state and "linears.0.conv.weight" in state


def _official_styled(out: dict, ours: str, state: dict, theirs: str) -> None:
    out[f"{ours}.weight"] = state[f"{theirs}.conv.weight"].reshape(state[f"{theirs}.conv.weight"].shape[1:3])
    out[f"{ours}.affine.weight"] = state[f"{theirs}.conv.modulation.weight"]
    out[f"{ours}.affine.bias"] = state[f"{theirs}.conv.modulation.bias"]
    if f"{theirs}.activate.bias" in state:
        out[f"{ours}.bias"] = state[f"{theirs}.activate.bias"].reshape(-1)
        out[f"{ours}.noise_strength"] = state.get(f"{theirs}.noise.weight", torch.zeros(1)).reshape(())
    else:
        out[f"{ours}.bias"] = state[f"{theirs}.bias"].reshape(-1)


def official_cips_to_ours(state: dict) -> tuple[dict, dict]:
    """An official CIPSskip generator state dict -> (our CIPSGenerator state dict, its constructor arguments)."""
    if not is_official_cips(state):
        raise SpatialGANError("not an official CIPS (CIPSskip) generator state dict: no lff / conv1 / linears keys")
    num_layers = len({k.split(".")[1] for k in state if k.startswith("linears.")})
    pairs = num_layers // 2
    emb = state.get("emb.input")
    hidden = state["lff.ffm.conv.weight"].shape[0]
    out = {"fourier.weight": state["lff.ffm.conv.weight"].reshape(hidden, -1),
           "fourier.bias": state["lff.ffm.conv.bias"]}
    if emb is not None:
        out["embedding.table"] = emb
    _official_styled(out, "input_layer", state, "conv1")
    for j in range(num_layers):
        _official_styled(out, f"layers.{j}", state, f"linears.{j}")
    for k in range(pairs):
        _official_styled(out, f"torgbs.{k}", state, f"to_rgbs.{k}")
    n_mlp = len({k.split(".")[1] for k in state if k.startswith("style.") and k.endswith(".weight")})
    for i in range(n_mlp):
        out[f"mapping.layers.{i}.weight"] = state[f"style.{i + 1}.weight"]
        out[f"mapping.layers.{i}.bias"] = state[f"style.{i + 1}.bias"]
    w_dim = state["style.1.weight"].shape[0]
    kwargs = dict(resolution=emb.shape[-1] if emb is not None else None, z_dim=w_dim, w_dim=w_dim, width=hidden,
                  num_layers=num_layers, mapping_layers=n_mlp, coord_embedding=emb is not None,
                  channels=[state[f"linears.{2 * k}.conv.weight"].shape[1] for k in range(pairs)])
    return out, kwargs


def ours_to_official_cips(state: dict) -> dict:
    """Our CIPSGenerator state dict -> the official CIPSskip layout (for exchanging weights, and for tests)."""
    out = {"lff.ffm.conv.weight": state["fourier.weight"][:, :, None, None],
           "lff.ffm.conv.bias": state["fourier.bias"]}
    if "embedding.table" in state:
        out["emb.input"] = state["embedding.table"]

    def styled(ours, theirs, rgb=False):
        out[f"{theirs}.conv.weight"] = state[f"{ours}.weight"][None, :, :, None, None]
        out[f"{theirs}.conv.modulation.weight"] = state[f"{ours}.affine.weight"]
        out[f"{theirs}.conv.modulation.bias"] = state[f"{ours}.affine.bias"]
        if rgb:
            out[f"{theirs}.bias"] = state[f"{ours}.bias"].reshape(1, -1, 1, 1)
        else:
            out[f"{theirs}.activate.bias"] = state[f"{ours}.bias"]
            out[f"{theirs}.noise.weight"] = state[f"{ours}.noise_strength"].reshape(1)

    styled("input_layer", "conv1")
    j = 0
    while f"layers.{j}.weight" in state:
        styled(f"layers.{j}", f"linears.{j}")
        j += 1
    k = 0
    while f"torgbs.{k}.weight" in state:
        styled(f"torgbs.{k}", f"to_rgbs.{k}", rgb=True)
        k += 1
    i = 0
    while f"mapping.layers.{i}.weight" in state:
        out[f"style.{i + 1}.weight"] = state[f"mapping.layers.{i}.weight"]
        out[f"style.{i + 1}.bias"] = state[f"mapping.layers.{i}.bias"]
        i += 1
    return out


def convert_official_cips(src, dest, resolution: int | None = None, reading: str = "eval") -> Path:
    """Writes a generator-only checkpoint (the converted generator as G_ema) from an official CIPS `.pt` file, for
    generate, render, evaluate, serve and `train --init-from`. `reading`: how the coordinate embedding is read,
    'eval' (the official images) or 'train' (its training-mode table entries). Returns the file written."""
    ckpt = load_torch_file(src, "an official CIPS checkpoint")
    state = ckpt.get("g_ema", ckpt.get("g", ckpt)) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not is_official_cips(state):
        raise SpatialGANError(f"{src} holds no official CIPS generator (expected 'g_ema' with lff/conv1/linears)")
    try:
        ours, kw = official_cips_to_ours(state)
    except (KeyError, IndexError, AttributeError, TypeError, ValueError, RuntimeError) as exc:
        raise SpatialGANError(f"{src}: an incomplete official CIPS generator ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from None
    res = kw["resolution"] or resolution
    if not res:
        raise SpatialGANError("a CIPS-NE checkpoint has no embedding to read the resolution from: pass it")
    if find_snapshots(dest):
        raise SpatialGANError(f"{dest} already holds a run; choose another --dest")
    # The options our CIPS builder reads (spatialgan.models.cips.build_generator); the rest take their defaults.
    config = dict(model="cips", resolution=res, z_dim=kw["z_dim"], w_dim=kw["w_dim"], width=kw["width"],
                  cips_layers=kw["num_layers"], mapping_layers=kw["mapping_layers"],
                  coord_embedding=kw["coord_embedding"], cips_channels=kw["channels"], panorama_frames=None,
                  cips_coords="official-corners", cips_embedding_read=reading, outdir=str(dest), device="cpu")
    try:
        G = build_generator(SimpleNamespace(**config))          # what loading the written file will build
        missing = copy_matching(G, ours, "the CIPS generator")
    except (ValueError, RuntimeError, TypeError) as exc:      # odd layer counts, mis-shaped weights
        raise SpatialGANError(f"{src}: not a consistent official CIPS generator ({str(exc).splitlines()[0][:200]})"
                              ) from None
    if [m for m in missing if m != "mapping.w_avg"]:
        raise SpatialGANError(f"{src}: entries missing after conversion: {missing[:4]}")
    G.mapping.w_avg.copy_(mean_w(G.mapping))          # official files carry no truncation centre
    return save_generator_checkpoint(Path(dest) / "network-snapshot-000000000.safetensors", config, G)
