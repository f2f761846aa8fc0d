"""Code jobs queued for the background worker: submitting answers at once, one worker runs a
job however many try, grants are checked again when it runs, a job a worker lost is failed, and
only its analyst follows or withdraws a queued job."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.models import Job
from citybase.core.db.engine import Database
from citybase.core.errors import InvalidInput
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.masking import operators as ops
from citybase.data.sandbox import jobs, service
from citybase.data.sandbox.jobs_schemas import JobCreate
from citybase.data.sandbox.models import SandboxJob
from citybase.data.sandbox.schemas import Revocation
from citybase.data.sharing.models import ShareAccess as AccessLog
from tests.core.identity.factories import sign_in
from tests.data.sandbox.factories import (
    KEYS,
    SETTINGS,
    add_rows,
    analyst_of_health,
    repeat_offenders,
    sandbox_city,
)

COUNT = 'SELECT 性别, COUNT(*) AS n FROM "{code}" GROUP BY 性别'


def _entries(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).select_from(LedgerEntry)
                          .where(LedgerEntry.action == action)) or 0  # fmt: skip


def _city(session: Session):  # type: ignore[no-untyped-def]
    sc = sandbox_city(session, rows=0)
    add_rows(session, sc, repeat_offenders(24, 1))
    return sc


def test_a_job_is_queued_at_once_and_run_once(session: Session, tmp_path: Path) -> None:
    sc = _city(session)
    reads = session.scalar(select(func.count()).select_from(AccessLog))
    job, error = jobs.submit_job(session, sc.analyst, JobCreate(
        language="sql", code=COUNT.format(code=sc.code), sources=[sc.code]), max_seconds=60)  # fmt: skip
    assert error is None
    assert (job.status, job.started_at, job.outputs) == ("queued", None, [])
    # nothing is read before a worker takes it
    assert session.scalar(select(func.count()).select_from(AccessLog)) == reads
    assert _entries(session, "sandbox.job.queue") == 1
    stored = session.scalars(select(Job).where(Job.kind == jobs.RUN)).one()
    assert stored.payload == {"id": job.id}
    ran = jobs.run_job(session, job.id, KEYS, tmp_path)
    assert ran is not None
    assert ran.status == "finished"
    assert ran.started_at is not None
    assert ran.finished_at is not None
    assert jobs.run_job(session, job.id, KEYS, tmp_path) is None  # a second worker: nothing
    assert session.scalar(select(func.count()).select_from(AccessLog)) == reads + 1
    assert _entries(session, "sandbox.job.run") == 1


def test_a_time_limit_beyond_the_platforms_is_refused(session: Session) -> None:
    sc = _city(session)
    with pytest.raises(InvalidInput) as refused:
        jobs.submit_job(session, sc.analyst, JobCreate(
            language="sql", code="SELECT 1", sources=[sc.code], seconds=120), max_seconds=60)  # fmt: skip
    assert refused.value.field == "seconds"
    assert session.scalar(select(func.count()).select_from(SandboxJob)) == 0
    job, error = jobs.submit_job(session, sc.analyst, JobCreate(
        language="sql", code="SELECT 1", sources=[sc.code], seconds=120), max_seconds=600)  # fmt: skip
    assert (error, job.seconds) == (None, 120)


def test_a_grant_revoked_while_queued_refuses_the_job_before_any_read(
    session: Session, tmp_path: Path
) -> None:
    sc = _city(session)
    job, _ = jobs.submit_job(session, sc.analyst, JobCreate(
        language="sql", code=COUNT.format(code=sc.code), sources=[sc.code]), max_seconds=60)  # fmt: skip
    assert sc.grant is not None
    service.revoke_grant(session, sc.steward, SETTINGS, sc.grant.id,
                         Revocation(reason="研究项目已终止"))  # fmt: skip
    reads = session.scalar(select(func.count()).select_from(AccessLog))
    ran = jobs.run_job(session, job.id, KEYS, tmp_path)
    assert ran is not None
    assert (ran.status, ran.rule) == ("refused", "grant.revoked")
    assert ran.access_ids == []
    assert session.scalar(select(func.count()).select_from(AccessLog)) == reads
    assert _entries(session, "sandbox.job.refuse") == 1


def test_a_job_its_worker_lost_is_failed_after_its_limit(session: Session, tmp_path: Path) -> None:
    sc = _city(session)
    job, _ = jobs.submit_job(session, sc.analyst, JobCreate(
        language="sql", code="SELECT 1", sources=[sc.code], seconds=5), max_seconds=60)  # fmt: skip
    row = session.get(SandboxJob, job.id)
    assert row is not None
    row.status, row.started_at = "running", datetime.now(UTC) - timedelta(seconds=30)
    session.flush()
    # still within its limit and the grace: another worker leaves it and looks again later
    before = session.scalar(select(func.count()).select_from(Job).where(Job.kind == jobs.RUN))
    assert jobs.run_job(session, job.id, KEYS, tmp_path) is None
    assert session.get(SandboxJob, job.id).status == "running"  # type: ignore[union-attr]
    assert session.scalar(
        select(func.count()).select_from(Job).where(Job.kind == jobs.RUN)) == (before or 0) + 1  # fmt: skip
    row.started_at = datetime.now(UTC) - timedelta(seconds=5 + jobs.LOST_GRACE_SECONDS + 1)
    session.flush()
    assert jobs.run_job(session, job.id, KEYS, tmp_path) is None
    session.refresh(row)
    assert (row.status, row.rule) == ("failed", "job.lost")
    assert _entries(session, "sandbox.job.refuse") == 1


def test_two_workers_racing_run_a_job_once(
    fresh_db: Database, fresh_settings: Settings, tmp_path: Path
) -> None:
    with fresh_db.session_scope() as session:
        sc = _city(session)
        job, _ = jobs.submit_job(session, sc.analyst, JobCreate(
            language="sql", code=COUNT.format(code=sc.code), sources=[sc.code]), max_seconds=60)  # fmt: skip
    results: list[object] = []
    gate = threading.Barrier(2)

    def worker() -> None:
        gate.wait()
        with fresh_db.session_scope() as s:
            results.append(jobs.run_job(s, job.id, KEYS, tmp_path, between=s.commit))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(r is None for r in results) == [False, True]
    with fresh_db.session_scope(readonly=True) as session:
        assert session.get(SandboxJob, job.id).status == "finished"  # type: ignore[union-attr]
        assert _entries(session, "sandbox.job.run") == 1


def test_the_background_worker_runs_a_queued_job(
    fresh_db: Database, fresh_settings: Settings
) -> None:
    import citybase.app  # noqa: F401  (registers the stored jobs)

    with fresh_db.session_scope() as session:
        sc = _city(session)
        job, _ = jobs.submit_job(session, sc.analyst, JobCreate(
            language="sql", code=COUNT.format(code=sc.code), sources=[sc.code]), max_seconds=60)  # fmt: skip
    assert bus.run_due_jobs(fresh_db, fresh_settings, "w1") >= 1
    assert bus.run_due_jobs(fresh_db, fresh_settings, "w2") == 0
    with fresh_db.session_scope(readonly=True) as session:
        ran = jobs.get_accessible_job(session, sc.analyst, SETTINGS, job.id)
        assert ran.status == "finished", (ran.rule, ran.message, ran.log)
        assert [o.status for o in ran.outputs] == ["released"]
    home = fresh_settings.home
    assert (jobs.workdir_of(home, job.id) / "released" / "result.csv").is_file()


def test_another_analyst_neither_sees_nor_cancels_a_queued_job(
    client: TestClient, session: Session, settings: Settings
) -> None:
    sc = _city(session)
    analyst_of_health(session, "healthuser2")  # same unit, another analyst
    session.commit()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    made = client.post("/api/v1/sandbox/jobs", json={
        "language": "sql", "code": COUNT.format(code=sc.code), "sources": [sc.code]})  # fmt: skip
    assert made.status_code == 202
    job_id = made.json()["id"]
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser2")
    assert client.get(f"/api/v1/sandbox/jobs/{job_id}").status_code == 404
    assert client.get(f"/console/sandbox/jobs/{job_id}/progress").status_code == 404
    crossed = client.post(f"/api/v1/sandbox/jobs/{job_id}/cancel")
    assert crossed.status_code == 404
    assert session.get(SandboxJob, job_id).status == "queued"  # type: ignore[union-attr]
    assert f"#{job_id}" not in client.get("/console/sandbox/jobs").text
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    withdrawn = client.post(f"/api/v1/sandbox/jobs/{job_id}/cancel")
    assert withdrawn.json()["status"] == "cancelled"
    assert _entries(session, "sandbox.job.cancel") == 1
    assert jobs.run_job(session, job_id, ops.keys_for(settings.masking_key), settings.home) is None
    again = client.post(f"/api/v1/sandbox/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["details"]["rule"] == "job.not_queued"


def test_the_console_cancels_ones_queued_job(client: TestClient, session: Session) -> None:
    import re

    sc = _city(session)
    session.commit()
    csrf = sign_in(client, "healthuser")
    job, _ = jobs.submit_job(session, sc.analyst, JobCreate(
        language="sql", code="SELECT 1 AS n", sources=[sc.code]), max_seconds=60)  # fmt: skip
    session.commit()
    page = client.get("/console/sandbox/jobs")
    assert "撤回" in page.text
    form = re.search(rf'action="/console/sandbox/jobs/{job.id}/cancel">.*?name="form_token" '
                     r'value="([^"]+)"', page.text)  # fmt: skip
    assert form is not None
    sent = client.post(f"/console/sandbox/jobs/{job.id}/cancel", data={
        "csrf_token": csrf, "form_token": form.group(1)}, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    assert session.get(SandboxJob, job.id, populate_existing=True).status == "cancelled"  # type: ignore[union-attr]
    assert "已撤回" in client.get("/console/sandbox/jobs").text
