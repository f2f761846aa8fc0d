"""The base libraries' run history, as the stewards read it: every linkage run, full or
incremental (增量关联), newest first, with what started it, how long it took, what it read
(each read traced), the files it made, changed and merged, the review items it queued and the
disputes it raised, the model it used, and its ledger entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.errors import NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerEntryRead
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import repository
from citybase.data.baselib.linkage import Kind
from citybase.data.baselib.models import LinkRun
from citybase.data.baselib.schemas import ReviewRead, RunRead
from citybase.data.baselib.service import require_steward, run_case

PER_PAGE = 50


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
    incremental: bool | None = None, resource: str = "", page: int = 1,
) -> RunPage:  # fmt: skip
    """A page of the library's runs, newest first (the stewards only)."""
    require_steward(principal, settings)
    page = max(page, 1)
    found, total = repository.run_page(
        session, kind.value, incremental=incremental, resource=resource.strip(),
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
