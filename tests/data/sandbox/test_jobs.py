"""Code jobs of the sandbox: run under a grant over the traced read, stopped by their guards with
nothing released, tables checked against k, held outputs reviewed only by the providing unit's
steward, released outputs downloaded only by their analyst."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError
from citybase.core.identity.schemas import Principal
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.core.web import once
from citybase.data.masking import operators as ops
from citybase.data.sandbox import jobs, runner
from citybase.data.sandbox.jobs_schemas import Decision, JobCreate, JobRead, Review
from citybase.data.sandbox.models import SandboxJob, SandboxJobOutput
from citybase.data.sharing.models import ShareAccess as AccessLog
from tests.core.identity.factories import sign_in
from tests.data.sandbox.factories import KEYS, SETTINGS, add_rows, repeat_offenders, sandbox_city

TABLE = (
    'SELECT 性别, COUNT(*) AS n, SUM(罚款金额) AS total FROM "{code}" GROUP BY 性别 '
    "UNION ALL SELECT '高额', COUNT(*), SUM(罚款金额) FROM \"{code}\" WHERE 罚款金额 > 120"
)


def _entries(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).select_from(LedgerEntry)
                          .where(LedgerEntry.action == action)) or 0  # fmt: skip


def _run(
    session: Session, principal: Principal, data: JobCreate, home: Path
) -> tuple[JobRead, CitybaseError | None]:
    """Queue a job and run it as the background worker would (once, explicitly)."""
    job, error = jobs.submit_job(session, principal, data, max_seconds=60)
    if error is not None:
        return job, error
    assert job.status == "queued"
    ran = jobs.run_job(session, job.id, KEYS, home)
    assert ran is not None
    return ran, jobs.job_error(ran)


def _city(session: Session):  # type: ignore[no-untyped-def]
    sc = sandbox_city(session, rows=0)
    add_rows(session, sc, repeat_offenders(24, 1))  # 12 men, 12 women; 罚款金额 100…123
    return sc


def test_a_sql_job_reads_through_the_traced_read_and_small_cells_are_suppressed(
    session: Session, tmp_path: Path
) -> None:
    sc = _city(session)
    job, error = _run(session, sc.analyst, JobCreate(
        language="sql", code=TABLE.format(code=sc.code), sources=[sc.code]), tmp_path)  # fmt: skip
    assert error is None, job.message
    assert job.status == "finished"
    assert len(job.access_ids) == 1
    access = session.get(AccessLog, job.access_ids[0])
    assert access is not None
    assert access.resource_code == sc.code
    (table,) = job.outputs
    assert (table.name, table.status, table.check["suppressed_rows"]) == (
        "result.csv",
        "released",
        1,
    )
    _name, content = jobs.output_file(session, sc.analyst, SETTINGS, table.id, tmp_path)
    lines = sorted(content.decode().splitlines())
    assert lines == sorted(["性别,n,total", "女,12,1332", "男,12,1344", "高额,,"])
    assert not (tmp_path / "sandbox" / "jobs" / str(job.id) / "in").exists()
    assert _entries(session, "sandbox.job.run") == 1
    assert _entries(session, "sandbox.job.output.release") == 1


def test_a_row_level_table_keeps_only_groups_of_k(session: Session, tmp_path: Path) -> None:
    sc = _city(session)
    code = ('import polars as pl\nframe = pl.read_csv("in/{c}.csv")\n'
            'frame.select("性别").write_csv("out/genders.csv")\n'
            'frame.select("公民身份号码").write_csv("out/ids.csv")\n'
            'open("out/plot.svg", "w").write("<svg/>")\n'
            'open("notes.csv", "w").write("姓名\\n张伟\\n")\n').replace("{c}", sc.code)  # fmt: skip
    job, error = _run(session, sc.analyst, JobCreate(
        language="python", code=code, sources=[sc.code]), tmp_path)  # fmt: skip
    assert error is None, job.message + job.log
    by_name = {o.name: o for o in job.outputs}
    ids = jobs.output_file(session, sc.analyst, SETTINGS, by_name["ids.csv"].id, tmp_path)[1]
    assert ids.decode().splitlines() == ["公民身份号码"]  # every identifier is a group of one
    genders = jobs.output_file(session, sc.analyst, SETTINGS, by_name["genders.csv"].id,
                               tmp_path)[1]  # fmt: skip
    assert len(genders.decode().splitlines()) == 25
    assert by_name["plot.svg"].status == "held"
    # only out/ outlives the run: the inputs and whatever else the job wrote are gone
    kept = {p.name for p in jobs.workdir_of(tmp_path, job.id).iterdir()}
    assert kept == {"out", "released"}  # released/: the checked copies of the tables


@pytest.mark.parametrize(("code", "rule"), [
    ("import socket\n", "job.import"),
    # past the import check (a known escape), the audit hook still stops the socket
    ("w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "
     "'catch_warnings'][0]\nmodules = w()._module.sys.modules\n"
     "modules['_frozen_importlib']._gcd_import('socket').socket()\n", "job.network"),
    ("print(open('/etc/passwd').read())\n", "job.filesystem"),
    ("open('out/ok.csv', 'w').write('a\\n1\\n')\nopen('../../escape.txt', 'w').write('x')\n",
     "job.filesystem"),
    ("import polars as pl\nprint(pl.read_csv('/etc/passwd', has_header=False))\n",
     "job.filesystem"),
    ("while True:\n    pass\n", "job.timeout"),
    ("x = bytearray(3 * 1024 ** 3)\n", "job.memory"),
])  # fmt: skip
def test_a_job_that_reaches_out_is_stopped_and_releases_nothing(
    session: Session, tmp_path: Path, code: str, rule: str
) -> None:
    sc = _city(session)
    job, error = _run(session, sc.analyst, JobCreate(
        language="python", code=code, sources=[sc.code], seconds=3), tmp_path)  # fmt: skip
    if "pl.read_csv" in code and "landlock-fs" not in job.guards:
        pytest.skip("native reads are stopped by Landlock, which this kernel does not offer")
    assert error is not None
    assert job.rule == rule, (job.rule, job.message, job.log)
    assert job.status in ("refused", "failed")
    assert job.outputs == []
    assert session.scalar(select(func.count()).select_from(SandboxJobOutput)) == 0
    assert not (tmp_path / "sandbox" / "jobs" / str(job.id)).exists()
    assert not (tmp_path / "sandbox" / "escape.txt").exists()
    assert _entries(session, "sandbox.job.refuse") == 1


def test_a_sql_job_cannot_read_files(session: Session, tmp_path: Path) -> None:
    sc = _city(session)
    job, error = _run(session, sc.analyst, JobCreate(
        language="sql", code="SELECT * FROM read_csv('/etc/passwd')", sources=[sc.code]),
        tmp_path)  # fmt: skip
    assert error is not None
    assert job.rule == "job.filesystem", job.log
    assert job.outputs == []


def test_the_guards_in_force_are_reported(session: Session, tmp_path: Path) -> None:
    sc = _city(session)
    job, _ = _run(session, sc.analyst, JobCreate(
        language="sql", code="SELECT 1 AS n", sources=[sc.code]), tmp_path)  # fmt: skip
    assert {"rlimits", "empty-env", "audit-hook"} <= set(job.guards)
    if runner.namespaces():
        assert "netns" in job.guards


def test_no_grant_is_refused_before_any_read(session: Session, tmp_path: Path) -> None:
    sc = _city(session)
    reads = session.scalar(select(func.count()).select_from(AccessLog))
    job, error = _run(session, sc.stranger, JobCreate(
        language="sql", code="SELECT 1", sources=[sc.code]), tmp_path)  # fmt: skip
    assert error is not None
    assert job.rule == "grant.none"
    assert job.access_ids == []
    assert session.scalar(select(func.count()).select_from(AccessLog)) == reads
    assert _entries(session, "sandbox.job.refuse") == 1
    job, error = _run(session, sc.analyst, JobCreate(
        language="python", code="import os\n", sources=[sc.code]), tmp_path)  # fmt: skip
    assert job.rule == "job.import"
    assert job.access_ids == []
    assert session.scalar(select(func.count()).select_from(AccessLog)) == reads


def test_only_the_providing_units_steward_reviews(session: Session, tmp_path: Path) -> None:
    sc = _city(session)
    job, _ = _run(session, sc.analyst, JobCreate(
        language="python", code="open('out/model.json', 'w').write('{}')\n",
        sources=[sc.code]), tmp_path)  # fmt: skip
    (held,) = job.outputs
    with pytest.raises(Exception, match=r"not_released|only released"):
        jobs.output_file(session, sc.analyst, SETTINGS, held.id, tmp_path)
    for stranger in (sc.other_steward, sc.stranger):
        with pytest.raises(Exception, match="no held output"):
            jobs.review_output(session, stranger, SETTINGS, held.id,
                               Review(decision=Decision.approve), tmp_path)  # fmt: skip
    assert session.get(SandboxJobOutput, held.id).status == "held"  # type: ignore[union-attr]
    assert jobs.review_queue(session, sc.other_steward, SETTINGS) == []
    assert [o.id for _, o in jobs.review_queue(session, sc.steward, SETTINGS)] == [held.id]
    with pytest.raises(Exception, match="says why"):
        jobs.review_output(session, sc.steward, SETTINGS, held.id,
                           Review(decision=Decision.reject), tmp_path)  # fmt: skip
    jobs.review_output(session, sc.steward, SETTINGS, held.id,
                       Review(decision=Decision.approve), tmp_path)  # fmt: skip
    assert jobs.output_file(session, sc.analyst, SETTINGS, held.id, tmp_path)[1] == b"{}"
    assert _entries(session, "sandbox.job.output.release") == 1


def _work(session: Session, settings: Settings) -> int:
    """The background worker's round, on the test's transaction: every queued job is run."""
    queued = session.scalars(select(SandboxJob.id).where(SandboxJob.status == "queued")).all()
    for job_id in queued:
        jobs.run_job(session, job_id, ops.keys_for(settings.masking_key), settings.home)
    return len(queued)


def test_an_analyst_cannot_download_anothers_output(
    client: TestClient, session: Session, settings: Settings
) -> None:
    sc = _city(session)
    from tests.data.sandbox.factories import analyst_of_health

    analyst_of_health(session, "healthuser2")
    session.commit()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    made = client.post("/api/v1/sandbox/jobs", json={
        "language": "sql", "code": TABLE.format(code=sc.code), "sources": [sc.code]})  # fmt: skip
    assert made.status_code == 202, made.text
    assert made.json()["status"] == "queued"
    assert made.headers["Location"] == f"/api/v1/sandbox/jobs/{made.json()['id']}"
    assert _work(session, settings) == 1
    ran = client.get(made.headers["Location"])
    assert ran.json()["status"] == "finished"
    (output,) = ran.json()["outputs"]
    mine = client.get(f"/api/v1/sandbox/outputs/{output['id']}/file")
    assert mine.status_code == 200
    assert "男,12" in mine.text
    refused = client.post("/api/v1/sandbox/jobs", json={
        "language": "python", "code": "import socket", "sources": [sc.code]})  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["rule"] == "job.import"
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser2")
    other = client.get(f"/api/v1/sandbox/outputs/{output['id']}/file")
    assert other.status_code == 404
    assert client.get(f"/api/v1/sandbox/jobs/{made.json()['id']}").status_code == 404
    assert client.get("/api/v1/sandbox/jobs").json() == []
    assert session.scalar(select(func.count()).select_from(SandboxJob)) == 2


def _form_token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_the_console_runs_a_job_and_only_the_providing_steward_reviews(
    client: TestClient, session: Session, settings: Settings
) -> None:
    sc = _city(session)
    session.commit()
    csrf = sign_in(client, "healthuser")
    page = client.get("/console/sandbox/jobs")
    assert page.status_code == 200
    assert "代码作业" in page.text
    assert "城市管理违法当事人信息" in page.text
    sent = client.post("/console/sandbox/jobs", data={
        "csrf_token": csrf, "form_token": _form_token(page.text), "language": "python",
        "sources[]": sc.code, "code": "open('out/chart.svg', 'w').write('<svg/>')\n",
    }, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    waiting = client.get("/console/sandbox/jobs")
    assert "排队中" in waiting.text
    assert "等待后台任务" in waiting.text  # the progress line, until the worker takes it
    (job_id,) = session.scalars(select(SandboxJob.id)).all()
    follow = client.get(f"/console/sandbox/jobs/{job_id}/progress")
    assert follow.json()["status"] == "pending"
    assert _work(session, settings) == 1
    assert client.get(f"/console/sandbox/jobs/{job_id}/progress").json()["status"] == "done"
    shown = client.get("/console/sandbox/jobs")
    assert "待审查" in shown.text
    assert "chart.svg" in shown.text
    output = session.scalars(select(SandboxJobOutput)).one()
    client.post("/logout")
    csrf = sign_in(client, "bureausteward")  # a steward of another unit
    queue = client.get("/console/sandbox/review")
    assert queue.status_code == 200
    assert "chart.svg" not in queue.text
    refused = client.post(f"/console/sandbox/review/{output.id}", data={
        "csrf_token": csrf, "form_token": once.issue(settings), "decision": "approve"},
        follow_redirects=False)  # fmt: skip
    assert refused.status_code in (303, 404)
    session.refresh(output)
    assert output.status == "held"
    client.post("/logout")
    csrf = sign_in(client, "urbansteward")
    queue = client.get("/console/sandbox/review")
    assert "输出审查" in queue.text
    assert "chart.svg" in queue.text
    decision = {"csrf_token": csrf, "form_token": _form_token(queue.text), "decision": "reject",
                "reason": "图中可识别个人"}  # fmt: skip
    done = client.post(f"/console/sandbox/review/{output.id}", data=decision,
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    again = client.post(f"/console/sandbox/review/{output.id}", data=decision,
                        follow_redirects=False)  # fmt: skip
    assert again.headers["location"] == done.headers["location"]  # sent twice, decided once
    session.refresh(output)
    assert (output.status, output.reason) == ("rejected", "图中可识别个人")


def test_through_the_api_only_the_providing_steward_sees_and_reviews_a_held_output(
    client: TestClient, session: Session, settings: Settings
) -> None:
    sc = _city(session)
    session.commit()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    unknown = client.post("/api/v1/sandbox/jobs", json={
        "language": "sql", "code": "SELECT 1", "sources": ["999999-999999"]})  # fmt: skip
    assert unknown.status_code == 404
    assert unknown.json()["error"]["details"]["rule"] == "sandbox.not_declared"
    made = client.post("/api/v1/sandbox/jobs", json={
        "language": "python", "sources": [sc.code],
        "code": "open('out/fig.svg', 'w').write('<svg>12</svg>')\n"})  # fmt: skip
    assert made.status_code == 202
    _work(session, settings)
    (held,) = client.get(f"/api/v1/sandbox/jobs/{made.json()['id']}").json()["outputs"]
    assert client.get(f"/api/v1/sandbox/outputs/{held['id']}/file").status_code == 403
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "bureausteward")
    assert client.get("/api/v1/sandbox/outputs/held").json() == []
    assert client.get(f"/api/v1/sandbox/outputs/{held['id']}/file").status_code == 404
    crossed = client.post(f"/api/v1/sandbox/outputs/{held['id']}/review",
                          json={"decision": "approve"})  # fmt: skip
    assert crossed.status_code == 404
    assert session.get(SandboxJobOutput, held["id"]).status == "held"  # type: ignore[union-attr]
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "urbansteward")
    assert [o["id"] for o in client.get("/api/v1/sandbox/outputs/held").json()] == [held["id"]]
    assert client.get(f"/api/v1/sandbox/outputs/{held['id']}/file").text == "<svg>12</svg>"
    approved = client.post(f"/api/v1/sandbox/outputs/{held['id']}/review",
                           json={"decision": "approve"})  # fmt: skip
    assert approved.json()["status"] == "released"
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    assert client.get(f"/api/v1/sandbox/outputs/{held['id']}/file").text == "<svg>12</svg>"
