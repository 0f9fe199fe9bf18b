"""`deskpilot apikey` create/list/revoke from the shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from backend.cli.main import app
from backend.core.db import make_engine
from backend.core.settings import get_settings
from backend.openai_api import service

pytestmark = pytest.mark.integration
runner = CliRunner()


def _works(key: str) -> bool:
    engine = make_engine(get_settings().sqlalchemy_url)
    try:
        with Session(engine) as session:
            return service.authenticate(session=session, key=key) is not None
    finally:
        engine.dispose()


def test_create_list_revoke(env: Path) -> None:
    result = runner.invoke(app, ["apikey", "create", "--product", "shop", "--name", "helpdesk"])
    assert result.exit_code == 0, result.output
    assert "created API key 1 'helpdesk' for shop" in result.output
    assert "not shown again" in result.output
    key = next(line for line in result.output.splitlines() if line.startswith("dp-"))
    assert len(key) == 46
    assert _works(key)

    listing = runner.invoke(app, ["apikey", "list", "-p", "shop"], terminal_width=200)
    assert listing.exit_code == 0 and "helpdesk" in listing.output and key[:10] in listing.output
    assert key not in listing.output

    result = runner.invoke(app, ["apikey", "revoke", "1"])
    assert result.exit_code == 0 and "revoked API key 1 'helpdesk'" in result.output
    result = runner.invoke(app, ["apikey", "revoke", "1"])
    assert result.exit_code == 0 and "already revoked" in result.output
    assert not _works(key)


def test_errors_and_help(env: Path) -> None:
    result = runner.invoke(app, ["apikey", "create", "-p", "nope", "--name", "x"])
    assert result.exit_code == 1 and "product 'nope' not found" in result.output
    result = runner.invoke(app, ["apikey", "create", "-p", "shop", "--name", ""])
    assert result.exit_code == 1 and "--name" in result.output
    result = runner.invoke(app, ["apikey", "list", "-p", "nope"])
    assert result.exit_code == 1 and "product 'nope' not found" in result.output
    result = runner.invoke(app, ["apikey", "revoke", "42"])
    assert result.exit_code == 1 and "API key 42 not found" in result.output
    result = runner.invoke(app, ["apikey", "--help"])
    assert result.exit_code == 0 and "chat/completions" in result.output
    for command in ("create", "list", "revoke"):
        assert runner.invoke(app, ["apikey", command, "--help"]).exit_code == 0
