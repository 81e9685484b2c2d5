"""Training curves of run folders as one SVG, and a kimg table: SWD against kimg of every run in one chart (the
metric the runs computed at each snapshot, `train --metrics swd`, against their training data), then each run's
G and D losses and D scores from stats.jsonl.

    python benchmarks/training_curves.py build/photo-models/{stylegan2,ssn,cips,scaleparty} \\
        --out benchmarks/photo-training-curves.svg
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spatialgan.demo import _svg_curves  # noqa: E402


def all_records(run: Path) -> list[dict]:
    """A run's stats.jsonl records; none when the run wrote none (e.g. it has only a snapshot)."""
    stats = run / "stats.jsonl"
    return [json.loads(x) for x in stats.read_text().splitlines() if x.strip()] if stats.exists() else []


def records(run: Path) -> list[dict]:
    return [r for r in all_records(run) if "tick" in r]


def median_speed(run: Path) -> float:
    """Median img/s over a run's ticks (a run may span sessions, so one process's wall time is not it)."""
    speeds = sorted(r["timing/img_per_sec"] for r in records(run) if "timing/img_per_sec" in r)
    return speeds[len(speeds) // 2] if speeds else float("nan")


def swd_rows(runs: list[Path]) -> list[dict]:
    """One record per snapshot metric, keyed by run name (the chart draws one line per key)."""
    return [{"kimg": r["kimg"], run.name: r["Metrics/swd"]} for run in runs for r in all_records(run)
            if "Metrics/swd" in r]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    runs = [Path(r) for r in args.runs]
    charts, height = [], 0
    swd = swd_rows(runs)
    if swd:
        charts.append('<g transform="translate(0,16)"><text x="5" y="-4" font-size="12">SWD x1e3 at each snapshot '
                      f"(against the training data) by kimg</text>{_svg_curves(swd, [r.name for r in runs])}</g>")
        height += 240
    print("| run | kimg | ticks | median img/s | G loss (last tick) | D loss (last tick) | SWD (last) |\n"
          "|---|---|---|---|---|---|---|")
    for run in runs:
        rows = records(run)
        last = rows[-1]
        last_swd = [r[run.name] for r in swd if run.name in r]
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
