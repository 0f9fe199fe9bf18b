"""Pruning old intent model versions, on SQLite and PostgreSQL: the newest N are kept, and so
is every protected version (the active one, the one active before it, one a pending job builds
on) whatever its age; pruned rows stay as history, their folders go, and nothing outside the
product's model folder is ever removed."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from backend.core.db import utcnow
from backend.core.errors import InvalidInput
from backend.core.settings import Settings
from backend.intents.models import IntentModel
from backend.intents.pruning import protected_versions, prune_models
from backend.intents.versions import activate_version, list_models, models_root
from backend.jobs.kinds import JobKind
from backend.jobs.models import Job, JobStatus
from tests.factories import make_product

pytestmark = pytest.mark.integration


def _versions(session: Session, settings: Settings, product_id: int, n: int) -> list[str]:
    """``n`` versions, oldest first, each with a folder holding a file."""
    root = models_root(settings, product_id)
    names = []
    for i in range(n):
        name = f"v{i:02d}"
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "head.safetensors").write_bytes(b"x" * 1000)
        session.add(
            IntentModel(
                product_id=product_id,
                version=name,
                path=str(folder),
                created_at=utcnow() + timedelta(seconds=i),
            )
        )
        session.commit()
        names.append(name)
    return names


def _live(session: Session, product_id: int) -> list[str]:
    rows = list_models(session=session, product_id=product_id)
    return sorted(r.version for r in rows if r.pruned_at is None)


def test_keeps_newest_and_protected(session: Session, settings: Settings) -> None:
    product_id = make_product(session).id or 0
    names = _versions(session, settings, product_id, 9)
    # v01 was active, then v02 (the rollback target), then v00 (active now)
    for version in ("v01", "v02", "v00"):
        activate_version(session=session, product_id=product_id, version=version)
    assert protected_versions(session=session, product_id=product_id) == {"v00", "v02"}
    report = prune_models(session=session, settings=settings, product_id=product_id, keep=3)
    assert sorted(report.pruned) == ["v01", "v03", "v04", "v05"]
    assert _live(session, product_id) == ["v00", "v02", "v06", "v07", "v08"]
    assert report.freed_bytes == 4000
    root = models_root(settings, product_id)
    assert sorted(p.name for p in root.iterdir()) == ["v00", "v02", "v06", "v07", "v08"]
    # rows stay (history), marked; a pruned version cannot be activated again
    rows = {r.version: r for r in list_models(session=session, product_id=product_id)}
    assert len(rows) == len(names) and rows["v01"].pruned_at is not None
    with pytest.raises(InvalidInput, match="pruned"):
        activate_version(session=session, product_id=product_id, version="v01")
    # a second prune changes nothing; keep 0 leaves the protected ones only
    again = prune_models(session=session, settings=settings, product_id=product_id, keep=3)
    assert again.pruned == []
    prune_models(session=session, settings=settings, product_id=product_id, keep=0)
    assert _live(session, product_id) == ["v00", "v02"]


def test_default_keep_is_the_setting(session: Session, settings: Settings) -> None:
    assert settings.intent_keep_versions == 5
    product_id = make_product(session).id or 0
    _versions(session, settings, product_id, 7)
    activate_version(session=session, product_id=product_id, version="v06")
    report = prune_models(session=session, settings=settings, product_id=product_id)
    assert sorted(report.pruned) == ["v00", "v01"]
    narrow = settings.model_copy(update={"intent_keep_versions": 1})
    prune_models(session=session, settings=narrow, product_id=product_id)
    assert _live(session, product_id) == ["v06"]  # newest and active at once


def test_version_a_pending_job_builds_on_is_kept(session: Session, settings: Settings) -> None:
    product_id = make_product(session).id or 0
    _versions(session, settings, product_id, 4)
    activate_version(session=session, product_id=product_id, version="v03")
    job = Job(
        kind=JobKind.intents_second_opinion,
        product_id=product_id,
        params={"product_id": product_id, "version": "v00"},
    )
    session.add(job)
    session.commit()
    report = prune_models(session=session, settings=settings, product_id=product_id, keep=1)
    assert sorted(report.pruned) == ["v01", "v02"] and "v00" in report.protected
    job.status = JobStatus.succeeded
    session.add(job)
    session.commit()
    prune_models(session=session, settings=settings, product_id=product_id, keep=1)
    assert _live(session, product_id) == ["v03"]


def test_products_are_pruned_apart_and_paths_outside_are_never_removed(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    first, second = make_product(session).id or 0, make_product(session).id or 0
    _versions(session, settings, first, 3)
    _versions(session, settings, second, 3)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    session.add(IntentModel(product_id=first, version="odd", path=str(outside)))
    session.commit()
    prune_models(session=session, settings=settings, product_id=first, keep=0)
    assert _live(session, first) == [] and _live(session, second) == ["v00", "v01", "v02"]
    assert (outside / "precious").read_text() == "keep me"  # marked pruned, never removed


def test_leftovers_of_crashed_trainings_go_when_old(session: Session, settings: Settings) -> None:
    product_id = make_product(session).id or 0
    _versions(session, settings, product_id, 1)
    root = models_root(settings, product_id)
    stale, fresh = root / ".stage-v9-abc", root / ".tmp-v8-def"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "head.safetensors").write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    report = prune_models(session=session, settings=settings, product_id=product_id)
    assert report.leftovers == [".stage-v9-abc"]
    assert not stale.exists() and fresh.exists() and (root / "v00").exists()
