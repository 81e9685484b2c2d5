"""Per-tick statistics: stats.jsonl (truncated to the resume point) and TensorBoard scalars."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import torch


class StatCollector:
    """Accumulates detached scalars per name and reports their means (one device sync per tick)."""

    def __init__(self):
        self.values: dict[str, list[torch.Tensor]] = defaultdict(list)

    def add(self, name: str, value: torch.Tensor | float) -> None:
        self.values[name].append(torch.as_tensor(value).detach().float().mean().cpu()
                                 if isinstance(value, torch.Tensor) else torch.tensor(float(value)))

    def means(self) -> dict[str, float]:
        out = {k: float(torch.stack(v).mean()) for k, v in sorted(self.values.items()) if v}
        self.values.clear()
        return out


class StatsLogger:
    """Appends one JSON line per tick; on resume, drops lines past the checkpoint so the log stays one run."""

    def __init__(self, outdir: str | Path, resume_nimg: int = 0, tensorboard: bool = True,
                 run_id: str | None = None):
        self.run_id = run_id                 # written on every line: the log says which run it belongs to
        self.path = Path(outdir) / "stats.jsonl"
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines()
                    if line.strip() and _nimg_of(line) is not None and _nimg_of(line) <= resume_nimg]
            self.path.write_text("".join(k + "\n" for k in kept))
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(outdir), purge_step=resume_nimg if resume_nimg else None)
            except ImportError:  # tensorboard is a dependency, but do not die over logging
                print("warning: tensorboard not installed; writing stats.jsonl only", file=sys.stderr)

    def log(self, record: dict) -> None:
        if self.run_id is not None:
            record = {**record, "run_id": self.run_id}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            step = int(record["nimg"])
            for k, v in record.items():
                if k not in ("nimg", "tick") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.writer.add_scalar(k, v, global_step=step)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _nimg_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["nimg"])
    except (ValueError, KeyError, TypeError):
        return None
