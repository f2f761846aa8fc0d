"""Console page: the outbox backlog, failing and parked deliveries, and the stored jobs."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from citybase.core import progress
from citybase.core.bus import service
from citybase.core.bus.auth import SystemReader
from citybase.core.bus.lines import progress_text
from citybase.core.bus.schemas import JobProgress
from citybase.core.errors import NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.auth import CurrentPrincipal
from citybase.core.web import i18n
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.i18n import add_translations
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(
    NavEntry("Kernel", "Background work", "/console/system", identity.SYSTEM_READ, order=40)
)
add_translations(
    "zh",
    {
        "Background work": "后台任务",
        "Events waiting": "待投递事件",
        "Events delivered": "已投递事件",
        "Deliveries failing": "投递失败（重试中）",
        "Deliveries parked": "投递搁置",
        "Failing and parked deliveries": "失败与搁置的投递",
        "Event consumer": "消费者",
        "Event": "事件",
        "Attempts": "尝试次数",
        "Last error": "最近错误",
        "Next attempt": "下次尝试",
        "Jobs": "定时任务",
        "Kind": "类型",
        "Runs at": "运行时间",
        "Every (s)": "周期（秒）",
        "No failures.": "没有失败。",
        "Waiting for the background worker to take it up": "排队中，等待后台任务执行",
        "Done in {elapsed}": "已完成，用时 {elapsed}",
        "Failed: {error}": "失败：{error}",
        "Starting": "正在开始",
        progress.FINISHED: "已完成",
        "Sending the file…": "正在上传文件…",
        "Preparing the file…": "正在生成文件…",
        "{elapsed} so far": "已用 {elapsed}",
        "about {left} left": "约剩 {left}",
    },
)


@router.get("/console/system")
def system_page(
    request: Request, session: DbSession, settings: AppSettings, _: SystemReader
) -> Response:
    overview = service.overview(session, settings.bus.max_attempts)
    return console.render(
        request,
        "bus/system.html",
        {"overview": overview, "max_attempts": settings.bus.max_attempts},
    )


def watched_job(
    request: Request, session: DbSession, principal: CurrentPrincipal, job_id: int
) -> JobProgress:
    """Job ``job_id``'s progress for ``principal``: only jobs whose kind may be watched, and only
    by those holding the permission its kind names (any other job is not found)."""
    found = service.job_progress(session, request.app.state.shared, job_id)
    permission = service.watch_permission(found.kind) if found is not None else None
    if found is None or permission is None or not principal.can(permission):
        raise NotFound(f"no job {job_id}", field="job")
    return found


@router.get("/console/progress/form")
def form_progress(request: Request, principal: CurrentPrincipal) -> Response:
    """How far the work of a form this user sent got (the form's token in ``X-Form-Token``):
    followed by the page while it waits for the answer."""
    token = request.headers.get("x-form-token", "")[:200]
    p = service.form_progress(request.app.state.shared, token, principal.username)
    if p is None:
        raise NotFound("no work under way for this form", field="form")
    body = p.model_dump(mode="json") | {"share": p.share, "line": progress_text(request, p)}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/console/jobs/{job_id}/progress")
def job_progress(
    request: Request, session: DbSession, principal: CurrentPrincipal, job_id: Id
) -> Response:
    """How far a stored job got, for the progress line that follows it on a page."""
    p = watched_job(request, session, principal, job_id)
    body = p.model_dump(mode="json") | {"share": p.share, "line": progress_text(request, p)}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


i18n.add_patterns("zh", {r"no job (\d+)": "未找到任务 {0}"})
add_translations("zh", {"no work under way for this form": "此表单没有正在进行的处理"})
