#!/usr/bin/env bash
# Wait until the vLLM server answers GET /health with 200 and lists its model on /v1/models.
#
#   wait_healthy.sh [--pid PID] [--timeout SECONDS] [--url BASE_URL]
#
# --pid: the server's process; stop waiting at once if it dies (e.g. out of memory).
# Exits 0 when ready, 1 on timeout or if the server died, 2 on bad usage.
set -euo pipefail

HOST="${DESKPILOT_VLLM_HOST:-127.0.0.1}"
PORT="${DESKPILOT_VLLM_PORT:-8001}"
URL="http://$HOST:$PORT"
TIMEOUT="${DESKPILOT_VLLM_WAIT_TIMEOUT:-300}"
PID=""

while (($#)); do
    case "$1" in
        --pid) PID="${2:?--pid needs a value}"; shift 2 ;;
        --timeout) TIMEOUT="${2:?--timeout needs a value}"; shift 2 ;;
        --url) URL="${2:?--url needs a value}"; URL="${URL%/}"; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "wait_healthy.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "wait_healthy.sh: --timeout must be whole seconds" >&2; exit 2; }

start=$SECONDS
while :; do
    if curl -fsS -o /dev/null --max-time 5 "$URL/health" 2>/dev/null \
        && models="$(curl -fsS --max-time 5 "$URL/v1/models" 2>/dev/null)"; then
        # The first "id" is the model's (later ones belong to its permission entries).
        name="$(printf '%s' "$models" | grep -o '"id": *"[^"]*"' | head -n1 | cut -d'"' -f4)"
        echo "vLLM ready at $URL after $((SECONDS - start)) s (model: ${name:-?})"
        exit 0
    fi
    if [[ -n "$PID" ]] && ! kill -0 "$PID" 2>/dev/null; then
        echo "vLLM server (pid $PID) exited before it became healthy at $URL; see its log" >&2
        exit 1
    fi
    if ((SECONDS - start >= TIMEOUT)); then
        echo "vLLM at $URL not healthy after ${TIMEOUT} s (GET /health); giving up" >&2
        exit 1
    fi
    sleep 2
done
