#!/usr/bin/env bash
# The whole test suite. Exit 5 (no tests collected) is a failure too: CI must really test.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
