#!/usr/bin/env bash
# Regenerate requirements.lock: resolve pyproject.toml (with the dev extra) in a scratch venv.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade "pip>=24.3" setuptools wheel
"$tmp/venv/bin/pip" install -q torch==2.13.0   # the CPU build on this disk, before anything pulls CUDA
"$tmp/venv/bin/pip" install -q -e ".[dev]"
"$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^-e ' > requirements.lock
echo "requirements.lock: $(wc -l < requirements.lock) packages"
