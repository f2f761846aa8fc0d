"""Code jobs of the sandbox (代码作业, 输出审查): SQL or Python an analyst runs over the rows of
declared resources, in an isolated process (``runner``), whose outputs are held until checked.

- ``submit_job``: the analyst's grant in force on every source is found and a Python job's own
  imports are checked *before anything is read*; the job is kept ``queued`` and a stored job
  (``RUN``) hands it to the background worker.
- ``run_job`` (the worker): one worker claims the job (a conditional ``UPDATE``), checks the
  analyst's grants again, reads the rows through the one traced read (``read_rows_under``,
  basis of kind ``sandbox``, the job as reference, under the analyst's own principal) into the
  job's working directory, lets its owner commit, runs the job there with its limits, and
  records the outcome; a job a guard stopped, or that failed, releases nothing.
- Every CSV table is checked against the job's k at once (``check_table``): with a count
  column, a row counting fewer than k has its count and numbers suppressed; without one, a row
  whose values occur fewer than k times is suppressed. Figures, models and tables that cannot
  be read wait for a steward (``review_output``).
- Only released outputs are downloadable, by the analyst who ran the job (``output_file``).

Every job (its code and hash, its inputs and their accesses, its guards), every refusal and
every output's release or rejection is on the ledger. Nothing here commits (``run_job`` hands
the commit between reading and running back to the job that owns the transaction).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import JobProgress
from citybase.core.errors import CitybaseError, Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of, principal_for
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.progress import Report, Stages, silent
from citybase.core.settings import ProductsSettings
from citybase.core.shared.service import SharedStore
from citybase.data.datastore.schemas import RowQuery
from citybase.data.masking import operators as ops
from citybase.data.products import agreements as products
from citybase.data.sandbox import jobs_repository as repository
from citybase.data.sandbox import mechanisms, runner
from citybase.data.sandbox import repository as sandbox_repository
from citybase.data.sandbox.auth import SANDBOX_GOVERN, SANDBOX_QUERY
from citybase.data.sandbox.dialect import QueryRefused
from citybase.data.sandbox.jobs_schemas import (
    Decision,
    JobCreate,
    JobRead,
    JobStatus,
    Language,
    OutputRead,
    OutputStatus,
    Review,
)
from citybase.data.sandbox.models import SandboxJob, SandboxJobOutput
from citybase.data.sandbox.service import grant_in_force
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import Basis, ReadContext

KINDS = {".csv": "table", ".png": "figure", ".svg": "figure", ".json": "model"}
MAX_OUTPUTS = 20
COUNT_COLUMNS = {"count", "n", "cnt", "count(*)", "count_star()", "人数", "计数", "频数", "记录数"}


def workdir_of(home: Path, job_id: int) -> Path:
    """One directory per job under the platform's home."""
    return home / "sandbox" / "jobs" / str(job_id)


# --- reads --------------------------------------------------------------------------------------


def _output_read(row: SandboxJobOutput) -> OutputRead:
    return OutputRead(
        id=row.id, job_id=row.job_id, name=row.name, kind=row.kind, size=row.size,
        sha256=row.sha256, status=OutputStatus(row.status), check=row.check,
        reviewed_by=row.reviewed_by, reviewed_at=row.reviewed_at, reason=row.reason,
    )  # fmt: skip


def _job_reads(session: Session, rows: list[SandboxJob]) -> list[JobRead]:
    outputs: dict[int, list[OutputRead]] = {}
    for o in repository.outputs(session, [r.id for r in rows]) if rows else []:
        outputs.setdefault(o.job_id, []).append(_output_read(o))
    return [JobRead(
        id=r.id, created_at=r.created_at, username=r.username, unit_code=r.unit_code,
        language=Language(r.language), code=r.code, code_sha256=r.code_sha256,
        sources=list(r.sources), access_ids=[int(a) for a in r.access_ids], k=r.k,
        status=JobStatus(r.status), rule=r.rule, message=r.message, log=r.log,
        guards=list(r.guards), duration_ms=r.duration_ms, seconds=r.seconds,
        memory_mb=r.memory_mb, started_at=r.started_at, finished_at=r.finished_at,
        outputs=outputs.get(r.id, []),
    ) for r in rows]  # fmt: skip


def may_review(principal: Principal, settings: ProductsSettings, job: SandboxJob) -> bool:
    """The bureau; or a steward of the one unit providing every source of the job."""
    if products.is_bureau(principal, settings):
        return True
    units = set(job.provider_units)
    return principal.can(SANDBOX_GOVERN) and units == {principal.unit_code}


def get_accessible_jobs(
    session: Session, principal: Principal, settings: ProductsSettings, limit: int = 50
) -> list[JobRead]:
    """One's own jobs."""
    return _job_reads(session, repository.jobs(session, username=principal.username, limit=limit))


def get_accessible_job(
    session: Session, principal: Principal, settings: ProductsSettings, job_id: int
) -> JobRead:
    row = repository.job(session, job_id)
    if row is None or (row.username != principal.username
                       and not may_review(principal, settings, row)):  # fmt: skip
        raise NotFound(f"no sandbox job {job_id}", field="job_id")
    return _job_reads(session, [row])[0]


def review_queue(
    session: Session, principal: Principal, settings: ProductsSettings
) -> list[tuple[JobRead, OutputRead]]:
    """Held outputs the principal may review, oldest first."""
    held = repository.held(session)
    jobs = {j.id: j for j in (repository.job(session, i) for i in {o.job_id for o in held}) if j}
    reads = {j.id: j for j in _job_reads(session, list(jobs.values()))}
    return [(reads[o.job_id], _output_read(o)) for o in held
            if may_review(principal, settings, jobs[o.job_id])]  # fmt: skip


# --- the automatic check of tables --------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def check_table(content: bytes, k: int) -> tuple[bytes | None, dict[str, Any]]:
    """The table as it may be released and the report of its check, or ``None`` when it
    cannot be checked (then a steward decides). With a count column, each row counting fewer
    than ``k`` has its count and every number suppressed (its text labels are kept); without
    one, the rows are groups of equal values, and a group of fewer than ``k`` rows is left
    out."""
    try:
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        return None, {"k": k, "reason": f"not a readable CSV table: {exc}"}
    if not rows:
        return None, {"k": k, "reason": "an empty file"}
    header, body = rows[0], rows[1:]
    counted = [i for i, name in enumerate(header) if name.strip().lower() in COUNT_COLUMNS]
    out: list[list[str]] = [header]
    report: dict[str, Any] = {"k": k, "rows": len(body)}
    if counted:
        column = counted[0]
        suppressed = cells = 0
        for row in body:
            value = _number(row[column]) if column < len(row) else None
            if value is not None and value >= k:
                out.append(row)
                continue
            suppressed += 1
            blanked = [("" if _number(cell) is not None or i == column else cell)
                       for i, cell in enumerate(row)]  # fmt: skip
            cells += sum(1 for a, b in zip(row, blanked, strict=True) if a != b)
            out.append(blanked)
        report |= {"count_column": header[column], "suppressed_rows": suppressed,
                   "suppressed_cells": cells}  # fmt: skip
    else:
        groups: dict[tuple[str, ...], int] = {}
        for row in body:
            groups[tuple(row)] = groups.get(tuple(row), 0) + 1
        kept = [row for row in body if groups[tuple(row)] >= k]
        out.extend(kept)
        report |= {"count_column": None, "suppressed_rows": len(body) - len(kept),
                   "groups_below_k": sum(1 for n in groups.values() if n < k)}  # fmt: skip
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(out)
    return buffer.getvalue().encode("utf-8"), report


# --- submitting a job ---------------------------------------------------------------------------


def _check_imports(code: str) -> None:
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise QueryRefused("job.syntax", f"line {exc.lineno}: {exc.msg}", field="code") from None
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [("." * node.level) + (node.module or "")]
        for name in names:
            if name.split(".")[0] not in runner.ALLOWED_MODULES:
                raise QueryRefused("job.import", (
                    f"the job imports {name}: allowed are "
                    + ", ".join(sorted(runner.ALLOWED_MODULES))
                ), status=403, field="code")  # fmt: skip


def _read_inputs(
    session: Session, principal: Principal, row: SandboxJob, keys: ops.Keys, workdir: Path
) -> None:
    """Each source's declared columns, masked by grade, through the traced read, into
    ``in/<code>.csv``."""
    (workdir / "in").mkdir(parents=True, exist_ok=True)
    for code in row.sources:
        declared = sandbox_repository.declaration(session, code)
        assert declared is not None
        grant = grant_in_force(session, principal, code)
        fields = tuple(dict.fromkeys([declared.identifier, *declared.categorical,
                                      *declared.numeric]))  # fmt: skip
        basis = Basis(
            kind="sandbox", ref=f"job-{row.id}", legal_basis=grant.legal_basis, fields=fields,
            purpose=grant.purpose, consumer=principal.unit_code, action="sandbox.job",
        )  # fmt: skip
        result = sharing.read_rows_under(
            session, principal, code, ReadContext(purpose=grant.purpose),
            RowQuery(fields=list(fields)), keys, basis, operation="sandbox",
            up_to=mechanisms.MAX_ROWS + 1,
        )  # fmt: skip
        access_id = getattr(result, "access_id", None)
        page = getattr(result, "page", None)
        if page is not None:
            access_id = page.access_id
        if access_id is not None:
            row.access_ids = [*row.access_ids, access_id]
        if page is None:
            refusal = getattr(result, "refusal")  # noqa: B009
            raise QueryRefused(f"read.{refusal.value}", str(getattr(result, "message")),  # noqa: B009
                               status=refusal.status)  # fmt: skip
        if page.total > mechanisms.MAX_ROWS:
            raise QueryRefused("query.too_large", (
                f"{code} has {page.total} rows: a sandbox job reads at most {mechanisms.MAX_ROWS}"
            ), status=422)  # fmt: skip
        with open(workdir / "in" / f"{code}.csv", "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(fields), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(page.rows)


def _collect(session: Session, row: SandboxJob, workdir: Path) -> list[SandboxJobOutput]:
    """The files of ``out/``, each checked or held; a released table is the checked copy."""
    out = workdir / "out"
    released = workdir / "released"
    released.mkdir(exist_ok=True)
    files = sorted(p for p in out.iterdir() if p.is_file() and not p.is_symlink())
    made = []
    for path in files[:MAX_OUTPUTS]:
        content = path.read_bytes()
        kind = KINDS.get(path.suffix.lower(), "other")
        output = SandboxJobOutput(
            job_id=row.id, name=path.name[:200], kind=kind, size=len(content),
            sha256=hashlib.sha256(content).hexdigest(), status=OutputStatus.held.value,
            check={}, reviewed_by="", reason="",
        )  # fmt: skip
        if kind == "other":
            output.status = OutputStatus.rejected.value
            output.reason = "only CSV tables, PNG or SVG figures and JSON models are released"
        elif kind == "table":
            checked, report = check_table(content, row.k)
            output.check = report
            if checked is not None:
                (released / path.name).write_bytes(checked)
                output.status = OutputStatus.released.value
                output.reviewed_by = "k-check"
                output.reviewed_at = datetime.now(UTC)
                output.size = len(checked)
                output.sha256 = hashlib.sha256(checked).hexdigest()
        repository.add(session, output)
        made.append(output)
    return made


RUN = "data.sandbox.job"  # the stored job (on the bus) that runs one code job
LOST_GRACE_SECONDS = 60  # past its time limit by this much, a job still running was lost
STAGES = (("read", 1.0), ("run", 8.0), ("check", 1.0))


def _refuse(
    session: Session, principal: Principal | None, row: SandboxJob, refused: QueryRefused,
    workdir: Path | None = None,
) -> QueryRefused:  # fmt: skip
    """The job ends refused or failed with ``refused``'s rule: nothing of it is released, the
    attempt is kept and on the ledger."""
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)  # nothing of it is released
    failed = refused.rule in ("job.timeout", "job.memory", "job.error", "job.lost")
    row.status = (JobStatus.failed if failed else JobStatus.refused).value
    row.rule, row.message = refused.rule, refused.message
    row.finished_at = datetime.now(UTC)
    session.flush()
    actor = actor_of(principal) if principal is not None else Actor.system("sandbox")
    ledger.record(
        session, actor, "sandbox.job.refuse", object_type="sandbox_job",
        object_id=row.id, details={"sources": list(row.sources), "language": row.language,
                                   "code": row.code, "code_sha256": row.code_sha256,
                                   "rule": refused.rule, "message": refused.message,
                                   "access": row.access_ids, "guards": row.guards},
    )  # fmt: skip
    return refused


def _check_sources(session: Session, principal: Principal, row: SandboxJob) -> None:
    """Every source declared, a grant in force on each; a Python job's imports allowed."""
    providers = []
    for code in row.sources:
        declared = sandbox_repository.declaration(session, code)
        if declared is None:
            raise QueryRefused("sandbox.not_declared", f"{code} is not available in the "
                               "sandbox", status=404, field="sources")  # fmt: skip
        providers.append(declared.provider_unit_code)
        grant_in_force(session, principal, code)
    row.provider_units = sorted(set(providers))
    if row.language == Language.python.value:
        _check_imports(row.code)


def submit_job(
    session: Session, principal: Principal, data: JobCreate, *, max_seconds: int
) -> tuple[JobRead, CitybaseError | None]:
    """Queue a job under the analyst's grants for the background worker (``run_job``), or
    refuse it before anything is read. A refused job is returned with its rule (and the error
    to answer with), kept, on the ledger; the caller commits either way."""
    if data.seconds > max_seconds:
        raise InvalidInput(f"a job's time limit is at most {max_seconds} s", field="seconds")
    sources = list(dict.fromkeys(data.sources))
    row = SandboxJob(
        username=principal.username, unit_code=principal.unit_code or "",
        language=data.language.value, code=data.code,
        code_sha256=hashlib.sha256(data.code.encode("utf-8")).hexdigest(), sources=sources,
        provider_units=[], access_ids=[], k=data.k, status=JobStatus.queued.value, rule="",
        message="", log="", guards=[], duration_ms=0, seconds=data.seconds,
        memory_mb=data.memory_mb,
    )  # fmt: skip
    repository.add(session, row)
    try:
        _check_sources(session, principal, row)
    except QueryRefused as refused:
        error = _refuse(session, principal, row, refused)
        return _job_reads(session, [row])[0], error
    session.flush()
    ledger.record(
        session, actor_of(principal), "sandbox.job.queue", object_type="sandbox_job",
        object_id=row.id, details={"sources": sources, "language": row.language,
                                   "code": data.code, "code_sha256": row.code_sha256,
                                   "k": row.k, "seconds": row.seconds,
                                   "memory_mb": row.memory_mb},
    )  # fmt: skip
    bus.schedule(session, RUN, payload={"id": row.id}, key=f"{RUN}:{row.id}", max_attempts=1)
    return _job_reads(session, [row])[0], None


def cancel_job(session: Session, principal: Principal, job_id: int) -> JobRead:
    """The analyst who submitted a job withdraws it while it waits for a worker. Anyone else:
    not found; a job a worker has taken: a conflict."""
    row = repository.job(session, job_id)
    if row is None or row.username != principal.username:
        raise NotFound(f"no sandbox job {job_id}", field="job_id")
    if not repository.move(session, job_id, JobStatus.queued.value, JobStatus.cancelled.value,
                           finished_at=datetime.now(UTC)):  # fmt: skip
        session.refresh(row)
        raise Conflict(f"job {job_id} is {row.status}: only a queued job is cancelled",
                       field="job_id", rule="job.not_queued")  # fmt: skip
    session.refresh(row)
    ledger.record(session, actor_of(principal), "sandbox.job.cancel", object_type="sandbox_job",
                  object_id=row.id, details={"sources": list(row.sources),
                                             "code_sha256": row.code_sha256})  # fmt: skip
    return _job_reads(session, [row])[0]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _not_claimed(session: Session, job_id: int) -> None:
    """Another worker has the job, or had it: a job running past its limit and the grace was
    lost with its worker (failed, ``job.lost``); one still within it is looked at again then."""
    row = repository.job(session, job_id)
    if row is None or row.status != JobStatus.running.value or row.started_at is None:
        return
    deadline = _aware(row.started_at) + timedelta(seconds=row.seconds + LOST_GRACE_SECONDS)
    if datetime.now(UTC) < deadline:
        bus.schedule(session, RUN, payload={"id": job_id}, run_at=deadline, max_attempts=1)
        return
    _refuse(session, None, row, QueryRefused(
        "job.lost", "the worker running the job stopped before it ended; submit it again"))  # fmt: skip


def run_job(
    session: Session, job_id: int, keys: ops.Keys, home: Path, *,
    progress: Report = silent, between: Callable[[], None] = lambda: None,
) -> JobRead | None:  # fmt: skip
    """Run a queued job: claim it (one worker only: a conditional ``UPDATE`` from ``queued``),
    check its grants again, read its inputs through the traced read under the analyst's own
    principal, run it in its isolated process, check or hold its outputs. ``between`` is
    called once the inputs are read: the job that owns the transaction commits there, so that
    no transaction stays open while the code runs.
    Returns None when the job was not queued (another worker took it, or it was cancelled)."""
    if not repository.move(session, job_id, JobStatus.queued.value, JobStatus.running.value,
                           started_at=datetime.now(UTC)):  # fmt: skip
        _not_claimed(session, job_id)
        return None
    row = repository.job(session, job_id, fresh=True)
    assert row is not None
    stages = Stages(progress, STAGES)
    workdir = workdir_of(home, row.id)
    try:
        principal = principal_for(session, row.username)
    except NotFound:
        refused = QueryRefused("grant.none", f"no user {row.username}", status=403)
        _refuse(session, None, row, refused)
        return _job_reads(session, [row])[0]
    try:
        stages.start("read", "Reading the inputs through the traced read")
        if not principal.can(SANDBOX_QUERY):
            raise QueryRefused("grant.none", f"{row.username} may no longer ask the sandbox",
                               status=403)  # fmt: skip
        _check_sources(session, principal, row)
        if workdir.exists():
            shutil.rmtree(workdir)
        _read_inputs(session, principal, row, keys, workdir)
    except QueryRefused as refused:
        _refuse(session, principal, row, refused, workdir)
        return _job_reads(session, [row])[0]
    between()  # the read is kept, and the job shows as running, before its code runs
    stages.start("run", "Running the job's code")
    try:
        outcome = runner.run(workdir, row.language, row.code,
                             runner.Limits(seconds=row.seconds, memory_mb=row.memory_mb))  # fmt: skip
    except OSError as exc:  # the process could not be started: the job fails, kept as such
        outcome = runner.Outcome("failed", rule="job.error", reason=f"not started: {exc}")
    stages.start("check", "Checking the outputs")
    row = repository.job(session, job_id, fresh=True)
    assert row is not None
    row.guards = outcome.guards
    row.duration_ms = round(outcome.seconds * 1000)
    row.log = (outcome.stdout + ("\n" if outcome.stdout else "") + outcome.stderr)[-4000:]
    for left in workdir.iterdir():  # the rows do not outlive the run; only out/ is kept
        if left.name != "out":
            (shutil.rmtree if left.is_dir() and not left.is_symlink() else Path.unlink)(left)
    if outcome.state != "done":
        status = 403 if outcome.state == "refused" else 422
        _refuse(session, principal, row,
                QueryRefused(outcome.rule, outcome.reason, status=status, field="code"), workdir)  # fmt: skip
        return _job_reads(session, [row])[0]
    outputs = _collect(session, row, workdir)
    row.status = JobStatus.finished.value
    row.finished_at = datetime.now(UTC)
    session.flush()
    ledger.record(
        session, actor_of(principal), "sandbox.job.run", object_type="sandbox_job",
        object_id=row.id, details={
            "sources": list(row.sources), "language": row.language, "code": row.code,
            "code_sha256": row.code_sha256, "access": row.access_ids, "guards": row.guards,
            "k": row.k, "seconds": row.seconds, "outputs": [
                {"name": o.name, "sha256": o.sha256, "status": o.status, "check": o.check}
                for o in outputs],
        },
    )  # fmt: skip
    for o in outputs:
        if o.status == OutputStatus.released.value:
            ledger.record(
                session, actor_of(principal), "sandbox.job.output.release",
                object_type="sandbox_job_output", object_id=o.id, reason="k-check",
                details={"job": row.id, "name": o.name, "sha256": o.sha256, "check": o.check},
            )  # fmt: skip
    stages.finish()
    return _job_reads(session, [row])[0]


def progress_of(session: Session, store: SharedStore, job: JobRead) -> JobProgress:
    """How far a job got, for its page's progress line: its state from its row, what the
    worker last reported (kept in the shared store under the stored job) while it runs."""
    found = bus.find_job(session, f"{RUN}:{job.id}")
    kept = bus.job_progress(session, store, found.id) if found is not None else None
    status = {JobStatus.queued: "pending", JobStatus.running: "running",
              JobStatus.failed: "failed"}.get(job.status, "done")  # fmt: skip
    if status == "running" and kept is not None and kept.status == "running":
        return kept.model_copy(update={"id": job.id, "kind": RUN})
    return JobProgress(
        id=job.id, kind=RUN, status=status, done=1.0 if status == "done" else 0.0,
        total=1.0 if status == "done" else 0.0, what="",
        elapsed_seconds=job.duration_ms / 1000, remaining_seconds=None,
        last_error=job.message if status == "failed" else "",
    )  # fmt: skip


def job_error(job: JobRead) -> CitybaseError | None:
    """The error a refused or failed job answers with (None for any other)."""
    if job.status not in (JobStatus.refused, JobStatus.failed):
        return None
    status = 422 if job.status is JobStatus.failed else 403
    if job.rule == "sandbox.not_declared":
        status = 404
    elif job.rule.startswith("query.") or job.rule == "job.syntax":
        status = 422
    return QueryRefused(job.rule, job.message, status=status, field="code")


# --- review and download ------------------------------------------------------------------------


def review_output(
    session: Session, principal: Principal, settings: ProductsSettings, output_id: int,
    data: Review, home: Path,
) -> OutputRead:  # fmt: skip
    """A steward releases or rejects a held output (a reason to reject)."""
    output = repository.output(session, output_id)
    job = repository.job(session, output.job_id) if output is not None else None
    if output is None or job is None or not may_review(principal, settings, job):
        raise NotFound(f"no held output {output_id} for you to review", field="output_id")
    if output.status != OutputStatus.held.value:
        raise InvalidInput(f"output {output_id} is already {output.status}", field="output_id")
    if data.decision is Decision.reject and len(data.reason.strip()) < 2:
        raise InvalidInput("a rejection says why", field="reason")
    workdir = workdir_of(home, job.id)
    if data.decision is Decision.approve:
        source = workdir / "out" / output.name
        if not source.is_file():
            raise NotFound(f"the file of output {output_id} is gone", field="output_id")
        (workdir / "released").mkdir(exist_ok=True)
        shutil.copyfile(source, workdir / "released" / output.name)
    output.status = (OutputStatus.released if data.decision is Decision.approve
                     else OutputStatus.rejected).value  # fmt: skip
    output.reviewed_by = principal.username
    output.reviewed_at = datetime.now(UTC)
    output.reason = data.reason
    session.flush()
    action = "release" if data.decision is Decision.approve else "reject"
    ledger.record(
        session, actor_of(principal), f"sandbox.job.output.{action}",
        object_type="sandbox_job_output", object_id=output.id, reason=data.reason,
        details={"job": job.id, "name": output.name, "sha256": output.sha256},
    )  # fmt: skip
    return _output_read(output)


def output_file(
    session: Session, principal: Principal, settings: ProductsSettings, output_id: int,
    home: Path,
) -> tuple[str, bytes]:  # fmt: skip
    """A released output, for the analyst who ran its job; a held one, for its reviewer to
    look at. Anyone else: not found."""
    output = repository.output(session, output_id)
    job = repository.job(session, output.job_id) if output is not None else None
    if output is None or job is None:
        raise NotFound(f"no output {output_id}", field="output_id")
    owner = job.username == principal.username
    reviewer = output.status == OutputStatus.held.value and may_review(principal, settings, job)
    if not owner and not reviewer:
        raise NotFound(f"no output {output_id}", field="output_id")
    if owner and not reviewer and output.status != OutputStatus.released.value:
        raise Forbidden(f"output {output_id} is {output.status}: only released outputs are "
                        "downloaded", field="output_id", rule="output.not_released")  # fmt: skip
    folder = "released" if output.status == OutputStatus.released.value else "out"
    path = workdir_of(home, job.id) / folder / output.name
    if not path.is_file():
        raise NotFound(f"the file of output {output_id} is gone", field="output_id")
    return output.name, path.read_bytes()
