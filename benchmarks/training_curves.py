"""Training curves of run folders as one SVG, and a kimg table: SWD against kimg of every run in one chart (the
metric the runs computed at each snapshot, `train --metrics swd`, against their training data), then each run's
G and D losses and D scores from stats.jsonl. A run restarted from an export (its restart record, written by
scripts/train_photo_models.sh) continues that export's kimg. --history keeps every run's SWD series in a JSON file,
so a run folder that is later lost keeps its curve.

    python benchmarks/training_curves.py build/photo-models/{stylegan2,ssn,cips,scaleparty} \\
        --out benchmarks/photo-training-curves.svg --history benchmarks/results/photo-training-curves.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialgan.checkpoint import restart_kimg  # noqa: E402
from spatialgan.demo import _svg_curves  # noqa: E402


def all_records(run: Path) -> list[dict]:
    """A run's stats.jsonl records; none when the run wrote none (e.g. it has only a snapshot)."""
    stats = run / "stats.jsonl"
    return [json.loads(x) for x in stats.read_text().splitlines() if x.strip()] if stats.exists() else []


def records(run: Path) -> list[dict]:
    offset = restart_kimg(run)
    return [{**r, "kimg": r["kimg"] + offset} if "kimg" in r else r for r in all_records(run) if "tick" in r]


def median_speed(run: Path) -> float:
    """Median img/s over a run's ticks (a run may span sessions, so one process's wall time is not it)."""
    speeds = sorted(r["timing/img_per_sec"] for r in records(run) if "timing/img_per_sec" in r)
    return speeds[len(speeds) // 2] if speeds else float("nan")


def swd_series(run: Path) -> list[list[float]]:
    """[kimg, SWD] at each of a run's snapshot metrics."""
    offset = restart_kimg(run)
    return [[r["kimg"] + offset, r["Metrics/swd"]] for r in all_records(run) if "Metrics/swd" in r]


def run_key(run: Path) -> str:
    """The run's id (run.json), so that one model's successive runs (e.g. a restart) stay apart in the history."""
    recorded = run / "run.json"
    return json.loads(recorded.read_text())["run_id"] if recorded.exists() else str(run.resolve())


def merged_history(runs: list[Path], history: Path | None) -> dict[str, dict[str, list]]:
    """{model: {run id: series}}: the history file's series, updated with the runs given (and saved back)."""
    kept = json.loads(history.read_text())["runs"] if history is not None and history.exists() else {}
    for run in runs:
        kept.setdefault(run.name, {})[run_key(run)] = swd_series(run)
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
        history.write_text(json.dumps({"about": "SWD x1e3 against the training data at each snapshot, [kimg, swd], "
                                                "per model and run id (benchmarks/training_curves.py)",
                                       "runs": kept}, indent=1) + "\n")
    return kept


def swd_rows(series: dict[str, dict[str, list]]) -> list[dict]:
    """One record per snapshot metric, keyed by model name (the chart draws one line per key, in kimg order)."""
    return [{"kimg": k, name: v} for name, by_run in series.items()
            for k, v in sorted(p for points in by_run.values() for p in points)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--history", help="JSON file of every run's SWD series: read, updated with these runs, saved")
    args = p.parse_args()
    runs = [Path(r) for r in args.runs]
    charts, height = [], 0
    series = merged_history(runs, Path(args.history) if args.history else None)
    swd = swd_rows(series)
    if swd:
        charts.append('<g transform="translate(0,16)"><text x="5" y="-4" font-size="12">SWD x1e3 at each snapshot '
                      f"(against the training data) by kimg</text>{_svg_curves(swd, list(series))}</g>")
        height += 240
    print("| run | kimg | ticks | median img/s | G loss (last tick) | D loss (last tick) | SWD (last) |\n"
          "|---|---|---|---|---|---|---|")
    for run in runs:
        rows = records(run)
        last = rows[-1]
        last_swd = [v for _, v in series[run.name][run_key(run)]]
        print(f"| {run.name} | {last['kimg']:.1f} | {len(rows)} | {median_speed(run):.1f} | "
              f"{last.get('Loss/G/loss', float('nan')):.3f} | {last.get('Loss/D/loss', float('nan')):.3f} | "
              f"{last_swd[-1] if last_swd else float('nan'):.1f} |")
        chart = _svg_curves(rows, ["Loss/G/loss", "Loss/D/loss", "Loss/scores/real", "Loss/scores/fake"])
        charts.append(f'<g transform="translate(0,{height + 16})"><text x="5" y="-4" font-size="12">{run.name}'
                      f"</text>{chart}</g>")
        height += 240
    Path(args.out).write_text(f'<svg width="520" height="{height + 16}" xmlns="http://www.w3.org/2000/svg">'
                              + "".join(charts) + "</svg>\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
