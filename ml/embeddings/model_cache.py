"""The model cache: the one folder on disk where extracted and derived model files live
(``$DESKPILOT_MODEL_CACHE``, default ``~/.cache/deskpilot/models``), and the one way things are
written into it: into a private temporary sibling, then renamed into place, so that no process
ever sees a half-written folder and concurrent writers of the same entry cannot collide."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path


class ModelNotFound(Exception):
    """The model setting names neither a folder nor an installed weights package, or a stored
    model's files cannot be found or re-created."""


def cache_dir() -> Path:
    """The model cache: ``$DESKPILOT_MODEL_CACHE`` or ``~/.cache/deskpilot/models``."""
    configured = os.environ.get("DESKPILOT_MODEL_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache/deskpilot/models"


def write_once(target: Path, fill: Callable[[Path], None]) -> Path:
    """Create the folder ``target`` by calling ``fill`` on a new temporary sibling and renaming
    it into place; when another process finished first, its folder is kept and ours dropped.
    A crash leaves only an unused ``.<name>.<pid>-<hex>.tmp`` folder, never a partial target."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    temporary.mkdir()  # never reused: the random suffix keeps writers apart
    try:
        fill(temporary)
        try:
            os.rename(temporary, target)
        except OSError:
            if not target.is_dir():  # not another process finishing first
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return target


def write_file_once(target: Path, fill: Callable[[Path], None]) -> Path:
    """Create the file ``target`` the same way: ``fill`` writes a temporary sibling that is then
    renamed over ``target`` (a concurrent writer of the same content simply wins or loses)."""
    if target.is_file():
        return target
    temporary = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        fill(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target
