#!/usr/bin/env bash
# Sets up the environment, then trains the embedded demo and writes its HTML report (default: ./demo-out).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh"
exec "$root/.venv/bin/spatialgan" demo "$@"
