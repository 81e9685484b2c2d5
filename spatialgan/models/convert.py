"""Weights from other codebases: rosinality/stylegan2-pytorch and official CIPS `.pt` files <-> our layouts.

rosinality's generator: `style.{1..n}` (mapping; `style.0` is the pixel norm), `input.input` (the 4x4 constant),
`conv1` + `to_rgb1` at 4x4, then per resolution `convs.{2i}` (upsampling) / `convs.{2i+1}` and `to_rgbs.{i}`;
`noises.noise_{k}` are the constant noise maps. Its layers store the same equalized-lr parameters as ours, so the
conversion renames and reshapes, with one real change: its upsampling conv is a transposed convolution, ours the
equivalent correlation after FIR upsampling, so those kernels are flipped. The match is exact with
`--upsample fir` (tested); with bilinear upsampling the imported weights are only a starting point.
"""

from __future__ import annotations

import torch

from spatialgan import SpatialGANError

BLUR_KERNEL = torch.tensor([1.0, 3.0, 3.0, 1.0])


def is_rosinality_generator(state: dict) -> bool:
    return "input.input" in state and "conv1.conv.weight" in state and "style.1.weight" in state


def _layer_pairs(num_blocks: int):
    """(our styled-conv prefix, rosinality prefix, rosinality noise index, upsampling?) for every conv layer."""
    yield "synthesis.blocks.0.conv1", "conv1", 0, False
    for b in range(1, num_blocks):
        yield f"synthesis.blocks.{b}.conv0", f"convs.{2 * (b - 1)}", 2 * b - 1, True
        yield f"synthesis.blocks.{b}.conv1", f"convs.{2 * (b - 1) + 1}", 2 * b, False


def _rgb_pairs(num_blocks: int):
    yield "synthesis.blocks.0.torgb", "to_rgb1"
    for b in range(1, num_blocks):
        yield f"synthesis.blocks.{b}.torgb", f"to_rgbs.{b - 1}"


def _num_blocks(state: dict, ours: bool) -> int:
    if ours:
        return 1 + max(int(k.split(".")[2]) for k in state if k.startswith("synthesis.blocks."))
    return 1 + len({k.split(".")[1] for k in state if k.startswith("to_rgbs.")})


def rosinality_to_ours(state: dict, latent_avg: torch.Tensor | None = None) -> dict:
    """A rosinality generator state dict (g or g_ema) -> our StyleGAN2/SSN generator state dict."""
    if not is_rosinality_generator(state):
        raise SpatialGANError("not a rosinality stylegan2-pytorch generator state dict (no input.input / style.1)")
    out = {}
    n_mlp = len({k.split(".")[1] for k in state if k.startswith("style.") and k.endswith(".weight")})
    for i in range(n_mlp):
        out[f"mapping.layers.{i}.weight"] = state[f"style.{i + 1}.weight"]
        out[f"mapping.layers.{i}.bias"] = state[f"style.{i + 1}.bias"]
    if latent_avg is not None:
        out["mapping.w_avg"] = latent_avg.reshape(-1)
    out["synthesis.blocks.0.const"] = state["input.input"][0]
    num_blocks = _num_blocks(state, ours=False)
    for ours, theirs, noise, up in _layer_pairs(num_blocks):
        weight = state[f"{theirs}.conv.weight"][0]
        out[f"{ours}.conv.weight"] = weight.flip([2, 3]) if up else weight
        out[f"{ours}.conv.affine.weight"] = state[f"{theirs}.conv.modulation.weight"]
        out[f"{ours}.conv.affine.bias"] = state[f"{theirs}.conv.modulation.bias"]
        out[f"{ours}.noise.strength"] = state[f"{theirs}.noise.weight"].reshape(())
        out[f"{ours}.bias"] = state[f"{theirs}.activate.bias"]
        if f"noises.noise_{noise}" in state:
            out[f"{ours}.noise.const_noise"] = state[f"noises.noise_{noise}"]
    for ours, theirs in _rgb_pairs(num_blocks):
        out[f"{ours}.conv.weight"] = state[f"{theirs}.conv.weight"][0]
        out[f"{ours}.conv.affine.weight"] = state[f"{theirs}.conv.modulation.weight"]
        out[f"{ours}.conv.affine.bias"] = state[f"{theirs}.conv.modulation.bias"]
        out[f"{ours}.bias"] = state[f"{theirs}.bias"].reshape(-1)
    return out


def ours_to_rosinality(state: dict) -> tuple[dict, torch.Tensor]:
    """Our StyleGAN2 generator state dict -> (rosinality generator state dict, latent_avg), buffers included."""
    out = {}
    num_blocks = _num_blocks(state, ours=True)
    n_mlp = len([k for k in state if k.startswith("mapping.layers.") and k.endswith(".weight")])
    for i in range(n_mlp):
        out[f"style.{i + 1}.weight"] = state[f"mapping.layers.{i}.weight"]
        out[f"style.{i + 1}.bias"] = state[f"mapping.layers.{i}.bias"]
    out["input.input"] = state["synthesis.blocks.0.const"][None]
    blur = torch.outer(BLUR_KERNEL, BLUR_KERNEL)
    for ours, theirs, noise, up in _layer_pairs(num_blocks):
        weight = state[f"{ours}.conv.weight"]
        out[f"{theirs}.conv.weight"] = (weight.flip([2, 3]) if up else weight)[None]
        out[f"{theirs}.conv.modulation.weight"] = state[f"{ours}.conv.affine.weight"]
        out[f"{theirs}.conv.modulation.bias"] = state[f"{ours}.conv.affine.bias"]
        out[f"{theirs}.noise.weight"] = state[f"{ours}.noise.strength"].reshape(1)
        out[f"{theirs}.activate.bias"] = state[f"{ours}.bias"]
        if up:
            out[f"{theirs}.conv.blur.kernel"] = blur / blur.sum() * 4
        if f"{ours}.noise.const_noise" in state:
            out[f"noises.noise_{noise}"] = state[f"{ours}.noise.const_noise"]
    for ours, theirs in _rgb_pairs(num_blocks):
        out[f"{theirs}.conv.weight"] = state[f"{ours}.conv.weight"][None]
        out[f"{theirs}.conv.modulation.weight"] = state[f"{ours}.conv.affine.weight"]
        out[f"{theirs}.conv.modulation.bias"] = state[f"{ours}.conv.affine.bias"]
        out[f"{theirs}.bias"] = state[f"{ours}.bias"].reshape(1, -1, 1, 1)
        if theirs != "to_rgb1":
            out[f"{theirs}.upsample.kernel"] = blur / blur.sum() * 4
    return out, state["mapping.w_avg"].clone()


def load_generator_weights(path) -> dict:
    """{'G', 'G_ema', optional 'D', 'source'} from one of our checkpoints or a rosinality `.pt` file.

    Our checkpoints carry a discriminator with the same layout as every model's here, so it transfers too;
    rosinality's discriminator has another layout and is not converted (the run starts with a fresh D)."""
    from pathlib import Path

    from spatialgan.training.checkpoint import load_checkpoint, resolve_checkpoint

    path = Path(path)
    if path.is_dir() or path.suffix == ".safetensors":
        state = load_checkpoint(resolve_checkpoint(path))
        return {"G": state["G"], "G_ema": state["G_ema"], "D": state.get("D"), "source": "spatialgan"}
    if not path.is_file():
        raise SpatialGANError(f"--init-from {path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SpatialGANError(f"--init-from {path}: cannot read it as a rosinality .pt checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or not any(k in ckpt for k in ("g_ema", "g")):
        raise SpatialGANError(f"--init-from {path}: expected a rosinality checkpoint with 'g_ema' (and 'g')")
    latent_avg = ckpt.get("latent_avg")
    g_ema = rosinality_to_ours(ckpt.get("g_ema", ckpt.get("g")), latent_avg)
    g = rosinality_to_ours(ckpt["g"], latent_avg) if "g" in ckpt else g_ema
    return {"G": g, "G_ema": g_ema, "D": None, "source": "rosinality"}


def transfer_weights(module: torch.nn.Module, state: dict, what: str) -> list[str]:
    """Copies every entry whose name and shape match; a shape mismatch is an error naming the layer. Returns the
    module's entries that the state did not provide (they keep their initialisation)."""
    own = module.state_dict()
    for name, value in state.items():
        if name in own and own[name].shape != value.shape:
            raise SpatialGANError(f"cannot initialise {what} from this checkpoint: {name} has shape "
                                  f"{tuple(value.shape)} there but {tuple(own[name].shape)} here (check --resolution, "
                                  f"--width, --channel-base, --z-dim, --w-dim, --mapping-layers)")
    missing = [k for k in own if k not in state]
    module.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return missing


# --------------------------------------------------------------------------- official CIPS (saic-mdal/CIPS)
# CIPSskip keys: lff.ffm.conv.{weight,bias} (Fourier features, a 1x1 conv), emb.input (coordinate embedding),
# conv1 (input layer), linears.{j}, to_rgbs.{k}, style.{1..n} (mapping). Styled layers hold conv.weight
# (1, out, in, 1, 1), conv.modulation.{weight,bias}, noise.weight and activate.bias; ToRGBs conv.* and bias.

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


def convert_official_cips(src, dest, resolution: int | None = None) -> "Path":
    """Writes one of our checkpoints (G = G_ema = the converted generator, a fresh D) from an official CIPS `.pt`
    file, so that generate/render/evaluate/train --resume work on it. Returns the snapshot path."""
    from pathlib import Path

    from spatialgan.training.config import TrainConfig
    from spatialgan.training.loop import Trainer

    try:
        ckpt = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SpatialGANError(f"cannot read {src} as a CIPS checkpoint ({exc})") from None
    state = ckpt.get("g_ema", ckpt.get("g", ckpt)) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not is_official_cips(state):
        raise SpatialGANError(f"{src} holds no official CIPS generator (expected 'g_ema' with lff/conv1/linears)")
    ours, kw = official_cips_to_ours(state)
    res = kw["resolution"] or resolution
    if not res:
        raise SpatialGANError("a CIPS-NE checkpoint has no embedding to read the resolution from: pass it")
    cfg = TrainConfig(model="cips", resolution=res, z_dim=kw["z_dim"], w_dim=kw["w_dim"], width=kw["width"],
                      cips_layers=kw["num_layers"], mapping_layers=kw["mapping_layers"],
                      coord_embedding=kw["coord_embedding"], cips_channels=kw["channels"], outdir=str(dest),
                      device="cpu", grid=16)
    trainer = Trainer(cfg)
    for G in (trainer.G, trainer.G_ema):
        missing = transfer_weights(G, ours, "the CIPS generator")
        if [m for m in missing if m != "mapping.w_avg"]:
            raise SpatialGANError(f"{src}: entries missing after conversion: {missing[:4]}")
        with torch.no_grad():   # truncation centre: the mean w of 10k latents (official files carry none)
            G.mapping.w_avg.copy_(G.mapping(torch.randn(10000, G.z_dim, generator=torch.Generator().manual_seed(0)))
                                  .mean(0))
    Path(dest).mkdir(parents=True, exist_ok=True)
    return trainer.save_snapshot()
