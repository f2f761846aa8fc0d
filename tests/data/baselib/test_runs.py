"""The linkage runs on the console: the history of full and incremental runs (newest first,
filtered by kind and by resource), a run's page with its traced reads, files, review items,
model and ledger entry, and the boundary (only the base libraries' stewards see them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.models import Job
from citybase.core.db.engine import Database
from citybase.core.errors import Forbidden
from citybase.core.identity.schemas import Role
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.baselib import golden, incremental, link_updates, repository, runs, service
from citybase.data.baselib import tasks as baselib_tasks
from citybase.data.baselib.models import BaseEntity, EntityLink, LinkRun, ReviewItem
from citybase.data.baselib.schemas import Kind, RunRead
from citybase.data.datastore import service as datastore
from citybase.data.masking import operators as ops
from citybase.data.quality.models import Dispute
from citybase.data.sharing.models import ShareAccess
from tests.core.identity.factories import make_user, sign_in
from tests.data.baselib.factories import LinkedCity, linked_city
from tests.data.baselib.test_link_updates import _with_newcomers


def _runs(session: Session, settings: Settings) -> tuple[LinkedCity, RunRead, RunRead]:
    """A full run over both units' resources, then a load of fz.health's with two new rows
    linked from the bus (incrementally)."""
    city = linked_city(session, settings)
    keys = ops.keys_for(settings.masking_key)
    full = service.link_base_library(session, city.steward, Kind.person, settings.baselib, keys)
    datastore.load_rows(session, city.health_steward, city.health.code, _with_newcomers(), "t")
    increment = link_updates.link_rows_of(
        session, Kind.person, city.health.code, settings.baselib, keys,
        unit_code="fz.health", event_id="evt-1",
    )  # fmt: skip
    assert increment is not None
    return city, full, increment


def _listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/console/baselib/runs/(\d+)">\1<', html)]


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_every_run_is_listed_newest_first_with_what_started_it(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, full, increment = _runs(session, settings)
    sign_in(client, "bureausteward")
    page = client.get("/console/baselib/runs?library=person")
    assert page.status_code == 200, page.text
    assert _listed(page.text) == [increment.id, full.id]
    text = page.text
    assert "关联运行记录" in text
    assert "全量关联" in text
    assert "增量关联" in text
    # the incremental run names the load by the resource's name, not its code
    assert f'数据入库：<span title="{city.health.code}">居民健康档案基本信息</span>' in text
    assert f"沿用运行 #{full.id}" in text  # the model it used
    assert "本次训练" in text
    # the incremental run read the whole resource (6 unchanged + 2 new) and linked two rows
    summary = runs.list_runs(session, city.steward, Kind.person, settings.baselib).runs
    assert [(s.rows_read, s.run.records, s.made) for s in summary] == [
        (8, 2, 1),
        (full.records, full.records, full.entities),
    ]
    assert summary[1].changed is None  # a full run does not say which files it changed
    # reachable from the base library's page
    assert "/console/baselib/runs?library=persons" in client.get("/console/baselib").text


def test_the_filters_by_kind_and_by_resource(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, full, increment = _runs(session, settings)
    sign_in(client, "bureausteward")
    base = "/console/baselib/runs?library=persons"
    assert _listed(client.get(f"{base}&kind=incremental").text) == [increment.id]
    assert _listed(client.get(f"{base}&kind=full").text) == [full.id]
    urban, health = city.shared.resource.code, city.health.code
    assert _listed(client.get(f"{base}&resource={urban}").text) == [full.id]
    assert _listed(client.get(f"{base}&resource={health}").text) == [increment.id, full.id]
    assert _listed(client.get(f"{base}&resource={urban}&kind=incremental").text) == []
    # a LIKE wildcard in the filter is a character, not a pattern
    assert _listed(client.get(f"{base}&resource=%25").text) == []
    assert _listed(client.get(f"{base}&resource=_").text) == []
    # the enterprises' history is another library's
    assert _listed(client.get("/console/baselib/runs?library=enterprises").text) == []
    html = {"Accept": "text/html"}
    bad = client.get(f"{base}&kind=weekly", headers=html)
    assert bad.status_code == 422
    assert "运行类型只能是全量或增量，不能是 weekly" in bad.text
    assert client.get(f"{base}&page=0", headers=html).status_code == 422
    assert _listed(client.get(f"{base}&page=2").text) == []


def test_a_full_runs_page_shows_its_traced_reads_files_and_model(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, full, _ = _runs(session, settings)
    # each source read is traced: one access-log row per resource, its case the run
    reads = {r["resource_code"]: r for r in full.model["reads"]}
    assert set(reads) == {city.shared.resource.code, city.health.code}
    traced = session.scalars(
        select(ShareAccess).where(ShareAccess.case_number == f"LINK{full.started_at:%Y%m%d}"
                                  f"{full.id:06d}")
    ).all()  # fmt: skip
    assert {a.id for a in traced} == {r["access_id"] for r in reads.values()}
    assert sum(r["rows"] for r in reads.values()) == full.records
    sign_in(client, "bureausteward")
    page = client.get(f"/console/baselib/runs/{full.id}")
    assert page.status_code == 200, page.text
    text = page.text
    for r in reads.values():
        assert f'<span class="mono">{r["access_id"]}</span>' in text
    assert "居民健康档案基本信息" in text
    assert "城市管理违法当事人信息" in text
    assert "模型各比对项的匹配权重" in text
    assert "分块规则" in text
    # the files it made, each a link that opens the file through the traced read
    made = repository.entities_made_by(session, full.id)
    assert made
    for entity in made:
        if entity.records:
            assert f'/console/baselib?library=persons&amp;file={entity.id}"' in text
    # the review items it queued, with their state; its ledger entry
    for item in repository.reviews_of_run(session, full.id):
        assert f"<td>{item.id}</td>" in text
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.seq == full.model["ledger"]))
    assert entry is not None
    assert entry.action == "baselib.link"
    assert entry.details["run"] == full.id
    assert f'href="/console/ledger/{entry.seq}"' in text
    assert "基础库关联" in text


def test_an_incremental_runs_page_shows_the_files_it_made_and_changed(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, full, increment = _runs(session, settings)
    sign_in(client, "bureausteward")
    page = client.get(f"/console/baselib/runs/{increment.id}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "evt-1" in text
    assert f'href="/console/baselib/runs/{full.id}"' in text
    (read,) = increment.model["reads"]
    assert (read["resource_code"], read["rows"]) == (city.health.code, 8)
    assert f'<span class="mono">{read["access_id"]}</span>' in text
    for file_id in [*increment.model["created"], *increment.model["changed"]]:
        assert f'/console/baselib?library=persons&amp;file={file_id}"' in text
    assert "模型各比对项的匹配权重" not in text  # its model is the full run's, linked
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.seq == increment.model["ledger"]))
    assert entry is not None
    assert entry.action == "baselib.link.incremental"
    # a file linked from the page opens once a purpose is given, traced
    newcomer = increment.model["created"][0]
    form = client.get(f"/console/baselib?library=persons&file={newcomer}")
    assert form.status_code == 200
    assert f'name="file" value="{newcomer}"' in form.text
    before = _count(session, ShareAccess)
    shown = client.get(f"/console/baselib?library=persons&file={newcomer}&purpose=核查"
                       "&issue=SR202612010001")  # fmt: skip
    assert shown.status_code == 200, shown.text
    assert "钱多多" in shown.text
    assert _count(session, ShareAccess) == before + 1
    missing = client.get("/console/baselib?library=persons&file=999999999&purpose=核查")
    assert missing.status_code == 422
    assert "999999999" in missing.text


def test_the_disputes_a_run_raised_are_kept_with_it(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    before = _count(session, Dispute)
    full = service.link_base_library(session, city.steward, Kind.person, settings.baselib,
                                     ops.keys_for(settings.masking_key))  # fmt: skip
    raised = session.scalars(select(Dispute.number).order_by(Dispute.id).offset(before)).all()
    assert raised  # fz.health's newer phone disputes fz.urban's
    assert full.model["disputes"] == list(raised)
    detail = runs.get_run(session, city.steward, full.id, settings.baselib)
    assert detail.disputes == list(raised)
    assert detail.summary.disputes == len(raised)


def test_only_the_base_libraries_stewards_see_the_runs(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, full, increment = _runs(session, settings)
    make_user(session, "unitadmin", Role.unit_admin, unit="fz.health")
    paths = ["/console/baselib/runs", "/console/baselib/runs?library=enterprises",
             f"/console/baselib/runs/{full.id}", f"/console/baselib/runs/{increment.id}"]  # fmt: skip
    # nobody signed in: sent to sign in, shown nothing
    for path in paths:
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (303, 401), path
        assert "居民健康档案基本信息" not in response.text
    # those who read files but do not keep the libraries: a consumer, a unit's admin, another
    # unit's data steward
    for user in ("healthuser", "unitadmin", "healthsteward", "glreader"):
        client.cookies.clear()
        sign_in(client, user)
        for path in paths:
            response = client.get(path)
            assert response.status_code == 403, (user, path)
            assert "居民健康档案基本信息" not in response.text
            assert f"LINK{full.started_at:%Y%m%d}" not in response.text
        assert "/console/baselib/runs" not in client.get("/console/baselib").text
    assert runs.list_runs(session, city.steward, Kind.person, settings.baselib).total == 2
    client.cookies.clear()
    sign_in(client, "bureausteward")
    missing = client.get("/console/baselib/runs/999999", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert "未找到关联运行 999999" in missing.text


# --- a run that fails --------------------------------------------------------------------------------

BOOM = "the linkage engine ran out of memory"


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError(f"{BOOM}\nsecond line, not kept")


def _made(session: Session) -> tuple[int, ...]:
    """What a run makes: files, links, review items, traced reads, ledger entries of a run."""
    entries = session.scalars(select(LedgerEntry.action)).all()
    return (
        _count(session, BaseEntity), _count(session, EntityLink), _count(session, ReviewItem),
        _count(session, ShareAccess),
        sum(1 for a in entries if a in ("baselib.link", "baselib.link.read")),
    )  # fmt: skip


def _failed(session: Session) -> list[LinkRun]:
    return list(session.scalars(select(LinkRun).where(LinkRun.error != "")))


def _failures_on_ledger(session: Session) -> list[LedgerEntry]:
    return list(session.scalars(
        select(LedgerEntry).where(LedgerEntry.action == "baselib.link.failed")
    ))  # fmt: skip


def test_a_full_run_that_fails_is_kept_failed_and_changes_nothing_else(
    app: FastAPI, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = linked_city(session, settings)
    keys = ops.keys_for(settings.masking_key)
    full = service.link_base_library(session, city.steward, Kind.person, settings.baselib, keys)
    before = _made(session)
    # fails once the files and links are written, before their golden fields are chosen
    monkeypatch.setattr(golden, "keep_golden", _boom)
    client = TestClient(app, raise_server_exceptions=False)
    token = sign_in(client, "bureausteward")
    answer = client.post("/api/v1/baselib/persons/runs", headers={"X-CSRF-Token": token})
    # the API answers its error as for any unexpected failure: logged, said in its own format
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {"code": "internal", "message": "internal error; it has been logged"}
    }
    assert BOOM not in answer.text
    assert _made(session) == before  # its files, links, reads and entry rolled back
    [failed] = _failed(session)
    assert failed.id != full.id
    assert failed.error == f"RuntimeError: {BOOM}"
    assert failed.finished_at is None
    assert (failed.kind, failed.run_by, failed.incremental) == ("person", "bureausteward", False)
    assert failed.resources == sorted(
        s.resource.code for s in service.sources_of(session, Kind.person)
    )
    assert city.health.code in failed.resources
    assert (failed.match_threshold, failed.review_threshold) == (
        settings.baselib.match_threshold, settings.baselib.review_threshold,
    )  # fmt: skip
    assert (failed.records, failed.entities, failed.reviews) == (0, 0, 0)
    [entry] = _failures_on_ledger(session)
    assert entry.actor == "bureausteward"
    assert entry.object_id == "person"
    assert entry.details["run"] == failed.id
    assert entry.details["error"] == failed.error
    assert failed.model["ledger"] == entry.seq
    # the last run whose model is kept is still the full run that finished
    assert repository.last_run(session, "person").id == full.id  # type: ignore[union-attr]
    read = client.get("/api/v1/baselib/persons/runs/latest").json()
    assert (read["id"], read["error"]) == (full.id, "")


def test_a_refusal_leaves_no_failed_run(
    client: TestClient, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = linked_city(session, settings)
    monkeypatch.setattr(golden, "keep_golden", _boom)
    token = sign_in(client, "healthsteward")  # a data steward, of another unit
    answer = client.post("/api/v1/baselib/persons/runs", headers={"X-CSRF-Token": token})
    assert answer.status_code == 403
    with (
        pytest.raises(Forbidden),
        runs.failure_kept(session, Kind.person, settings.baselib, principal=city.health_steward),
    ):
        service.link_base_library(session, city.health_steward, Kind.person, settings.baselib,
                                  ops.keys_for(settings.masking_key))  # fmt: skip
    assert _failed(session) == []
    assert _failures_on_ledger(session) == []
    assert _count(session, LinkRun) == 0


def test_the_console_shows_a_failed_run_and_why(
    app: FastAPI, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    form_token: Any,
) -> None:  # fmt: skip
    city = linked_city(session, settings)
    full = service.link_base_library(session, city.steward, Kind.person, settings.baselib,
                                     ops.keys_for(settings.masking_key))  # fmt: skip
    monkeypatch.setattr(service.linkage, "link", _boom)
    client = TestClient(app, raise_server_exceptions=False)
    csrf = sign_in(client, "bureausteward")
    started = client.post("/console/baselib/runs", data={
        "csrf_token": csrf, "form_token": form_token(), "library": "persons",
    }, follow_redirects=False)  # fmt: skip
    assert started.status_code == 500
    [failed] = _failed(session)
    listing = client.get("/console/baselib/runs?library=persons")
    assert listing.status_code == 200, listing.text
    assert _listed(listing.text) == [failed.id, full.id]
    assert "失败" in listing.text
    assert f"RuntimeError: {BOOM}" in listing.text
    assert "second line" not in listing.text
    only_failed = client.get("/console/baselib/runs?library=persons&status=failed")
    assert _listed(only_failed.text) == [failed.id]
    assert _listed(client.get("/console/baselib/runs?library=persons&status=finished").text) == [
        full.id
    ]
    assert _listed(client.get("/console/baselib/runs?library=persons&status=running").text) == []
    assert client.get("/console/baselib/runs?library=persons&status=odd").status_code == 422
    page = client.get(f"/console/baselib/runs/{failed.id}")
    assert page.status_code == 200, page.text
    assert "失败原因" in page.text
    assert f"RuntimeError: {BOOM}" in page.text
    assert "本次运行的工作已全部回滚" in page.text
    assert "基础库关联失败" in page.text  # its ledger entry, by the action's name
    assert "未留痕" not in page.text  # its reads were rolled back, not made before tracing
    assert f'href="/console/ledger/{failed.model["ledger"]}"' in page.text
    summary = runs.list_runs(session, city.steward, Kind.person, settings.baselib).runs
    assert [s.status for s in summary] == ["failed", "finished"]
    assert summary[0].seconds is not None
    assert summary[0].seconds >= 0


def test_an_incremental_run_that_fails_from_the_bus_is_kept_and_retried(
    fresh_db: Database, fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ops.keys_for(fresh_settings.masking_key)
    with fresh_db.session_scope() as session:
        city = linked_city(session, fresh_settings)
        full = service.link_base_library(session, city.steward, Kind.person,
                                         fresh_settings.baselib, keys)  # fmt: skip
        datastore.load_rows(session, city.health_steward, city.health.code, _with_newcomers(),
                            "t")  # fmt: skip
        bus.schedule(session, baselib_tasks.LINK_ROWS, payload={
            "code": city.health.code, "unit_code": "fz.health", "event_id": "evt-9",
        })  # fmt: skip
        code = city.health.code
        before = _made(session)
    monkeypatch.setattr(incremental, "score_new", _boom)
    assert bus.run_due_jobs(fresh_db, fresh_settings, "w1") == 1
    with fresh_db.session_scope(readonly=True) as session:
        [job] = session.scalars(select(Job).where(Job.kind == baselib_tasks.LINK_ROWS)).all()
        assert (job.status, job.attempts) == ("pending", 1)  # retried by the job queue
        job_id = job.id
        assert BOOM in job.last_error
        assert _made(session) == before
        [failed] = _failed(session)
        assert failed.incremental is True
        assert failed.error == f"RuntimeError: {BOOM}"
        assert failed.finished_at is None
        assert (failed.kind, failed.resources, failed.run_by) == ("person", [code], "bureausteward")
        [entry] = _failures_on_ledger(session)
        assert entry.details["run"] == failed.id
        assert entry.details["incremental"] is True
        assert entry.reason == "基础库增量关联"
        assert repository.last_run(session, "person").id == full.id  # type: ignore[union-attr]
    # once the failure is gone, the retried job links the rows
    monkeypatch.undo()
    with fresh_db.session_scope() as session:
        session.get(Job, job_id).run_at = datetime.now(UTC)  # type: ignore[union-attr]
    assert bus.run_due_jobs(fresh_db, fresh_settings, "w1") == 1
    with fresh_db.session_scope(readonly=True) as session:
        done = session.scalars(select(LinkRun).where(LinkRun.incremental.is_(True),
                                                     LinkRun.error == "")).all()  # fmt: skip
        assert [r.finished_at is not None for r in done] == [True]
        assert len(_failed(session)) == 1
