"""Each StyleGAN2 layer against a direct reference computation written here."""

import math

import pytest
import torch
import torch.nn.functional as F

from spatialgan.core.discriminator import Discriminator, minibatch_stddev
from spatialgan.core.layers import (
    Downsample2d,
    EqualizedConv2d,
    EqualizedLinear,
    ModulatedConv2d,
    NoiseInjection,
    ToRGB,
    Upsample2d,
    modulated_conv2d,
)
from spatialgan.core.mapping import MappingNetwork, normalize_2nd_moment
from spatialgan.core.synthesis import channels_at
from spatialgan.models.stylegan2.generator import StyleGAN2Generator


def reference_modulated_conv(x, weight, styles, demodulate, padding):
    """Loop over samples: w'[o,i] = w[o,i] s[i]; w''= w' / ||w'[o]||."""
    outs = []
    for b in range(x.shape[0]):
        w = weight * styles[b].view(1, -1, 1, 1)
        if demodulate:
            w = w / torch.sqrt((w ** 2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        outs.append(F.conv2d(x[b:b + 1], w, padding=padding))
    return torch.cat(outs)


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_modulated_conv_fused_and_nonfused_match_reference(demodulate, k):
    x = torch.randn(3, 5, 7, 6, dtype=torch.float64)
    weight = torch.randn(4, 5, k, k, dtype=torch.float64)
    styles = torch.randn(3, 5, dtype=torch.float64)
    ref = reference_modulated_conv(x, weight, styles, demodulate, k // 2)
    for fused in (False, True):
        out = modulated_conv2d(x, weight, styles, demodulate, k // 2, fused=fused)
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)


def test_modulated_conv_float32_forms_agree_to_1e5():
    layer = ModulatedConv2d(32, 16, 3, w_dim=8)
    x, w = torch.randn(4, 32, 8, 8), torch.randn(4, 8)
    a, b = layer(x, w, fused=False), layer(x, w, fused=True)
    assert (a - b).abs().max() < 1e-5


def test_auto_form_uses_nonfused_when_training_and_on_cpu(monkeypatch):
    calls = []
    real = modulated_conv2d

    def spy(*args, **kwargs):
        calls.append(kwargs.get("fused", args[5] if len(args) > 5 else None))
        return real(*args, **kwargs)

    import spatialgan.core.layers.modulated as mod
    monkeypatch.setattr(mod, "modulated_conv2d", spy)
    layer = ModulatedConv2d(4, 4, 3, w_dim=4)
    layer(torch.randn(2, 4, 5, 5), torch.randn(2, 4))
    with torch.no_grad():
        layer(torch.randn(2, 4, 5, 5), torch.randn(2, 4))
    assert calls == [False, False]


def test_demodulation_gives_unit_output_variance():
    torch.manual_seed(1)
    layer = ModulatedConv2d(256, 64, 3, w_dim=16)
    x = torch.randn(8, 256, 16, 16)  # unit-variance, independent input
    y = layer(x, torch.randn(8, 16))[:, :, 1:-1, 1:-1]  # interior: no zero padding in the receptive field
    assert abs(y.var().item() - 1.0) < 0.05


def test_equalized_linear_matches_formula():
    layer = EqualizedLinear(6, 3, bias_init=0.5, lr_multiplier=0.01, activation="lrelu")
    x = torch.randn(4, 6)
    w = layer.weight * 0.01 / math.sqrt(6)
    b = layer.bias * 0.01
    ref = F.leaky_relu(x @ w.t() + b, 0.2) * math.sqrt(2)
    torch.testing.assert_close(layer(x), ref)
    # Stored weights are N(0, 1/lr_mul^2) so that the effective weight is N(0, 1/in) at any lr multiplier.
    big = EqualizedLinear(1000, 1000, lr_multiplier=0.01)
    eff = big.weight * big.weight_gain
    assert abs(eff.std().item() * math.sqrt(1000) - 1) < 0.01
    torch.testing.assert_close(big.bias * big.bias_gain, torch.zeros(1000))
    assert torch.allclose(layer.bias * layer.bias_gain, torch.full((3,), 0.5))


def test_equalized_conv_matches_formula():
    layer = EqualizedConv2d(3, 5, 3, activation="linear")
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 3, 6, 6)
    ref = F.conv2d(x, layer.weight / math.sqrt(27), layer.bias, padding=1)
    torch.testing.assert_close(layer(x), ref)


def test_fir_upsample_equals_bilinear_away_from_border():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    fir = Upsample2d("fir").double()(x)
    bil = Upsample2d("bilinear")(x)
    assert fir.shape == bil.shape == (2, 3, 16, 16)
    torch.testing.assert_close(fir[..., 1:-1, 1:-1], bil[..., 1:-1, 1:-1])
    # At the border the FIR form sees zero padding: the corner is 9/16 of the input corner.
    torch.testing.assert_close(fir[..., 0, 0], x[..., 0, 0] * 9 / 16)


def test_fir_downsample_matches_separable_filter():
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    out = Downsample2d("fir").double()(x)
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64) / 8
    padded = F.pad(x, (1, 1, 1, 1))
    ref = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    for i in range(4):
        for j in range(4):
            patch = padded[..., 2 * i:2 * i + 4, 2 * j:2 * j + 4]
            ref[..., i, j] = (patch * taps[:, None] * taps[None, :]).sum(dim=(-1, -2))
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(Downsample2d("avg")(x), F.avg_pool2d(x, 2))


def test_noise_injection_strength_and_modes():
    layer = NoiseInjection(4)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(layer(x), x)  # strength starts at zero
    with torch.no_grad():
        layer.strength.fill_(0.5)
    noise = torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(layer(x, noise=noise), x + 0.5 * noise)
    torch.testing.assert_close(layer(x, "const"), x + 0.5 * layer.const_noise)
    torch.testing.assert_close(layer(x, "none"), x)
    a, b = layer(x, "random"), layer(x, "random")
    assert not torch.equal(a, b)
    d = a - x
    torch.testing.assert_close(d[:, 0], d[:, 2])  # one noise image shared across channels


def _stylegan2_upsampling_conv(x, weight, styles):
    """StyleGAN2's upsampling conv as rosinality writes it: per-sample modulated, demodulated weights, a stride-2
    transposed conv, then a [1,3,3,1] blur (gain 4) with one pixel of zero padding on each side."""
    k = torch.tensor([1.0, 3, 3, 1])
    blur = (torch.outer(k, k) / 64 * 4)
    outs = []
    for b in range(x.shape[0]):
        w = weight * styles[b][None, :, None, None]
        w = w / (w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        y = F.conv_transpose2d(x[b:b + 1], w.transpose(0, 1), stride=2)
        outs.append(F.conv2d(F.pad(y, (1, 1, 1, 1)), blur.expand(y.shape[1], 1, 4, 4), groups=y.shape[1]))
    return torch.cat(outs)


def test_styled_conv_matches_reference():
    from spatialgan.core.layers.modulated import StyledConv

    layer = StyledConv(6, 5, w_dim=4, resolution=8, up=True, upsample="fir")
    with torch.no_grad():
        layer.bias.normal_()
        layer.noise.strength.fill_(0.3)
    x, w = torch.randn(2, 6, 4, 4), torch.randn(2, 4)
    styles = layer.conv.affine(w)
    # Our kernel is the spatial flip of the transposed-conv kernel (a correlation after upsampling).
    conv = _stylegan2_upsampling_conv(x, layer.conv.weight.flip([2, 3]) / math.sqrt(6 * 9), styles)
    pre = conv + 0.3 * layer.noise.const_noise + layer.bias.view(1, -1, 1, 1)
    ref = F.leaky_relu(pre, 0.2) * math.sqrt(2)
    torch.testing.assert_close(layer(x, w, "const"), ref, rtol=1e-5, atol=1e-5)
    ref_none = F.leaky_relu(conv + layer.bias.view(1, -1, 1, 1), 0.2) * math.sqrt(2)
    torch.testing.assert_close(layer(x, w, "none"), ref_none, rtol=1e-5, atol=1e-5)
    # Bilinear: upsample, then a zero-padded modulated conv.
    layer = StyledConv(6, 5, w_dim=4, resolution=8, up=True, upsample="bilinear")
    up = Upsample2d("bilinear")(x)
    conv = reference_modulated_conv(up, layer.conv.weight / math.sqrt(6 * 9), layer.conv.affine(w), True, 1)
    torch.testing.assert_close(layer(x, w, "none"), F.leaky_relu(conv, 0.2) * math.sqrt(2), rtol=1e-5, atol=1e-5)


def test_equalized_layers_with_lrelu_match_formula():
    conv = EqualizedConv2d(3, 4, 3, activation="lrelu")
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 3, 5, 5)
    ref = F.leaky_relu(F.conv2d(x, conv.weight / math.sqrt(27), conv.bias, padding=1), 0.2) * math.sqrt(2)
    torch.testing.assert_close(conv(x), ref)


def test_torgb_is_modulated_1x1_without_demodulation():
    layer = ToRGB(8, w_dim=4)
    with torch.no_grad():
        layer.bias.normal_()
    x, w = torch.randn(2, 8, 5, 5), torch.randn(2, 4)
    styles = layer.conv.affine(w)
    weight = layer.conv.weight / math.sqrt(8)
    ref = reference_modulated_conv(x, weight, styles, False, 0) + layer.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(layer(x, w), ref, rtol=1e-5, atol=1e-5)


def test_minibatch_stddev_matches_reference():
    x = torch.randn(8, 6, 4, 4, dtype=torch.float64)
    out = minibatch_stddev(x, group_size=4, num_channels=2)
    assert out.shape == (8, 8, 4, 4)
    n_groups = 2  # 8 samples, groups of 4: group of sample i is {j : j % 2 == i % 2}
    for i in range(8):
        members = x[[j for j in range(8) if j % n_groups == i % n_groups]]
        for f in range(2):
            feats = members[:, 3 * f:3 * f + 3]
            expected = (feats.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
            torch.testing.assert_close(out[i, 6 + f], torch.full((4, 4), expected.item(), dtype=torch.float64))
    assert minibatch_stddev(torch.randn(6, 4, 4, 4), group_size=4).shape == (6, 5, 4, 4)  # group 3 divides 6
    assert minibatch_stddev(torch.randn(1, 4, 4, 4), group_size=4).shape == (1, 5, 4, 4)


def test_discriminator_accepts_any_size():
    D = Discriminator(32, channel_max=32)
    for size in [(32, 32), (48, 48), (24, 40), (16, 16)]:
        assert D(torch.randn(4, 3, *size)).shape == (4,)


def test_mapping_network_normalizes_and_truncates():
    m = MappingNetwork(z_dim=8, w_dim=6, num_layers=3)
    z = torch.randn(5, 8)
    torch.testing.assert_close(m(z), m(z * 3.7))  # z is normalised to unit second moment first
    torch.testing.assert_close(normalize_2nd_moment(z).square().mean(1), torch.ones(5))
    w = m(z, update_w_avg=True)
    torch.testing.assert_close(m.w_avg, 0.005 * w.mean(0))  # from zero with beta 0.995
    torch.testing.assert_close(m(z, truncation_psi=0.0), m.w_avg.expand(5, -1))
    torch.testing.assert_close(m(z, truncation_psi=0.5), m.w_avg + 0.5 * (w - m.w_avg))
    assert len(m.layers) == 3 and m.layers[0].weight_gain == pytest.approx(0.01 / math.sqrt(8))


def test_generator_shapes_and_style_count():
    for res in (8, 32):
        G = StyleGAN2Generator(res, z_dim=16, w_dim=16, channel_max=16)
        assert G(torch.randn(2, 16)).shape == (2, 3, res, res)
        assert G.num_ws == 2 * int(math.log2(res)) - 2
    assert channels_at(256, 32768, 512) == 128 and channels_at(8, 32768, 512) == 512
    with pytest.raises(ValueError):
        StyleGAN2Generator(24)


def test_generator_styles_reach_the_right_layers():
    """Changing only the last w changes only the finest layers: the 4x4 block output is untouched."""
    G = StyleGAN2Generator(16, z_dim=8, w_dim=8, channel_max=8)
    ws = G.map(torch.randn(1, 8)).clone()
    feats = {}

    def keep(module, inputs, output):
        feats[len(feats)] = output[0].clone()

    G.synthesis.blocks[0].register_forward_hook(keep)
    G.synthesis(ws, "const")
    ws2 = ws.clone()
    ws2[:, -1] += 1.0
    G.synthesis(ws2, "const")
    torch.testing.assert_close(feats[0], feats[1])


def test_resized_white_noise_keeps_unit_variance_at_every_pixel():
    import torch.nn.functional as F

    from spatialgan.core.layers.noise import resize_white_noise

    g = torch.Generator().manual_seed(0)
    maps = torch.randn(4000, 1, 10, 10, generator=g)
    for size in ((16, 16), (10, 23), (7, 5), (10, 10)):
        var = resize_white_noise(maps, size).var(0)
        assert var.shape == (1, *size) and 0.9 < float(var.min()) and float(var.max()) < 1.1, size
    plain = F.interpolate(maps, size=(16, 16), mode="bilinear", align_corners=False).var(0)
    assert float(plain.mean()) < 0.7                         # what the const policy did before: variance ~0.5


@pytest.mark.parametrize("stride,padding,transpose,size", [(1, 2, False, (7, 9)), (2, 1, False, (8, 8)),
                                                          (2, 1, False, (7, 9)), (2, 0, True, (5, 6)),
                                                          (2, 1, True, (4, 4))])
def test_fixed_filter_matches_autograd_and_differentiates_twice(stride, padding, transpose, size):
    from torch.autograd import gradcheck, gradgradcheck

    from spatialgan.core.layers.resampling import _FixedFilter, fir_kernel

    kernel = fir_kernel(gain=4.0 if transpose else 1.0).double()
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    weight = kernel[None, None].expand(3, 1, 4, 4)
    conv = F.conv_transpose2d if transpose else F.conv2d
    expected = conv(x, weight, stride=stride, padding=padding, groups=3)
    out = _FixedFilter.apply(x, kernel, stride, padding, transpose)
    torch.testing.assert_close(out, expected)
    g = torch.randn_like(out)
    torch.testing.assert_close(torch.autograd.grad(out, x, g)[0], torch.autograd.grad(expected, x, g)[0])
    fn = lambda t: _FixedFilter.apply(t, kernel, stride, padding, transpose)      # noqa: E731
    assert gradcheck(fn, (x,)) and gradgradcheck(fn, (x,))


def test_fixed_filter_keeps_no_activation_for_backward():
    from spatialgan.core.layers.resampling import fir_filter, fir_kernel

    packed = []
    x = torch.randn(1, 4, 32, 32, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t.numel()) or t, lambda t: t):
        fir_filter(x, fir_kernel(), padding=2).sum().backward()
    assert sum(packed) < 100          # the 4x4 kernel at most, never the 4x32x32 input


@pytest.mark.parametrize("mode", ["fir", "bilinear"])
def test_the_upsampling_conv_modulates_before_upsampling_with_the_same_result(mode):
    from spatialgan.core.layers.modulated import StyledConv

    torch.manual_seed(0)
    layer = StyledConv(8, 6, 5, 16, up=True, upsample=mode).double()
    with torch.no_grad():
        layer.bias.normal_()
    x, w = torch.randn(3, 8, 8, 8, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    reordered = layer(x, w, "none")                  # grad enabled, CPU: the low-resolution order
    direct = layer.conv(layer.up(x), w, gain=math.sqrt(2), padding=layer.padding)
    direct = F.leaky_relu(direct + layer.bias[None, :, None, None] * math.sqrt(2), 0.2)
    torch.testing.assert_close(reordered, direct)
    packed = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t.shape[-1]) or t, lambda t: t):
        layer(x, w, "none").sum().backward()
    assert 16 not in packed[:2]       # the styles' and the conv's saved inputs are at 8x8, not the 16x16 upsampled
