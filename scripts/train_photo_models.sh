#!/usr/bin/env bash
# Trains the shipped models on crops of ../shared/data/photos-scenes.tar (180 scene photos; 15% of the photos held
# back for evaluation) on the CPU, evaluates them against the held-back crops, and exports G_ema of each to
# spatialgan/assets/models/. Resumable across sessions: rerun it and every unfinished run continues from its last
# snapshot; a finished run is reused, never retrained or overwritten.
# A run folder that is gone restarts from its exported G_ema at the same resolution (D afresh), if there is one, and
# trains the kimg its export still lacks; an export with fewer than 10 kimg left is kept as it is (a fresh D needs
# more to catch up). SSN, lost and unfinished, starts again from its StyleGAN2.
# Usage: bash scripts/train_photo_models.sh [--resolution 32|64] [--only stylegan2,ssn,cips,scaleparty]
#                                           [--no-export] [--exports DIR] [--results DIR] [OUT_DIR]
#   32: about 65 minutes on 2 CPU cores.  64: several hours per model, meant to span sessions (KIMG_<MODEL> overrides).
#   SSN_ENCODER, SSN_LAMBDA, SSN_GRID: the SSN run's --spatial-encoder, --lambda-distortion and --latent-grid (when it
#   starts; a resumed run keeps its own), e.g. the choice of the 64-px sweep (benchmarks/ssn_distortion.py).
#   --exports: where the G_ema files go and restarts come from (default spatialgan/assets/models); --results: where
#   the quality JSON (results/photo-quality-RES.json) and the SWD curves (photo-training-curves-RES.svg) go.
#   PHOTO_MODELS_SMOKE=1: tiny networks and datasets, for the test of this script's resume rules.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
res=32 only=stylegan2,ssn,cips,scaleparty export=1 out="" exports="$root/spatialgan/assets/models" ssn_track=()
results="$root/benchmarks"
while [ $# -gt 0 ]; do
    case "$1" in
        --resolution) res="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --no-export) export=0; shift ;;
        --exports) exports="$2"; shift 2 ;;
        --results) results="$2"; shift 2 ;;
        -*) echo "error: unknown option $1" >&2; exit 2 ;;
        *) out="$1"; shift ;;
    esac
done
case "$res" in 32|64) ;; *) echo "error: --resolution must be 32 or 64" >&2; exit 2 ;; esac
wanted() { [[ ",$only," == *",$1,"* ]]; }
bash "$root/scripts/setup_env.sh"
sg="$root/.venv/bin/spatialgan"
[ "$res" = 32 ] && out="${out:-$root/build/photo-models}" || out="${out:-$root/build/photo-models$res}"
photos="$root/../shared/data/photos-scenes.tar"
[ -f "$photos" ] || { echo "error: $photos not found (see ../shared/README.md)" >&2; exit 2; }
mkdir -p "$out"
if [ ! -d "$out/photos-scenes" ]; then tar xf "$photos" -C "$out"; fi
data="$out/photos$res.zip"
smoke="${PHOTO_MODELS_SMOKE:-0}"
if [ ! -f "$data" ]; then
    crops=$([ "$res" = 32 ] && echo 20000 || echo 30000) held=4000
    if [ "$smoke" = 1 ]; then crops=64 held=16; fi
    "$sg" dataset --source "$out/photos-scenes" --dest "$data" --resolution "$res" --crops "$crops" \
        --crop-size 0.25,0.9 --hold-out 0.15 --hold-out-crops "$held" --seed 0
fi
# ScaleParty's own reals: at 64 px it trains in its paper regime (r_small = R, r_large = 1.5 R, regions down to
# 0.6 of the frame), whose densest region needs reals at 1.5 R / 0.6 = 2.5 R px; they are never upsampled.
sp_flags=() sp_res=$((res * 5 / 2))
if [ "$res" = 64 ] || [ "$smoke" = 1 ]; then
    sp_data="$out/photos$sp_res.zip"
    if [ ! -f "$sp_data" ] && wanted scaleparty; then
        sp_crops=$([ "$smoke" = 1 ] && echo 64 || echo 12000)
        "$sg" dataset --source "$out/photos-scenes" --dest "$sp_data" --resolution "$sp_res" --crops "$sp_crops" \
            --crop-size 0.25,0.9 --hold-out 0.15 --hold-out-crops 16 --seed 0
    fi
    sp_flags=(--data "$sp_data" --scale-regime paper)
fi
if [ "$res" = 32 ]; then
    common=(--data "$data" --resolution 32 --batch 32 --width 64 --z-dim 128 --w-dim 128 --mapping-layers 4
            --device cpu --tick-kimg 2 --snap-kimg 10 --keep 2 --grid 64 --seed 0 --quiet --recipe ada)
    kimg_stylegan2=80 kimg_ssn=16 kimg_cips=60 kimg_scaleparty=30
else
    # 64 px: width 64 at batch 16 trained at ~10 img/s on the AMD CPU without bf16 units (width 128: 2.8 img/s),
    # ~3.7x the images per CPU-hour; on a Xeon with AMX bf16, width 64 trains at 28 img/s and width 128 at 12
    # (benchmarks/RESULTS.md, "64-px shipped models", "CPU bf16 measured on a CPU with bf16 units").
    common=(--data "$data" --resolution 64 --batch 16 --width 64 --z-dim 128 --w-dim 128 --mapping-layers 4
            --device cpu --tick-kimg 4 --snap-kimg 10 --keep 2 --grid 64 --seed 0 --quiet --recipe ada
            --metrics swd --metrics-num 1000)
    # SSN stops at 14 kimg: under lambda_D 100 its diversity falls below 0.7x of its start after ~16 kimg and it
    # collapses by 30 (benchmarks/RESULTS.md, "SSN lambda_D 100 followed"); its snapshots record diversity.
    # CIPS stops at 81 kimg, where the shipped one stopped: taken on to 120 from that export with a fresh D it came
    # out worse on held-back photos (SWD 79.2 -> 87.8; RESULTS.md, "CIPS continued from its export").
    kimg_stylegan2=150 kimg_ssn=14 kimg_cips=81 kimg_scaleparty=80 ssn_track=(--metrics swd,diversity)
fi
restart_min_kimg=10
if [ "$smoke" = 1 ]; then
    common=(--data "$data" --resolution "$res" --batch 4 --width 8 --z-dim 8 --w-dim 8 --mapping-layers 2
            --device cpu --tick-kimg 0.008 --snap-kimg 0.008 --keep 2 --grid 4 --seed 0 --quiet --recipe ada
            --metrics swd --metrics-num 16)
    restart_min_kimg=0.004
fi
# recipe ada: StyleGAN2-ADA's values (R1 heuristic, bilinear), which these CPU budgets were measured with.
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
exported_kimg() {   # the kimg RUN's export was trained for
    "$root/.venv/bin/python" - "$exports/$1.safetensors" <<'PY'
import sys
from spatialgan.checkpoint import load_checkpoint, trained_kimg
print(trained_kimg(load_checkpoint(sys.argv[1])))
PY
}
kimg_left() { awk -v total="$1" -v done="$2" 'BEGIN { printf "%.3f", total - done }'; }
restart_kimg() {   # the export kimg a restarted run counts on from (0 for a run that started afresh)
    "$root/.venv/bin/python" - "$out/$1" <<'PY'
import sys
from spatialgan.checkpoint import restart_kimg
print(restart_kimg(sys.argv[1]))
PY
}
train() {   # train RUN KIMG FLAGS...: a new run, or the same run continued to KIMG (a finished run returns at once)
    local run="$1" kimg="$2"; shift 2
    wanted "$run" || return 0
    if ls "$out/$run"/network-snapshot-*.safetensors >/dev/null 2>&1; then
        "$sg" train --resume "$out/$run" --kimg "$(kimg_left "$kimg" "$(restart_kimg "$run")")" --quiet
        return 0
    fi
    local restart done_kimg left
    restart="$(exported_at_res "$run")"
    if [ -n "$restart" ]; then    # the run folder is gone, its export is here
        done_kimg="$(exported_kimg "$run")"
        left="$(kimg_left "$kimg" "$done_kimg")"
        if awk -v left="$left" -v least="$restart_min_kimg" 'BEGIN { exit !(left < least) }'; then
            echo "$run: kept as exported ($done_kimg of $kimg kimg; $left left is too few for a fresh D)" >&2
            return 0
        fi
    fi
    if [ -n "$restart" ] && [ "$run" != ssn ]; then    # continue from its exported G_ema (D starts afresh)
        echo "no $out/$run: restarting from $restart at $done_kimg kimg for the $left kimg left" >&2
        # its curve, its resumes and its export continue the export's kimg count
        "$root/.venv/bin/python" - "$out/$run" "$restart" "$done_kimg" <<'PY'
import sys
from spatialgan.checkpoint import record_restart
record_restart(sys.argv[1], sys.argv[2], float(sys.argv[3]))
PY
        "$sg" train --outdir "$out/$run" --kimg "$left" "${common[@]}" --init-from "$restart" "$@"
    else                           # a new run (SSN: from its StyleGAN2 again)
        "$sg" train --outdir "$out/$run" --kimg "$kimg" "${common[@]}" "$@"
    fi
}
newest() { { ls "$out/$1"/network-snapshot-*.safetensors 2>/dev/null || true; } | tail -1; }
train stylegan2 "${KIMG_STYLEGAN2:-$kimg_stylegan2}"
# SSN the paper's way: from the trained StyleGAN2 (its run, or its export if the run is gone), fine-tuned with the
# distortion regularizer.
if wanted ssn; then
    source="$(newest stylegan2)"
    source="${source:-$(exported_at_res stylegan2)}"
    [ -n "$source" ] || { echo "error: SSN needs the $res-px StyleGAN2 first (--only stylegan2)" >&2; exit 2; }
    ssn_flags=("${ssn_track[@]}")
    if [ -n "${SSN_ENCODER:-}" ]; then ssn_flags+=(--spatial-encoder "$SSN_ENCODER"); fi
    if [ -n "${SSN_LAMBDA:-}" ]; then ssn_flags+=(--lambda-distortion "$SSN_LAMBDA"); fi
    if [ -n "${SSN_GRID:-}" ]; then ssn_flags+=(--latent-grid "$SSN_GRID"); fi
    train ssn "${KIMG_SSN:-$kimg_ssn}" --model ssn --init-from "$source" "${ssn_flags[@]}"
fi
train cips "${KIMG_CIPS:-$kimg_cips}" --model cips --cips-layers 8 --panorama-frames 4 --style-mixing 0
train scaleparty "${KIMG_SCALEPARTY:-$kimg_scaleparty}" --model scaleparty "${sp_flags[@]}"
[ "$export" = 1 ] || exit 0
mkdir -p "$exports"
"$root/.venv/bin/python" - "$out" "$exports" "$only" <<'PY'
import sys
from pathlib import Path
from spatialgan.checkpoint import export_generator
out, dest, only = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(",")
for name in ("ssn", "cips", "scaleparty", "stylegan2"):
    if name in only:
        path = export_generator(out / name, dest / f"{name}.safetensors")
        print(f"{path}: {path.stat().st_size / 2**20:.1f} MB")
PY
# Quality of every exported model at this resolution against the held-back photos, beside the real-vs-real floors
# (benchmarks/RESULTS.md, the demo report), and the training curves.
models=""
for name in ssn cips scaleparty stylegan2; do
    [ -n "$(exported_at_res "$name")" ] && models="$models${models:+,}$exports/$name.safetensors"
done
num=$([ "$smoke" = 1 ] && echo 8 || echo 2000)
"$root/.venv/bin/python" "$root/benchmarks/photo_quality.py" --heldout "$out/photos$res-heldout.zip" \
    --train "$data" --models "$models" --num "$num" --out "$results/results/photo-quality-$res.json" \
    --quality-json "$exports/quality.json"
runs=()
for name in stylegan2 ssn cips scaleparty; do [ -d "$out/$name" ] && runs+=("$out/$name"); done
"$root/.venv/bin/python" "$root/benchmarks/training_curves.py" "${runs[@]}" \
    --out "$results/photo-training-curves-$res.svg" --history "$results/results/photo-training-curves-$res.json"
