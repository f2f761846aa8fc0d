"""The sandbox's code jobs through the API, under /api/v1/sandbox/jobs: submit (queued for the
background worker), list, read, cancel, review a held output, download a released one."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.params import Id
from citybase.data.sandbox import jobs
from citybase.data.sandbox.auth import SandboxAnalyst, SandboxSteward
from citybase.data.sandbox.jobs_schemas import JobCreate, JobRead, OutputRead, Review

router = APIRouter(prefix="/api/v1/sandbox", tags=["privacy sandbox"])
MEDIA = {".csv": "text/csv; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
         ".json": "application/json"}  # fmt: skip


@router.post("/jobs", response_model=JobRead, status_code=202)
def submit(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst, data: JobCreate
) -> Response:
    """Queue a code job over declared resources for the background worker: answered at once,
    202 with the job (``queued``) and its address in ``Location``. A job refused before
    anything is read is answered in the error format with ``details.rule`` and
    ``details.job`` — returned, not raised, so that the attempt stays kept and on the ledger."""
    job, error = jobs.submit_job(session, principal, data,
                                 max_seconds=settings.sandbox.job_max_seconds)  # fmt: skip
    if error is not None:
        body = error.to_dict()
        body.setdefault("details", {})["job"] = job.id
        return JSONResponse({"error": body}, status_code=error.status_code)
    return JSONResponse(job.model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/api/v1/sandbox/jobs/{job.id}"})  # fmt: skip


@router.get("/jobs")
def list_jobs(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst
) -> list[JobRead]:
    return jobs.get_accessible_jobs(session, principal, settings.products)


@router.get("/jobs/{job_id}")
def read_job(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst, job_id: Id
) -> JobRead:
    return jobs.get_accessible_job(session, principal, settings.products, job_id)


@router.post("/jobs/{job_id}/cancel")
def cancel(session: DbSession, principal: SandboxAnalyst, job_id: Id) -> JobRead:
    """Withdraw one's own job while it waits for a worker."""
    return jobs.cancel_job(session, principal, job_id)


@router.get("/outputs/held")
def held_outputs(
    session: DbSession, settings: AppSettings, principal: SandboxSteward
) -> list[OutputRead]:
    """The outputs waiting for one's review."""
    return [o for _, o in jobs.review_queue(session, principal, settings.products)]


@router.post("/outputs/{output_id}/review")
def review(
    session: DbSession, settings: AppSettings, principal: SandboxSteward, output_id: Id,
    data: Review,
) -> OutputRead:  # fmt: skip
    return jobs.review_output(session, principal, settings.products, output_id, data,
                              settings.home)  # fmt: skip


@router.get("/outputs/{output_id}/file")
def download(
    session: DbSession, settings: AppSettings, principal: SandboxAnalyst, output_id: Id
) -> Response:
    """A released output (its analyst), or a held one (its reviewer)."""
    name, content = jobs.output_file(session, principal, settings.products, output_id,
                                     settings.home)  # fmt: skip
    media = MEDIA.get(name[name.rfind(".") :].lower(), "application/octet-stream")
    return Response(content, media_type=media, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})  # fmt: skip
