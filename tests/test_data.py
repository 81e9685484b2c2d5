"""Datasets: folders, zips and LMDB; awkward and corrupt files; resumable sampling; packing."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from spatialgan import SpatialGANError
from spatialgan.data.dataset import ImageDataset, InfiniteSampler, crop_square, to_rgb
from spatialgan.data.pack import pack_dataset

from conftest import truncated_png_bytes, write_image_folder


def test_folder_dataset_reads_tree(image_folder):
    ds = ImageDataset(image_folder, 16)
    assert len(ds) == 24
    x = ds[0]
    assert x.dtype == torch.uint8 and x.shape == (3, 16, 16)


def test_grayscale_rgba_palette_16bit_and_nonsquare(tmp_path):
    root = tmp_path / "odd"
    root.mkdir()
    Image.fromarray(np.full((10, 30), 200, np.uint8), "L").save(root / "a_gray.png")
    rgba = np.zeros((12, 12, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:6, :, 3] = 255  # top half opaque red, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(root / "b_rgba.png")
    Image.fromarray(np.full((8, 8, 3), 40, np.uint8)).convert("P", palette=Image.ADAPTIVE).save(root / "c_palette.png")
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(root / "d_16bit.png")
    Image.fromarray(np.tile(np.arange(40, dtype=np.uint8)[None, :, None] * 6, (20, 1, 3))).save(root / "e_wide.png")
    ds = ImageDataset(root, 8)
    gray = ds[0]
    assert gray.shape == (3, 8, 8) and torch.all(gray == 200)
    rgba_img = ds[1]
    assert torch.equal(rgba_img[:, 0, 0], torch.tensor([255, 0, 0], dtype=torch.uint8))
    assert torch.equal(rgba_img[:, -1, 0], torch.tensor([255, 255, 255], dtype=torch.uint8))  # alpha over white
    assert torch.all((ds[2].int() - 40).abs() <= 1)
    assert torch.all(ds[3] == 255)
    wide = ds[4]  # centre crop of a 40x20 horizontal ramp keeps the middle columns
    assert wide.shape == (3, 8, 8) and 90 < wide[0].float().mean() < 150


def test_crop_modes():
    img = Image.fromarray(np.tile(np.arange(30, dtype=np.uint8)[None, :, None], (10, 1, 3)))
    assert np.asarray(crop_square(img, "center"))[0, 0, 0] == 10
    offsets = {np.asarray(crop_square(img, "random", np.random.default_rng(s)))[0, 0, 0] for s in range(40)}
    assert len(offsets) > 5 and min(offsets) >= 0 and max(offsets) <= 20
    assert crop_square(img, "none").size == (30, 10)


def test_corrupt_files_are_reported_once_and_skipped(image_folder, capsys):
    (image_folder / "a" / "broken.png").write_bytes(truncated_png_bytes())
    (image_folder / "a" / "garbage.jpg").write_bytes(b"not an image at all")
    ds = ImageDataset(image_folder, 16)
    bad = [i for i, n in enumerate(ds.source.names) if "broken" in n or "garbage" in n]
    assert len(bad) == 2
    for _ in range(2):
        for i in bad:
            assert ds[i].shape == (3, 16, 16)  # replaced by the next readable image
    err = capsys.readouterr().err
    assert err.count("broken.png") == 1 and err.count("garbage.jpg") == 1
    loader = torch.utils.data.DataLoader(ds, batch_size=26)
    assert next(iter(loader)).shape == (26, 3, 16, 16)


def test_empty_and_missing_datasets_give_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpatialGANError, match="contains no images"):
        ImageDataset(tmp_path / "empty", 8)
    with pytest.raises(SpatialGANError, match="not found"):
        ImageDataset(tmp_path / "missing", 8)
    (tmp_path / "bad.zip").write_bytes(b"PK nonsense")
    with pytest.raises(SpatialGANError, match="not a readable zip"):
        ImageDataset(tmp_path / "bad.zip", 8)


def test_zip_dataset_and_workers(image_folder, tmp_path):
    summary = pack_dataset(image_folder, tmp_path / "d.zip", 16)
    assert summary.count == 24
    ds = ImageDataset(tmp_path / "d.zip", 16)
    folder = ImageDataset(image_folder, 16)
    assert len(ds) == 24
    loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2)
    batch = next(iter(loader))
    assert batch.shape == (8, 3, 16, 16)
    # PNG packing is lossless: zip items equal the folder's decoded, cropped, resized items.
    assert torch.equal(torch.stack([folder[i] for i in range(8)]), batch)


def test_lmdb_dataset(tmp_path):
    import lmdb

    env = lmdb.open(str(tmp_path / "lsun"), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i in range(5):
            buf = io.BytesIO()
            Image.fromarray(np.full((12, 16, 3), 50 * i, np.uint8)).save(buf, format="WEBP", lossless=True)
            txn.put(f"key{i:03d}".encode(), buf.getvalue())
    env.close()
    ds = ImageDataset(tmp_path / "lsun", 8)
    assert len(ds) == 5
    assert torch.all(ds[3] == 150)


def test_xflip_and_random_crop_follow_the_item_seed(image_folder):
    ds = ImageDataset(image_folder, 16, crop="random", xflip=True)
    assert torch.equal(ds[(3, 77)], ds[(3, 77)])
    flips = {bool(torch.equal(ds[(5, s)], ds[5].flip(-1))) for s in range(20)}
    assert flips == {True, False}


def test_infinite_sampler_resumes_exactly():
    full = InfiniteSampler(10, seed=3)
    it = iter(full)
    seq = [next(it) for _ in range(35)]
    resumed = iter(InfiniteSampler(10, seed=3, start=17))
    assert [next(resumed) for _ in range(18)] == seq[17:]
    assert sorted(i for i, _ in seq[:10]) == list(range(10))  # each epoch is a permutation
    assert [i for i, _ in seq[:10]] != [i for i, _ in seq[10:20]]


def test_pack_reports_skipped_files(image_folder, tmp_path):
    (image_folder / "b" / "broken.png").write_bytes(truncated_png_bytes())
    summary = pack_dataset(image_folder, tmp_path / "out.zip", 8)
    assert summary.count == 24 and len(summary.skipped) == 1 and "broken.png" in summary.skipped[0][0]
    assert "skipped 1 unreadable" in summary.text()
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == 24
        assert Image.open(io.BytesIO(zf.read("img00000000.png"))).size == (8, 8)


def test_to_rgb_la_mode():
    la = Image.fromarray(np.stack([np.full((4, 4), 0, np.uint8), np.full((4, 4), 0, np.uint8)], -1), "LA")
    assert np.all(np.asarray(to_rgb(la)) == 255)  # fully transparent black over white is white


def test_write_image_folder_helper_is_deterministic(tmp_path):
    a = write_image_folder(tmp_path / "x", count=3)
    b = write_image_folder(tmp_path / "y", count=3)
    assert (a / "b" / "img000.jpg").read_bytes() == (b / "b" / "img000.jpg").read_bytes()


def test_a_dark_16_bit_image_stays_dark(tmp_path):
    root = tmp_path / "dark"
    root.mkdir()
    Image.fromarray(np.full((8, 8), 200, np.uint16)).save(root / "dark16.png")       # 200 of 65535: near black
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(root / "white16.png")
    ds = ImageDataset(root, 8)
    values = sorted(int(ds[i].max()) for i in range(2))
    assert values == [1, 255]


def test_unreadable_files_are_reported_once_by_name_and_stand_ins_are_spread(tmp_path, capsys):
    root = tmp_path / "mixed"
    root.mkdir()
    for i in range(12):
        if i < 5:                                  # a run of bad files: the next good one used to take them all
            (root / f"img{i:02d}.png").write_bytes(b"not an image")
        else:
            Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(root / f"img{i:02d}.png")
    ds = ImageDataset(root, 8)
    stand_ins = [int(ds[i][0, 0, 0]) for i in range(5)]               # what each unreadable file is replaced by
    assert max(stand_ins.count(v) for v in stand_ins) <= 2            # not all by the same neighbour
    for _ in range(2):
        ds[0]
    err = capsys.readouterr().err
    assert err.count("img00.png") == 1 and "BytesIO" not in err and "not a recognised image" in err


# ------------------------------------------------------------------ photo crops with held-back photos
def _photo_folder(root, count=10):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(count):
        arr = np.full((48 + 4 * i, 64, 3), 20 * i, np.uint8) + rng.integers(0, 5, (48 + 4 * i, 64, 3), np.uint8)
        Image.fromarray(arr).save(root / f"photo{i:02d}.png")
    return root


def test_crop_datasets_hold_back_whole_photos_and_are_deterministic(tmp_path):
    import json
    import zipfile

    from spatialgan.cli import main

    photos = _photo_folder(tmp_path / "photos")
    args = ["dataset", "--source", str(photos), "--resolution", "16", "--crops", "30", "--hold-out", "0.3",
            "--hold-out-crops", "12", "--aspect", "2", "--seed", "4"]
    for name in ("a", "b"):
        assert main(args + ["--dest", str(tmp_path / f"{name}.zip")]) == 0
    meta = {}
    for name in ("a", "a-heldout"):
        with zipfile.ZipFile(tmp_path / f"{name}.zip") as zf:
            meta[name] = json.loads(zf.read("dataset.json"))
            sizes = {Image.open(zf.open(n)).size for n in zf.namelist() if n.endswith(".png")}
        assert sizes == {(32, 16)}                                     # aspect 2 at height 16
    assert meta["a"]["count"] == 30 and meta["a-heldout"]["count"] == 12
    assert len(meta["a-heldout"]["photos"]) == 3 and len(meta["a"]["photos"]) == 7
    assert not set(meta["a"]["photos"]) & set(meta["a-heldout"]["photos"])       # no training photo held back
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()      # same seed, same bytes
    assert main(args[:-1] + ["5", "--dest", str(tmp_path / "c.zip")]) == 0
    assert (tmp_path / "c.zip").read_bytes() != (tmp_path / "a.zip").read_bytes()


def test_crops_come_from_the_photos_at_their_pixel_values(tmp_path):
    from spatialgan.data.crops import CropPlan, make_crop_datasets

    photos = _photo_folder(tmp_path / "photos", count=3)
    make_crop_datasets(photos, tmp_path / "c.zip", CropPlan(8, 9, crop_size=(0.5, 0.5), seed=1))
    ds = ImageDataset(tmp_path / "c.zip", 8)
    means = sorted({round(float(ds[i].float().mean()) / 20) for i in range(9)})
    assert means == [0, 1, 2]                                          # each photo in turn, its own colour


@pytest.mark.parametrize("extra, message", [
    (["--crops", "0"], "--crops"), (["--crops", "4", "--crop-size", "0.5,2"], "--crop-size"),
    (["--crops", "4", "--aspect", "30"], "--aspect"), (["--crops", "4", "--hold-out", "1"], "--hold-out"),
    (["--crops", "4", "--aspect", "19", "--crop-size", "0.9,1"], "large enough"),
    (["--crops", "4", "--hold-out", "0.95"], "none to train on")])
def test_crop_tool_refuses_bad_input_in_one_line(tmp_path, capsys, extra, message):
    from spatialgan.cli import main

    photos = _photo_folder(tmp_path / "photos", count=4)
    assert main(["dataset", "--source", str(photos), "--dest", str(tmp_path / "x.zip"), "--resolution", "8",
                 *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.zip").exists()
