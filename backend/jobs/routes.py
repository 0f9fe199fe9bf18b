"""Admin job routes: list, inspect, retry, and the worker self-check."""

from __future__ import annotations

from fastapi import APIRouter, Query

from backend.api.deps import AdminAccess, SessionDep
from backend.core.errors import error_responses
from backend.core.openapi import Id, ProductId
from backend.jobs import service
from backend.jobs.kinds import JobKind
from backend.jobs.models import Job, JobPublic, SelfCheckRequest

admin_router = APIRouter(tags=["admin: jobs"], responses=error_responses(400, 401, 403, 404, 422))


@admin_router.get("/products/{product_id}/jobs", response_model=list[JobPublic])
def list_jobs(
    product_id: ProductId,
    access: AdminAccess,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=500),
) -> list[Job]:
    """The product's most recent jobs, newest first."""
    return service.list_jobs(session=session, product_id=access.product.id or 0, limit=limit)


@admin_router.post(
    "/products/{product_id}/jobs/selfcheck",
    response_model=JobPublic,
    status_code=202,
    responses=error_responses(503),
)
def start_selfcheck(
    product_id: ProductId, body: SelfCheckRequest, access: AdminAccess, session: SessionDep
) -> Job:
    """Queue a short self-check job: shows that a worker is up and reports progress."""
    return service.submit_job(
        session=session,
        kind=JobKind.selfcheck,
        product_id=access.product.id,
        params=body.model_dump(),
        created_by=access.user.id,
    )


@admin_router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: Id, access: AdminAccess, session: SessionDep) -> Job:
    """A job's status, progress (0-100), message, error and result."""
    return service.get_job(session=session, job_id=job_id)


@admin_router.post(
    "/jobs/{job_id}/retry",
    response_model=JobPublic,
    status_code=202,
    responses=error_responses(503),
)
def retry_job(job_id: Id, access: AdminAccess, session: SessionDep) -> Job:
    """Queue a failed, retryable job again (e.g. one whose worker was killed)."""
    job = service.get_job(session=session, job_id=job_id)
    return service.retry_job(session=session, job=job)
