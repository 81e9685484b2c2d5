"""The continuous image space: pixel grids and ScaleParty's scale-consistent region encodings."""

from __future__ import annotations

import pytest
import torch

from spatialgan.coords import pixel_grid, region_grid


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
