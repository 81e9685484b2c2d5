#!/usr/bin/env bash
# Creates ./.venv and installs spatialgan with its pinned torch; re-runs the install when the project files change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
stamp_src="$(cat "$root/pyproject.toml" "$root/requirements-pinned.txt" | sha256sum | cut -c1-16)"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if [ "$(cat "$venv/.spatialgan-stamp" 2>/dev/null)" != "$stamp_src" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    "$venv/bin/python" -m pip install --quiet -r "$root/requirements-pinned.txt"
    "$venv/bin/python" -m pip install --quiet -e "$root[test]"
    echo "$stamp_src" > "$venv/.spatialgan-stamp"
fi
