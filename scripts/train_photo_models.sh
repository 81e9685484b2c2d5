#!/usr/bin/env bash
# Trains the shipped models on crops of ../shared/data/photos-scenes.tar (180 scene photos; 15% of the photos held
# back for evaluation) on the CPU, evaluates them against the held-back crops, and exports G_ema of each to
# spatialgan/assets/models/. Resumable across sessions: rerun it and every unfinished run continues from its last
# snapshot; a finished run is reused, never retrained or overwritten.
# Usage: bash scripts/train_photo_models.sh [--resolution 32|64] [--only stylegan2,ssn,cips,scaleparty]
#                                           [--no-export] [OUT_DIR]
#   32: about 65 minutes on 2 CPU cores.  64: several hours per model, meant to span sessions (KIMG_<MODEL> overrides).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
res=32 only=stylegan2,ssn,cips,scaleparty export=1 out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --resolution) res="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --no-export) export=0; shift ;;
        -*) echo "error: unknown option $1" >&2; exit 2 ;;
        *) out="$1"; shift ;;
    esac
done
case "$res" in 32|64) ;; *) echo "error: --resolution must be 32 or 64" >&2; exit 2 ;; esac
bash "$root/scripts/setup_env.sh"
sg="$root/.venv/bin/spatialgan"
[ "$res" = 32 ] && out="${out:-$root/build/photo-models}" || out="${out:-$root/build/photo-models$res}"
photos="$root/../shared/data/photos-scenes.tar"
[ -f "$photos" ] || { echo "error: $photos not found (see ../shared/README.md)" >&2; exit 2; }
mkdir -p "$out"
if [ ! -d "$out/photos-scenes" ]; then tar xf "$photos" -C "$out"; fi
data="$out/photos$res.zip"
if [ ! -f "$data" ]; then
    crops=$([ "$res" = 32 ] && echo 20000 || echo 30000)
    "$sg" dataset --source "$out/photos-scenes" --dest "$data" --resolution "$res" --crops "$crops" \
        --crop-size 0.25,0.9 --hold-out 0.15 --hold-out-crops 4000 --seed 0
fi
if [ "$res" = 32 ]; then
    common=(--data "$data" --resolution 32 --batch 32 --width 64 --z-dim 128 --w-dim 128 --mapping-layers 4
            --device cpu --tick-kimg 2 --snap-kimg 10 --keep 2 --grid 64 --seed 0 --quiet --recipe ada)
    kimg_stylegan2=80 kimg_ssn=16 kimg_cips=60 kimg_scaleparty=30
else
    # 64 px: width 64 at batch 16 trains at ~10 img/s here (width 128: 2.8 img/s, fp32; this CPU has no bf16
    # units), so width 64 buys ~3.7x the images per CPU-hour (benchmarks/RESULTS.md, "64-px shipped models").
    common=(--data "$data" --resolution 64 --batch 16 --width 64 --z-dim 128 --w-dim 128 --mapping-layers 4
            --device cpu --tick-kimg 4 --snap-kimg 10 --keep 2 --grid 64 --seed 0 --quiet --recipe ada
            --metrics swd --metrics-num 1000)
    kimg_stylegan2=150 kimg_ssn=30 kimg_cips=120 kimg_scaleparty=80
fi
# recipe ada: StyleGAN2-ADA's values (R1 heuristic, bilinear), which these CPU budgets were measured with.
wanted() { [[ ",$only," == *",$1,"* ]]; }
exports="$root/spatialgan/assets/models"
exported_at_res() {   # the shipped G_ema of RUN when it is at this resolution (a restart point if build/ was lost)
    "$root/.venv/bin/python" - "$exports/$1.safetensors" "$res" <<'PY'
import sys
from pathlib import Path
from spatialgan.checkpoint import load_checkpoint
path = Path(sys.argv[1])
ok = path.is_file() and load_checkpoint(path)["config"].get("resolution") == int(sys.argv[2])
print(path if ok else "")
PY
}
train() {   # train RUN KIMG FLAGS...: a new run, or the same run continued to KIMG (a finished run returns at once)
    local run="$1" kimg="$2"; shift 2
    wanted "$run" || return 0
    if ls "$out/$run"/network-snapshot-*.safetensors >/dev/null 2>&1; then
        "$sg" train --resume "$out/$run" --kimg "$kimg" --quiet
        return 0
    fi
    local restart=""
    if [ "$run" = stylegan2 ]; then restart="$(exported_at_res stylegan2)"; fi
    if [ -n "$restart" ]; then    # the run folder is gone: continue from its exported G_ema (D starts afresh)
        echo "no $out/$run: restarting from $restart" >&2
        "$sg" train --outdir "$out/$run" --kimg "$kimg" "${common[@]}" --init-from "$restart" "$@"
    else
        "$sg" train --outdir "$out/$run" --kimg "$kimg" "${common[@]}" "$@"
    fi
}
newest() { ls "$out/$1"/network-snapshot-*.safetensors | tail -1; }
train stylegan2 "${KIMG_STYLEGAN2:-$kimg_stylegan2}"
# SSN the paper's way: from the trained StyleGAN2, fine-tuned with the distortion regularizer.
train ssn "${KIMG_SSN:-$kimg_ssn}" --model ssn --init-from "$(newest stylegan2)"
train cips "${KIMG_CIPS:-$kimg_cips}" --model cips --cips-layers 8 --panorama-frames 4 --style-mixing 0
train scaleparty "${KIMG_SCALEPARTY:-$kimg_scaleparty}" --model scaleparty
[ "$export" = 1 ] || exit 0
"$root/.venv/bin/python" - "$out" "$root/spatialgan/assets/models" <<'PY'
import sys
from pathlib import Path
from spatialgan.checkpoint import export_generator
out, dest = Path(sys.argv[1]), Path(sys.argv[2])
for name in ("ssn", "cips", "scaleparty", "stylegan2"):
    path = export_generator(out / name, dest / f"{name}.safetensors")
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MB")
PY
# Quality against the held-back photos, beside the real-vs-real floors (benchmarks/RESULTS.md, the demo report).
"$root/.venv/bin/python" "$root/benchmarks/photo_quality.py" --heldout "$out/photos$res-heldout.zip" \
    --train "$data" --models ssn,cips,scaleparty,stylegan2 --num 2000 \
    --out "$root/benchmarks/results/photo-quality.json" --quality-json "$root/spatialgan/assets/models/quality.json"
"$root/.venv/bin/python" "$root/benchmarks/training_curves.py" "$out"/{stylegan2,ssn,cips,scaleparty} \
    --out "$root/benchmarks/photo-training-curves.svg"
