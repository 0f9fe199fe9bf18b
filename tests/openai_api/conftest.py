"""The app served by a real uvicorn server (in a thread of the test process, sharing the test's
rolled-back session), with deterministic fakes for the models, and an API key of its product:
what the official ``openai`` SDK talks to in these tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session

from backend.api.deps import get_session
from backend.core.settings import Settings
from backend.main import create_app
from backend.openai_api import service
from backend.openai_api.models import ApiKeyCreate
from ml.interfaces import Chunk
from ml.testing.fake_generator import FakeGenerator
from ml.testing.fakes import FakeKnowledge, fixed_predictor
from tests.factories import make_product

PASSAGE = Chunk(
    id="doc-fees-1",
    text="Top-ups by card are free of charge for every customer. Transfers abroad cost 0.5 %.",
    title="Fees",
    metadata={"kind": "passage", "category": None, "url": None},
)
START_TIMEOUT_S = 60.0  # the lifespan opens the runtimes; far above what it takes


@dataclass
class Served:
    """A running server: its ``/v1`` base URL, the app (to swap fakes), and a valid key."""

    base_url: str
    app: FastAPI
    key: str
    product_id: int

    def use_generator(self, generator: FakeGenerator) -> FakeGenerator:
        """Answer through ``generator`` (marked up) from now on."""
        self.app.state.llm.client, self.app.state.llm.healthy = generator, True
        return generator


@pytest.fixture
def served(settings: Settings, session: Session) -> Iterator[Served]:
    """The deskpilot app under uvicorn on a free port, answering from one passage."""
    product = make_product(session)
    key = service.create_api_key(
        session=session, product_id=product.id or 0, data=ApiKeyCreate(name="sdk")
    ).key
    app = create_app(settings)

    def _session() -> Iterator[Session]:
        yield session

    app.dependency_overrides[get_session] = _session
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        # similar enough to clear any retrieval floor, and a passage: never the FAQ fast path
        app.state.knowledge = FakeKnowledge([PASSAGE], dense=0.9)
        app.state.intents.predict = fixed_predictor("transfer_fees")
        yield Served(f"http://127.0.0.1:{port}/v1", app, key, product.id or 0)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
