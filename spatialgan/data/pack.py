"""`spatialgan dataset`: decode, crop and resize every image once and pack the results into a .zip of PNGs."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from spatialgan import SpatialGANError
from spatialgan.data.dataset import RESIZE_FILTER, decode_image, open_source, prepare_image


@dataclass
class PackSummary:
    dest: str
    count: int
    resolution: int
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"wrote {self.count} images at {self.resolution}x{self.resolution} to {self.dest}",
                 f"skipped {len(self.skipped)} unreadable file(s)"]
        lines += [f"  {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)


def pack_images(images, dest: str | os.PathLike, resolution: int, source_desc: str = "", extra: dict | None = None
                ) -> PackSummary:
    """Writes an iterable of (name, PIL image or Exception) to `dest` atomically; exceptions are skipped. `extra`
    goes into the zip's dataset.json."""
    dest = Path(dest)
    if dest.suffix.lower() != ".zip":
        raise SpatialGANError(f"--dest must end in .zip, got {dest}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    summary = PackSummary(str(dest), 0, resolution)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, img in images:
                if isinstance(img, Exception):
                    summary.skipped.append((name, str(img)))
                    continue
                buf = io.BytesIO()
                img.save(buf, format="PNG", compress_level=1)
                zf.writestr(f"img{summary.count:08d}.png", buf.getvalue())
                summary.count += 1
            zf.writestr("dataset.json", json.dumps({
                "resolution": resolution, "count": summary.count, "source": source_desc,
                "resize_filter": "lanczos", "skipped": [n for n, _ in summary.skipped], **(extra or {})}, indent=1))
        if summary.count == 0:
            raise SpatialGANError(f"no readable images in {source_desc or 'the source'}; nothing written")
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return summary


def pack_dataset(source: str | os.PathLike, dest: str | os.PathLike, resolution: int, crop: str = "center"
                 ) -> PackSummary:
    """Packs a folder, zip or LMDB into a zip of `resolution`-square PNGs, skipping unreadable files."""
    src = open_source(source)

    def images():
        for i in range(len(src.names)):
            try:
                yield src.describe(i), prepare_image(decode_image(src.read(i)), resolution, crop)
            except Exception as exc:  # report and continue; the summary lists every skipped file
                yield src.describe(i), exc

    return pack_images(images(), dest, resolution, str(source))


__all__ = ["pack_dataset", "pack_images", "PackSummary", "RESIZE_FILTER"]
