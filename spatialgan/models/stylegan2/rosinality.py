"""Weights from rosinality/stylegan2-pytorch <-> our StyleGAN2/SSN layout.

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
from spatialgan.checkpoint import load_torch_file

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


def is_rosinality_discriminator(state: dict) -> bool:
    return "convs.0.0.weight" in state and "final_conv.0.weight" in state and "final_linear.1.weight" in state


def rosinality_discriminator_to_ours(state: dict) -> dict:
    """A rosinality Discriminator state dict -> ours with `--d-layout stylegan2` (same maths: FromRGB, residual
    blocks whose down conv blurs then convolves at stride 2, minibatch std over groups of 4, conv, two FCs).
    Its FusedLeakyReLU biases become our conv biases; the blur kernels are fixed buffers and are not copied."""
    if not is_rosinality_discriminator(state):
        raise SpatialGANError("not a rosinality stylegan2-pytorch discriminator state dict (no convs.0 / final_conv)")
    out = {"fromrgb.weight": state["convs.0.0.weight"], "fromrgb.bias": state["convs.0.1.bias"]}
    blocks = sorted({int(k.split(".")[1]) for k in state if k.startswith("convs.") and ".conv1." in k})
    for i, b in enumerate(blocks):
        ours, theirs = f"blocks.{i}", f"convs.{b}"
        out[f"{ours}.conv0.weight"] = state[f"{theirs}.conv1.0.weight"]
        out[f"{ours}.conv0.bias"] = state[f"{theirs}.conv1.1.bias"]
        out[f"{ours}.conv1.weight"] = state[f"{theirs}.conv2.1.weight"]
        out[f"{ours}.conv1.bias"] = state[f"{theirs}.conv2.2.bias"]
        out[f"{ours}.skip.weight"] = state[f"{theirs}.skip.1.weight"]
    out.update({"conv.weight": state["final_conv.0.weight"], "conv.bias": state["final_conv.1.bias"],
                "fc.weight": state["final_linear.0.weight"], "fc.bias": state["final_linear.0.bias"],
                "out.weight": state["final_linear.1.weight"], "out.bias": state["final_linear.1.bias"]})
    return out


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


def read_rosinality(path) -> dict:
    """{'G_ema', 'G' (None without `g`), 'D' (None without `d`), 'config', 'has_latent_avg'} in our layout from a
    rosinality stylegan2-pytorch `.pt` (read with weights_only: no code runs); `latent_avg` becomes w_avg."""
    ckpt = load_torch_file(path, "a rosinality stylegan2-pytorch checkpoint")
    g_state = ckpt.get("g_ema", ckpt.get("g")) if isinstance(ckpt, dict) else None
    if not isinstance(g_state, dict) or not is_rosinality_generator(g_state):
        raise SpatialGANError(f"{path}: not a rosinality stylegan2-pytorch checkpoint (expected 'g_ema' with "
                              "input.input / conv1 / style.1)")
    latent_avg = ckpt.get("latent_avg")
    try:
        return {"G_ema": rosinality_to_ours(g_state, latent_avg),
                "G": rosinality_to_ours(ckpt["g"], latent_avg) if isinstance(ckpt.get("g"), dict) else None,
                "D": rosinality_discriminator_to_ours(ckpt["d"]) if isinstance(ckpt.get("d"), dict) else None,
                "config": rosinality_config(g_state), "has_latent_avg": latent_avg is not None}
    except (KeyError, IndexError, AttributeError, TypeError, ValueError) as exc:
        raise SpatialGANError(f"{path}: an incomplete rosinality checkpoint ({type(exc).__name__}: "
                              f"{str(exc)[:120]})") from None
