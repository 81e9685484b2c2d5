"""Builds tests/data/checkpoints/: tiny checkpoints written by the other codebases' own code, with the images that
code renders from them, for the exactness tests of `spatialgan convert` and `train --init-from`.

Run once (the outputs are committed); the fetched repositories stay outside this project:
    python scripts/make_checkpoint_fixtures.py --stylegan2-ada PATH --rosinality PATH --cips PATH [--out DIR]
Their CUDA-only ops are replaced by their PyTorch formulas (written here); their networks run unmodified apart from
smaller channel tables, so that the files stay small.
"""

from __future__ import annotations

import argparse
import copy
import pickle
import re
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

Z_DIM = 32


def _upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Zero-insertion upsampling, padding (negative crops), true convolution with `kernel`, decimation."""
    b, c, h, w = x.shape
    if up > 1:
        y = x.new_zeros(b, c, h * up, w * up)
        y[..., ::up, ::up] = x
        x = y
    p0, p1 = pad[0], pad[1]
    x = F.pad(x, [p0, p1, p0, p1])
    k = kernel.flip([0, 1]).to(x)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(x, k, groups=c)[..., ::down, ::down]


def _fused_leaky_relu(x, bias=None, negative_slope=0.2, scale=2 ** 0.5):
    if bias is not None:
        x = x + bias.view(1, -1, *[1] * (x.ndim - 2))
    return F.leaky_relu(x, negative_slope) * scale


class _FusedLeakyReLU(torch.nn.Module):
    def __init__(self, channel, bias=True, negative_slope=0.2, scale=2 ** 0.5):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(channel)) if bias else None
        self.negative_slope, self.scale = negative_slope, scale

    def forward(self, x):
        return _fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


def _install_op_stub() -> None:
    """`op` (rosinality's and CIPS's compiled CUDA ops) as PyTorch formulas."""
    op = types.ModuleType("op")
    op.upfirdn2d, op.fused_leaky_relu, op.FusedLeakyReLU = _upfirdn2d, _fused_leaky_relu, _FusedLeakyReLU
    op.conv2d_gradfix = types.SimpleNamespace(conv2d=F.conv2d, conv_transpose2d=F.conv_transpose2d)
    sys.modules["op"] = op


def _small_channels(source: str, table: dict[str, str]) -> str:
    """Their channel tables with small widths (4: 512 -> 4: 32 ...), the only change made to their code."""
    for key, value in table.items():
        source = re.sub(rf"(\n\s+{key}: )512,", rf"\g<1>{value},", source)
    return source


def _load_source(path: Path, name: str, table: dict[str, str], package: str | None = None):
    module = types.ModuleType(name)
    module.__file__ = str(path)
    if package:
        module.__package__ = package
    sys.modules[name] = module
    exec(compile(_small_channels(path.read_text(), table), str(path), "exec"), module.__dict__)
    return module


def _randomise(module: torch.nn.Module, names: tuple[str, ...], std: float = 0.3) -> None:
    """Noise strengths and biases start at zero; give them values so that the tests see them."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if any(n in name for n in names) and "affine" not in name and "modulation" not in name:
                p.normal_(0, std)


def stylegan2_ada(repo: Path, out: Path) -> None:
    sys.modules.setdefault("requests", types.ModuleType("requests"))   # dnnlib imports it for downloads only
    sys.path.insert(0, str(repo))
    import dnnlib
    from training import augment, networks

    torch.manual_seed(0)
    kwargs = dict(z_dim=Z_DIM, c_dim=0, w_dim=Z_DIM, img_resolution=16, img_channels=3,
                  mapping_kwargs=dict(num_layers=2),
                  synthesis_kwargs=dict(channel_base=256, channel_max=32, num_fp16_res=2, conv_clamp=256))
    G = networks.Generator(**kwargs)
    D = networks.Discriminator(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=32,
                               num_fp16_res=2, conv_clamp=256, epilogue_kwargs=dict(mbstd_group_size=4))
    _randomise(G, ("noise_strength", "bias"))
    _randomise(D, ("bias",))
    G_ema = copy.deepcopy(G).eval()
    with torch.no_grad():
        for p in G_ema.parameters():
            p.add_(torch.randn_like(p) * 0.05)         # G_ema differs from G, as after training
        G_ema.mapping.w_avg.copy_(G_ema.mapping(torch.randn(1000, Z_DIM), None)[:, 0].mean(0))
    pipe = augment.AugmentPipe(xflip=1, rotate90=1, xint=1)
    snapshot = dict(G=G, D=D, G_ema=G_ema, augment_pipe=pipe,
                    training_set_kwargs=dnnlib.EasyDict(class_name="training.dataset.ImageFolderDataset",
                                                        path="tiny.zip", resolution=16, use_labels=False))
    with open(out / "stylegan2-ada-tiny.pkl", "wb") as f:
        pickle.dump(snapshot, f)
    z = torch.randn(4, Z_DIM, generator=torch.Generator().manual_seed(1))
    image = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = {"z": z, "image": image,
                    "psi1": G_ema(z, None, truncation_psi=1, noise_mode="const", force_fp32=True),
                    "psi07": G_ema(z, None, truncation_psi=0.7, noise_mode="const", force_fp32=True),
                    "D": D(image, None, force_fp32=True).reshape(-1)}
    save_file({k: v.contiguous() for k, v in expected.items()}, out / "stylegan2-ada-tiny-expected.safetensors")
    save_file({"z": z}, out / "stylegan2-ada-tiny-latent.safetensors")
    sys.path.remove(str(repo))


def rosinality(repo: Path, out: Path) -> None:
    _install_op_stub()
    model = _load_source(repo / "model.py", "rosinality_model", {"4": "32", "8": "32", "16": "16"})
    torch.manual_seed(0)
    g = model.Generator(16, Z_DIM, 2, channel_multiplier=2)
    d = model.Discriminator(16, channel_multiplier=2)
    _randomise(g, ("noise.weight", "activate.bias", "to_rgb1.bias", "to_rgbs"))
    _randomise(d, ("bias",))
    g_ema = copy.deepcopy(g).eval()
    with torch.no_grad():
        for p in g_ema.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        latent_avg = g_ema.mean_latent(1000).reshape(-1)
    torch.save({"g": g.state_dict(), "d": d.state_dict(), "g_ema": g_ema.state_dict(), "latent_avg": latent_avg},
               out / "rosinality-tiny.pt")
    z = torch.randn(4, Z_DIM, generator=torch.Generator().manual_seed(1))
    image = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        psi1, _ = g_ema([z], randomize_noise=False)
        psi07, _ = g_ema([z], randomize_noise=False, truncation=0.7, truncation_latent=latent_avg[None])
        expected = {"z": z, "image": image, "psi1": psi1, "psi07": psi07, "D": d(image).reshape(-1)}
    save_file({k: v.contiguous() for k, v in expected.items()}, out / "rosinality-tiny-expected.safetensors")


def cips(repo: Path, out: Path) -> None:
    _install_op_stub()
    package = types.ModuleType("cips_model")
    package.__path__ = [str(repo / "model")]
    sys.modules["cips_model"] = package
    _load_source(repo / "model" / "blocks.py", "cips_model.blocks", {}, "cips_model")
    generators = _load_source(repo / "model" / "GeneratorsCIPS.py", "cips_model.GeneratorsCIPS",
                              {"0": "32", "1": "32", "2": "16"}, "cips_model")
    tensor_transforms = _load_source(repo / "tensor_transforms.py", "cips_tensor_transforms", {})
    torch.manual_seed(0)
    g = generators.CIPSskip(size=16, hidden_size=16, n_mlp=2, style_dim=Z_DIM)
    # Its noise is always fresh (NoiseInjection draws when given none), so noise strengths stay 0 for a fixed image.
    _randomise(g, ("activate.bias", "to_rgbs"))
    torch.save({"g_ema": g.state_dict()}, out / "cips-tiny.pt")
    z = torch.randn(4, Z_DIM, generator=torch.Generator().manual_seed(1))
    expected = {"z": z}
    with torch.no_grad():
        for size in (16, 24, 9):
            coords = tensor_transforms.convert_to_coord_format(4, size, size)
            g.eval()
            expected[f"eval{size}"] = g(coords, [z])[0]
        g.train()
        expected["train16"] = g(tensor_transforms.convert_to_coord_format(4, 16, 16), [z])[0]
    save_file({k: v.contiguous() for k, v in expected.items()}, out / "cips-tiny-expected.safetensors")
    save_file({"z": z}, out / "cips-tiny-latent.safetensors")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stylegan2-ada", type=Path, required=True, help="NVlabs/stylegan2-ada-pytorch checkout")
    parser.add_argument("--rosinality", type=Path, required=True, help="rosinality/stylegan2-pytorch checkout")
    parser.add_argument("--cips", type=Path, required=True, help="saic-mdal/CIPS checkout")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "tests" / "data" / "checkpoints")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stylegan2_ada(args.stylegan2_ada, args.out)
    rosinality(args.rosinality, args.out)
    cips(args.cips, args.out)
    for path in sorted(args.out.iterdir()):
        print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
