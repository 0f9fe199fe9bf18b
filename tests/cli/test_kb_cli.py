"""`deskpilot kb` from the shell: add, list, search, remove, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.main import app

pytestmark = pytest.mark.integration
runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_kb_add_list_search_remove(env: Path) -> None:
    faq = env / "faq.csv"
    faq.write_text(
        "question,answer,category\n"
        "How long does delivery take?,Orders arrive in 2-3 days.,delivery\n"
        "Can I return an item?,Returns are free within 30 days.,returns\n"
    )
    code, out = _run("kb", "add", str(faq), "--product", "shop")
    assert code == 0, out
    assert "faq.csv: version 1, 2 chunks" in out
    code, out = _run("kb", "add", str(faq), "--product", "shop")
    assert code == 0 and "unchanged" in out
    code, out = _run("kb", "list", "--product", "shop")
    assert code == 0 and "faq.csv" in out
    code, out = _run("kb", "search", "i want to send it back", "--product", "shop", "--k", "1")
    assert code == 0 and "returns" in out
    code, out = _run("kb", "remove", "faq.csv", "--product", "shop")
    assert code == 0 and "removed faq.csv" in out
    code, out = _run("kb", "list", "--product", "shop")
    assert "faq.csv" not in out
    assert not list((env / "var" / "uploads").glob("*/*"))  # staged copies cleaned up


def test_kb_errors(env: Path) -> None:
    code, out = _run("kb", "add", str(env / "missing.csv"), "--product", "shop")
    assert code == 1 and "no such file" in out
    bad = env / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    code, out = _run("kb", "add", str(bad), "--product", "shop")
    assert code == 1 and "question" in out.lower()
    good = env / "ok.md"
    good.write_text("# Title\n\nSome text.\n")
    code, out = _run("kb", "add", str(good), "--product", "nope")
    assert code == 1 and "product 'nope' not found" in out
    code, out = _run("kb", "search", "x", "--product", "shop")
    assert code == 1 and "no knowledge index yet" in out
    code, out = _run("kb", "remove", "ghost.md", "--product", "shop")
    assert code == 1 and "no document named" in out
