"""The console's code jobs (代码作业): an analyst submits SQL or Python over declared resources
and follows its status and outputs, downloading those released; the providing unit's steward
reviews the held outputs (输出审查)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.bus.lines import progress_text
from citybase.core.errors import CitybaseError, NotFound
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure_text
from citybase.core.web.i18n import add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console
from citybase.data.catalog import service as catalog
from citybase.data.sandbox import jobs, runner, service
from citybase.data.sandbox.auth import SANDBOX_GOVERN, SANDBOX_QUERY, SandboxAnalyst, SandboxSteward
from citybase.data.sandbox.jobs_schemas import JobCreate, JobStatus, Review

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Code jobs", "/console/sandbox/jobs", SANDBOX_QUERY, order=47))
console.add_page(NavEntry("Data", "Output review", "/console/sandbox/review", SANDBOX_GOVERN,
                          order=48))  # fmt: skip
_TEXTS = {
    "jobs.intro": (
        "需要逐行处理的分析在平台内运行：SQL（DuckDB）或只用限定库的 Python，在无网络、限时限内存、"
        "只能读写自身工作目录的隔离进程中执行。输出先扣留：表格自动按 k 阈值检查并隐藏小单元格，"
        "其余由数据提供单位的数据管理员审查，放行后才能下载。",
        "Row-level analysis runs inside the platform: SQL (DuckDB) or Python with a fixed set of "
        "libraries, in an isolated process with no network, time and memory limits, reading and "
        "writing only its own working directory. Outputs are held: tables are checked against "
        "the k threshold with small cells suppressed, the rest is reviewed by the providing "
        "unit's steward; only released outputs can be downloaded.",
    ),
    "jobs.submit": ("提交作业", "Submit a job"),
    "jobs.language": ("语言", "Language"),
    "jobs.code": ("代码", "Code"),
    "jobs.code_hint": (
        '输入数据在 in/<资源代码>.csv（SQL 中为表 "<资源代码>"），输出写入 out/（CSV 表格、'
        "PNG/SVG 图、JSON 模型）；SQL 的结果保存为 out/result.csv。可用的 Python 库：",
        'Inputs are in/<resource code>.csv (in SQL the table "<resource code>"); write outputs '
        "to out/ (CSV tables, PNG/SVG figures, JSON models); a SQL job's result is out/result.csv. "
        "Python libraries allowed:",
    ),
    "jobs.sources": ("数据来源", "Sources"),
    "jobs.k": ("k 阈值", "k threshold"),
    "jobs.seconds": ("时限（秒）", "Time limit (s)"),
    "jobs.memory": ("内存上限（MB）", "Memory limit (MB)"),
    "jobs.mine": ("我的作业", "My jobs"),
    "jobs.none": ("暂无作业。", "No jobs yet."),
    "jobs.outputs": ("输出", "Outputs"),
    "jobs.no_outputs": ("没有输出。", "No outputs."),
    "jobs.download": ("下载", "Download"),
    "jobs.guards": ("生效的隔离措施", "Guards in force"),
    "jobs.duration": ("耗时", "Took"),
    "jobs.status.queued": ("排队中", "Queued"),
    "jobs.status.running": ("运行中", "Running"),
    "jobs.status.finished": ("已完成", "Finished"),
    "jobs.status.cancelled": ("已撤回", "Cancelled"),
    "jobs.cancel": ("撤回", "Cancel"),
    "jobs.queued_note": (
        "作业已排队，由后台任务进程执行；本页显示其进度，完成后自动刷新。",
        "The job is queued for the background worker; this page follows it and shows the result "
        "when it ends.",
    ),
    "jobs.status.refused": ("已拒绝", "Refused"),
    "jobs.status.failed": ("失败", "Failed"),
    "jobs.output.held": ("待审查", "Held"),
    "jobs.output.released": ("已放行", "Released"),
    "jobs.output.rejected": ("已驳回", "Rejected"),
    "jobs.kind": ("类型", "Kind"),
    "jobs.kind.table": ("表格", "Table"),
    "jobs.kind.figure": ("图", "Figure"),
    "jobs.kind.model": ("模型", "Model"),
    "jobs.kind.other": ("其他", "Other"),
    "jobs.suppressed": ("隐藏的小单元格行数", "Rows with small cells suppressed"),
    "jobs.queue": ("待审查的作业输出", "Outputs held for review"),
    "jobs.queue_empty": ("没有待审查的输出。", "No output waits for review."),
    "jobs.approve": ("放行", "Release"),
    "jobs.reject": ("驳回", "Reject"),
    "jobs.reason": ("理由（驳回时必填）", "Reason (required to reject)"),
    "jobs.analyst": ("分析人员", "Analyst"),
    "jobs.view_file": ("查看文件", "View the file"),
}
add_translations("zh", {"Code jobs": "代码作业", "Output review": "输出审查",
                        "Reading the inputs through the traced read": "经留痕读取输入数据",
                        "Running the job's code": "运行作业代码",
                        "Checking the outputs": "检查输出"}
                 | {k: v[0] for k, v in _TEXTS.items()})  # fmt: skip
add_translations("en", {k: v[1] for k, v in _TEXTS.items()})
HERE = "/console/sandbox/jobs"
REVIEW = "/console/sandbox/review"


def _titles(session: Session, codes: list[str]) -> dict[str, str]:
    titles = {}
    for code in codes:
        try:
            titles[code] = catalog.get_resource(session, code).name
        except NotFound:
            titles[code] = code
    return titles


@router.get("/console/sandbox/jobs")
def jobs_page(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxAnalyst
) -> Response:
    declared = [d.resource_code for d in service.list_declarations(session)]
    mine = jobs.get_accessible_jobs(session, principal, settings.products, 20)
    titles = _titles(session, sorted(set(declared) | {c for j in mine for c in j.sources}))
    store = request.app.state.shared
    progress = {}
    for j in mine:
        if j.status in (JobStatus.queued, JobStatus.running):
            p = jobs.progress_of(session, store, j)
            progress[j.id] = (p, progress_text(request, p))
    return console.render(request, "sandbox/jobs.html", {
        "declared": declared, "titles": titles, "jobs": mine, "progress": progress,
        "allowed": sorted(runner.ALLOWED_MODULES),
        "max_seconds": settings.sandbox.job_max_seconds,
    })  # fmt: skip


@router.get("/console/sandbox/jobs/{job_id}/progress")
def job_progress(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxAnalyst,
    job_id: Id,
) -> Response:  # fmt: skip
    """How far one's job got, for the progress line that follows it (another analyst's job:
    not found)."""
    job = jobs.get_accessible_job(session, principal, settings.products, job_id)
    p = jobs.progress_of(session, request.app.state.shared, job)
    body = p.model_dump(mode="json") | {"share": p.share, "line": progress_text(request, p)}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/console/sandbox/jobs")
def submit(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxAnalyst,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    """Queue a job from the form for the background worker (sent twice, it is queued once);
    back to the list, where it shows its progress."""
    try:
        once = claim(request, session, token)
        sources = values.get("sources") or []
        data = JobCreate.model_validate({
            "language": values.get("language") or None, "code": values.get("code") or "",
            "sources": sources if isinstance(sources, list) else [sources],
            "k": values.get("k") or 10, "seconds": values.get("seconds") or 30,
        })  # fmt: skip
        job, _ = jobs.submit_job(session, principal, data,
                                 max_seconds=settings.sandbox.job_max_seconds)  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        return RedirectResponse(f"{HERE}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    return once.redirect(session, f"{HERE}#job-{job.id}")


@router.post("/console/sandbox/jobs/{job_id}/cancel")
def cancel(session: DbSession, principal: SandboxAnalyst, job_id: Id, once: FormOnce) -> Response:
    """Withdraw one's own job while it waits for the worker."""
    try:
        jobs.cancel_job(session, principal, job_id)
    except CitybaseError as exc:
        return RedirectResponse(f"{HERE}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    return once.redirect(session, f"{HERE}#job-{job_id}")


@router.get("/console/sandbox/review")
def review_page(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward
) -> Response:
    queue = jobs.review_queue(session, principal, settings.products)
    titles = _titles(session, sorted({c for j, _ in queue for c in j.sources}))
    return console.render(request, "sandbox/review.html", {"queue": queue, "titles": titles})


@router.post("/console/sandbox/review/{output_id}")
def review(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward,
    output_id: Id, once: FormOnce, values: SubmittedForm,
) -> Response:  # fmt: skip
    try:
        data = Review.model_validate({"decision": values.get("decision") or None,
                                      "reason": values.get("reason") or ""})  # fmt: skip
        jobs.review_output(session, principal, settings.products, output_id, data,
                           settings.home)  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        return RedirectResponse(f"{REVIEW}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    return once.redirect(session, REVIEW)
