"""The console's page of the federation: each link's state and lag, the cases known on both
sides, and the last messages each way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from citybase.core.orgs import service as orgs
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.i18n import add_translations
from citybase.core.web.templating import NavEntry, console
from citybase.hub.cases.auth import CASES_ALL, CentreReader
from citybase.hub.federation import service

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("City brain", "District links", "/console/hub/federation", CASES_ALL,
                          order=7))  # fmt: skip
add_translations("zh", {
    "District links": "区县联通", "This deployment": "本部署", "Role": "角色",
    "district": "区县", "off": "未启用", "Peer": "对端", "Link": "链路",
    "up": "联通", "down": "中断", "Waiting to send": "待发送", "Waiting to receive": "待接收",
    "Last sent": "最近发送", "Last received": "最近接收", "Lag": "延迟",
    "Cases on both sides": "双方工单", "Here": "本方", "There": "对方",
    "Their state": "对方状态", "Messages": "消息", "Subject": "主题",
    "What became of it": "处理结果",
    "Sent": "已发送", "No link: this deployment runs every district itself.":
    "未启用联通：本部署统一运行各区县。", "oldest": "最早", "seconds": "秒",
    "Districts' own figures": "各区县自报指标", "Open": "在办",
    "The two sides disagree": "双方状态不一致", "Our state": "本方状态", "Why": "原因",
    "Noticed": "发现时间", "Disagreeing": "不一致",
    "A step one side took could not be taken on the other (the link was cut, or both acted at "
    "once). Settle each on the case's page: take the step that brings the two sides together "
    "on either side; it is sent to the other side, and the case leaves this list once both "
    "states agree.": "一方的操作未能在另一方执行（链路中断期间或双方同时操作）。请在工单页面处理："
    "在任一方执行使双方一致的操作，该操作会发送给另一方；双方状态一致后，工单即从此列表移除。",
})  # fmt: skip


@router.get("/console/hub/federation")
def links_page(
    request: Request, session: DbSession, principal: CentreReader, settings: AppSettings
) -> Response:
    peers = service.status(session)
    names = orgs.region_names(session, {p.code for p in peers} | {p.district_code for p in peers})
    return console.render(request, "hub/federation.html", {
        "role": settings.federation.role, "peers": peers, "names": names,
        "links": service.links(session)[:100], "messages": service.messages(session, limit=50),
        "apart": service.disagreements(session),
        "now": datetime.now(UTC),
    })  # fmt: skip
