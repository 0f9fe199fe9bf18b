"""When `deskpilot up` starts the local vLLM server, and when it leaves it alone."""

from __future__ import annotations

import socket

import pytest

from backend.cli import vllm_proc
from backend.core.settings import load_settings

pytestmark = pytest.mark.unit


def test_starts_the_local_server_by_default_on_a_free_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(llm_base_url=f"http://127.0.0.1:{port}/v1")
    assert vllm_proc.local_port(settings) == port
    assert vllm_proc.why_not_start(settings) is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"vllm_autostart": False}, "AUTOSTART is off"),
        ({"llm_base_url": ""}, "generation disabled"),
        ({"llm_base_url": "https://llm.internal.example/v1"}, "remote"),
    ],
)
def test_reasons_not_to_start(overrides: dict[str, object], reason: str) -> None:
    why = vllm_proc.why_not_start(load_settings(**overrides))
    assert why is not None and reason in why


def test_a_server_already_listening_is_used_not_replaced() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        settings = load_settings(llm_base_url=f"http://localhost:{port}/v1")
        why = vllm_proc.why_not_start(settings)
    assert why is not None and "already listens" in why
