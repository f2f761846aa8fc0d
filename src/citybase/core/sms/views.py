"""The SMS log (短信记录): what the platform sent, for platform admins."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from citybase.core.errors import CitybaseError
from citybase.core.sms import service
from citybase.core.sms.auth import SMS_LOG_READ, SmsLogReader
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import form_errors
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.templating import NavEntry, console

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Kernel", "SMS log", "/console/sms", SMS_LOG_READ, order=40))
add_translations("zh", {
    "SMS log": "短信记录", "Find": "查询", "State": "状态", "Nothing yet.": "暂无。", "Mobile": "手机号", "Text": "内容", "What for": "用途",
    "Gateway": "网关", "Time sent": "发送时间", "Tries": "尝试次数", "Last error": "最近错误",
    "sms.queued": "待发送", "sms.sent": "已发送", "sms.failed": "发送失败",
    "(erased once the SMS platform took it)": "（短信平台接收后已删除）",
    "With the log gateway, messages are kept here instead of being sent to a phone.":
        "使用日志网关时，短信不发往手机，保存在此处。",
})  # fmt: skip


@router.get("/console/sms")
def sms_log_page(request: Request, session: DbSession, principal: SmsLogReader) -> Response:
    phone = request.query_params.get("phone", "")[:20]
    try:
        messages = service.sms_log(session, principal, phone=phone)
    except CitybaseError as exc:
        return console.render(request, "sms/log.html", {"messages": [], "phone": phone,
                                                        "errors": form_errors(exc)}, 422)  # fmt: skip
    return console.render(request, "sms/log.html",
                          {"messages": messages, "phone": phone, "errors": {}})  # fmt: skip


# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"no message (.+?)": "未找到短信 {0}",
})  # fmt: skip
