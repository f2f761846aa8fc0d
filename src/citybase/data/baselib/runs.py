"""The base libraries' run history, as the stewards read it: every linkage run, full or
incremental (增量关联), newest first, with what started it, how long it took, what it read
(each read traced), the files it made, changed and merged, the review items it queued and the
disputes it raised, the model it used, and its ledger entry. A run that fails is kept too
(``failure_kept``): its work is rolled back, and the run is recorded failed, with why, in a
transaction of its own, on the ledger as ``baselib.link.failed``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.db.engine import kept_after_failure
from citybase.core.errors import CitybaseError, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor, LedgerEntryRead
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import repository
from citybase.data.baselib.linkage import Kind
from citybase.data.baselib.models import LinkRun
from citybase.data.baselib.schemas import ReviewRead, RunRead
from citybase.data.baselib.service import require_steward, run_case, sources_of

PER_PAGE = 50
STATUSES = ("finished", "failed", "running")
ERROR_LENGTH = 300  # of a failed run's error: its class and the first line of its message


@dataclass(frozen=True)
class RunSummary:
    """A run as a line of the history. ``None`` where the run does not keep the figure (a full
    run does not count the files it changed or merged; runs made before the figure was kept)."""

    run: RunRead
    seconds: float | None
    rows_read: int
    made: int | None
    changed: int | None
    merged: int | None
    disputes: int | None
    model_run: int | None  # the full run whose model was used (itself, for a full run)
    event: str  # the bus event an incremental run answered

    @property
    def finished(self) -> bool:
        return self.run.finished_at is not None

    @property
    def status(self) -> str:
        """finished, failed (its work rolled back), or running (neither, yet)."""
        if self.run.error:
            return "failed"
        return "finished" if self.finished else "running"


@dataclass(frozen=True)
class RunPage:
    runs: list[RunSummary]
    total: int
    page: int
    pages: int
    resources: list[str]  # every resource a run of the library has read, for the filter


@dataclass(frozen=True)
class FileRef:
    id: int
    records: int  # 0: retired since (its rows went to other files), not to be opened


@dataclass(frozen=True)
class RunDetail:
    summary: RunSummary
    reads: list[dict[str, Any]]  # resource_code, unit_code, rows, access_id (where traced)
    case_number: str  # the case its traced reads stated
    made: list[FileRef]
    changed: list[FileRef]
    merged: list[tuple[FileRef, FileRef]]  # (kept, merged into it)
    reviews: list[ReviewRead]
    disputes: list[str]
    ledger_entry: LedgerEntryRead | None
    notes: list[str] = field(default_factory=list)


def _seconds(run: LinkRun) -> float | None:
    kept = run.model.get("seconds")
    if isinstance(kept, int | float):
        return float(kept)
    if run.finished_at is None:
        return None
    return (run.finished_at - run.started_at).total_seconds()


def _summary(run: LinkRun, made: int) -> RunSummary:
    model = run.model or {}
    disputes = model.get("disputes")
    if run.incremental:
        rows = sum(int(model.get(k, 0)) for k in ("unchanged", "linked", "moved"))
        return RunSummary(
            RunRead.model_validate(run), _seconds(run), rows, len(model.get("created", [])),
            len(model.get("changed", [])), len(model.get("merged", [])),
            len(disputes) if isinstance(disputes, list) else None,
            model.get("kept_run"), str(model.get("event", "")),
        )  # fmt: skip
    return RunSummary(
        RunRead.model_validate(run), _seconds(run), run.records, made, None, None,
        len(disputes) if isinstance(disputes, list) else None, run.id, "",
    )  # fmt: skip


def list_runs(
    session: Session, principal: Principal, kind: Kind, settings: BaselibSettings, *,
    incremental: bool | None = None, resource: str = "", status: str = "", page: int = 1,
) -> RunPage:  # fmt: skip
    """A page of the library's runs, newest first (the stewards only); ``status`` one of
    ``STATUSES``, or empty for any."""
    require_steward(principal, settings)
    page = max(page, 1)
    found, total = repository.run_page(
        session, kind.value, incremental=incremental, resource=resource.strip(), status=status,
        limit=PER_PAGE, offset=(page - 1) * PER_PAGE,
    )  # fmt: skip
    made = repository.count_entities_made_by_runs(session, [r.id for r in found])
    return RunPage(
        [_summary(r, made.get(r.id, 0)) for r in found], total, page,
        max((total + PER_PAGE - 1) // PER_PAGE, 1),
        sorted(repository.run_resources(session, kind.value)),
    )  # fmt: skip


def _files(session: Session, ids: list[int]) -> list[FileRef]:
    found = {e.id: e.records for e in repository.entities_by_ids(session, ids)}
    return [FileRef(i, found.get(i, 0)) for i in ids]


def get_run(
    session: Session, principal: Principal, run_id: int, settings: BaselibSettings
) -> RunDetail:
    """One run with everything it keeps (the stewards only)."""
    require_steward(principal, settings)
    run = repository.run(session, run_id)
    if run is None:
        raise NotFound(f"no linkage run {run_id}", field="run")
    model = run.model or {}
    if run.incremental:
        made = _files(session, [int(i) for i in model.get("created", [])])
        merged_pairs = [(int(a), int(b)) for a, b in model.get("merged", [])]
        merged_refs = _files(session, [i for pair in merged_pairs for i in pair])
        merged = list(zip(merged_refs[::2], merged_refs[1::2], strict=True))
        changed = _files(session, [int(i) for i in model.get("changed", [])])
    else:
        made = [FileRef(e.id, e.records) for e in repository.entities_made_by(session, run.id)]
        merged, changed = [], []
    summary = _summary(run, repository.count_entities_made_by(session, run.id))
    reads = model.get("reads")
    if not isinstance(reads, list):  # a run made before its reads were traced
        reads = [{"resource_code": code} for code in run.resources]
    seq = model.get("ledger")
    entry = ledger.get_entry(session, int(seq)) if isinstance(seq, int) else None
    disputes = model.get("disputes")
    return RunDetail(
        summary, reads, run_case(run) if isinstance(model.get("reads"), list) else "",
        made, changed, merged,
        [ReviewRead.model_validate(r) for r in repository.reviews_of_run(session, run.id)],
        [str(d) for d in disputes] if isinstance(disputes, list) else [], entry,
        [str(n) for n in model.get("notes", [])],
    )  # fmt: skip


# --- a run that fails ------------------------------------------------------------------------------


def error_of(exc: BaseException) -> str:
    """What a failed run keeps of why: the exception's class and the first line of its
    message, cut short — never a traceback, and no more of the message than that."""
    first = next(iter(str(exc).strip().splitlines()), "")
    said = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return said if len(said) <= ERROR_LENGTH else said[: ERROR_LENGTH - 1] + "…"


@contextmanager
def failure_kept(
    session: Session, kind: Kind, settings: BaselibSettings, *,
    principal: Principal | None = None, incremental: bool = False,
    resources: list[str] | None = None,
) -> Iterator[None]:  # fmt: skip
    """Around a linkage run, by whoever owns its transaction (a request, a job): if the run
    fails unexpectedly, its work is rolled back, the failed run is recorded in a transaction of
    its own (``record_failed_run``), and the failure goes on (the API answers its error, the
    job queue retries the job). A refusal — not a steward, no such resource, a wrong value —
    is the caller's error, already answered: it leaves no run."""
    started, clock = datetime.now(UTC), time.perf_counter()
    try:
        yield
    except (CitybaseError, ValidationError):
        raise
    except Exception as exc:
        with kept_after_failure(session):
            record_failed_run(
                session, kind, settings, exc, started_at=started,
                seconds=time.perf_counter() - clock, principal=principal,
                incremental=incremental, resources=resources,
            )  # fmt: skip
        raise


def record_failed_run(
    session: Session, kind: Kind, settings: BaselibSettings, exc: BaseException, *,
    started_at: datetime, seconds: float, principal: Principal | None = None,
    incremental: bool = False, resources: list[str] | None = None,
) -> LinkRun:  # fmt: skip
    """Keep a run that failed, with why, and its ledger entry ``baselib.link.failed``. A full
    run names the library's sources (those it was reading); an incremental one, started by a
    load, acts for whoever made the last full run, as it would have."""
    run_by = principal.username if principal is not None else ""
    if not run_by and incremental:
        kept = repository.last_run(session, kind.value)
        run_by = kept.run_by if kept is not None else ""
    if resources is None:
        resources = _sources_being_read(session, kind)
    run = LinkRun(
        kind=kind.value, started_at=started_at, run_by=run_by, resources=sorted(resources),
        match_threshold=settings.match_threshold, review_threshold=settings.review_threshold,
        incremental=incremental, error=error_of(exc), model={"seconds": round(seconds, 3)},
    )  # fmt: skip
    repository.add(session, run)
    seq = ledger.record(
        session, _actor(session, principal, run_by), "baselib.link.failed",
        object_type="base_library", object_id=kind.value,
        reason="基础库增量关联" if incremental else "基础库关联比对",
        details={"run": run.id, "incremental": incremental, "resources": run.resources,
                 "error": run.error},
    )  # fmt: skip
    run.model = {**run.model, "ledger": seq}
    session.flush()
    return run


def _sources_being_read(session: Session, kind: Kind) -> list[str]:
    savepoint = session.begin_nested()
    try:
        codes = [s.resource.code for s in sources_of(session, kind)]
    except Exception:  # the catalog may be what failed: the run is kept without them
        savepoint.rollback()
        return []
    savepoint.commit()
    return codes


def _actor(session: Session, principal: Principal | None, run_by: str) -> Actor:
    if principal is not None:
        return actor_of(principal)
    try:
        return actor_of(identity.principal_for(session, run_by))
    except CitybaseError:
        return Actor(name=run_by) if run_by else Actor.system("baselib")
