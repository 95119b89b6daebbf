#!/usr/bin/env bash
# Create bench/.venv: Ferry (editable, dev extras) plus the peers the batch bench runs against.
# Ray lives here, never in Ferry's own .venv. Idempotent: a stamp skips the install when nothing
# changed.
set -euo pipefail

cd "$(dirname "$0")/../.."
VENV=bench/.venv
RAY_VERSION=2.60.0 # the newest `pip index versions ray` lists on this machine
STAMP="$VENV/.bench-installed-ray-$RAY_VERSION"

if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install --quiet uv
fi
if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ]; then
    exit 0
fi
uv venv --quiet --allow-existing "$VENV" --python 3.11
uv pip install --quiet --python "$VENV/bin/python" -e '.[dev]' \
    "ray[data]==$RAY_VERSION" numpy psutil py-spy
touch "$STAMP"
