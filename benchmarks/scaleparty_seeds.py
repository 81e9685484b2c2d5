"""Tables of a ScaleParty objective comparison over seeds: per run, mean and range per objective, paired differences.

Reads the JSON files that benchmarks/scaleparty_consistency.py writes (one per seed) and prints Markdown:

    python benchmarks/scaleparty_seeds.py benchmarks/results/scaleparty-scratch-seed*.json --kimg 60
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

COLUMNS = (("selfssim", "SelfSSIM (paper)", 4, 1.0), ("selfssim_pairs", "all pairs", 4, 1.0),
           ("swd", "SWD x1e3", 1, 1.0), ("kid", "KID x1e3", 0, 1e3), ("diversity", "diversity", 3, 1.0))


def load_rows(paths: list[str], kimg: float | None) -> list[dict]:
    rows = [r for p in paths for r in json.loads(Path(p).read_text())]
    return [r for r in rows if kimg is None or r["kimg"] == kimg]


def cell(row: dict, key: str, digits: int, factor: float) -> str:
    return f"{row[key] * factor:.{digits}f}" if key in row else "-"


def runs_table(rows: list[dict]) -> str:
    sizes = sorted({s for r in rows for s in r.get("selfssim_per_size", {})}, key=float)
    head = ["objective", "seed", *(c[1] for c in COLUMNS[:1]), *(f"at {s} px" for s in sizes),
            *(c[1] for c in COLUMNS[1:]), "train img/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows, key=lambda r: (r["variant"], r["seed"])):
        per_size = [f"{r['selfssim_per_size'][s]:.4f}" if s in r.get("selfssim_per_size", {}) else "-"
                    for s in sizes]
        cells = [r["variant"], str(r["seed"]), cell(r, "selfssim", 4, 1.0), *per_size,
                 *(cell(r, key, digits, factor) for key, _, digits, factor in COLUMNS[1:]),
                 f"{r['img_per_sec']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mean_table(rows: list[dict]) -> str:
    head = ["objective", "seeds", *(c[1] for c in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant in sorted({r["variant"] for r in rows}):
        mine = [r for r in rows if r["variant"] == variant]
        cells = [variant, str(len(mine))]
        for key, _, digits, factor in COLUMNS:
            values = [r[key] * factor for r in mine if key in r]
            cells.append(f"{statistics.fmean(values):.{digits}f} (range {max(values) - min(values):.{digits}f})"
                         if values else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired(rows: list[dict], base: str, other: str) -> str:
    """`other` minus `base` per seed that has both, for each column."""
    by_key = {(r["variant"], r["seed"]): r for r in rows}
    seeds = sorted(s for v, s in by_key if v == other and (base, s) in by_key)
    lines = []
    for key, name, digits, factor in COLUMNS:
        diffs = [(by_key[(other, s)][key] - by_key[(base, s)][key]) * factor for s in seeds]
        text = ", ".join(f"{d:+.{digits}f}" for d in diffs)
        lines.append(f"- {name}: {other} - {base} per seed ({text}); mean {statistics.fmean(diffs):+.{digits}f}"
                     if diffs else f"- {name}: no seed has both")
    return "\n".join(lines)


def scales_table(rows: list[dict]) -> str:
    scales = sorted({k.split("@")[1] for r in rows for k in r if k.startswith("swd@")}, key=float)
    if not scales:
        return ""
    lines = ["| objective | metric, mean over seeds | " + " | ".join(f"{k} R" for k in scales) + " |",
             "|---|---|" + "---|" * len(scales)]
    for variant in sorted({r["variant"] for r in rows}):
        for metric, factor in (("swd", 1.0), ("kid", 1e3)):
            mine = [r for r in rows if r["variant"] == variant and f"{metric}@{scales[0]}" in r]
            if mine:
                cells = [f"{statistics.fmean(r[f'{metric}@{k}'] for r in mine) * factor:.1f}" for k in scales]
                lines.append(f"| {variant} | {metric.upper()} x1e3 ({len(mine)} seeds) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", help="JSON files of benchmarks/scaleparty_consistency.py")
    p.add_argument("--kimg", type=float, default=None, help="only runs of this length")
    p.add_argument("--base", default="none", help="the objective the paired differences are taken against")
    args = p.parse_args()
    rows = load_rows(args.results, args.kimg)
    print(runs_table(rows), "", mean_table(rows), "", sep="\n")
    for other in sorted({r["variant"] for r in rows} - {args.base}):
        print(paired(rows, args.base, other))
    print("\n" + scales_table(rows))


if __name__ == "__main__":
    main()
