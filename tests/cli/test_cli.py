"""The `deskpilot` CLI: management commands, one-line errors, useful --help everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from backend.cli.main import app
from backend.core.settings import get_settings

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DESKPILOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DESKPILOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_manage_products_and_users(cli_env: Path) -> None:
    assert _run("db", "upgrade")[0] == 0
    code, out = _run("product", "create", "acme", "--name", "Acme Inc")
    assert code == 0 and "created product acme" in out
    code, out = _run("product", "create", "acme")
    assert code == 1 and "already exists" in out
    code, out = _run("product", "create", "Bad Slug!")
    assert code == 1 and "invalid slug" in out
    code, out = _run(
        "user",
        "create",
        "ann@acme.local",
        "--password",
        "long-enough-pw",
        "--product",
        "acme",
        "--role",
        "admin",
    )
    assert code == 0, out
    code, out = _run("user", "create", "bob@acme.local", "--password", "short")
    assert code == 1 and "password" in out
    code, out = _run(
        "user", "create", "bob@acme.local", "--password", "long-enough-pw", "--product", "nope"
    )
    assert code == 1 and "product 'nope' not found" in out
    code, out = _run("user", "list")
    assert code == 0 and "ann@acme.local" in out and "acme:admin" in out
    assert "bob@acme.local" not in out  # the failed create wrote nothing
    code, out = _run("user", "disable", "ann@acme.local")
    assert code == 0
    code, out = _run("db", "current")
    assert code == 0 and "head" in out


def test_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    env = {"DESKPILOT_PORT": "not-a-port", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "backend.cli.main", "db", "current"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "DESKPILOT_PORT" in lines[0], proc.stderr


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    env = {
        "DESKPILOT_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/x",
        "PATH": "/usr/bin:/bin",
        "DESKPILOT_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "backend.cli.main", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "cannot reach the database" in proc.stderr and "Traceback" not in proc.stderr


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    commands = getattr(group, "commands", None)  # typer's own click fork: duck-type groups
    if isinstance(commands, dict):
        for name, cmd in commands.items():
            found += _commands(cmd, (*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(typer.main.get_command(app)))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    code, out = _run(*path, "--help")
    assert code == 0 and "Usage" in out
    body = out.split("Usage", 1)[1]
    assert len(body.split()) > 8, f"`deskpilot {' '.join(path)} --help` says too little"


def test_serve_keeps_blas_to_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API process multiplies small matrices on many threads: one BLAS thread each."""
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from backend.cli.main import single_threaded_blas

    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS is loaded
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas, "numpy has no BLAS library to limit"
    before = max(i["num_threads"] for i in blas)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # an explicit choice is left alone
    single_threaded_blas()
    assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {before}
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    try:
        single_threaded_blas()
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {1}
    finally:
        threadpool_limits(limits=before, user_api="blas")
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
