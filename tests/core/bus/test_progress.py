"""Long work reports its progress: stages weighted by their cost, a stored job's progress kept
in the shared store and read from another connection while the job still runs, and a page's
progress line that only those allowed may follow."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core import progress
from citybase.core.bus import service as bus
from citybase.core.bus.schemas import JobProgress
from citybase.core.db.engine import Database
from citybase.core.identity.schemas import Role
from citybase.core.settings import Settings
from citybase.core.shared.service import DatabaseStore
from tests.core.identity.factories import make_user, sign_in

WATCHED = "test.progress.watched"


def test_stages_advance_by_their_weight() -> None:
    seen: list[tuple[float, float, str]] = []
    stages = progress.Stages(lambda d, t, w: seen.append((d, t, w)), (("a", 1.0), ("b", 3.0)))
    stages.start("a", "reading")
    stages.start("b")
    stages.within(0.5, "half")
    stages.finish()
    assert seen == [(0.0, 4.0, "reading"), (1.0, 4.0, "b"), (2.5, 4.0, "b half"),
                    (4.0, 4.0, "Finished")]  # fmt: skip
    with pytest.raises(KeyError):
        stages.start("c")


def test_time_remaining_follows_the_pace() -> None:
    assert progress.remaining(10.0, 1.0, 4.0) == pytest.approx(30.0)
    assert progress.remaining(10.0, 0.0, 4.0) is None  # no pace yet
    assert progress.remaining(10.0, 5.0, 4.0) == 0.0
    assert progress.duration(75, "zh") == "1 分 15 秒"
    assert progress.duration(3725, "en") == "1 h 2 min"
    assert progress.duration(0.2, "zh") == "0 秒"


def test_a_throttled_report_passes_the_first_and_the_last() -> None:
    seen: list[float] = []
    report = progress.Throttled(lambda d, t, w: seen.append(d), seconds=60)
    for done in range(10):
        report(done, 10, "")
    report(10, 10, "")
    assert seen == [0, 10]


def test_a_running_job_is_followed_from_another_connection(
    fresh_db: Database, fresh_settings: Settings
) -> None:
    store = DatabaseStore.beside(fresh_settings, fresh_db)
    midway: list[JobProgress | None] = []
    job_id = 0

    def work(ctx: bus.JobContext) -> None:
        ctx.progress(0, 4, "counting")
        ctx.progress(3, 4, "counting")  # throttled: within the half second, not kept yet
        ctx.progress(4, 4, "counting")
        ctx.session.flush()
        # the job's transaction is open (on SQLite it holds the write lock): a page reads on
        with fresh_db.session_scope(readonly=True) as other:
            midway.append(bus.job_progress(other, store, job_id))

    bus.job(WATCHED, watch="test:watch")(work)
    with fresh_db.session_scope() as session:
        job_id = bus.schedule(session, WATCHED).id
    with fresh_db.session_scope(readonly=True) as session:
        waiting = bus.job_progress(session, store, job_id)
    assert waiting is not None
    assert (waiting.status, waiting.total) == ("pending", 0)
    assert bus.run_due_jobs(fresh_db, fresh_settings, "w1", store=store) == 1
    [seen] = midway
    assert seen is not None
    assert (seen.status, seen.done, seen.total, seen.what) == ("running", 4, 4, "counting")
    assert seen.share == 1.0
    assert seen.remaining_seconds == 0.0
    with fresh_db.session_scope(readonly=True) as session:
        after = bus.job_progress(session, store, job_id)
    assert after is not None
    assert after.status == "done"
    assert bus.watch_permission(WATCHED) == "test:watch"
    store.close()


def test_nobody_follows_a_job_that_is_not_theirs_to_watch(
    client: TestClient, session: Session, tmp_path: Path
) -> None:
    """A job whose kind names no permission (the system's own work) is not found by anyone on
    the progress address, the platform's admin included; anonymous callers are refused."""
    bus.job("test.progress.unwatched")(lambda ctx: None)
    job = bus.schedule(session, "test.progress.unwatched")
    make_user(session, "root", Role.platform_admin)
    session.commit()
    assert client.get(f"/console/jobs/{job.id}/progress").status_code == 401
    sign_in(client, "root")
    missing = client.get(f"/console/jobs/{job.id}/progress")
    assert missing.status_code == 404
    assert client.get("/console/jobs/999999/progress").status_code == 404
    assert client.get("/console/jobs/0/progress").status_code == 422
