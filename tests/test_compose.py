"""docker-compose.yml wiring (no Docker engine runs here: the file is parsed and checked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_services_present(compose: dict[str, Any]) -> None:
    assert {"api", "worker", "beat", "postgres", "redis", "migrate"} <= set(compose["services"])


def test_app_services_share_one_image_and_settings(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api", "worker", "beat", "migrate"):
        svc = services[name]
        assert svc["build"]["dockerfile"] == "infra/docker/Dockerfile"
        env = svc["environment"]
        assert env["DESKPILOT_ENV"] == "production"
        assert "@postgres:5432/" in env["DESKPILOT_DATABASE_URL"]
        assert env["DESKPILOT_BROKER_URL"].startswith("redis://redis:6379")
        assert "DESKPILOT_SECRET_KEY" in env
        assert any(v.endswith(":/data") for v in svc["volumes"])
    assert (ROOT / "infra/docker/Dockerfile").exists()


def test_commands_match_the_cli(compose: dict[str, Any]) -> None:
    s = compose["services"]
    assert s["api"]["command"][:2] == ["deskpilot", "serve"]
    assert s["worker"]["command"][:2] == ["deskpilot", "worker"]
    assert s["beat"]["command"] == ["deskpilot", "beat"]
    assert s["migrate"]["command"] == ["deskpilot", "db", "upgrade"]
    assert s["migrate"]["restart"] == "no"


def test_startup_order_and_healthchecks(compose: dict[str, Any]) -> None:
    s = compose["services"]
    for name in ("postgres", "redis", "api", "worker"):
        assert s[name]["healthcheck"]["test"], name
    assert s["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker", "beat"):
        assert s[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert s[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/api/v1/ready" in " ".join(s["api"]["healthcheck"]["test"])


def test_data_volumes(compose: dict[str, Any]) -> None:
    assert {"deskpilot-data", "postgres-data", "redis-data"} <= set(compose["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_vllm_service_on_a_gpu_feeds_the_api(compose: dict[str, Any]) -> None:
    services = compose["services"]
    vllm = services["vllm"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["driver"] == "nvidia"
    assert "/health" in " ".join(vllm["healthcheck"]["test"])
    served = vllm["command"][vllm["command"].index("--served-model-name") + 1]
    env = services["api"]["environment"]
    assert env["DESKPILOT_LLM_BASE_URL"] == "http://vllm:8000/v1"
    assert env["DESKPILOT_LLM_MODEL"] == served
    assert env["DESKPILOT_VLLM_AUTOSTART"] == "false"
    assert env["DESKPILOT_REDIS_URL"].startswith("redis://redis:6379")
    # the API does not wait for the model to load: it answers without it meanwhile
    assert "vllm" not in services["api"]["depends_on"]
