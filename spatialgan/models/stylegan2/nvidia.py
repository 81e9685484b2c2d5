"""NVIDIA StyleGAN2-ADA pickles (network-snapshot-*.pkl, the published FFHQ/AFHQ/MetFaces/LSUN files) -> our StyleGAN2.

The pickle is read by `spatialgan.safe_pickle` (no code from the file runs). Its networks are records of
`training.networks.Generator` / `Discriminator` with their init kwargs, so the architecture is read, not guessed.
Key layout: `mapping.fc{i}`, `mapping.w_avg`, `synthesis.b{res}.{const,conv0,conv1,torgb}` (conv layers hold weight,
bias, noise_strength, noise_const, affine.*) and D's `b{res}.{fromrgb,conv0,conv1,skip}`, `b4.{conv,fc,out}`.
The maths is ours exactly with `--upsample fir` and `--d-layout stylegan2`; the upsampling conv is a transposed
convolution there and a correlation after FIR upsampling here, so those kernels are flipped.
"""

from __future__ import annotations

from pathlib import Path

from spatialgan import SpatialGANError
from spatialgan.safe_pickle import PersistentRecord, load_pickle_safely

OUR_MAPPING_LR = 0.01       # our MappingNetwork's lr multiplier; another one is folded into the stored weights


def _record(obj, class_name: str, path) -> PersistentRecord:
    if not isinstance(obj, PersistentRecord) or obj.class_name != class_name:
        found = obj.class_name if isinstance(obj, PersistentRecord) else type(obj).__name__
        raise SpatialGANError(f"{path}: expected a StyleGAN2-ADA {class_name}, found {found}")
    return obj


def generator_architecture(G: PersistentRecord, path) -> tuple[dict, dict]:
    """(our config entries, what else the file records) for a StyleGAN2-ADA Generator record; refuses what our
    StyleGAN2 cannot compute."""
    kw = G.init_kwargs
    missing = [k for k in ("z_dim", "w_dim", "img_resolution") if not isinstance(kw.get(k), int)]
    if missing:
        raise SpatialGANError(f"{path}: its generator records no {', '.join(missing)} (not a StyleGAN2-ADA "
                              "network pickle, or a damaged one)")
    mapping, synthesis = dict(kw.get("mapping_kwargs") or {}), dict(kw.get("synthesis_kwargs") or {})
    if kw.get("c_dim", 0):
        raise SpatialGANError(f"{path}: a conditional generator (c_dim {kw['c_dim']}); spatialgan's StyleGAN2 is "
                              "unconditional, so class-conditional pickles are refused")
    if kw.get("img_channels", 3) != 3:
        raise SpatialGANError(f"{path}: {kw.get('img_channels')} image channels; only RGB (3) is supported")
    if synthesis.get("architecture", "skip") != "skip":
        raise SpatialGANError(f"{path}: synthesis architecture {synthesis['architecture']!r}; only 'skip' "
                              "(StyleGAN2's own) maps onto ours")
    if list(synthesis.get("resample_filter", [1, 3, 3, 1])) != [1, 3, 3, 1]:
        raise SpatialGANError(f"{path}: resample filter {synthesis['resample_filter']}; ours is [1, 3, 3, 1]")
    if mapping.get("layer_features") not in (None, kw["w_dim"]) or mapping.get("activation", "lrelu") != "lrelu":
        raise SpatialGANError(f"{path}: a mapping network with other layer widths or activations than StyleGAN2's")
    config = {"model": "stylegan2", "resolution": int(kw["img_resolution"]), "z_dim": int(kw["z_dim"]),
              "w_dim": int(kw["w_dim"]), "mapping_layers": int(mapping.get("num_layers", 8)),
              "channel_base": int(synthesis.get("channel_base", 32768)),
              "width": int(synthesis.get("channel_max", 512)), "upsample": "fir", "downsample": "fir",
              "d_layout": "stylegan2", "fp16_res": int(synthesis.get("num_fp16_res", 0)),
              "conv_clamp": synthesis.get("conv_clamp")}
    return config, {"conv_clamp": config["conv_clamp"],
                    "mapping_lr_multiplier": float(mapping.get("lr_multiplier", 0.01))}


def _styled(out: dict, state: dict, ours: str, theirs: str, up: bool) -> None:
    weight = state[f"{theirs}.weight"]
    out[f"{ours}.conv.weight"] = weight.flip([2, 3]) if up else weight
    out[f"{ours}.conv.affine.weight"] = state[f"{theirs}.affine.weight"]
    out[f"{ours}.conv.affine.bias"] = state[f"{theirs}.affine.bias"]
    out[f"{ours}.bias"] = state[f"{theirs}.bias"]
    out[f"{ours}.noise.strength"] = state[f"{theirs}.noise_strength"].reshape(())
    if f"{theirs}.noise_const" in state:
        out[f"{ours}.noise.const_noise"] = state[f"{theirs}.noise_const"][None, None]


def stylegan2_ada_generator_to_ours(state: dict, mapping_lr: float = 0.01) -> dict:
    """A StyleGAN2-ADA Generator state dict -> ours (`--upsample fir`)."""
    out = {}
    scale = mapping_lr / OUR_MAPPING_LR       # equalized lr: the effective weight is stored * lr_mul / sqrt(in)
    fcs = sorted(int(k[len("mapping.fc"):].split(".")[0]) for k in state if k.startswith("mapping.fc")
                 and k.endswith(".weight"))
    for i in fcs:
        out[f"mapping.layers.{i}.weight"] = state[f"mapping.fc{i}.weight"] * scale
        out[f"mapping.layers.{i}.bias"] = state[f"mapping.fc{i}.bias"] * scale
    out["mapping.w_avg"] = state["mapping.w_avg"]
    resolutions = sorted({int(k.split(".")[1][1:]) for k in state if k.startswith("synthesis.b")})
    for b, res in enumerate(resolutions):
        theirs, ours = f"synthesis.b{res}", f"synthesis.blocks.{b}"
        if b == 0:
            out[f"{ours}.const"] = state[f"{theirs}.const"]
        else:
            _styled(out, state, f"{ours}.conv0", f"{theirs}.conv0", up=True)
        _styled(out, state, f"{ours}.conv1", f"{theirs}.conv1", up=False)
        out[f"{ours}.torgb.conv.weight"] = state[f"{theirs}.torgb.weight"]
        out[f"{ours}.torgb.conv.affine.weight"] = state[f"{theirs}.torgb.affine.weight"]
        out[f"{ours}.torgb.conv.affine.bias"] = state[f"{theirs}.torgb.affine.bias"]
        out[f"{ours}.torgb.bias"] = state[f"{theirs}.torgb.bias"]
    return out


def stylegan2_ada_discriminator_to_ours(state: dict) -> dict:
    """A StyleGAN2-ADA resnet Discriminator state dict -> ours with `--d-layout stylegan2`."""
    resolutions = sorted({int(k.split(".")[0][1:]) for k in state if k.startswith("b")}, reverse=True)
    top = resolutions[0]
    out = {"fromrgb.weight": state[f"b{top}.fromrgb.weight"], "fromrgb.bias": state[f"b{top}.fromrgb.bias"]}
    for i, res in enumerate(r for r in resolutions if r > 4):
        for name in ("conv0.weight", "conv0.bias", "conv1.weight", "conv1.bias", "skip.weight"):
            out[f"blocks.{i}.{name}"] = state[f"b{res}.{name}"]
    for name in ("conv", "fc", "out"):
        out[f"{name}.weight"], out[f"{name}.bias"] = state[f"b4.{name}.weight"], state[f"b4.{name}.bias"]
    return out


def _discriminator(D, path) -> dict | None:
    """D's weights when the pickle has a resnet D without labels (the StyleGAN2-ADA default), else None."""
    if not isinstance(D, PersistentRecord) or D.class_name != "Discriminator":
        return None
    kw = D.init_kwargs
    if kw.get("c_dim", 0) or kw.get("architecture", "resnet") != "resnet":
        return None
    return stylegan2_ada_discriminator_to_ours(D.tensors())


def read_stylegan2_ada(path: str | Path) -> dict:
    """{'G_ema', 'G', 'D' (or None), 'config', 'source'} from a StyleGAN2-ADA pickle, read safely: the weights in
    our layout, our config, and what else the file records (conv_clamp, the mapping's lr multiplier, D's mbstd
    group size)."""
    data = load_pickle_safely(path, "a StyleGAN2-ADA network pickle")
    if not isinstance(data, dict) or "G_ema" not in data:
        raise SpatialGANError(f"{path}: not a StyleGAN2-ADA network pickle (no 'G_ema')")
    G_ema = _record(data["G_ema"], "Generator", path)
    config, source = generator_architecture(G_ema, path)
    lr = source["mapping_lr_multiplier"]
    try:
        g_ema = stylegan2_ada_generator_to_ours(G_ema.tensors(), lr)
        G = data.get("G")
        g = stylegan2_ada_generator_to_ours(G.tensors(), lr) if isinstance(G, PersistentRecord) else None
        d = _discriminator(data.get("D"), path)
    except (KeyError, IndexError, ValueError, AttributeError, RuntimeError) as exc:
        raise SpatialGANError(f"{path}: an incomplete StyleGAN2-ADA network ({type(exc).__name__}: "
                              f"{str(exc)[:120]})") from None
    d_kw = data["D"].init_kwargs if d is not None else {}
    source["mbstd_group_size"] = (d_kw.get("epilogue_kwargs") or {}).get("mbstd_group_size", 4)
    return {"G_ema": g_ema, "G": g, "D": d, "config": config, "source": source}
