"""Console page: the outbox backlog, failing and parked deliveries, and the stored jobs."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from citybase.core.bus import service
from citybase.core.bus.auth import SystemReader
from citybase.core.identity import service as identity
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.i18n import add_translations
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
