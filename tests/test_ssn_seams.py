"""The seam ratio: how strongly SSN samples show their latent block grid (a patchwork), against a direct loop."""

import pytest
import torch
import torch.nn.functional as F

from spatialgan.models.ssn.blocks import seam_ratio


def _direct_seam_ratio(images: torch.Tensor, grid) -> float:
    """Written from the definition: for each axis, walk every pair of neighbouring pixel lines, put its mean
    absolute step in the 'across a block boundary' or the 'inside a block' bin by integer block index."""
    height, width = images.shape[-2:]
    ratios = []
    for axis, (blocks, size) in enumerate(((grid[0], height), (grid[1], width))):
        if blocks < 2:
            continue
        def owner(i, blocks=blocks, size=size):     # block b holds pixels [b * size // blocks, (b + 1) * ...)
            return max(b for b in range(blocks) if b * size // blocks <= i)

        across, inside = [], []
        for i in range(size - 1):
            a = images[..., i, :] if axis == 0 else images[..., :, i]
            b = images[..., i + 1, :] if axis == 0 else images[..., :, i + 1]
            step = (b - a).abs().mean().item()
            same_block = owner(i) == owner(i + 1)
            (inside if same_block else across).append(step)
        ratios.append((sum(across) / len(across)) / (sum(inside) / len(inside)))
    return sum(ratios) / len(ratios)


def _smooth_field(n: int, size: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """Photograph-like test images with no relation to any grid: white noise blurred by a Gaussian (a stationary
    field: every pixel step has the same distribution wherever it lies)."""
    gen = torch.Generator().manual_seed(seed)
    taps = torch.exp(-0.5 * (torch.arange(-6, 7.0) / 2.5) ** 2)
    kernel = (taps[:, None] * taps[None, :] / taps.sum() ** 2).expand(3, 1, 13, 13)
    noise = torch.randn(n, 3, size[0] + 12, size[1] + 12, generator=gen)
    return F.conv2d(noise, kernel, groups=3) * 5


def _patchwork(n: int, size: tuple[int, int], grid, offset: int = 0, seed: int = 1) -> torch.Tensor:
    """Each block of the grid (shifted right and down by `offset` pixels) with its own flat colour."""
    gen = torch.Generator().manual_seed(seed)
    colours = torch.randn(n, 3, *grid, generator=gen)
    rows = ((torch.arange(size[0]) - offset).clamp_min(0) * grid[0]) // size[0]
    cols = ((torch.arange(size[1]) - offset).clamp_min(0) * grid[1]) // size[1]
    return colours[:, :, rows][:, :, :, cols]


@pytest.mark.parametrize("grid, size", [((4, 4), (32, 32)), ((3, 5), (29, 37)), ((1, 4), (16, 16))])
def test_seam_ratio_matches_a_direct_loop(grid, size):
    images = torch.randn(3, 3, *size)
    images = images + _patchwork(3, size, grid)
    assert seam_ratio(images, grid) == pytest.approx(_direct_seam_ratio(images, grid), rel=1e-5)


def test_a_patchwork_on_the_grid_scores_far_above_images_unrelated_to_it():
    size, grid = (64, 64), (4, 4)
    smooth = _smooth_field(8, size)
    assert seam_ratio(smooth, grid) == pytest.approx(1.0, abs=0.15)
    assert seam_ratio(smooth + 0.5 * _patchwork(8, size, grid), grid) > 3
    # The same patchwork two pixels off the latent grid is not this grid's patchwork.
    assert seam_ratio(smooth + 0.5 * _patchwork(8, size, grid, offset=2), grid) == pytest.approx(1.0, abs=0.3)


def test_seams_metric_runs_on_an_ssn_and_is_refused_for_stylegan2(tmp_path):
    from spatialgan import SpatialGANError
    from spatialgan.api import load
    from spatialgan.config import TrainConfig
    from spatialgan.metrics.evaluate import EvalOptions, evaluate
    from spatialgan.training.loop import Trainer

    tiny = dict(resolution=16, batch=4, width=16, z_dim=8, w_dim=8, mapping_layers=2, device="cpu")
    for model, extra in (("ssn", dict(latent_rows=2, latent_cols=2)), ("stylegan2", {})):
        Trainer(TrainConfig(model=model, outdir=str(tmp_path / model), **tiny, **extra)).save_snapshot()
    options = EvalOptions(num=8, batch=4, cache_dir="")
    record = evaluate(load(tmp_path / "ssn").adapter, ["seams"], None, options)[0]
    assert record["metric"] == "seams" and record["value"] > 0 and record["num_samples"] == 8
    with pytest.raises(SpatialGANError):
        evaluate(load(tmp_path / "stylegan2").adapter, ["seams"], None, options)
