#!/usr/bin/env bash
# Rebuilds the shipped demo models in spatialgan/assets/models/: runs `spatialgan demo` (which trains a StyleGAN2,
# an SSN fine-tuned from it, a cylindrical CIPS and a ScaleParty on scikit-image's bundled CC0/public-domain
# photos, about 10 minutes on 2 CPU cores) and exports each model's G_ema with its config.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh"
out="${1:-$root/build/shipped-demo}"
"$root/.venv/bin/spatialgan" demo --outdir "$out"
"$root/.venv/bin/python" - "$out" "$root/spatialgan/assets/models" <<'PY'
import sys
from pathlib import Path
from spatialgan.checkpoint import export_generator
out, dest = Path(sys.argv[1]), Path(sys.argv[2])
for name, run in (("ssn", "ssn-run"), ("cips", "cips-run"), ("scaleparty", "scaleparty-run")):
    path = export_generator(out / run, dest / f"{name}.safetensors")
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MB")
PY
