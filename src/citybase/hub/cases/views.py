"""Console pages of cases: the operator's desk (intake in one screen, with the duplicate warning
and the classifier's three likeliest categories), the case list that is a unit's inbox, a case's
page with its history and the steps the reader may take, and the dispatch catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, InvalidInput
from citybase.core.files import service as files
from citybase.core.files.schemas import PREVIEWABLE
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel
from citybase.core.web.charts import Chart, group_days, local_days, stacked_days
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import (
    RawForm,
    SubmittedForm,
    blank_to_none,
    failure_text,
    split_list,
    undo,
)
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.maps import MapView, Outlines, Points, point
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.templating import NavEntry, Waiting, console
from citybase.core.workdays import calendar_for
from citybase.hub.cases import service
from citybase.hub.cases.auth import (
    CASES_ALL,
    CASES_CONTACT,
    CASES_DISPATCH,
    CASES_HANDLE,
    CASES_READ,
    CASES_SUPERVISE,
    DISPATCH_CATALOG,
    CatalogKeeper,
    CentreReader,
    ContactReader,
    Reader,
)
from citybase.hub.cases.schemas import (
    CHANNEL_NAMES,
    INTAKE_SOURCES,
    SOURCE_NAMES,
    STATE_NAMES,
    Action,
    ActionIn,
    CaseFilter,
    CaseOverview,
    CaseState,
    Channel,
    Contact,
)
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.schemas import DEFAULT_DEADLINES, Urgency
from citybase.hub.events import service as events

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("City brain", "Cases", "/console/hub/cases", CASES_READ, order=10))
console.add_page(NavEntry("City brain", "Dispatch catalog", "/console/hub/dispatch", CASES_ALL,
                          order=21))  # fmt: skip
add_translations("zh", {
    "Choose the citizen's verdict": "请选择市民的评价", "Cases": "工单", "Take in a case": "受理登记", "Dispatch catalog": "派单目录",
    "Number": "编号", "State": "状态", "Lead unit": "主办单位", "Support units": "协办单位",
    "Category": "分类", "District": "区县", "Accepted": "受理时间", "Deadline": "办理时限",
    "Sign by": "签收时限", "Reporter": "诉求人", "Phone": "联系电话", "What the citizen says":
    "诉求内容", "Address": "地址", "Region": "行政区划", "Urgency": "紧急程度",
    "urgency.urgent": "紧急", "urgency.pressing": "较急", "urgency.normal": "一般",
    "Source": "来源", "Channel": "渠道", "Check for duplicates": "查重与建议", "Accept": "受理",
    "Possible duplicates": "疑似重复工单", "Suggested categories": "建议分类",
    "No suggestion: no model has been trained yet.": "暂无建议：尚未训练分类模型。",
    "History": "办理记录", "What you can do": "可办理操作", "Note": "说明", "Reply": "答复",
    "Working days": "工作日", "Satisfaction": "满意度", "Merge into": "并入工单",
    "satisfaction.satisfied": "满意", "satisfaction.basic": "基本满意",
    "satisfaction.unsatisfied": "不满意", "No cases.": "暂无工单。", "All": "全部",
    "Overdue": "逾期", "Due soon": "临期", "Show contact": "查看联系方式",
    "Each look at a contact is on the ledger and in the access log.": "每次查看联系方式都记入账本和调用日志。",
    "Why the contact is needed": "查看原因", "Title": "标题", "Auto-dispatched": "自动派单",
    "Extension asked": "延期申请", "Related cases": "关联工单", "Merged into": "已并入",
    "Lines of the catalog": "目录条目", "Any category": "任意分类",
    "Load catalog lines (YAML)": "导入目录条目（YAML）", "Catalog file": "目录文件",
    "Deadlines (sign h / handle d)": "时限（签收小时／办理工作日）", "Search": "搜索",
    "Words, number or address": "关键词、编号或地址", "Warning": "预警",
    "(leave empty to let the catalog decide)": "（留空则按派单目录）", "Steps": "步骤",
    "Sign-for deadline": "签收时限", "Handling deadline": "办理时限", "Confidence": "置信度",
    "Where it was flagged": "预警", "Back to the list": "返回列表", "Files": "附件",
    "Export to Excel": "导出Excel",
    "A photo, recording or document": "照片、录音或文件", "Add the file": "上传附件",
})  # fmt: skip
add_translations("zh", {
    "name the lead unit, or the category for the catalog to decide": "请选择主办单位，或选择分类由派单目录决定",
    "name the unit to handle it again": "请选择重新办理的单位",
    "the lead unit cannot also support": "主办单位不能同时为协办单位",
    "say why the contact is needed": "请说明查看联系方式的原因",
    "a case cannot be merged into itself": "工单不能并入自身",
    "the case has no place in the city yet: give its region": "工单尚无所在区域：请选择行政区划",
    "an extension asked for is still waiting for a decision": "延期申请尚待审批",
    "no extension has been asked for": "尚未申请延期", "choose a file": "请选择文件",
    "the case is already with the city's brain": "工单已在市级中枢",
})  # fmt: skip
add_patterns("zh", {
    r"no case (\S+)": "未找到工单 {0}", r"no category (\S+) in the taxonomy": "分类体系中没有分类 {0}",
    r"no category (\S+)": "没有分类 {0}", r"no unit with code (\S+)": "没有编码为 {0} 的单位",
    r"no region with code (\S+)": "没有编码为 {0} 的行政区划",
    r"the case is already with (\S+)": "工单已在 {0}", r"unit (\S+) is no longer active": "单位 {0} 已停用",
    r"the dispatch catalog has no line for category (\S+) (.*)": "派单目录中没有分类 {0} 的条目",
    r"case (\S+) is (\w+): merge into an open case": "工单 {0} 已{1}：请并入未办结的工单",
    r"taking in cases needs the permission (\S+)": "受理工单需要权限 {0}",
    # the workflow's refusals: the step and the states by their names, the codes left out
    r"(\S+) \(\w+\) is not possible on a case in state (\S+) \(\w+\), it needs (.+)":
        "工单当前为「{1}」，不能{0}；{0}须在以下状态进行：{2}",
    r"(\S+) \(\w+\) needs the permission \S+": "您无权{0}",
    r"case (\S+) is run by the brain of (\S+), not within the region (\S+) this centre covers":
        "工单 {0} 由 {1} 的中枢办理，不在本中心所辖区域 {2} 内",
    r"only the lead unit (\S+) may \w+ case (\S+)": "只有主办单位 {0} 可以办理工单 {1} 的这一步",
    r"unit (\S+) is not handling case (\S+)": "单位 {0} 未参与办理工单 {1}",
    r"case (\S+) is \w+, not returned": "工单 {0} 未处于退回状态",
    r"file (\S+) is already attached to case (\S+)": "该文件已附在工单 {1} 上",
    r"no such step": "没有这一步",
})  # fmt: skip
add_translations("zh", {f"state.{s.value}": STATE_NAMES[s] for s in CaseState})
add_translations("zh", {f"action.{a.value}": service.ACTION_NAMES[a] for a in Action})
add_translations("zh", {"action.alarm": "设备告警", "action.accept": "受理", "action.warn": "预警",
                        "action.attach": "补充附件"})  # fmt: skip
add_translations("zh", {f"source.{s.value}": n for s, n in SOURCE_NAMES.items()})
add_translations("zh", {f"channel.{c.value}": n for c, n in CHANNEL_NAMES.items()})
# in English, the codes' own words ("followed up", not "state.followed_up")
add_translations("en", {
    f"{kind}.{v}": v.rstrip("_").replace("_", " ")
    for kind, values in (("state", [s.value for s in CaseState]),
                         ("action", [a.value for a in Action] + ["alarm", "accept", "warn",
                                                                  "attach"]),
                         ("source", [s.value for s in SOURCE_NAMES]),
                         ("channel", [c.value for c in CHANNEL_NAMES]))
    for v in values
})  # fmt: skip

# what each action's form asks for
FIELDS: dict[Action, list[str]] = {
    Action.dispatch: ["lead_unit", "support_units", "category_code", "note"],
    Action.reassign: ["lead_unit", "support_units", "category_code", "note"],
    Action.return_: ["note"], Action.sign: [], Action.note: ["note"],
    Action.extend: ["days", "note"], Action.approve_extension: ["note"],
    Action.deny_extension: ["note"], Action.reply: ["reply", "note"],
    Action.follow_up: ["satisfaction", "note"], Action.reopen: ["lead_unit", "note"],
    Action.close: ["reply", "category_code", "note"], Action.merge: ["target", "note"], Action.urge: ["note"], Action.escalate: ["note"],
}  # fmt: skip


def _choices(session: DbSession) -> dict[str, Any]:
    regions = [r for r in orgs.list_regions(session) if r.level is not RegionLevel.city]
    return {
        "categories": [c for c in events.categories(session) if c.level >= 2],
        "regions": regions, "urgencies": list(Urgency), "sources": list(INTAKE_SOURCES),
        "channels": list(Channel),
    }  # fmt: skip


TREND_DAYS = 30
MAP_POINTS = 1000  # the newest cases with a place drawn on the list's map


def _cases_map(overview: CaseOverview) -> MapView:
    """The listed cases' heat by district over the districts' outlines, and the newest of them
    that have a place as points (clustered)."""
    points = Points("cases", "Cases with a place", "case", [
        point(lat, lon, number, f"/console/hub/cases/{number}", warning)
        for number, lon, lat, warning in overview.points])  # fmt: skip
    heat = {code: n for code, n in overview.by_district.items() if code}
    return MapView(
        "cases-map", "Where the cases are",
        [Outlines("districts", "Cases by district", "level=district", pick=True, heat=heat)],
        [points] if points.items else [], heat_label="Cases (heat)",
    )  # fmt: skip


def _trend_chart(session: DbSession, overview: CaseOverview) -> Chart | None:
    """The listed cases per day of the last 30, stacked by 大类."""
    names = {c.code: c.name for c in events.categories(session, active_only=False) if c.level == 1}
    days = local_days(datetime.now(UTC), TREND_DAYS)
    return stacked_days("Cases per day by kind (last 30 days)", days,
                        group_days(overview.per_day), names, y_label="Number of cases")  # fmt: skip


@router.get("/console/hub/cases")
def cases_page(request: Request, session: DbSession, principal: Reader) -> Response:
    q = request.query_params
    states = [CaseState(s) for s in q.getlist("state") if s in CaseState.__members__]
    # a region of any level, chosen in the cascade (?district= as links from elsewhere give it)
    region = q.get("region", "")[:64]
    flt = CaseFilter(state=states, warning=q.get("warning", ""), q=q.get("q", ""),
                     district_code=q.get("district", ""), within=region, limit=100)  # fmt: skip
    items, total = service.find(session, principal, flt)
    units = orgs.unit_names(session, {c.lead_unit for c in items if c.lead_unit})
    districts = orgs.list_regions(session, level=RegionLevel.district)
    export = urlencode([("state", st.value) for st in flt.state] + [
        (k, v) for k, v in (("warning", flt.warning), ("q", flt.q),
                            ("district_code", flt.district_code), ("within", flt.within)) if v])  # fmt: skip
    overview = service.overview(session, principal, flt.model_copy(update={"limit": 100}),
                                datetime.now(UTC) - timedelta(days=TREND_DAYS), MAP_POINTS)  # fmt: skip
    return console.render(request, "hub/cases.html", {
        "map": _cases_map(overview), "trend": _trend_chart(session, overview),
        "export_url": f"/api/v1/hub/cases.xlsx?{export}",
        "items": items, "total": total, "flt": flt, "units": units, "states": list(CaseState),
        "districts": districts, "region_names": {r.code: r.name for r in districts},
        "region_picker": orgs.region_picker(session, region or flt.district_code),
    })  # fmt: skip


@router.get("/console/hub/cases/{number}")
def case_page(request: Request, session: DbSession, principal: Reader, number: str) -> Response:
    return _case(request, session, principal, number)


@router.post("/console/hub/cases/{number}/contact")
def contact_submit(
    request: Request, session: DbSession, principal: ContactReader, number: str,
    why: Annotated[str, Form(max_length=500)] = "",
) -> Response:  # fmt: skip
    """The reporter's contact in full, on the case's page: the same traced read as the API's."""
    try:
        contact = service.contact(session, principal, number, why)
    except InvalidInput as exc:
        return _case(request, session, principal, number, error=failure_text(session, exc),
                     status=422)  # fmt: skip
    return _case(request, session, principal, number, contact=contact)


def _case(
    request: Request, session: DbSession, principal: Principal, number: str, *,
    contact: Contact | None = None, error: str = "", status: int = 200,
) -> Response:  # fmt: skip
    case = service.get(session, principal, number)
    names = {c.code: c.name for c in events.categories(session, active_only=False)}
    units = orgs.unit_names(session, {case.lead_unit, *case.support_units,
                                      *(s.unit for s in case.steps)} - {""})  # fmt: skip
    regions = orgs.region_names(session, {case.district_code, case.street_code,
                                          case.community_code, case.grid_code} - {""})  # fmt: skip
    return console.render(request, "hub/case.html", {
        "people": identity.display_names(session, {s.actor for s in case.steps}),
        "case": case, "category": names.get(case.category_code, ""), "units": units,
        "regions": regions, "fields": FIELDS, "categories": _choices(session)["categories"],
        "satisfactions": ["satisfied", "basic", "unsatisfied"], "previewable": PREVIEWABLE,
        "contact": contact, "may_reveal": principal.can(CASES_CONTACT), "contact_error": error,
        "all_units": orgs.list_units(session, active=True) if any(
            "lead_unit" in FIELDS.get(a, []) for a in case.allowed) else [],
    }, status)  # fmt: skip


@router.post("/console/hub/cases/{number}/attach")
def attach_submit(
    request: Request, session: DbSession, principal: Reader, settings: AppSettings, number: str,
    form: RawForm, token: FormToken,
) -> Response:  # fmt: skip
    here = f"/console/hub/cases/{quote(number)}"
    upload, note = form.get("file"), form.get("note")
    mover = service.Mover.of(session, principal)
    try:
        service.may_attach(session, mover, number)
        once = claim(request, session, token)
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise InvalidInput("choose a file", field="file")
        kept = files.keep(session, settings, mover.actor.name, upload.filename,
                          upload.file.read(files.read_limit(settings)))  # fmt: skip
        service.attach(session, mover, number, kept, note if isinstance(note, str) else "")
    except CitybaseError as exc:
        undo(session)
        return RedirectResponse(f"{here}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    return once.redirect(session, f"{here}?saved=1")


@router.post("/console/hub/cases/{number}/act")
def act_submit(
    request: Request,
    session: DbSession,
    principal: Reader,
    settings: AppSettings,
    number: str,
    once: FormOnce,
    form: SubmittedForm,
) -> Response:
    here = f"/console/hub/cases/{quote(number)}"
    try:
        if form.get("action") not in {a.value for a in Action}:
            raise InvalidInput("no such step", field="action")
        action = Action(form.pop("action"))
        if "support_units" in form:  # chosen from the list (several), or typed (one line)
            chosen = form["support_units"]
            chosen = chosen if isinstance(chosen, list) else split_list(chosen)
            form["support_units"] = [u for u in chosen if u] or None
        data = ActionIn.model_validate(blank_to_none(form, "days", "satisfaction", "urgency"))
        service.act(session, service.Mover.of(session, principal), number, action, data,
                    cal=calendar_for(settings.home))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return once.redirect(session, f"{here}?error={quote(failure_text(session, exc))}")  # fmt: skip
    return once.redirect(session, f"{here}?saved=1")


@router.get("/console/hub/dispatch")
def catalog_page(request: Request, session: DbSession, principal: CentreReader) -> Response:
    return _catalog(request, session, principal.can(DISPATCH_CATALOG))


def _catalog(
    request: Request, session: DbSession, may_keep: bool, report: Any = None, status: int = 200
) -> Response:
    rules = dispatch.rules(session)
    names = {c.code: c.name for c in events.categories(session, active_only=False)}
    units = orgs.unit_names(session, {u for r in rules for u in [r.lead_unit, *r.support_units]})
    regions = orgs.region_names(session, {r.region_code for r in rules})
    return console.render(request, "hub/dispatch.html", {
        "rules": rules, "names": names, "units": units, "regions": regions,
        "may_keep": may_keep, "report": report, "defaults": DEFAULT_DEADLINES,
    }, status)  # fmt: skip


@router.post("/console/hub/dispatch")
def catalog_load(
    request: Request, session: DbSession, principal: CatalogKeeper, form: RawForm, token: FormToken
) -> Response:
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _catalog(request, session, True)
    claim(request, session, token).done(session, "/console/hub/dispatch")
    text = upload.file.read().decode("utf-8", errors="replace")
    report = dispatch.import_catalog(session, actor_of(principal), text)
    if not report.ok:
        undo(session)
    return _catalog(request, session, True, report, 200 if report.ok else 422)


add_translations("zh", {"no such step": "没有这一办理步骤"})


# --- the desk: what waits for the signed-in user ---------------------------------------------

OPEN = [CaseState.accepted, CaseState.dispatched, CaseState.signed, CaseState.handling,
        CaseState.returned]  # fmt: skip
HANDLED = [CaseState.dispatched, CaseState.signed, CaseState.handling]


def _waiting_cases(session: Session, principal: Principal) -> list[Waiting]:
    """Cases to sign for and overdue (a unit's handlers), to dispatch, dispatch again and follow
    up with the citizen (the centre's operators), overdue across the city (its supervisors)."""
    if not principal.can(CASES_READ):
        return []
    found: list[Waiting] = []

    def count(label: str, link: str, **where: Any) -> None:
        flt = CaseFilter(limit=1, **where)
        _, total = service.find(session, principal, flt)
        if total:  # the list is newest first: its last is the one waiting longest
            oldest, _ = service.find(
                session, principal, flt.model_copy(update={"offset": total - 1})
            )
            found.append(Waiting(label, total, oldest[0].accepted_at if oldest else None, link))

    unit = principal.unit_code or ""
    if principal.can(CASES_HANDLE) and unit:
        count("Cases to sign for", "/console/hub/cases?state=dispatched",
              state=[CaseState.dispatched], lead_unit=unit)  # fmt: skip
        count("Overdue cases of your unit", "/console/hub/cases?warning=red",
              state=HANDLED, lead_unit=unit, warning="red")  # fmt: skip
    if principal.can(CASES_DISPATCH):
        count("Cases to dispatch", "/console/hub/cases?state=accepted", state=[CaseState.accepted])
        count("Returned cases to dispatch again", "/console/hub/cases?state=returned",
              state=[CaseState.returned])  # fmt: skip
        count("Replies to follow up with the citizen", "/console/hub/cases?state=replied",
              state=[CaseState.replied])  # fmt: skip
    if principal.can(CASES_SUPERVISE):
        count("Overdue cases", "/console/hub/cases?warning=red", state=OPEN, warning="red")
    return found


console.add_waiting(_waiting_cases)
add_translations("zh", {
    "Cases to sign for": "待签收工单", "Overdue cases of your unit": "本单位超期工单",
    "Cases to dispatch": "待派单工单", "Returned cases to dispatch again": "退回待重新派单的工单",
    "Replies to follow up with the citizen": "已答复待回访的工单", "Overdue cases": "超期工单",
})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place); the supervision report's too
add_patterns("zh", {
    r"closing a case the citizen is unsatisfied with needs the permission (.+?); or reopen it": "关闭群众不满意的工单需要权限 {0}；或者重新办理",
    r"case (.+?) has no file (.+?)": "工单 {0} 没有文件 {1}",
    r"no uploaded file (.+?)": "未找到上传的文件 {0}",
    r"(.+) is needed": "请填写{0}",
})  # fmt: skip
add_translations("zh", {
    "a case of source work is handed over by its service, not taken in": "来源为业务系统的工单由该业务系统移交，不在此受理",
    "the reason for reassigning": "改派理由",
    "the reason for returning the case (not ours, and whose it is)": "退回理由（为何不属本单位办理、应由谁办理）",
    "what was done": "办理情况",
    "the working days asked for": "申请延长的工作日数",
    "the reason for more time": "延期理由",
    "the reason for refusing": "不予同意的理由",
    "the reply to the citizen": "答复群众的内容",
    "the citizen's verdict (satisfied, basic, unsatisfied)": "群众评价（满意、基本满意、不满意）",
    "what the citizen still wants": "群众的进一步诉求",
    "month is YYYY-MM, before 9999-12": "月份应按“年-月”填写，且早于 9999-12",
})  # fmt: skip
