"""ADA's 'bgc' pipeline (Karras et al. 2020): blit, general geometric and colour ops, each applied with probability
p per image; the geometric ops compose into one matrix per image and the colour ops into one 4x4 matrix, each
applied once. Differentiable, so G's gradient and R1's double backward pass through it."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from spatialgan import batchrng

# The CDF 9/7 biorthogonal low-pass pair (JPEG 2000), each summing to 1. Upsampling by the synthesis filter then
# downsampling by the analysis filter is the identity (sum_k a[k] s[k - 2n] = delta_n / 2), so an identity
# transform returns the image unchanged; both are symmetric, so flips and 90-degree rotations stay exact too
# (ADA uses the asymmetric sym6, which only approximates both).
ANALYSIS_LOWPASS = (0.026748757410810, -0.016864118442875, -0.078223266528990, 0.266864118442875,
                    0.602949018236360, 0.266864118442875, -0.078223266528990, -0.016864118442875,
                    0.026748757410810)
SYNTHESIS_LOWPASS = (-0.045635881557125, -0.028771763114250, 0.295635881557125, 0.557543526228500,
                     0.295635881557125, -0.028771763114250, -0.045635881557125)
MARGIN = 4            # input pixels kept beyond the sampled area, so the filters never see the zero border

# The ADA paper's parameter distributions (its appendix; the official defaults).
XINT_MAX = 0.125      # integer translation: uniform, fraction of the image size
SCALE_STD = 0.2       # isotropic scaling: log2-normal
ROTATE_MAX = 1.0      # arbitrary rotation: uniform in +-pi * this
ANISO_STD = 0.2       # anisotropic scaling: log2-normal
XFRAC_STD = 0.125     # fractional translation: normal, fraction of the image size
BRIGHTNESS_STD = 0.2  # additive, normal
CONTRAST_STD = 0.5    # multiplicative, log2-normal
HUE_MAX = 1.0         # rotation about the luma axis: uniform in +-pi * this
SATURATION_STD = 1.0  # log2-normal
LUMA_AXIS = (1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3), 0.0)


# ---------------------------------------------------------------------------------------- matrices
def _eye(b: int, n: int, device) -> torch.Tensor:
    return torch.eye(n, device=device).expand(b, n, n).clone()


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _eye(len(tx), 3, tx.device)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _eye(len(sx), 3, sx.device)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    m = _eye(len(theta), 3, theta.device)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def translate3d(t: torch.Tensor) -> torch.Tensor:
    m = _eye(len(t), 4, t.device)
    m[:, :3, 3] = t[:, None]
    return m


def scale3d(s: torch.Tensor) -> torch.Tensor:
    m = _eye(len(s), 4, s.device)
    m[:, 0, 0] = m[:, 1, 1] = m[:, 2, 2] = s
    return m


def rotate3d(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rotation by theta about a unit axis (Rodrigues), as a 4x4 homogeneous matrix."""
    x, y, z = axis[:3]
    k = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], device=theta.device)
    s, c = torch.sin(theta)[:, None, None], torch.cos(theta)[:, None, None]
    m = _eye(len(theta), 4, theta.device)
    m[:, :3, :3] = torch.eye(3, device=theta.device) + s * k + (1 - c) * (k @ k)
    return m


# ---------------------------------------------------------------------------------------- random parameters
def _gate(values: torch.Tensor, p: float, identity: float) -> torch.Tensor:
    """Each image keeps its drawn value(s) (B,) or (B, k) with probability p, else the op's identity value."""
    keep = batchrng.rand(len(values), device=values.device) < p
    keep = keep.view(-1, *([1] * (values.dim() - 1)))
    return torch.where(keep, values, torch.full_like(values, identity))


def geometric_matrix(b: int, height: int, width: int, p: float, device) -> torch.Tensor:
    """Per image, the inverse geometric transform (B, 3, 3): output pixel position -> input position, in pixel
    units about the image centre. Ops in ADA's order; each inverse composes on the right."""
    g = _eye(b, 3, device)
    flip = _gate(batchrng.randint(2, b, device=device).float(), p, 0)
    g = g @ scale2d(1 - 2 * flip, torch.ones_like(flip))
    quarter = _gate(batchrng.randint(4, b, device=device).float(), p, 0)
    g = g @ rotate2d(-math.pi / 2 * quarter)
    shift = (batchrng.rand(b, 2, device=device) * 2 - 1) * XINT_MAX
    shift = _gate(shift, p, 0)
    g = g @ translate2d(-torch.round(shift[:, 0] * width), -torch.round(shift[:, 1] * height))
    iso = _gate(torch.exp2(batchrng.randn(b, device=device) * SCALE_STD), p, 1)
    g = g @ scale2d(1 / iso, 1 / iso)
    p_rot = 1 - math.sqrt(max(1 - p, 0.0))           # two rotations, so that P(any rotation) = p
    pre = _gate((batchrng.rand(b, device=device) * 2 - 1) * math.pi * ROTATE_MAX, p_rot, 0)
    g = g @ rotate2d(-pre)
    aniso = _gate(torch.exp2(batchrng.randn(b, device=device) * ANISO_STD), p, 1)
    g = g @ scale2d(1 / aniso, aniso)
    post = _gate((batchrng.rand(b, device=device) * 2 - 1) * math.pi * ROTATE_MAX, p_rot, 0)
    g = g @ rotate2d(-post)
    frac = _gate(batchrng.randn(b, 2, device=device) * XFRAC_STD, p, 0)
    return g @ translate2d(-frac[:, 0] * width, -frac[:, 1] * height)


def colour_matrix(b: int, p: float, device) -> torch.Tensor:
    """Per image, the 4x4 colour transform (B, 4, 4) applied to (r, g, b, 1); ops in ADA's order, each applied
    after the previous ones."""
    v = torch.tensor(LUMA_AXIS, device=device)
    vv = torch.outer(v, v)
    c = _eye(b, 4, device)
    brightness = _gate(batchrng.randn(b, device=device) * BRIGHTNESS_STD, p, 0)
    c = translate3d(brightness) @ c
    contrast = _gate(torch.exp2(batchrng.randn(b, device=device) * CONTRAST_STD), p, 1)
    c = scale3d(contrast) @ c
    flip = _gate(batchrng.randint(2, b, device=device).float(), p, 0)
    c = (torch.eye(4, device=device) - 2 * vv * flip[:, None, None]) @ c
    hue = _gate((batchrng.rand(b, device=device) * 2 - 1) * math.pi * HUE_MAX, p, 0)
    c = rotate3d(v, hue) @ c
    saturation = _gate(torch.exp2(batchrng.randn(b, device=device) * SATURATION_STD), p, 1)
    chroma = torch.eye(4, device=device) - vv
    chroma[3, 3] = 0                                  # the homogeneous coordinate is not a colour
    c = (torch.eye(4, device=device) + chroma * (saturation[:, None, None] - 1)) @ c
    return c


# ---------------------------------------------------------------------------------------- application
@functools.lru_cache(maxsize=64)
def _resampling_matrix(n: int, up: bool, dtype: torch.dtype, device: str) -> torch.Tensor:
    """The 1-D resampling of length n as a dense banded matrix: (2n, n) for upsampling (zero insertion, then the
    synthesis filter with gain 2, zeros beyond the ends), (m, n) for downsampling (the analysis filter, unpadded,
    every second sample; output m is centred on input 2m + 4). A matmul runs these far faster on a CPU than a
    depthwise convolution does."""
    if up:
        taps, m, centre = torch.tensor(SYNTHESIS_LOWPASS, dtype=torch.float64) * 2, 2 * n, 0
        half = len(SYNTHESIS_LOWPASS) // 2
        rows = torch.arange(m)[:, None] - 2 * torch.arange(n)[None, :] + half     # tap index per (out, in)
    else:
        taps, m = torch.tensor(ANALYSIS_LOWPASS, dtype=torch.float64), (n - len(ANALYSIS_LOWPASS)) // 2 + 1
        rows = torch.arange(n)[None, :] - 2 * torch.arange(m)[:, None]
        centre = 0
    valid = (rows >= centre) & (rows < len(taps))
    matrix = torch.where(valid, taps[rows.clamp(0, len(taps) - 1)], torch.zeros((), dtype=torch.float64))
    return matrix.to(dtype=dtype, device=device)


def _resample(x: torch.Tensor, up: bool) -> torch.Tensor:
    h, w = x.shape[-2:]
    rows = _resampling_matrix(h, up, x.dtype, str(x.device))
    cols = _resampling_matrix(w, up, x.dtype, str(x.device))
    return torch.matmul(torch.matmul(rows, x.contiguous()), cols.T)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Zero insertion then the synthesis filter (gain 2 per axis): sample 2i is input pixel i."""
    return _resample(x, up=True)


def downsample2x(x: torch.Tensor) -> torch.Tensor:
    """The analysis filter, unpadded, then every second sample: output m is centred on input 2m + 4."""
    return _resample(x, up=False)


def _padding(g_inv: torch.Tensor, height: int, width: int) -> tuple[int, int, int, int]:
    """Reflect padding (left, right, top, bottom) that holds every input position the sampling lattice reaches,
    plus the filters' margin; at most size - 1 (reflect's limit; beyond it grid_sample reflects)."""
    hx, hy = width / 2 + 1.5, height / 2 + 1.5          # the 2x lattice's extent about the centre
    corners = torch.tensor([[-hx, hx, hx, -hx], [-hy, -hy, hy, hy], [1.0, 1.0, 1.0, 1.0]], device=g_inv.device,
                           dtype=g_inv.dtype)
    reach = (g_inv @ corners)[:, :2]
    lo = reach.amin(dim=(0, 2)).tolist()
    hi = reach.amax(dim=(0, 2)).tolist()

    def pad(extent: float, size: int) -> int:
        return int(min(max(math.ceil(extent), 0) + MARGIN, size - 1))

    return (pad(-(lo[0] - 0.5 + width / 2), width), pad(hi[0] - 0.5 + width / 2 - (width - 1), width),
            pad(-(lo[1] - 0.5 + height / 2), height), pad(hi[1] - 0.5 + height / 2 - (height - 1), height))


def warp(images: torch.Tensor, g_inv: torch.Tensor) -> torch.Tensor:
    """Applies per-image inverse matrices: reflect pad, 2x synthesis upsampling, bilinear sampling on the output's
    2x lattice, 2x analysis downsampling. Positions are pixel units about the centre (pixel j at j + 0.5 - W/2)."""
    b, _, h, w = images.shape
    left, right, top, bottom = _padding(g_inv, h, w)
    up = upsample2x(F.pad(images, (left, right, top, bottom), mode="reflect"))
    lattice_x = (torch.arange(2 * w + 7, device=images.device, dtype=g_inv.dtype) - 4) / 2 + 0.5 - w / 2
    lattice_y = (torch.arange(2 * h + 7, device=images.device, dtype=g_inv.dtype) - 4) / 2 + 0.5 - h / 2
    yy, xx = torch.meshgrid(lattice_y, lattice_x, indexing="ij")
    points = torch.stack([xx, yy, torch.ones_like(xx)], -1).reshape(-1, 3)
    source = (points @ g_inv.transpose(1, 2))[..., :2]              # (B, N, 2) input positions
    index_x = 2 * (source[..., 0] - 0.5 + w / 2 + left)                           # positions in `up`
    index_y = 2 * (source[..., 1] - 0.5 + h / 2 + top)
    grid = torch.stack([2 * index_x / (up.shape[-1] - 1) - 1, 2 * index_y / (up.shape[-2] - 1) - 1], -1)
    grid = grid.view(b, 2 * h + 7, 2 * w + 7, 2).to(up.dtype)
    sampled = F.grid_sample(up, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    return downsample2x(sampled)


def apply_colour(images: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """(r, g, b) <- C[:3, :3] (r, g, b) + C[:3, 3]; channels after the third pass through unchanged."""
    rgb = images[:, :3]
    m = c.to(images.dtype)
    out = torch.einsum("bij,bjhw->bihw", m[:, :3, :3], rgb) + m[:, :3, 3, None, None]
    return torch.cat([out, images[:, 3:]], 1) if images.shape[1] > 3 else out


class AdaPipeline:
    """The bgc pipeline at probability p. At p = 0, or when no op fires in a batch, images pass unchanged."""

    def __call__(self, images: torch.Tensor, p: float) -> torch.Tensor:
        if p <= 0:
            return images
        b, _, h, w = images.shape
        g_inv = geometric_matrix(b, h, w, p, images.device)
        colour = colour_matrix(b, p, images.device)
        if not torch.equal(g_inv, _eye(b, 3, images.device)):
            images = warp(images, g_inv)
        if not torch.equal(colour, _eye(b, 4, images.device)):
            images = apply_colour(images, colour)
        return images
