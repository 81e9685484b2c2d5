"""StyleGAN2 building blocks shared by every generator and the discriminator."""

from spatialgan.core.layers.equalized import EqualizedConv2d, EqualizedLinear, bias_act
from spatialgan.core.layers.modulated import ModulatedConv2d, ToRGB, modulated_conv2d
from spatialgan.core.layers.noise import NoiseInjection
from spatialgan.core.layers.resampling import Downsample2d, Upsample2d, fir_kernel

__all__ = [
    "EqualizedConv2d", "EqualizedLinear", "bias_act", "ModulatedConv2d", "ToRGB",
    "modulated_conv2d", "NoiseInjection", "Downsample2d", "Upsample2d", "fir_kernel",
]
