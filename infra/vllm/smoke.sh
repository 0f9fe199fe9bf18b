#!/usr/bin/env bash
# Send one non-streamed and one streamed /v1/chat/completions request to a running server and
# print rough latency figures (time to first token, tokens/s). Needs curl and python3.
#
#   smoke.sh [MAX_TOKENS]        (default 32; temperature 0)
set -euo pipefail

HOST="${DESKPILOT_VLLM_HOST:-127.0.0.1}"
PORT="${DESKPILOT_VLLM_PORT:-8001}"
URL="${DESKPILOT_VLLM_URL:-http://$HOST:$PORT}"
# shellcheck source=models.sh
source "$(dirname "${BASH_SOURCE[0]}")/models.sh"
MODEL="${DESKPILOT_VLLM_SERVED_MODEL_NAME:-$MODEL_SERVED_NAME}"
MAX_TOKENS="${1:-32}"
PROMPT="${DESKPILOT_VLLM_SMOKE_PROMPT:-How do I reset my password? Answer in two sentences.}"

body() {  # $1: true|false (stream)
    python3 -c 'import json, sys
print(json.dumps({"model": sys.argv[1], "max_tokens": int(sys.argv[2]), "temperature": 0,
                  "stream": sys.argv[4] == "true",
                  **({"stream_options": {"include_usage": True}} if sys.argv[4] == "true" else {}),
                  "messages": [{"role": "user", "content": sys.argv[3]}]}))' \
        "$MODEL" "$MAX_TOKENS" "$PROMPT" "$1"
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== non-streamed"
curl -fsS --max-time 120 -H 'Content-Type: application/json' -d "$(body false)" \
    -o "$tmp/plain.json" -w '%{time_total}\n' "$URL/v1/chat/completions" >"$tmp/plain.time"
python3 - "$tmp/plain.json" "$(cat "$tmp/plain.time")" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); total = float(sys.argv[2])
n = r["usage"]["completion_tokens"]
print(f"text: {r['choices'][0]['message']['content']!r}")
print(f"finish_reason={r['choices'][0]['finish_reason']} prompt_tokens={r['usage']['prompt_tokens']} "
      f"completion_tokens={n} total={total:.2f}s -> {n / total:.1f} tokens/s (incl. prefill)")
EOF

echo "== streamed"
start=$EPOCHREALTIME
curl -fsSN --max-time 120 -H 'Content-Type: application/json' -d "$(body true)" \
    "$URL/v1/chat/completions" | while IFS= read -r line; do
    if [[ -n "$line" ]]; then printf '%s %s\n' "$EPOCHREALTIME" "$line"; fi
done >"$tmp/stream.txt"
python3 - "$tmp/stream.txt" "$start" <<'EOF'
import json, sys
start = float(sys.argv[2]); times = []; text = []; usage = None; done = False
for raw in open(sys.argv[1]):
    t, _, line = raw.rstrip("\n").partition(" ")
    if not line.startswith("data: "):
        continue
    data = line[6:]
    if data == "[DONE]":
        done = True; continue
    ev = json.loads(data)
    usage = ev.get("usage") or usage
    for ch in ev.get("choices", []):
        piece = ch.get("delta", {}).get("content")
        if piece:
            times.append(float(t)); text.append(piece)
if not times or not done:
    sys.exit(f"stream incomplete: {len(times)} content chunks, [DONE] seen: {done}")
n = usage["completion_tokens"] if usage else len(times)
rate = (n - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")
print(f"text: {''.join(text)!r}")
print(f"chunks={len(times)} completion_tokens={n} time_to_first_token={times[0] - start:.2f}s "
      f"total={times[-1] - start:.2f}s decode={rate:.1f} tokens/s")
EOF
