"""Atomic file writes: a temporary file in the target's folder, fsynced, then renamed over the target, so a failed
write (a full disk, a kill) never leaves a partial file nor replaces a good one with a broken one."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from spatialgan import SpatialGANError


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Writes `data` to `path` all or nothing; an OSError becomes a one-line SpatialGANError naming the file."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SpatialGANError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SpatialGANError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _sync_folder(folder: Path) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:                  # some file systems cannot fsync a folder; the rename is still atomic
        pass
    finally:
        os.close(dir_fd)


def save_image_atomic(image, path: str | os.PathLike) -> Path:
    """A PIL image, encoded in memory in the format its suffix names, then written atomically."""
    from PIL import Image

    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise SpatialGANError(f"{path}: Pillow cannot write images with the suffix {path.suffix!r}")
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return write_atomic(path, buf.getvalue())
