"""The citizen's rating page (好差评, no sign-in) and the console's ratings: figures with bars,
the list, a rating's page where the unit answers a 差评 and the centre records the revisit."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.clock import CITY_TZ
from citybase.core.clock import today as city_today
from citybase.core.errors import CitybaseError, InvalidInput, TooMany
from citybase.core.identity.auth import OptionalPrincipal
from citybase.core.identity.schemas import Principal
from citybase.core.orgs import service as orgs
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import failure_text, form_errors, read_form, undo
from citybase.core.web.i18n import add_field_labels, add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, Waiting, console
from citybase.services.evaluation import service
from citybase.services.evaluation.auth import (
    EVALUATION_READ,
    EVALUATION_RECTIFY,
    EVALUATION_REVISIT,
    Reader,
    Rectifier,
    Revisitor,
)
from citybase.services.evaluation.routes import rate_as_applicant
from citybase.services.evaluation.schemas import (
    BAD,
    CHANNEL_NAMES,
    GRADE_NAMES,
    KIND_NAMES,
    REASONS,
    RECTIFY_NAMES,
    Channel,
    Grade,
    RatingCreate,
    RatingFilter,
    RectifyState,
    RevisitIn,
    SubjectKind,
)

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Applications", "Rate a service", "/evaluation", None, order=20))
console.add_page(NavEntry("Applications", "Service ratings", "/console/evaluation",
                          EVALUATION_READ, order=25))  # fmt: skip
add_field_labels({"grade": "Your rating", "reasons": "Bad-rating reasons",
                  "subject_id": "Number", "comment": "Comment"})  # fmt: skip
add_translations("zh", {
    "Rate a service": "好差评", "Service ratings": "好差评管理", "Your rating": "评价等级",
    "Bad-rating reasons": "差评原因", "Number": "编号", "Your phone": "您的手机号", "Comment": "意见",
    "What you rate": "评价对象", "Rectification answer": "整改反馈", "Accepted at the revisit?": "是否认可",
    "Rate the service you received": "评价您获得的政务服务",
    "Give the number of the request, matter or application and the phone you applied with.":
        "请填写工单、办件或申请的编号，以及申请时留下的手机号。",
    "A reason is needed for 不满意 and 非常不满意.": "选择“不满意”或“非常不满意”时须选择差评原因。",
    "Thank you: your rating is recorded.": "感谢您的评价，已记录。",
    "A bad rating goes back to the unit, which rectifies and answers by":
        "差评已转责任单位整改，整改反馈期限：",
    "Send the rating": "提交评价", "Rating figures": "评价统计", "Ratings": "评价列表",
    "Group by": "统计维度", "by unit": "按单位", "by kind": "按类型", "by channel": "按渠道",
    "From": "起", "To": "止", "Export Excel": "导出Excel", "Group": "分组",
    "Count": "评价数", "Good rate": "好评率", "Bad": "差评数", "Rectified on time": "按时整改",
    "Overdue rectifications": "超期未整改", "Accepted at revisit": "回访认可", "Rectify rate": "差评整改率",
    "Rated unit": "责任单位", "Channel": "渠道", "Rating grade": "评价等级", "Rated at": "评价时间",
    "Rectification": "整改", "Rectify by": "整改期限", "Rated subject": "评价对象", "Kind": "类型",
    "All": "全部", "No ratings yet.": "暂无评价。", "Rating": "评价",
    "Answer the rating (整改反馈)": "整改反馈", "Record the revisit (回访)": "记录回访结果",
    "The applicant accepts": "评价人认可整改", "The applicant does not accept": "评价人不认可整改",
    "Revisit": "回访", "Answered at": "反馈时间", "Answered by": "反馈人",
    "Saved.": "已保存。", "Revisit note": "回访记录", "Good rate by group": "各分组好评率",
    "choose one of the five grades": "请选择五个评价等级之一",
    "a bad rating needs a reason: choose at least one": "差评须至少选择一项原因",
    "say in the comment what the other reason is": "选择“其他”时请在意见中说明原因",
    "only the applicant may rate: no such subject with this phone":
        "仅申请人本人可以评价：编号与手机号不符",
    "not yet handled: it can be rated once it is handled": "尚未办结，办结后方可评价",
    "not yet handled: a case can be rated once it is closed": "工单尚未办结，办结后方可评价",
    "already rated: each service is rated once": "已评价过：每项服务只能评价一次",
    "only the rated unit answers for its rating": "只有被评价单位可以反馈整改",
    "nothing to rectify: the rating is not a pending 差评": "该评价不是待整改的差评",
    "revisit after the unit's answer: this rating waits for none":
        "须在单位反馈整改后回访：该评价无待回访事项",
    "the revisit is made by the service centre": "回访由服务中心进行",
    "too many ratings from here: try again later, or call 12345":
        "提交过于频繁，请稍后再试，或拨打12345热线。",
    "choose what you rate": "请选择评价对象", "give the number": "请填写编号",
    "give your phone": "请填写手机号", "say what was done about it": "请说明整改情况",
})  # fmt: skip

add_patterns(
    "zh",
    {
        r"no rating (\d+)": "没有编号为 {0} 的评价",
        r"no (case|matter|application) (.+) to rate": "没有可评价的{0} {1}",
    },
)
add_translations("zh", {"case": "工单", "matter": "办件", "application": "申请"})

Posted = Annotated[dict[str, Any], Depends(read_form)]


def _portal(request: Request, form: dict[str, Any], errors: dict[str, str],
            status: int = 200, rated: Any = None) -> Response:  # fmt: skip
    return console.render(request, "evaluation/rate.html", {
        "form": form, "errors": errors, "rated": rated, "grades": list(GRADE_NAMES.items()),
        "reasons": REASONS, "kinds": list(KIND_NAMES.items()), "bad": [b.value for b in BAD],
        "chosen": set(_many(form.get("reasons"))),
    }, status)  # fmt: skip


def _many(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@router.get("/evaluation")
def rate_page(request: Request, _: Public, who: OptionalPrincipal) -> Response:
    q = request.query_params
    return _portal(request, {"kind": q.get("kind", "")[:20], "subject_id": q.get("subject", "")[:80]},
                   {})  # fmt: skip


@router.post("/evaluation")
def rate_submit(
    request: Request, session: DbSession, settings: AppSettings, _: Public,
    who: OptionalPrincipal, form: Posted, once: FormOnce) -> Response:  # fmt: skip
    try:
        if form.get("kind") not in {k.value for k in SubjectKind}:
            raise InvalidInput("choose what you rate", field="kind")
        if not str(form.get("subject_id", "")).strip():
            raise InvalidInput("give the number", field="subject_id")
        if not str(form.get("phone", "")).strip():
            raise InvalidInput("give your phone", field="phone")
        if form.get("grade") not in {g.value for g in Grade}:  # none is chosen for the citizen
            raise InvalidInput("choose one of the five grades", field="grade")
        data = RatingCreate(kind=form["kind"], subject_id=str(form["subject_id"]),
                            phone=str(form["phone"]), grade=form["grade"],
                            reasons=_many(form.get("reasons")),
                            comment=str(form.get("comment", ""))[:500])  # fmt: skip
        rated = rate_as_applicant(request, session, settings, data)
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        status = exc.status_code if isinstance(exc, CitybaseError) else 422
        response = _portal(request, form, form_errors(exc), status)
        if isinstance(exc, TooMany):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return _portal(request, {}, {}, rated=rated)


# --- the console ---------------------------------------------------------------------------


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def _bars(by: str, found: list[Any]) -> list[dict[str, Any]]:
    """Horizontal bars of 好评率 (drawn by the page as SVG rectangles), widths in per cent."""
    return [{"label": service.label(by, f.key), "rate": f.good_rate,
             "width": round((f.good_rate or 0) * 100, 1), "bad": f.bad, "count": f.count,
             "y": 24 * i} for i, f in enumerate(found[:20])]  # fmt: skip


@router.get("/console/evaluation")
def ratings_page(request: Request, session: DbSession, principal: Reader) -> Response:
    q = request.query_params
    today = city_today()
    first = _day(q.get("since"), today - timedelta(days=90))
    last = _day(q.get("until"), today)
    by = q.get("by", "unit") if q.get("by") in service.BY else "unit"
    since = datetime.combine(first, datetime.min.time(), CITY_TZ)
    until = datetime.combine(last + timedelta(days=1), datetime.min.time(), CITY_TZ)
    try:
        flt = RatingFilter(
            unit=q.get("unit", "")[:40], since=since, until=until,
            kind=q.get("kind") or None, channel=q.get("channel") or None,
            grade=q.get("grade") or None, rectify_state=q.get("rectify") or None,
        )  # fmt: skip
    except ValidationError:
        flt = RatingFilter(since=since, until=until)
    found = service.figures(session, principal, by, since, until)
    ratings, total = service.get_accessible_ratings(session, principal, flt)
    names = orgs.unit_names(session, {f.key for f in found if by == "unit"} |
                            {r.unit_code for r in ratings})  # fmt: skip
    if by == "unit":
        found = [f.model_copy(update={"key": f.key}) for f in found]
    query = {k: v for k, v in {"since": first.isoformat(), "until": last.isoformat(),
             "unit": flt.unit, "kind": q.get("kind", ""), "channel": q.get("channel", ""),
             "grade": q.get("grade", ""), "rectify": q.get("rectify", "")}.items() if v}  # fmt: skip
    bars = _bars(by, found)
    for bar, f in zip(bars, found, strict=False):
        if by == "unit":
            bar["label"] = names.get(f.key, f.key)
    return console.render(request, "evaluation/list.html", {
        "figures": found, "by": by, "bars": bars, "height": 24 * len(bars) + 4,
        "ratings": ratings, "total": total, "names": names, "since": first, "until": last,
        "flt": flt, "export": "/api/v1/evaluation/ratings.xlsx?" + urlencode(
            {"since": since.isoformat(), "until": until.isoformat()} |
            {k: v for k, v in query.items() if k not in ("since", "until")}),
        "grade_names": GRADE_NAMES, "kind_names": KIND_NAMES, "channel_names": CHANNEL_NAMES,
        "rectify_names": RECTIFY_NAMES, "label": service.label, "grades": list(Grade),
        "channels": list(Channel), "kinds": list(SubjectKind),
        "states": [s for s in RectifyState if s.value], "q": q,
    })  # fmt: skip


def _rating(request: Request, session: DbSession, principal: Any, rating_id: Id,
            error: str = "", status: int = 200) -> Response:  # fmt: skip
    rating = service.get_accessible_rating(session, principal, rating_id)
    names = orgs.unit_names(session, {rating.unit_code})
    return console.render(request, "evaluation/rating.html", {
        "r": rating, "names": names, "grade_names": GRADE_NAMES, "kind_names": KIND_NAMES,
        "channel_names": CHANNEL_NAMES, "rectify_names": RECTIFY_NAMES, "reasons": REASONS,
        "may_answer": principal.can(EVALUATION_RECTIFY) and rating.unit_code == principal.unit_code
        and rating.rectify_state is RectifyState.pending,
        "may_revisit": principal.can(EVALUATION_REVISIT)
        and rating.rectify_state is RectifyState.answered,
        "error": error or request.query_params.get("error", "")[:500],
        "saved": bool(request.query_params.get("saved")),
    }, status)  # fmt: skip


@router.get("/console/evaluation/{rating_id}")
def rating_page(request: Request, session: DbSession, principal: Reader, rating_id: Id) -> Response:
    return _rating(request, session, principal, rating_id)


@router.post("/console/evaluation/{rating_id}/answer")
def answer_submit(
    request: Request, session: DbSession, principal: Rectifier, rating_id: Id, form: Posted,
    token: FormToken,
) -> Response:  # fmt: skip
    here = f"/console/evaluation/{rating_id}"
    try:
        once = claim(request, session, token)  # sent twice: answered once
        service.answer_rectification(session, principal, rating_id, str(form.get("answer", "")))
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        return RedirectResponse(f"{here}?error={quote(failure_text(session, exc))}", 303)
    return once.redirect(session, f"{here}?saved=1")


@router.post("/console/evaluation/{rating_id}/revisit")
def revisit_submit(
    request: Request, session: DbSession, principal: Revisitor, rating_id: Id, form: Posted,
    token: FormToken,
) -> Response:  # fmt: skip
    here = f"/console/evaluation/{rating_id}"
    try:
        once = claim(request, session, token)  # sent twice: the revisit recorded once
        data = RevisitIn(accepted=form.get("accepted") == "yes", note=str(form.get("note", "")))
        service.record_revisit(session, principal, rating_id, data)
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        return RedirectResponse(f"{here}?error={quote(failure_text(session, exc))}", 303)
    return once.redirect(session, f"{here}?saved=1")


def _waiting_ratings(session: Session, principal: Principal) -> list[Waiting]:
    """差评 waiting for the unit's rectification, and answered ones waiting for the revisit."""
    found = []
    for permission, state, label in (
        (EVALUATION_RECTIFY, RectifyState.pending, "Bad ratings to rectify"),
        (EVALUATION_REVISIT, RectifyState.answered, "Rectifications to revisit"),
    ):
        if not principal.can(permission):
            continue
        flt = RatingFilter(rectify_state=state, limit=500)
        rows, total = service.get_accessible_ratings(session, principal, flt)
        oldest = min((r.rated_at for r in rows), default=None)
        found.append(
            Waiting(label, total, oldest, f"/console/evaluation?rectify_state={state.value}")
        )
    return found


console.add_waiting(_waiting_ratings)
add_translations(
    "zh", {"Bad ratings to rectify": "待整改的差评", "Rectifications to revisit": "待回访的整改"}
)

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"no \S+ (\S+) to rate": "没有可评价的记录 {0}",
})  # fmt: skip
