#!/usr/bin/env bash
# Sets up the environment, then runs the whole test suite (extra arguments go to pytest).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh"
# The studio's browser test drives Debian's Chromium; install it when missing (the test skips loudly without it).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 &&
            apt-get install -y -qq chromium >/dev/null 2>&1) || echo "!!! could not install chromium" >&2
    else
        echo "!!! chromium is missing and cannot be installed here: the browser test will be skipped" >&2
    fi
fi
cd "$root"
"$root/.venv/bin/ruff" check --quiet "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
