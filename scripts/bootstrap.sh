#!/usr/bin/env bash
# Make .venv ready for this checkout, fast when nothing changed.
#
# The virtual environment lives in a cache outside the clone, keyed by a hash of requirements.lock
# and the Python version, so a fresh clone on a machine that already built it starts in seconds.
# `.venv` in the clone is a symlink to it. The project itself is installed editable (no deps) and
# re-pointed whenever the venv last served another checkout. A machine without the cache builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
CACHE=${DESKPILOT_VENV_CACHE:-$HOME/.cache/deskpilot}
PYVER=$($PY -c 'import sys; print("%d.%d" % sys.version_info[:2])')
HASH=$( (cat requirements.lock; echo "$PYVER") | sha256sum | cut -c1-16)
VENV="$CACHE/venv-$HASH"

if [ ! -f "$VENV/.complete" ]; then
  echo "bootstrap: building environment $VENV (first run on this machine; a few minutes)"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  $PY -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24.3" "setuptools>=68" wheel
  "$VENV/bin/python" -m pip install --quiet -r requirements.lock
  touch "$VENV/.complete"
fi

if [ -e .venv ] && [ ! -L .venv ]; then
  echo "bootstrap: .venv is a real folder, not the cached environment; remove it to use the cache" >&2
  VENV="$ROOT/.venv"
else
  ln -sfn "$VENV" .venv
fi

# Editable install of this checkout (seconds); skipped when the venv already points here.
if [ "$("$VENV/bin/python" -c 'import backend, os; print(os.path.dirname(os.path.dirname(backend.__file__)))' 2>/dev/null)" != "$ROOT" ] \
   || [ ! -x "$VENV/bin/deskpilot" ]; then
  "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
fi
