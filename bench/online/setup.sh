#!/usr/bin/env bash
# Create bench/.venv-online: Ferry (editable) plus the peer the online bench runs against,
# azureml-inference-server-http (azmlinfsrv), plus httpx and a CPU torch for the batching bench.
# It never touches Ferry's own .venv. Idempotent: a stamp skips the install when nothing changed.
set -euo pipefail

cd "$(dirname "$0")/../.."
VENV=bench/.venv-online
AMLINF_VERSION=1.5.1 # the newest the index offers here; installs with gunicorn and flask 3
TORCH_VERSION=2.13.0 # pinned: an unpinned torch pulls multi-GB CUDA builds
STAMP="$VENV/.bench-installed-$AMLINF_VERSION-$TORCH_VERSION"

if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install --quiet uv
fi
if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ]; then
    exit 0
fi
uv venv --quiet --allow-existing "$VENV" --python 3.11
uv pip install --quiet --python "$VENV/bin/python" -e . httpx py-spy \
    "azureml-inference-server-http==$AMLINF_VERSION"
# uv ignores pip's configuration: PIP_FIND_LINKS (a local CPU wheel) is passed on explicitly.
uv pip install --quiet --python "$VENV/bin/python" \
    ${PIP_FIND_LINKS:+--find-links "$PIP_FIND_LINKS"} "torch==$TORCH_VERSION"
touch "$STAMP"
