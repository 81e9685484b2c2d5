"""rosinality's discriminator, mapped exactly: a state dict laid out as rosinality/stylegan2-pytorch's
Discriminator, built here independently of the library, against a forward written from that layout."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from spatialgan import SpatialGANError
from spatialgan.core.discriminator import Discriminator
from spatialgan.models.stylegan2.rosinality import rosinality_discriminator_to_ours

SQRT2 = math.sqrt(2)
BLUR = torch.tensor([1.0, 3.0, 3.0, 1.0])
BLUR2D = torch.outer(BLUR, BLUR) / BLUR.sum() ** 2


def layout(size: int, ch: dict[int, int], seed: int = 0) -> dict:
    """Keys and shapes of rosinality's Discriminator(size): ConvLayer = [Blur], EqualConv2d, [FusedLeakyReLU]."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g)       # noqa: E731
    log = int(math.log2(size))
    state = {"convs.0.0.weight": r(ch[size], 3, 1, 1), "convs.0.1.bias": r(ch[size]) * 0.2}
    c_in = ch[size]
    for i, res in enumerate(range(log, 2, -1), start=1):
        c_out = ch[2 ** (res - 1)]
        state.update({
            f"convs.{i}.conv1.0.weight": r(c_in, c_in, 3, 3), f"convs.{i}.conv1.1.bias": r(c_in) * 0.2,
            f"convs.{i}.conv2.0.kernel": BLUR2D.clone(), f"convs.{i}.conv2.1.weight": r(c_out, c_in, 3, 3),
            f"convs.{i}.conv2.2.bias": r(c_out) * 0.2, f"convs.{i}.skip.0.kernel": BLUR2D.clone(),
            f"convs.{i}.skip.1.weight": r(c_out, c_in, 1, 1)})
        c_in = c_out
    state.update({"final_conv.0.weight": r(ch[4], c_in + 1, 3, 3), "final_conv.1.bias": r(ch[4]) * 0.2,
                  "final_linear.0.weight": r(ch[4], ch[4] * 16), "final_linear.0.bias": r(ch[4]) * 0.2,
                  "final_linear.1.weight": r(1, ch[4]), "final_linear.1.bias": r(1) * 0.2})
    return state


def equal_conv(x, w, bias=None, stride=1, padding=0):
    return F.conv2d(x, w / math.sqrt(w[0].numel()), bias, stride=stride, padding=padding)


def fused_lrelu(x, bias):
    return F.leaky_relu(x + bias.view(1, -1, *([1] * (x.ndim - 2))), 0.2) * SQRT2


def blur(x, pad):
    """upfirdn2d with up = down = 1: zero padding (pad0, pad1) then the 4x4 kernel (symmetric: no flip needed)."""
    c = x.shape[1]
    return F.conv2d(F.pad(x, (pad[0], pad[1], pad[0], pad[1])), BLUR2D[None, None].expand(c, 1, 4, 4), groups=c)


def reference_forward(state: dict, x: torch.Tensor) -> torch.Tensor:
    """rosinality's Discriminator.forward, from its layout: downsampling ConvLayers blur with pad
    ((4 - 2) + (k - 1) + 1) // 2 and ((4 - 2) + (k - 1)) // 2, then convolve at stride 2 with no padding."""
    out = fused_lrelu(equal_conv(x, state["convs.0.0.weight"]), state["convs.0.1.bias"])
    i = 1
    while f"convs.{i}.conv1.0.weight" in state:
        p = f"convs.{i}"
        h = fused_lrelu(equal_conv(out, state[f"{p}.conv1.0.weight"], padding=1), state[f"{p}.conv1.1.bias"])
        h = fused_lrelu(equal_conv(blur(h, (2, 2)), state[f"{p}.conv2.1.weight"], stride=2), state[f"{p}.conv2.2.bias"])
        skip = equal_conv(blur(out, (1, 1)), state[f"{p}.skip.1.weight"], stride=2)
        out = (h + skip) / SQRT2
        i += 1
    b, c, h, w = out.shape
    group = min(b, 4)
    std = out.view(group, -1, 1, c, h, w)
    std = torch.sqrt(std.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
    out = torch.cat([out, std.repeat(group, 1, h, w)], 1)
    out = fused_lrelu(equal_conv(out, state["final_conv.0.weight"], padding=1), state["final_conv.1.bias"])
    out = out.view(b, -1)
    w0 = state["final_linear.0.weight"]
    out = fused_lrelu(F.linear(out, w0 / math.sqrt(w0.shape[1])), state["final_linear.0.bias"])
    w1 = state["final_linear.1.weight"]
    return F.linear(out, w1 / math.sqrt(w1.shape[1]), state["final_linear.1.bias"])[:, 0]


@pytest.mark.parametrize("size", [16, 32])
def test_a_rosinality_discriminator_maps_exactly(size):
    ch = {4: 16, 8: 16, 16: 16, 32: 8}             # min(256 / r, 16): our channel rule at base 256, max 16
    state = layout(size, ch)
    D = Discriminator(size, channel_base=256, channel_max=16, layout="stylegan2")
    D.load_state_dict(rosinality_discriminator_to_ours(state), strict=True)
    x = torch.randn(8, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(D(x), reference_forward(state, x), rtol=1e-4, atol=1e-4)
        # This library's first D (downsample, then the conv at low resolution) computes something else.
        first = Discriminator(size, channel_base=256, channel_max=16, layout="down-first")
        first.load_state_dict(rosinality_discriminator_to_ours(state))
        assert (first(x) - reference_forward(state, x)).abs().max() > 1e-2


def test_a_rosinality_file_transfers_d_and_a_layout_mismatch_is_refused(tmp_path):
    from spatialgan.config import TrainConfig
    from spatialgan.models.stylegan2.generator import StyleGAN2Generator
    from spatialgan.models.stylegan2.rosinality import ours_to_rosinality
    from spatialgan.training.loop import Trainer

    small = dict(resolution=16, width=16, channel_base=64, z_dim=8, w_dim=8, mapping_layers=2, device="cpu",
                 upsample="fir", outdir=str(tmp_path / "run"))
    g_state, latent_avg = ours_to_rosinality(StyleGAN2Generator(16, z_dim=8, w_dim=8, mapping_layers=2,
                                                                channel_base=64, channel_max=16,
                                                                upsample="fir").state_dict())
    d_state = layout(16, {4: 16, 8: 8, 16: 4})            # min(64 / r, 16)
    torch.save({"g": g_state, "g_ema": g_state, "d": d_state, "latent_avg": latent_avg}, tmp_path / "r.pt")
    trainer = Trainer(TrainConfig(model="ssn", init_from=str(tmp_path / "r.pt"), **small))
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(trainer.D(x), reference_forward(d_state, x), rtol=1e-4, atol=1e-4)
    with pytest.raises(SpatialGANError, match="pass --d-layout stylegan2"):
        Trainer(TrainConfig(model="ssn", init_from=str(tmp_path / "r.pt"), d_layout="down-first", **small))
