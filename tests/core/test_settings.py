"""Settings: defaults, production refusals, one-line errors, and the README table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.core.settings import DEV_SECRET, Settings, SettingsError, load_settings

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_embedded_mode(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path, database_url="", broker_url="")
    assert s.sqlalchemy_url == f"sqlite:///{(tmp_path / 'deskpilot.sqlite3').resolve()}"
    assert s.celery_broker_url == f"sqla+sqlite:///{(tmp_path / 'broker.sqlite3').resolve()}"
    assert s.celery_broker_url != s.sqlalchemy_url  # the broker has its own file


def test_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKPILOT_PORT", "9001")
    assert load_settings().port == 9001


def test_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKPILOT_PORT", "eighty")
    with pytest.raises(SettingsError, match=r"^DESKPILOT_PORT: .*integer"):
        load_settings()


def test_production_refuses_default_secret() -> None:
    with pytest.raises(SettingsError, match="DESKPILOT_SECRET_KEY"):
        load_settings(env="production", database_url="postgresql+psycopg://x@y/z")


def test_production_refuses_sqlite() -> None:
    with pytest.raises(SettingsError, match="DESKPILOT_DATABASE_URL"):
        load_settings(env="production", secret_key="x" * 40)


def test_production_accepts_real_config() -> None:
    s = load_settings(
        env="production", secret_key="s" * 40, database_url="postgresql+psycopg://a@b/c"
    )
    assert s.env == "production"
    assert s.secret_key.get_secret_value() != DEV_SECRET


def test_short_secret_refused() -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings(secret_key="short")


def test_readme_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(DESKPILOT_[A-Z_]+)`", readme, flags=re.M))
    expected = {f"DESKPILOT_{name.upper()}" for name in Settings.model_fields}
    assert expected == documented, (
        f"missing: {expected - documented}, stale: {documented - expected}"
    )
