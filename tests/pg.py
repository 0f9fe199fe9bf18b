"""A PostgreSQL database of a test's own on the server running on this machine (dropped after)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import psycopg

ADMIN_DSN = os.environ.get(
    "DESKPILOT_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


def _params() -> dict[str, str]:
    return dict(part.split("=", 1) for part in ADMIN_DSN.split())


@dataclass
class PgDatabase:
    name: str

    @classmethod
    def create(cls, prefix: str) -> PgDatabase:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return cls(name)

    @property
    def url(self) -> str:
        p = _params()
        return f"postgresql+psycopg://{p['user']}@{p['host']}:{p['port']}/{self.name}"

    def drop(self) -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
