"""Console pages for sharing: requests and grants, the demand list, and the access log."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.orgs import service as orgs
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, Panel, Waiting, console
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.masking import operators as ops
from citybase.data.masking import service as masking
from citybase.data.sharing import access, demand, service
from citybase.data.sharing.auth import (
    SHARE_AUDIT,
    SHARE_DECIDE,
    SHARE_READ,
    SHARE_REQUEST,
    AccessViewer,
    ShareDecider,
    ShareRequester,
)
from citybase.data.sharing.schemas import (
    AccessFilter,
    AnswerCreate,
    Decision,
    DemandCreate,
    DemandMatch,
    RequestCreate,
    Revocation,
)

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Sharing", "/console/sharing", SHARE_REQUEST, order=40))
console.add_page(
    NavEntry("Data", "Demand list", "/console/sharing/demands", SHARE_REQUEST, order=41)
)
console.add_page(
    NavEntry(
        "Data",
        "Access log",
        "/console/sharing/access",
        (SHARE_READ, SHARE_AUDIT, SHARE_DECIDE),
        order=42,
    )
)
add_translations(
    "zh",
    {
        "Sharing": "共享申请与授权", "Demand list": "需求清单", "Access log": "共享调用日志",
        "Requests": "共享申请", "Grants": "共享授权", "Request data": "申请共享", "Read the granted rows": "查看授权数据",
        "Made by my unit": "本单位提出", "Made to my unit": "向本单位提出",
        "Legal basis": "依据", "Fields": "数据项", "Days": "期限（天）",
        "Systems (API keys)": "调用系统（API 密钥）", "Provider": "提供单位", "Consumer": "使用单位",
        "In force": "有效", "Revoke": "撤销", "Send the request": "提交申请",
        "req.pending": "待审核", "req.granted": "已授权", "req.refused": "未同意",
        "req.withdrawn": "已撤回", "req.sandboxed": "以沙箱方式答复",
        "Answer in the sandbox": "以沙箱方式答复", "Ask queries in the sandbox": "在沙箱中提出查询",
        "Rows withheld": "不以数据行共享", "grant.in_force": "有效", "grant.expired": "已到期",
        "grant.revoked": "已撤销", "No requests.": "暂无共享申请。", "No grants.": "暂无共享授权。",
        "Post a demand": "发布需求", "Title": "标题", "Description": "需求描述",
        "Items wanted (one per line)": "所需数据项（每行一个）",
        "Unit believed to hold it (code)": "预计提供单位（代码）", "Respond": "响应",
        "Offer a resource": "提供资源", "Planned": "计划采集", "Unavailable": "无此数据",
        "Take this offer": "转为共享申请", "No demands.": "暂无需求。", "Close": "关闭",
        "dem.open": "待响应", "dem.answered": "已响应", "dem.matched": "已对接", "dem.closed": "已关闭",
        "ans.offer": "提供资源", "ans.planned": "计划采集", "ans.unavailable": "无此数据",
        "Who reads our data": "谁在使用本单位数据", "What we read": "本单位使用的数据",
        "Reads": "调用", "Refused": "拒绝", "Last read": "最近调用",
        "Data subject (citizen ID or credit code)": "数据主体（身份证号或统一社会信用代码）",
        "Case number": "案件编号", "End user": "最终用户", "Outcome": "结果",
        "out.allowed": "允许", "out.refused": "拒绝", "Search": "搜索", "No reads.": "暂无调用记录。",
        "Only auditors look a data subject up.": "仅审计员可按数据主体查询。",
        "Masking": "脱敏", "Level": "级别", "Ask for it": "申请共享",
        "Your unit holds no grant for this resource.": "本单位尚无该资源的共享授权。",
        "Number": "编号", "Resource": "数据资源", "Ledger": "账本", "Next page": "下一页",
    },
)  # fmt: skip
add_translations("zh", {
    "a unit reads its own data directly": "本单位的数据可直接使用，无需申请",
    "a demand is answered by another unit's steward": "需求由其他单位的数据管理员答复",
    "a demand is posted for a unit; this account has none": "发布需求须以单位名义，该账号未归属单位",
    "a request is made for a unit; this account has none": "申请须以单位名义，该账号未归属单位",
    "offer your own unit's resources": "只能提供本单位的数据资源",
    "requests are decided by the providing unit": "申请由提供单位审核",
    "the unit that posted the demand closes it": "需求由发布单位关闭",
    "the unit that posted the demand takes its offers": "由发布需求的单位采纳答复",
    "an offer names the resource that meets the demand": "提供资源时请选择满足需求的数据资源",
    "say why the request is refused": "请说明不予共享的理由",
    "looking a data subject up is for auditors": "按数据主体查询仅限审计人员",
})  # fmt: skip
add_patterns("zh", {
    r"no share request (\S+)": "未找到共享申请 {0}", r"no demand (\S+)": "未找到需求 {0}",
    r"no grant (\S+)": "未找到授权 {0}", r"no data resource (\S+)": "未找到数据资源 {0}",
    r"demand (\S+) already became request (\S+)": "需求 {0} 已转为申请 {1}",
    r"demand (\S+) is (\w+)": "需求 {0} 处于“{1}”状态",
    r"request (\S+) is already (\w+)": "申请 {0} 已处于“{1}”状态",
    r"grant (\S+) is already revoked": "授权 {0} 已撤销",
    r"answer (\S+) is not an offer to (\S+)": "答复 {0} 不是对需求 {1} 的资源提供",
    r"grant some of the fields asked for \((.*)\)": "请授予所申请数据项中的部分或全部（{0}）",
    r"(\S+) is (\w+): (?:offer|only) .*": "{0} 处于“{1}”状态，不能共享",
})  # fmt: skip
add_translations("en", {
    **{f"req.{s}": s for s in ("pending", "granted", "refused", "withdrawn")},
    "req.sandboxed": "answered in the sandbox",
    **{f"grant.{s}": s.replace("_", " ") for s in ("in_force", "expired", "revoked")},
    **{f"dem.{s}": s for s in ("open", "answered", "matched", "closed")},
    **{f"ans.{s}": s for s in ("offer", "planned", "unavailable")},
    **{f"out.{s}": s for s in ("allowed", "refused")},
})  # fmt: skip


def _lines(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").replace("，", ",").replace(",", "\n").splitlines()
            if v.strip()]  # fmt: skip


# --- requests and grants -----------------------------------------------------------------------


def _sharing(
    request: Request, session: Session, principal: Principal, status: int = 200, **extra: Any
) -> Response:
    requests = service.list_requests(session, principal)
    grants = service.list_grants(session, principal)
    mine = principal.unit_code
    pairs = [(x.provider_unit_code, x.consumer_unit_code, x.resource_code) for x in requests]
    pairs += [(g.provider_unit_code, g.consumer_unit_code, g.resource_code) for g in grants]
    received = [
        r for r in requests if r.provider_unit_code == mine and r.consumer_unit_code != mine
    ]
    # requests whose rows may not leave (不予共享, 重要数据, 核心数据): answerable in the sandbox
    withheld: dict[str, str] = {}
    for r in received:
        open_ = r.status.value == "pending" or (r.status.value == "refused"
                                                and r.decided_by == service.CATALOG_RULE.name)  # fmt: skip
        if open_ and (
            why := service.rows_withheld(session, catalog.get_resource(session, r.resource_code))
        ):
            withheld[r.number] = why
    return console.render(
        request, "sharing/sharing.html",
        {"unit_names": orgs.unit_names(session, {u for p, c, _ in pairs for u in (p, c)}),
         "resource_names": catalog.resource_names(session, {r for _, _, r in pairs}),
         "made": [r for r in requests if r.consumer_unit_code == mine],
         "received": received, "withheld": withheld, "grants": grants, "errors": {},
         "may_decide": principal.can(SHARE_DECIDE), **extra},
        status,
    )  # fmt: skip


@router.get("/console/sharing")
def sharing_page(request: Request, session: DbSession, principal: ShareRequester) -> Response:
    return _sharing(request, session, principal, done=request.query_params.get("done"))


@router.get("/console/sharing/new")
def new_request_page(
    request: Request, session: DbSession, principal: ShareRequester, resource: str = ""
) -> Response:
    found = catalog.get_accessible_resource(session, principal, resource) if resource else None
    return console.render(request, "sharing/new.html", _new_ctx(session, principal, found, {}, {}))


def _new_ctx(
    session: Session, principal: Principal, resource: ResourceRead | None, form: dict[str, Any],
    errors: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    keys = [k for k in identity.list_api_keys(session, principal) if k.revoked_at is None]
    return {"resource": resource, "form": form, "errors": errors, "keys": keys}


@router.post("/console/sharing/new")
def new_request_submit(
    request: Request, session: DbSession, principal: ShareRequester, form: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    code = str(form.get("resource_code", ""))
    try:
        once = claim(request, session, token)
        made = service.request_share(
            session, principal,
            RequestCreate(
                resource_code=code, purpose=form.get("purpose", ""),
                legal_basis=form.get("legal_basis", ""), fields=_lines(form.get("fields")),
                days=int(form.get("days") or 365),
                api_key_ids=[int(k) for k in _lines(form.get("api_key_ids")) if k.isdigit()],
            ),
        )  # fmt: skip
    except (CitybaseError, ValidationError, ValueError) as exc:
        undo(session)
        if isinstance(exc, NotFound):
            raise
        resource = catalog.get_accessible_resource(session, principal, code) if code else None
        errors = form_errors(exc) if not isinstance(exc, ValueError) or isinstance(
            exc, ValidationError) else {"days": str(exc)}  # fmt: skip
        return console.render(request, "sharing/new.html",
                              _new_ctx(session, principal, resource, form, errors), 422)  # fmt: skip
    return once.redirect(session, f"/console/sharing?done={made.number}")


@router.post("/console/sharing/requests/{number}")
def decide_submit(
    request: Request, session: DbSession, principal: ShareDecider, number: str, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    try:
        days = str(form.get("days") or "").strip()
        fields = _lines(form.get("fields"))
        service.decide(
            session, principal, number,
            Decision(approve=form.get("decision") == "approve", reason=str(form.get("reason", "")),
                     fields=fields or None, days=int(days) if days.isdigit() else None),
        )  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return _sharing(
            request, session, principal, 422, errors=failure(session, exc), failed=number
        )
    return once.redirect(session, f"/console/sharing?done={number}")


@router.post("/console/sharing/requests/{number}/withdraw")
def withdraw_submit(
    request: Request, session: DbSession, principal: ShareRequester, number: str, once: FormOnce
) -> Response:
    try:
        service.withdraw(session, principal, number)
    except CitybaseError as exc:
        return _sharing(request, session, principal, exc.status_code, errors=failure(session, exc))
    return once.redirect(session, f"/console/sharing?done={number}")


@router.post("/console/sharing/grants/{grant_id}/revoke")
def revoke_submit(
    request: Request, session: DbSession, principal: ShareDecider, grant_id: Id, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    try:
        service.revoke(session, principal, grant_id, Revocation(reason=form.get("reason", "")))
    except (CitybaseError, ValidationError) as exc:
        return _sharing(request, session, principal, 422, errors=failure(session, exc))
    return once.redirect(session, f"/console/sharing?done={grant_id}")


# --- the demand list ---------------------------------------------------------------------------


def _demands(
    request: Request, session: Session, principal: Principal, status: int = 200, **extra: Any
) -> Response:
    own = [r for r in catalog.registered_resources(session)
           if principal.unit_code and r.provider_unit_code == principal.unit_code]  # fmt: skip
    return console.render(
        request, "sharing/demands.html",
        {"demands": demand.list_demands(session), "errors": {}, "form": {},
         "may_answer": principal.can(SHARE_DECIDE), "own_resources": own, **extra},
        status,
    )  # fmt: skip


@router.get("/console/sharing/demands")
def demands_page(request: Request, session: DbSession, principal: ShareRequester) -> Response:
    return _demands(request, session, principal, done=request.query_params.get("done"))


@router.post("/console/sharing/demands")
def post_demand_submit(
    request: Request, session: DbSession, principal: ShareRequester, form: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        posted = demand.post(
            session, principal,
            DemandCreate(
                title=form.get("title", ""), description=form.get("description", ""),
                purpose=form.get("purpose", ""), legal_basis=form.get("legal_basis", ""),
                items=_lines(form.get("items")),
                provider_unit_code=str(form.get("provider_unit_code", "")).strip(),
            ),
        )  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return _demands(request, session, principal, 422, errors=failure(session, exc), form=form)
    return once.redirect(session, f"/console/sharing/demands?done={posted.number}")


@router.post("/console/sharing/demands/{number}/answers")
def answer_submit(
    request: Request, session: DbSession, principal: ShareDecider, number: str,
    form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        demand.answer(
            session, principal, number,
            AnswerCreate(kind=form.get("kind", ""), resource_code=form.get("resource_code", ""),
                         message=form.get("message", "")),
        )  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return _demands(
            request, session, principal, 422, errors=failure(session, exc), failed=number
        )
    return once.redirect(session, f"/console/sharing/demands?done={number}")


@router.post("/console/sharing/demands/{number}/match")
def match_submit(
    request: Request, session: DbSession, principal: ShareRequester, number: str,
    form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        made = demand.match(
            session, principal, number,
            DemandMatch(answer_id=int(form.get("answer_id") or 0), fields=_lines(form.get("fields")),
                        days=int(form.get("days") or 365)),
        )  # fmt: skip
    except (CitybaseError, ValidationError, ValueError) as exc:
        undo(session)
        if isinstance(exc, NotFound):
            raise
        errors = {"days": str(exc)} if type(exc) is ValueError else form_errors(exc)
        return _demands(request, session, principal, 422, errors=errors, failed=number)
    return once.redirect(session, f"/console/sharing?done={made.number}")


# --- the access log ----------------------------------------------------------------------------


@router.get("/console/sharing/access")
def access_page(
    request: Request, session: DbSession, settings: AppSettings, principal: AccessViewer
) -> Response:
    q = request.query_params
    auditor = principal.can(SHARE_AUDIT)
    errors: dict[str, str] = {}
    try:
        flt = AccessFilter(
            resource=q.get("resource") or None, consumer=q.get("consumer") or None,
            provider=q.get("provider") or None, user=q.get("user") or None,
            case_number=q.get("case_number") or None, outcome=q.get("outcome") or None,
            subject=(q.get("subject") or None) if auditor else None,
            offset=int(q.get("offset") or 0),
        )  # fmt: skip
    except (ValidationError, ValueError) as exc:
        errors = form_errors(exc) if isinstance(exc, ValidationError) else {"offset": str(exc)}
        flt = AccessFilter()
    page = access.find_accesses(session, principal, flt, ops.keys_for(settings.masking_key))
    provided = access.summary(session, principal, as_provider=True)
    consumed = access.summary(session, principal, as_provider=False)
    units = {a.consumer_unit_code for a in page.accesses} | {
        x.unit_code for x in [*provided, *consumed]
    }
    codes = {a.resource_code for a in page.accesses} | {
        x.resource_code for x in [*provided, *consumed]
    }
    return console.render(
        request, "sharing/access.html",
        {"page": page, "q": dict(q), "auditor": auditor, "errors": errors,
         "provided": provided, "consumed": consumed, "flt": flt,
         "unit_names": orgs.unit_names(session, units),
         "resource_names": catalog.resource_names(session, codes),
         "people": identity.display_names(session, {a.username for a in page.accesses})},
    )  # fmt: skip


# --- the resource page's panel -----------------------------------------------------------------


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    grants = service.list_grants(session, principal, resource.code)
    holds = service.grant_for(session, principal, resource.code)
    plan = masking.plan_for(session, resource.code)
    masked = [(f.item, f.rule.label()) for f in plan.fields if f.rule.op.value != "clear"]
    mine = principal.unit_code == resource.provider_unit_code
    reads = (
        access.summary(session, principal, as_provider=True, resource_code=resource.code)
        if mine
        else []
    )
    return Panel("Sharing", "sharing/_panel.html",
                 {"code": resource.code, "grants": grants, "holds": holds, "masked": masked,
                  "level": plan.level or plan.policy_level, "mine": mine, "reads": reads,
                  "share_type": resource.share_type.value, "quoted": quote(resource.code)},
                 link="/console/sharing")  # fmt: skip


console.add_panel("catalog.resource", 60, _panel)


def _waiting_requests(session: Session, principal: Principal) -> list[Waiting]:
    """The sharing requests made to the principal's unit that wait for its decision."""
    if not principal.can(SHARE_DECIDE) or not principal.unit_code:
        return []
    pending = [r for r in service.list_requests(session, principal)
               if r.status.value == "pending" and r.provider_unit_code == principal.unit_code]  # fmt: skip
    oldest = min((r.created_at for r in pending), default=None)
    return [Waiting("Sharing requests to decide", len(pending), oldest, "/console/sharing")]


console.add_waiting(_waiting_requests)
add_translations("zh", {"Sharing requests to decide": "待审核的共享申请"})


# the refusals of reads as the access log shows them (their codes kept)
add_patterns("zh", {
    r"(\S+) holds no grant in force for any source of ([^:]+): .*": "{0} 没有 {1} 任何来源的有效共享授权",
    r"(\S+) holds no grant for ([^\s:]+): request it first": "{0} 没有 {1} 的共享授权，请先申请",
    r"grant (\S+) was revoked on (\S+): (.*)": "授权 {0} 已于 {1} 撤销：{2}",
    r"grant (\S+) expired on (\S+); request it again": "授权 {0} 已于 {1} 到期，请重新申请",
    r"(\S+) may not read shared data \(permission \S+\)": "{0} 无权读取共享数据",
    r"this credential belongs to (\S+), not to (\S+): a unit reads with its own keys":
        "该凭证属于 {0}，不属于 {1}：各单位须使用本单位的密钥读取",
    r"(\S+) is not shared \(不予共享\) in the catalog": "{0} 在目录中为不予共享",
    r"(\S+) is your unit's own: read it at .*": "{0} 是本单位的数据：请直接在本单位读取",
    r"not granted: (.*) \((.*) covers (.*)\)": "未授权的数据项：{0}（{1} 仅包括：{2}）",
    r"(\S+) holds personal information(?: \([^)]*\))?: (\S+ \S+) states no purpose":
        "{0} 含个人信息：{1} 未写明用途",
    r"(\S+) holds personal information(?: \([^)]*\))?: a system names the person it reads "
    r"for in the X-Citybase-UserId header": "{0} 含个人信息：系统调用须在 X-Citybase-UserId 中写明最终用户",
    r"API key (\S+) is not one of the systems named in the grant \(grant (\S+)\).*":
        "API 密钥 {0} 不在授权 {1} 所列系统之内，请重新申请",
    r"shared data is read for a unit; this account has none": "共享数据以单位名义读取，该账号未归属任何单位",
})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"(.+?) days were asked for; grant that or fewer": "申请期限为 {0} 天；授权期限不能超过该天数",
    r"API keys (.+?) are not your own keys in force": "API 密钥 {0} 不是您本人有效的密钥",
    r"a header is too long: (.+?)": "请求头过长：{0}",
    r"not data items of (.+?): (.+?)": "不是 {0} 的数据项：{1}",
})  # fmt: skip
add_translations("zh", {
    "say when it will be collected, or why it cannot be": "请说明何时归集，或无法归集的原因",
})  # fmt: skip
