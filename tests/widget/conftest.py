"""Widget fixtures: site keys, and a client whose CORS middleware sees the test's data."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.products.models import Product
from backend.widget import service
from backend.widget.cors import LOADER_STATE
from backend.widget.models import SiteKey, SiteKeyCreate
from tests.widget.helpers import SHOP

MakeSiteKey = Callable[..., SiteKey]


@pytest.fixture
def created_keys() -> list[int]:
    """Ids of the site keys this test created."""
    return []


@pytest.fixture
def make_site_key(session: Session, created_keys: list[int]) -> MakeSiteKey:
    """Create a site key: ``make_site_key(product, origins=[...], name=...)``."""

    def _make(product: Product, origins: Sequence[str] = (SHOP,), name: str = "site") -> SiteKey:
        data = SiteKeyCreate(name=name, allowed_origins=list(origins))
        key = service.create_site_key(session=session, product_id=product.id or 0, data=data)
        created_keys.append(key.id or 0)
        return key

    return _make


@pytest.fixture
def widget(client: TestClient, session: Session, created_keys: list[int]) -> TestClient:
    """The API client, its CORS middleware reading the origins of this test's active keys
    through the test's session (the app's own engine cannot see the test's transaction, and
    other tests' keys must not widen what this test's preflights allow)."""

    def origins() -> set[str]:
        keys = (session.get(SiteKey, key_id) for key_id in created_keys)
        return {o for key in keys if key is not None and key.is_active for o in key.allowed_origins}

    setattr(client.app.state, LOADER_STATE, origins)  # type: ignore[attr-defined]
    return client
