"""Pruning old intent model versions (keyword-only; commits here).

A product keeps its newest ``intent_keep_versions`` versions, plus every *protected* one,
whatever its age: the active version, the version active before it (what a rollback returns
to), and any version an alias or a canary points to. :func:`protected_versions` is the one
place that decides it, so a new kind of pointer (aliases, canaries) is one more line there.

A pruned version's folder is removed; its row stays, marked ``pruned_at``: the registry is the
history of what was trained, on which data, with which metrics, and that is worth a few hundred
bytes a row. Rows are marked (and committed) before folders are removed, so a crash in between
leaves a marked row without a removed folder, which the next prune removes, never a row that
names a missing folder without saying so. Leftovers of crashed trainings (staging folders,
folders no row names) older than a day go too, as for knowledge indexes.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from backend.core.db import utcnow
from backend.core.settings import Settings
from backend.intents.models import IntentModel
from backend.intents.versions import models_root
from backend.jobs.kinds import JobKind
from backend.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)
# a training stages aside for as long as it runs (a full fine-tune: hours on a CPU), so only
# strays older than a day are taken for crashes
LEFTOVER_AGE_S = 24 * 3600


@dataclass
class PruneReport:
    """What a prune kept and removed (versions), and the bytes it freed."""

    kept: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    freed_bytes: int = 0


def _live(session: Session, product_id: int) -> list[IntentModel]:
    """The product's versions whose folders are not pruned, newest first."""
    return list(
        session.exec(
            select(IntentModel)
            .where(IntentModel.product_id == product_id, col(IntentModel.pruned_at).is_(None))
            .order_by(col(IntentModel.id).desc())
        ).all()
    )


def protected_versions(*, session: Session, product_id: int) -> set[str]:
    """The versions pruning never removes: the active one, the previous one (the most recently
    activated among the others), those a pending job builds on and, once they exist, those
    aliases or canaries point to."""
    rows = _live(session, product_id)
    protected = {r.version for r in rows if r.is_active}
    earlier = [r for r in rows if not r.is_active and r.activated_at is not None]
    if earlier:
        protected.add(max(earlier, key=lambda r: r.activated_at or r.created_at).version)
    # a version a queued or running job builds on (the second opinion added later)
    pending = session.exec(
        select(Job.params).where(
            Job.product_id == product_id,
            Job.kind == JobKind.intents_second_opinion,
            col(Job.status).in_([JobStatus.queued, JobStatus.running]),
        )
    ).all()
    protected |= {str(params["version"]) for params in pending if params.get("version")}
    # aliases and canaries: add the versions they point to here
    return protected


def _size(path: Path) -> int:
    """Bytes held by a folder, each file counted once (versions share files as hard links)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for item in path.rglob("*"):
        stat = item.lstat()
        if item.is_file() and (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size if stat.st_nlink == 1 else 0
    return total


def _remove(path: Path, root: Path) -> int:
    """Remove a version folder inside ``root`` (never a path outside it, whatever a row says);
    returns the bytes freed."""
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except OSError:
        return 0
    if not inside or not path.is_dir():
        return 0
    freed = _size(path)
    shutil.rmtree(path, ignore_errors=True)
    return freed


def prune_models(
    *, session: Session, settings: Settings, product_id: int, keep: int | None = None
) -> PruneReport:
    """Keep the newest ``keep`` versions (default: the ``intent_keep_versions`` setting) and the
    protected ones; mark the others pruned and remove their folders and old leftovers."""
    keep = settings.intent_keep_versions if keep is None else keep
    if keep < 0:
        raise ValueError("keep must be 0 or more")
    rows = _live(session, product_id)
    protected = protected_versions(session=session, product_id=product_id)
    newest = {r.version for r in rows[:keep]}
    doomed = [r for r in rows if r.version not in newest | protected]
    gone = {r.id for r in doomed}
    now = utcnow()
    for row in doomed:
        row.pruned_at = now
        session.add(row)
    session.commit()
    root = models_root(settings, product_id)
    report = PruneReport(
        kept=[r.version for r in rows if r.id not in gone],
        protected=sorted(protected),
        pruned=[r.version for r in doomed],
    )
    for row in doomed:
        report.freed_bytes += _remove(Path(row.path), root)
    named = {Path(r.path).name for r in rows if r.id not in gone}
    if root.is_dir():
        for leftover in root.iterdir():
            old = time.time() - leftover.lstat().st_mtime > LEFTOVER_AGE_S
            if leftover.name not in named and old and leftover.is_dir():
                report.leftovers.append(leftover.name)
                report.freed_bytes += _remove(leftover, root)
    return report


def prune_after_training(*, session: Session, settings: Settings, product_id: int) -> list[str]:
    """Prune after a training succeeded (the worker); a failure is logged, never the job's:
    the new model is trained and recorded either way. Returns the pruned versions."""
    try:
        report = prune_models(session=session, settings=settings, product_id=product_id)
    except Exception:  # disk or database trouble: the next training prunes again
        session.rollback()
        log.exception("product %s: pruning old intent models failed", product_id)
        return []
    if report.pruned:
        log.info("product %s: pruned intent models %s", product_id, ", ".join(report.pruned))
    return report.pruned
