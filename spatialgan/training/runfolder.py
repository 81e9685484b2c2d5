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


# Options that may change when a run continues in its own folder: they decide how long it runs and what it logs,
# not what it computes. Any other changed option makes the resume a new run (a branch).
CONTINUATION_OPTIONS = frozenset({"kimg", "outdir", "tick_kimg", "snap_kimg", "keep", "workers", "device", "grid",
                                  "metrics", "metrics_num", "metrics_features", "metrics_weights"})


def changed_options(saved: dict, given: dict) -> list[str]:
    """The given options whose values differ from the checkpoint's and are not continuation options."""
    return sorted(k for k, v in given.items() if k not in CONTINUATION_OPTIONS and k in saved and saved[k] != v)


def _write(folder: Path, record: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{RUN_FILE}.tmp"
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, folder / RUN_FILE)


def claim(folder: str | os.PathLike, run_id: str | None, resume: "Resume | None" = None) -> str:
    """Makes `folder` the home of a run and returns its id, or refuses before anything is written.

    A new run (resume None) needs a folder without another run. A resume continues the same run only in the
    checkpoint's own folder, from its newest snapshot, with no option changed but the continuation ones; a
    checkpoint from before run ids then adopts the folder's id (or gets one). Any other resume is a new run (a
    branch): a new id, the parent recorded in run.json, and a folder that holds no run, so that no resume can
    overwrite work that is already written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SpatialGANError(f"--outdir {folder} is a file, not a folder")
    recorded = folder_run_id(folder)
    if resume is None:
        if recorded is not None and recorded != run_id or recorded is None and holds_a_run(folder):
            raise SpatialGANError(f"{folder} already holds a run; choose another --outdir")
        if recorded != run_id:
            _write(folder, {"run_id": run_id})
        return run_id
    if resume.origin.resolve() == folder.resolve() and not resume.changed:
        return _continue(folder, recorded, run_id, resume)
    if recorded is not None or holds_a_run(folder):
        why = (f"the changed options ({', '.join('--' + c.replace('_', '-') for c in resume.changed)}) make a "
               "new run" if resume.changed else "a resume into another folder is a new run")
        owner = "another run" if recorded is not None and recorded != run_id else "a run"
        raise SpatialGANError(f"{folder} holds {owner}; {why}, which needs an empty --outdir")
    branch = new_run_id()
    _write(folder, {"run_id": branch, "parent": {"run_id": run_id, "checkpoint": str(resume.checkpoint),
                                                 "nimg": resume.nimg}})
    return branch


def _continue(folder: Path, recorded: str | None, run_id: str | None, resume: "Resume") -> str:
    if recorded is not None and run_id is not None and recorded != run_id:
        raise SpatialGANError(f"{folder} holds another run (id {recorded[:8]}, this one is {run_id[:8]}); resume "
                              "into the checkpoint's own folder or an empty one")
    later = [s.name for s in find_snapshots(folder) if snapshot_nimg(s) > resume.nimg]
    if later:
        raise SpatialGANError(f"{resume.checkpoint.name} is older than {len(later)} snapshot(s) of its folder (newest "
                              f"{later[-1]}); continuing it there would overwrite them: resume it with another "
                              "--outdir (a new run), or resume the folder to continue from its newest snapshot")
    run_id = run_id or recorded or new_run_id()
    if recorded != run_id:
        _write(folder, {"run_id": run_id})
    return run_id


class Resume:
    """Where a resumed run comes from: the checkpoint, its image count and the options changed on the command."""

    def __init__(self, checkpoint: Path, nimg: int, changed: list[str]):
        self.checkpoint, self.nimg, self.changed = Path(checkpoint), int(nimg), list(changed)

    @property
    def origin(self) -> Path:
        return self.checkpoint.parent


def snapshot_nimg(path: Path) -> int:
    digits = "".join(ch for ch in Path(path).name.split("-")[-1].split(".")[0] if ch.isdigit())
    return int(digits) if digits else -1


def remove_orphan_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Deletes `.network-snapshot-*.tmp` files left by a kill during a save (never a finished snapshot)."""
    removed = []
    for tmp in Path(folder).glob(".network-snapshot-*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed
