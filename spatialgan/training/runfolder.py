"""A run folder's identity: run.json holds the run id that every snapshot and stats line of the folder carries,
so that no run can be resumed into, or overwrite, another run's folder."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from spatialgan import SpatialGANError
from spatialgan.checkpoint import find_snapshots

RUN_FILE = "run.json"


def new_run_id() -> str:
    return uuid.uuid4().hex


def folder_run_id(folder: Path) -> str | None:
    """The id recorded in folder/run.json (None when the folder has none)."""
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text())["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        raise SpatialGANError(f"{path} is damaged; it should hold {{\"run_id\": ...}}") from None


def holds_a_run(folder: Path) -> bool:
    return bool(find_snapshots(folder)) or (Path(folder) / "stats.jsonl").exists()


def claim(folder: str | os.PathLike, run_id: str | None, origin: Path | None = None) -> str:
    """Makes `folder` the home of run `run_id` (None: a checkpoint from before run ids; it adopts the folder's id
    or gets a new one) and returns the id. `origin` is the folder the resumed checkpoint came from. Refuses a
    folder that holds another run."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SpatialGANError(f"--outdir {folder} is a file, not a folder")
    recorded = folder_run_id(folder)
    own = origin is not None and origin.resolve() == folder.resolve()
    if recorded is not None and run_id is not None and recorded != run_id:
        raise SpatialGANError(f"{folder} holds another run (id {recorded[:8]}, this one is {run_id[:8]}); resume "
                              "into the checkpoint's own folder or an empty one")
    if recorded is None and holds_a_run(folder) and not own:
        raise SpatialGANError(f"{folder} already holds a run; resume into the checkpoint's own folder or an empty "
                              "one, or choose another --outdir")
    run_id = run_id or recorded or new_run_id()
    if recorded != run_id:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / RUN_FILE).write_text(json.dumps({"run_id": run_id}) + "\n")
    return run_id


def remove_orphan_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Deletes `.network-snapshot-*.tmp` files left by a kill during a save (never a finished snapshot)."""
    removed = []
    for tmp in Path(folder).glob(".network-snapshot-*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed
