"""好差评: other domains open what they handled for rating (``open_for_rating``; 12345 cases
are opened when the hub closes them); the applicant rates it once on the five national grades;
a bad rating (差评) goes back to the unit, which rectifies and answers by a working-day deadline;
a revisit (回访) records whether the applicant accepts; figures per unit, kind and channel.

The hub's own 回访 verdict (满意/基本满意/不满意, given on the reply) stays what it is: the step of
the case's workflow that may reopen it and behind the centre's 满意率. This rating comes after
the case is closed, is the citizen's own, and changes nothing of the case."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.clock import CITY_TZ
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import Settings
from citybase.core.tables import write_xlsx
from citybase.core.workdays import WorkCalendar
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import CaseState
from citybase.hub.cases.schemas import normalise_phone as normalise
from citybase.services.evaluation import repository
from citybase.services.evaluation.auth import EVALUATION_ALL, EVALUATION_REVISIT
from citybase.services.evaluation.models import RatedSubject, Rating
from citybase.services.evaluation.schemas import (
    BAD,
    CHANNEL_NAMES,
    GRADE_NAMES,
    KIND_NAMES,
    REASONS,
    RECTIFY_NAMES,
    Channel,
    Figures,
    Grade,
    RatingCreate,
    RatingFilter,
    RatingGiven,
    RatingRead,
    RatingState,
    RectificationOverdue,
    RectifyState,
    RevisitIn,
    SubjectKind,
    SubjectOpen,
    SubjectRead,
)
from citybase.services.onething import service as onething
from citybase.services.onething.schemas import ApplicationRead, ApplicationState, MatterState

APPLICANT = Actor.system("applicant (portal)")
NOT_APPLICANT = "only the applicant may rate: no such subject with this phone"


def applicant_key_for_phone(settings: Settings, phone: str) -> str:
    """The key other domains store for an applicant known by phone: a keyed hash (HMAC-SHA256
    under a key derived from the masking key), so that the number itself is not kept here."""
    key = hashlib.sha256(
        b"citybase evaluation applicant\0" + settings.masking_key.encode()
    ).digest()
    try:
        phone = normalise(phone)
    except ValueError:
        phone = phone.strip()
    return "phone:" + hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()[:40]


def _now(at: datetime | None) -> datetime:
    return at or datetime.now(UTC)


def open_for_rating(
    session: Session,
    *,
    subject_kind: SubjectKind | str,
    subject_id: str,
    unit_code: str,
    channel: Channel | str,
    applicant_key: str = "",
    title: str = "",
    handled: bool = True,
    at: datetime | None = None,
) -> SubjectRead:
    """Make a subject ratable by its applicant (again: the unit, channel and title follow the
    latest call, and a subject once handled stays handled). ``handled=False`` registers it
    ahead; ``mark_handled`` opens it later."""
    data = SubjectOpen(kind=SubjectKind(subject_kind), subject_id=subject_id, unit_code=unit_code,
                       channel=Channel(channel), title=title[:200], applicant_key=applicant_key,
                       handled=handled)  # fmt: skip
    found = repository.subject(session, data.kind.value, data.subject_id)
    if found is None:
        found = RatedSubject(kind=data.kind.value, subject_id=data.subject_id)
        session.add(found)
    found.unit_code, found.channel = data.unit_code, data.channel.value
    found.title = data.title or found.title
    found.applicant_key = data.applicant_key or found.applicant_key
    if data.handled and found.handled_at is None:
        found.handled_at = _now(at)
    session.flush()
    return SubjectRead.model_validate(found)


def mark_handled(
    session: Session, subject_kind: SubjectKind | str, subject_id: str, at: datetime | None = None
) -> None:
    found = repository.subject(session, SubjectKind(subject_kind).value, subject_id)
    if found is None:
        raise NotFound(f"no {subject_kind} {subject_id} to rate", field="subject_id")
    if found.handled_at is None:
        found.handled_at = _now(at)
        session.flush()


CASE_CHANNELS = {"phone": Channel.hotline, "web": Channel.portal, "app": Channel.app,
                 "wechat": Channel.wechat, "sms": Channel.sms}  # fmt: skip


def open_case(session: Session, number: str, at: datetime | None = None) -> SubjectRead | None:
    """A 12345 case closed by the hub, opened for its reporter to rate; None for a case no
    citizen raised (a sensor's, an inspector's) or one not closed. The responsible unit is the
    lead unit; for a case answered on the spot (直接答复), the centre's unit that closed it."""
    if onething.application_of_case(session, number) is not None:
        return None  # a one-thing matter's case: rated as that matter, once it is done
    case = cases.get_for_system(session, number)
    if case.state is not CaseState.closed or not case.reporter_phone:
        return None
    unit = case.lead_unit or next(
        (s.unit for s in reversed(cases.steps_for_system(session, number)) if s.unit), ""
    )
    if not unit:
        return None
    return open_for_rating(session, subject_kind=SubjectKind.case, subject_id=case.number,
                           unit_code=unit, title=case.title or case.text[:60],
                           channel=CASE_CHANNELS.get(case.channel.value, Channel.other),
                           at=at or case.closed_at)  # fmt: skip


def open_onething(
    session: Session, number: str, matter_code: str = "", at: datetime | None = None
) -> SubjectRead | None:
    """A one-thing application completed (rated for the item's lead unit), or one of its
    matters done (rated for the unit that handled it, by the matter's case number); None while
    it is not. Its applicant proves himself by the phone on his form."""
    app = onething.application_for_system(session, number)
    if app is None:
        return None
    item = onething.get_item(session, app.item_code)
    if matter_code:
        matter = next((m for m in app.matters if m.matter_code == matter_code), None)
        if matter is None or matter.state is not MatterState.done or not matter.case_number:
            return None
        return open_for_rating(session, subject_kind=SubjectKind.matter,
                               subject_id=matter.case_number, unit_code=matter.unit_code,
                               channel=Channel.portal, title=f"{item.name}·{matter.matter_name}",
                               at=at or matter.done_at)  # fmt: skip
    if app.state is not ApplicationState.completed:
        return None
    return open_for_rating(session, subject_kind=SubjectKind.application, subject_id=app.number,
                           unit_code=item.lead_unit_code, channel=Channel.portal,
                           title=item.name, at=at or app.completed_at)  # fmt: skip


def _onething_application(session: Session, subject: RatedSubject) -> ApplicationRead | None:
    if subject.kind == SubjectKind.application.value:
        return onething.application_for_system(session, subject.subject_id)
    return onething.application_of_case(session, subject.subject_id)


def _is_applicant(session: Session, settings: Settings, subject: RatedSubject, phone: str) -> bool:
    if subject.kind == SubjectKind.case.value:
        try:
            return cases.tracked(session, subject.subject_id, normalise(phone)) is not None
        except ValueError:
            return False
    if not subject.applicant_key:  # a one-thing application or matter: the form's phone
        app = _onething_application(session, subject)
        given = onething.applicant_phone(app) if app is not None else ""
        try:
            return bool(given) and normalise(given) == normalise(phone)
        except ValueError:
            return False
    return hmac.compare_digest(subject.applicant_key, applicant_key_for_phone(settings, phone))


def _subject_for(session: Session, settings: Settings, data: RatingCreate) -> RatedSubject:
    found = repository.subject(session, data.kind.value, data.subject_id.strip())
    if found is None and data.kind is SubjectKind.case:  # closed before its event came through
        opened = None
        try:
            if cases.tracked(session, data.subject_id.strip(), normalise(data.phone)):
                opened = open_case(session, data.subject_id.strip())
        except (ValueError, NotFound):
            opened = None
        if opened is None and _case_open(session, data):
            raise Conflict("not yet handled: a case can be rated once it is closed",
                           field="subject_id")  # fmt: skip
        found = repository.subject(session, data.kind.value, data.subject_id.strip())
    if found is None or not _is_applicant(session, settings, found, data.phone):
        raise Forbidden(NOT_APPLICANT, field="phone")
    return found


def _case_open(session: Session, data: RatingCreate) -> bool:
    try:
        found = cases.tracked(session, data.subject_id.strip(), normalise(data.phone))
    except ValueError:
        return False
    return found is not None and found.state is not CaseState.closed


def rate(
    session: Session,
    settings: Settings,
    data: RatingCreate,
    cal: WorkCalendar,
    *,
    at: datetime | None = None,
) -> RatingRead:
    """The applicant's rating, once per subject (一事一评): a second one is refused. A bad one
    is returned to the unit to rectify within ``rectify_workdays`` working days."""
    if data.grade in BAD and not data.reasons:
        raise InvalidInput("a bad rating needs a reason: choose at least one", field="reasons")
    if "other" in data.reasons and not data.comment.strip():
        raise InvalidInput("say in the comment what the other reason is", field="comment")
    subject = _subject_for(session, settings, data)
    if subject.handled_at is None:
        raise Conflict("not yet handled: it can be rated once it is handled", field="subject_id")
    if repository.rating_of(session, subject.id) is not None:
        raise Conflict("already rated: each service is rated once", field="subject_id")
    now = _now(at)
    bad = data.grade in BAD
    reasons = list(data.reasons)
    row = Rating(
        subject_pk=subject.id, kind=subject.kind, subject_id=subject.subject_id,
        unit_code=subject.unit_code, channel=subject.channel, title=subject.title,
        grade=data.grade.value, reasons=reasons, comment=data.comment.strip(), rated_at=now,
        rectify_state=RectifyState.pending.value if bad else "",
        rectify_due=cal.add(now, settings.evaluation.rectify_workdays * 24) if bad else None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    case_number = subject.subject_id if subject.kind == SubjectKind.case.value else ""
    ledger.record(session, APPLICANT, "services.evaluation.rated", object_type="rating",
                  object_id=row.id, case_number=case_number,
                  details={"kind": row.kind, "subject": row.subject_id, "unit": row.unit_code,
                           "grade": row.grade, "reasons": reasons,
                           "due": row.rectify_due.isoformat() if row.rectify_due else None})  # fmt: skip
    bus.publish(session, RatingGiven(rating_id=row.id, kind=row.kind, subject_id=row.subject_id,
                                     unit_code=row.unit_code, grade=row.grade,
                                     rectify_due=row.rectify_due))  # fmt: skip
    return RatingRead.model_validate(row)


def rating_states(session: Session, subjects: list[tuple[SubjectKind, str]]) -> list[RatingState]:
    """Where each subject stands for its applicant's rating (好差评 one may give): waiting, open,
    or rated with its grade — never the rating's reasons or comment. The caller shows it to
    the applicant (or the enterprise's legal representative) of those subjects only."""
    out = []
    for kind, subject_id in subjects:
        found = repository.subject(session, kind.value, subject_id)
        if found is None or found.handled_at is None:
            out.append(RatingState(kind=kind, subject_id=subject_id, state="waiting"))
            continue
        given = repository.rating_of(session, found.id)
        out.append(RatingState(kind=kind, subject_id=subject_id,
                               state="rated" if given else "open",
                               grade=given.grade if given else ""))  # fmt: skip
    return out


# --- who sees what ------------------------------------------------------------------------------


def _units(principal: Principal) -> list[str] | None:
    """None: every unit (the centre, supervisors, auditors); else the reader's own unit."""
    return None if principal.can(EVALUATION_ALL) else [principal.unit_code]


def get_accessible_ratings(
    session: Session, principal: Principal, f: RatingFilter, *, everything: bool = False
) -> tuple[list[RatingRead], int]:
    rows, total = repository.ratings(session, f, _units(principal), everything=everything)
    return [RatingRead.model_validate(r) for r in rows], total


def _accessible(session: Session, principal: Principal, rating_id: int) -> Rating:
    row = repository.rating(session, rating_id)
    units = _units(principal)
    if row is None or (units is not None and row.unit_code not in units):
        raise NotFound(f"no rating {rating_id}", field="rating_id")
    return row


def get_accessible_rating(session: Session, principal: Principal, rating_id: int) -> RatingRead:
    return RatingRead.model_validate(_accessible(session, principal, rating_id))


# --- rectification of a bad rating ------------------------------------------------------------


def answer_rectification(
    session: Session, principal: Principal, rating_id: int, answer: str,
    at: datetime | None = None,
) -> RatingRead:  # fmt: skip
    """The unit says what it did about a 差评 (整改反馈); only the rated unit answers."""
    if len(answer.strip()) < 2:
        raise InvalidInput("say what was done about it", field="answer")
    row = _accessible(session, principal, rating_id)
    if row.unit_code != principal.unit_code:
        raise Forbidden("only the rated unit answers for its rating", field="rating_id")
    if row.rectify_state != RectifyState.pending.value:
        raise Conflict("nothing to rectify: the rating is not a pending 差评", field="rating_id")
    now = _now(at)
    row.answer, row.answered_at = answer.strip(), now
    row.answered_by, row.rectify_state = principal.username, RectifyState.answered.value
    session.flush()
    on_time = row.rectify_due is None or now <= row.rectify_due
    ledger.record(session, identity.actor_of(principal), "services.evaluation.rectified",
                  object_type="rating", object_id=row.id, reason=row.answer[:200],
                  case_number=row.subject_id if row.kind == "case" else "",
                  details={"on_time": on_time})  # fmt: skip
    return RatingRead.model_validate(row)


def record_revisit(
    session: Session, principal: Principal, rating_id: int, data: RevisitIn,
    at: datetime | None = None,
) -> RatingRead:  # fmt: skip
    """The centre's call back to the applicant after the answer (回访): accepted or not."""
    row = _accessible(session, principal, rating_id)
    if not principal.can(EVALUATION_REVISIT):
        raise Forbidden("the revisit is made by the service centre", field="rating_id")
    if row.rectify_state != RectifyState.answered.value:
        raise Conflict("revisit after the unit's answer: this rating waits for none",
                       field="rating_id")  # fmt: skip
    row.rectify_state = (RectifyState.accepted if data.accepted else RectifyState.rejected).value
    row.revisit_note, row.revisited_at = data.note.strip(), _now(at)
    row.revisited_by = principal.username
    session.flush()
    ledger.record(session, identity.actor_of(principal), "services.evaluation.revisited",
                  object_type="rating", object_id=row.id, reason=row.revisit_note[:200],
                  case_number=row.subject_id if row.kind == "case" else "",
                  details={"accepted": data.accepted})  # fmt: skip
    return RatingRead.model_validate(row)


def warn_overdue(session: Session, now: datetime | None = None) -> int:
    """Each pending rectification past its deadline is warned once (on the ledger, published)."""
    moment = _now(now)
    late = repository.due_unwarned(session, moment)
    for row in late:
        row.warned_at = moment
        assert row.rectify_due is not None
        ledger.record(session, Actor.system("evaluation"), "services.evaluation.overdue",
                      object_type="rating", object_id=row.id,
                      case_number=row.subject_id if row.kind == "case" else "",
                      details={"unit": row.unit_code, "due": row.rectify_due.isoformat()})  # fmt: skip
        bus.publish(session, RectificationOverdue(rating_id=row.id, unit_code=row.unit_code,
                                                  due=row.rectify_due))  # fmt: skip
    session.flush()
    return len(late)


# --- figures ----------------------------------------------------------------------------------

BY = ("unit", "kind", "channel", "all")


def figures(
    session: Session, principal: Principal | None, by: str = "unit",
    since: datetime | None = None, until: datetime | None = None, now: datetime | None = None,
) -> list[Figures]:  # fmt: skip
    """Count, grades, 好评率, 差评, rectified on time, per group; ``principal`` None: the
    platform's own count (every unit)."""
    units = None if principal is None else _units(principal)
    rows = repository.grouped(session, by, since, until, units, _now(now))
    groups: dict[str, dict[str, int]] = {}
    for key, grade, count, answered, on_time, overdue, accepted in rows:
        g = groups.setdefault(key or "", {"count": 0, "answered": 0, "on_time": 0,
                                          "overdue": 0, "accepted": 0})  # fmt: skip
        g[grade] = g.get(grade, 0) + count
        g["count"] += count
        if Grade(grade) in BAD:
            g["answered"] += answered
            g["on_time"] += on_time
            g["overdue"] += overdue
            g["accepted"] += accepted
    out = []
    for key, g in sorted(groups.items(), key=lambda kv: (-kv[1]["count"], kv[0])):
        grades = {grade.value: g.get(grade.value, 0) for grade in Grade}
        bad = sum(grades[b.value] for b in BAD)
        due = g["answered"] + g["overdue"]  # answered, or past the deadline without an answer
        out.append(Figures(
            key=key, count=g["count"], grades=grades,
            good_rate=round((g["count"] - bad) / g["count"], 4) if g["count"] else None,
            bad=bad, rectified=g["answered"], rectified_on_time=g["on_time"],
            overdue=g["overdue"], accepted=g["accepted"],
            rectify_rate=round(g["on_time"] / due, 4) if due else None,
        ))  # fmt: skip
    return out


def city_rate(session: Session, which: str, since: datetime, until: datetime) -> float | None:
    """The city's 好评率 (``good``) or 差评整改率 (``rectify``) over the period, in per cent."""
    found = figures(session, None, "all", since, until, now=until)
    value = (found[0].good_rate if which == "good" else found[0].rectify_rate) if found else None
    return None if value is None else round(value * 100, 2)


def label(by: str, key: str) -> str:
    if by == "kind" and key in KIND_NAMES:
        return KIND_NAMES[SubjectKind(key)]
    if by == "channel" and key in CHANNEL_NAMES:
        return CHANNEL_NAMES[Channel(key)]
    return key or "全部"


COLUMNS = ["编号", "评价对象类型", "评价对象", "事项", "责任单位", "渠道", "评价等级", "差评原因",
           "意见", "评价时间", "整改状态", "整改期限", "整改反馈", "反馈时间", "回访"]  # fmt: skip


FIGURE_COLUMNS = ["分组", "评价数", *GRADE_NAMES.values(), "好评率", "差评数", "已整改",
                  "按时整改", "超期未整改", "回访认可", "差评整改率"]  # fmt: skip


def _figure_rows(by: str, found: list[Figures]) -> list[list[object]]:
    return [[label(by, f.key), f.count, *(f.grades[g.value] for g in Grade),
             _pct(f.good_rate), f.bad, f.rectified, f.rectified_on_time, f.overdue, f.accepted,
             _pct(f.rectify_rate)] for f in found]  # fmt: skip


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def export(session: Session, principal: Principal, f: RatingFilter) -> tuple[bytes, int]:
    """The ratings the reader sees that meet the filter, and the period's figures by unit, kind
    and channel, as an Excel workbook; the export is on the ledger with its filter and size."""
    rows, total = get_accessible_ratings(session, principal, f, everything=True)
    detail = [[
        r.id, KIND_NAMES[r.kind], r.subject_id, r.title, r.unit_code, CHANNEL_NAMES[r.channel],
        GRADE_NAMES[r.grade], "；".join(REASONS.get(x, x) for x in r.reasons), r.comment,
        _local(r.rated_at), RECTIFY_NAMES[r.rectify_state], _local(r.rectify_due), r.answer,
        _local(r.answered_at), r.revisit_note,
    ] for r in rows]  # fmt: skip
    sheets: list[tuple[str, list[str], list[list[object]]]] = [("评价明细", COLUMNS, detail)]
    for by, title in (("unit", "按单位"), ("kind", "按类型"), ("channel", "按渠道")):
        found = figures(session, principal, by, f.since, f.until)
        sheets.append((title, FIGURE_COLUMNS, _figure_rows(by, found)))
    book = write_xlsx(sheets)
    ledger.record(session, identity.actor_of(principal), "services.evaluation.exported",
                  object_type="ratings",
                  details={"filter": f.model_dump(mode="json", exclude={"limit", "offset"}),
                           "rows": total})  # fmt: skip
    return book, total


def _local(value: datetime | None) -> str:
    return value.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M") if value else ""
