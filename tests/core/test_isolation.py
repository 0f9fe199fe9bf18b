"""The per-test rollback really rolls back, on SQLite and PostgreSQL.

Services commit; the ``session`` fixture joins them into a SAVEPOINT of an outer transaction that
is rolled back after the test. On SQLite this needs the pysqlite fix in ``make_engine`` (without
it, releasing the SAVEPOINT commits for real and the row outlives the test).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from backend.products import service as products
from backend.products.models import Product, ProductCreate

pytestmark = pytest.mark.integration
PROBE = "isolation-probe-"  # slug prefix of the rows these tests commit


def _probes(engine: Engine) -> list[str]:
    """Probe slugs as a fresh connection sees them (committed data only)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT slug FROM product WHERE slug LIKE :p"), {"p": PROBE + "%"})
        return [row[0] for row in rows]


def test_a_commit_stays_inside_the_test(
    session: Session, engines: dict[str, Engine], db_backend: str
) -> None:
    slug = f"{PROBE}{db_backend}"
    product = products.create_product(session=session, data=ProductCreate(slug=slug, name="P"))
    assert product.id is not None
    # The test's own session sees its row, also after a later rollback of the service's work...
    session.rollback()
    assert session.exec(select(Product).where(col(Product.slug) == slug)).one().id == product.id
    # ...while no other connection does: the commit went to a SAVEPOINT, not to the database.
    assert _probes(engines[db_backend]) == []


def test_b_the_next_test_does_not_see_it(
    session: Session, engines: dict[str, Engine], db_backend: str
) -> None:
    """Runs after the test above (in file order): its row is gone, for the test and the database."""
    assert session.exec(select(Product).where(col(Product.slug).startswith(PROBE))).all() == []
    assert _probes(engines[db_backend]) == []
