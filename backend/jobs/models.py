"""The Job table that every background task updates (status, progress, heartbeat)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from backend.core.db import utcnow


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Job(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64, index=True)
    product_id: int | None = Field(
        default=None, foreign_key="product.id", index=True, ondelete="CASCADE"
    )
    status: JobStatus = Field(default=JobStatus.queued, sa_type=String(16), index=True)
    progress: int = Field(default=0, ge=0, le=100)
    message: str = Field(default="", max_length=500)
    error: str | None = Field(default=None)
    retryable: bool = False
    attempts: int = 0
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    worker: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


class JobPublic(SQLModel):
    id: int
    kind: str
    product_id: int | None
    status: JobStatus
    progress: int
    message: str
    error: str | None
    retryable: bool
    attempts: int
    params: dict[str, Any]
    result: dict[str, Any] | None
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None


class SelfCheckRequest(SQLModel):
    steps: int = Field(default=5, ge=1, le=100)
    step_seconds: float = Field(default=0.2, ge=0, le=10)
