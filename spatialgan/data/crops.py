"""Random-crop datasets from a folder of photos, with whole photos held back for evaluation (`dataset --crops`).

Each crop is a rectangle of aspect `aspect` (width / height) whose height is a fraction, uniform in `crop_size`,
of the photo's shorter side, at a uniform random place, resized (Lanczos) to round(R * aspect) x R. A fraction of
the photos, chosen by the seed, is held back: its crops go to a separate zip, so an evaluation against it never
sees a training photo. Everything is a function of the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatialgan import SpatialGANError
from spatialgan.data.dataset import RESIZE_FILTER, decode_image, open_source
from spatialgan.data.pack import pack_images
from spatialgan.options import option, validate


def _range(text: str) -> tuple:
    from spatialgan.rendering import parse_floats

    return parse_floats(text, 2, "--crop-size")


MAX_CROP_PIXELS = 16_777_216      # 4096 x 4096, or a 16384 x 1024 panorama strip


@dataclass
class CropPlan:
    """What `dataset --crops` cuts (declared options: the flags and their help come from here)."""

    resolution: int = option(32, "output height in pixels (width: times --aspect)", low=1, high=8192, cli=False,
                            flag="--resolution")
    crops: int = option(1, "random crops to write (from all training photos)", low=1, cli=False, flag="--crops")
    crop_size: tuple = option((0.1, 0.6), "MIN,MAX crop height as a fraction of a photo's shorter side",
                              parse=_range)
    aspect: float = option(1.0, "crop width / height (e.g. 4 for panorama strips)", low=0.05, high=20)
    hold_out: float = option(0.0, "fraction of the photos held back (whole photos) for evaluation, in "
                             "DEST-heldout.zip", low=0, high=0.999)
    hold_out_crops: int | None = option(None, "crops of the held-back photos (default: crops / 4)", low=1)
    seed: int = option(0, "seed of the split and the crops", low=0)

    def check(self) -> None:
        validate(self)
        pixels = max(1, round(self.resolution * self.aspect)) * self.resolution
        if pixels > MAX_CROP_PIXELS:
            raise SpatialGANError(f"crops of {round(self.resolution * self.aspect)}x{self.resolution} pixels are over "
                                  f"the limit of {MAX_CROP_PIXELS / 1e6:g} megapixels per crop; lower --resolution "
                                  "or --aspect")
        lo, hi = self.crop_size
        if not (0 < lo <= hi <= 1):
            raise SpatialGANError(f"--crop-size needs 0 < MIN <= MAX <= 1 (fractions of a photo's shorter side), "
                                  f"got {lo:g},{hi:g}")


def held_out_path(dest: str | Path) -> Path:
    dest = Path(dest)
    return dest.with_name(dest.stem + "-heldout" + dest.suffix)


def split_photos(names: list[str], hold_out: float, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-back indices): a seeded shuffle, the first ceil(hold_out * n) held back."""
    order = np.random.default_rng(seed).permutation(len(names)).tolist()
    count = math.ceil(hold_out * len(names)) if hold_out > 0 else 0
    if hold_out > 0 and count >= len(names):
        raise SpatialGANError(f"--hold-out {hold_out:g} of {len(names)} photos leaves none to train on")
    return sorted(order[count:]), sorted(order[:count])


def _fits(size: tuple[int, int], plan: CropPlan) -> bool:
    w, h = size
    height = plan.crop_size[0] * min(w, h)
    return height >= 1 and height * plan.aspect <= w and height <= h


def random_crops(photos: list[tuple[str, object]], count: int, plan: CropPlan, seed: int):
    """Yields (name, image): `count` crops, photo by photo in turn (each photo as often as the others)."""
    rng = np.random.default_rng(seed)
    out_w, out_h = max(1, round(plan.resolution * plan.aspect)), plan.resolution
    for k in range(count):
        name, img = photos[k % len(photos)]
        w, h = img.size
        hi = min(plan.crop_size[1], w / (plan.aspect * min(w, h)), h / min(w, h))     # the crop must fit
        side = min(w, h) * rng.uniform(plan.crop_size[0], max(plan.crop_size[0], hi))
        cw, ch = max(1, round(side * plan.aspect)), max(1, round(side))
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        yield f"{name}#{k}", img.crop((left, top, left + cw, top + ch)).resize((out_w, out_h), RESIZE_FILTER)


def make_crop_datasets(source, dest, plan: CropPlan) -> list:
    """Writes `dest` (crops of the training photos) and, with a hold-out, dest-heldout.zip; returns the
    PackSummary of each."""
    plan.check()
    src = open_source(source)
    photos, skipped = [], []
    for i in range(len(src.names)):
        try:
            photos.append((src.describe(i), decode_image(src.read(i))))
        except Exception as exc:      # an unreadable photo is listed, not fatal
            skipped.append(src.describe(i))
            print(f"warning: skipping unreadable photo {src.describe(i)} ({type(exc).__name__})")
    usable = [(n, img) for n, img in photos if _fits(img.size, plan)]
    if not usable:
        raise SpatialGANError(f"no photo in {source} is large enough for crops of aspect {plan.aspect:g} at "
                              f"{plan.crop_size[0]:g} of its shorter side")
    train_idx, held_idx = split_photos([n for n, _ in usable], plan.hold_out, plan.seed)
    desc = (f"random crops of {source}: {plan.crops} from {len(train_idx)} photos, crop height "
            f"{plan.crop_size[0]:g}-{plan.crop_size[1]:g} of the shorter side, aspect {plan.aspect:g}, seed "
            f"{plan.seed}")
    train = [usable[i] for i in train_idx]
    summaries = [pack_images(random_crops(train, plan.crops, plan, plan.seed), dest, plan.resolution, desc,
                             {"split": "train", "photos": [n for n, _ in train], "aspect": plan.aspect})]
    if held_idx:
        held = [usable[i] for i in held_idx]
        count = plan.hold_out_crops or max(1, plan.crops // 4)
        summaries.append(pack_images(random_crops(held, count, plan, plan.seed + 1), held_out_path(dest),
                                     plan.resolution, f"held-back photos of {source}, seed {plan.seed}",
                                     {"split": "held-out", "photos": [n for n, _ in held], "aspect": plan.aspect}))
    return summaries
