"""The continuous image space: pixel grids and ScaleParty's scale-consistent region encodings."""

from __future__ import annotations

import pytest
import torch

from spatialgan.core.coords import pixel_grid, region_grid


def test_region_grid_formula_and_full_frame():
    g = region_grid(center=(0.2, -0.1), period=(0.5, 0.25), size=(2, 3), pad=1)
    assert g.shape == (1, 2, 4, 5)
    for j, i in ((0, 0), (3, 4), (1, 2)):       # direct formula, indices shifted by the pad
        x = 0.2 + 0.5 * ((i - 1) + 0.5) - 0.5 * 3 / 2
        y = -0.1 + 0.25 * ((j - 1) + 0.5) - 0.25 * 2 / 2
        assert float(g[0, 0, j, i]) == pytest.approx(x) and float(g[0, 1, j, i]) == pytest.approx(y)
    torch.testing.assert_close(region_grid(size=(8, 16)), pixel_grid(8, 16))   # default: the full frame


def test_region_grid_is_centre_aligned_and_scale_consistent():
    coarse = region_grid(center=(0.3, 0.1), period=(0.2, 0.2), size=(4, 6))
    fine = region_grid(center=(0.3, 0.1), period=(0.1, 0.1), size=(8, 12))
    torch.testing.assert_close(coarse.mean(dim=(2, 3)), torch.tensor([[0.3, 0.1]]))
    pooled = torch.nn.functional.avg_pool2d(fine, 2)          # each coarse pixel = mean of its 2x2 fine pixels
    torch.testing.assert_close(pooled, coarse)


def test_padding_continues_the_lattice_and_partial_regions_are_slices():
    full = region_grid(size=(16, 16), pad=3)
    inner = full[..., 3:-3, 3:-3]
    torch.testing.assert_close(inner, pixel_grid(16, 16))
    step = full[0, 0, 0, 1:] - full[0, 0, 0, :-1]
    torch.testing.assert_close(step, torch.full_like(step, 2 / 16))
    # A region at the same period whose centre sits on the lattice is a slice of the full frame's grid.
    part = region_grid(center=(-1 + 2 * 6 / 16, -1 + 2 * 4 / 16), period=(2 / 16, 2 / 16), size=(4, 6))
    torch.testing.assert_close(part, inner[..., 2:6, 3:9])
    with pytest.raises(ValueError):
        region_grid(size=(0, 4))


def test_encoding_spacing_halves_when_the_resolution_doubles_and_warps():
    from spatialgan.core.coords import parse_warp, stretch, swirl

    for n in (4, 6, 5):
        d_n = region_grid(size=(n, n))[0, 0, 0].diff()
        d_2n = region_grid(size=(2 * n, 2 * n))[0, 0, 0].diff()
        torch.testing.assert_close(2 * d_2n, torch.full_like(d_2n, float(d_n[0])))   # 2 d_2n = d_n
        torch.testing.assert_close(d_n, torch.full_like(d_n, 2 / n))
    p = region_grid(size=(6, 5), pad=2)
    torch.testing.assert_close(swirl(0.0)(p), p)
    torch.testing.assert_close(stretch(2.0, 4.0)(p), p / torch.tensor([2.0, 4.0]).view(1, 2, 1, 1))
    q = swirl(torch.pi / 2, radius=1e9)(p)                   # a quarter turn everywhere: (x, y) -> (-y, x)
    torch.testing.assert_close(q, torch.stack([-p[:, 1], p[:, 0]], 1), atol=1e-6, rtol=0)
    radius = p.norm(dim=1)
    torch.testing.assert_close(swirl(1.3, 0.7)(p).norm(dim=1), radius)   # a swirl only rotates
    for bad in ("twirl:1", "swirl", "swirl:a", "stretch:0", "stretch:1:2:3"):
        with pytest.raises(ValueError):
            parse_warp(bad)
    torch.testing.assert_close(parse_warp("stretch:2")(p), stretch(2.0)(p))
