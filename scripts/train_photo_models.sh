#!/usr/bin/env bash
# Trains the shipped 32x32 models on crops of ../shared/data/photos-scenes.tar (180 scene photos; 15% of the photos
# held back for evaluation) on the CPU, evaluates them against the held-back crops, and exports G_ema of each to
# spatialgan/assets/models/. Resumable: rerun it and finished runs are reused, interrupted ones continue.
# Usage: bash scripts/train_photo_models.sh [OUT_DIR]     (about 65 minutes on 2 CPU cores; KIMG_<MODEL> overrides)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh"
sg="$root/.venv/bin/spatialgan"
out="${1:-$root/build/photo-models}"
photos="$root/../shared/data/photos-scenes.tar"
[ -f "$photos" ] || { echo "error: $photos not found (see ../shared/README.md)" >&2; exit 2; }
mkdir -p "$out"
if [ ! -d "$out/photos-scenes" ]; then tar xf "$photos" -C "$out"; fi
if [ ! -f "$out/photos32.zip" ]; then
    "$sg" dataset --source "$out/photos-scenes" --dest "$out/photos32.zip" --resolution 32 --crops 20000 \
        --crop-size 0.25,0.9 --hold-out 0.15 --hold-out-crops 4000 --seed 0
fi
common=(--data "$out/photos32.zip" --resolution 32 --batch 32 --width 64 --z-dim 128 --w-dim 128 --mapping-layers 4
        --device cpu --tick-kimg 2 --snap-kimg 10 --keep 2 --grid 64 --seed 0 --quiet --recipe ada)
# recipe ada: StyleGAN2-ADA's values (R1 0.0064 at 32 px, bilinear), which these CPU budgets were measured with;
# ScaleParty's paper regime would need crops at 80 px (r_large / scale_min) and ~2x the compute.
train() {   # train RUN KIMG FLAGS...: a new run, or the same run continued to KIMG
    local run="$1" kimg="$2"; shift 2
    if ls "$out/$run"/network-snapshot-*.safetensors >/dev/null 2>&1; then
        "$sg" train --resume "$out/$run" --kimg "$kimg" --quiet
    else
        "$sg" train --outdir "$out/$run" --kimg "$kimg" "${common[@]}" "$@"
    fi
}
train stylegan2 ${KIMG_STYLEGAN2:-80}
newest() { ls "$out/$1"/network-snapshot-*.safetensors | tail -1; }
# SSN the paper's way: from the trained StyleGAN2, fine-tuned with the distortion regularizer at its defaults
# (learned encoder, lambda_D 100 on the metric's scale: the sweep in benchmarks/RESULTS.md).
train ssn ${KIMG_SSN:-16} --model ssn --init-from "$(newest stylegan2)"
train cips ${KIMG_CIPS:-60} --model cips --cips-layers 8 --panorama-frames 4 --style-mixing 0
train scaleparty ${KIMG_SCALEPARTY:-30} --model scaleparty
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
"$root/.venv/bin/python" "$root/benchmarks/photo_quality.py" --heldout "$out/photos32-heldout.zip" \
    --train "$out/photos32.zip" --models ssn,cips,scaleparty,stylegan2 --num 2000 \
    --out "$root/benchmarks/results/photo-quality.json" --quality-json "$root/spatialgan/assets/models/quality.json"
"$root/.venv/bin/python" "$root/benchmarks/training_curves.py" "$out"/{stylegan2,ssn,cips,scaleparty} \
    --out "$root/benchmarks/photo-training-curves.svg"
