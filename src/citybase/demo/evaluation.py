"""The demo city's 好差评: most closed 12345 cases rated by their reporters, and matters handled
at the administrative service centre's windows, portal and app rated by their applicants —
mostly good, some 差评, whose rectification stands in every state: answered on time, answered
late, accepted or not at the revisit, waiting within the deadline, and overdue (warned). The mix
is drawn for the demo, not measured anywhere."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.workdays import WorkCalendar, calendar_for
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import CaseFilter, CaseState
from citybase.services.evaluation import service as evaluation
from citybase.services.evaluation.schemas import BAD, Grade, RatingCreate, RevisitIn

GRADES = ([Grade.very_satisfied] * 56 + [Grade.satisfied] * 24 + [Grade.basic] * 9
          + [Grade.unsatisfied] * 8 + [Grade.very_unsatisfied] * 3)  # fmt: skip
BAD_REASONS = ["slow", "result", "attitude", "trips", "materials", "process", "guide", "online"]
COMMENTS = {
    Grade.very_satisfied: ["处理很及时，点赞", "工作人员很耐心", ""],
    Grade.satisfied: ["问题解决了", ""],
    Grade.basic: ["解决了，但等得有点久", ""],
    Grade.unsatisfied: ["反映的问题只解决了一半", "来回跑了好几趟"],
    Grade.very_unsatisfied: ["答复敷衍，问题依旧", "态度生硬，没人说清楚要什么材料"],
}
MATTERS = ["个体工商户设立登记", "居民身份证换领", "社会保障卡补领", "住房公积金提取",
           "不动产登记", "出生医学证明办理", "灵活就业人员参保登记", "道路运输从业资格证换证",
           "食品经营许可", "残疾人证办理"]  # fmt: skip
MATTER_CHANNELS = ["window"] * 5 + ["portal"] * 3 + ["app"] * 2 + ["kiosk"]
ANSWERS = ["已约谈经办人员，明确一次性告知要求，并电话向评价人致歉说明",
           "已重新安排人员上门处理，问题已解决，并将整改情况告知评价人",
           "已梳理办事指南，补充材料清单说明，并回复评价人"]  # fmt: skip


def seed_evaluation(
    session: Session, settings: Settings, phones: dict[str, str], now: datetime | None = None
) -> int:
    """Rate the demo's closed cases and some matters; returns how many ratings were made."""
    rng = random.Random(54)
    now = now or datetime.now(UTC)
    cal = calendar_for(settings.home)
    made: list[int] = []
    closed, _ = cases.find_all(session, CaseFilter(state=[CaseState.closed], limit=500))
    for case in sorted(closed, key=lambda c: c.number):
        if case.number not in phones or case.closed_at is None:
            continue
        evaluation.open_case(session, case.number, at=case.closed_at)
        if rng.random() < 0.3:  # most applicants rate; some never do
            continue
        at = case.closed_at + timedelta(hours=rng.uniform(1, 60))
        if at < now:
            made.append(_rate(session, settings, cal, rng, "case", case.number,
                              phones[case.number], at))  # fmt: skip
    for n in range(60):
        phone = f"1390591{n:04d}"
        handled = now - timedelta(days=rng.uniform(0.5, 40))
        number = f"BJ{clock.city_date(handled):%Y%m%d}{n:04d}"
        evaluation.open_for_rating(
            session, subject_kind="matter", subject_id=number, unit_code="fz.admin_service",
            applicant_key=evaluation.applicant_key_for_phone(settings, phone),
            channel=rng.choice(MATTER_CHANNELS), title=rng.choice(MATTERS), at=handled,
        )  # fmt: skip
        at = handled + timedelta(hours=rng.uniform(0.1, 30))
        if at < now:
            made.append(_rate(session, settings, cal, rng, "matter", number, phone, at))
    _rectify(session, rng, made, now)
    return len(made)


def _rate(session: Session, settings: Settings, cal: WorkCalendar, rng: random.Random, kind: str,
          subject_id: str, phone: str, at: datetime) -> int:  # fmt: skip
    grade = rng.choice(GRADES)
    reasons = rng.sample(BAD_REASONS, rng.choice([1, 1, 2])) if grade in BAD else []
    data = RatingCreate(kind=kind, subject_id=subject_id, phone=phone, grade=grade,
                        reasons=reasons, comment=rng.choice(COMMENTS[grade]))  # fmt: skip
    return evaluation.rate(session, settings, data, cal, at=at).id


def _rectify(session: Session, rng: random.Random, ids: list[int], now: datetime) -> None:
    """The rated units answer their 差评 (most on time, some late, a few not yet) — as their
    demo users where they have one, else as a member of their staff the demo stands in for; the
    centre revisits most answers; what is left past its deadline is warned."""
    centre = identity.principal_for(session, "operator")
    by_unit = {p.unit_code: p for p in (identity.principal_for(session, u)
                                        for u in ("handler", "unitadmin"))}  # fmt: skip
    for rating_id in ids:
        rating = evaluation.get_accessible_rating(session, centre, rating_id)
        if rating.rectify_due is None or rng.random() < 0.2:
            continue
        unit = by_unit.get(rating.unit_code) or _staff_of(session, by_unit, rating.unit_code)
        hours = (rating.rectify_due - rating.rated_at).total_seconds() / 3600
        answer_at = rating.rated_at + timedelta(hours=hours * rng.choice([0.2, 0.5, 0.8, 1.3]))
        if answer_at >= now:
            continue
        evaluation.answer_rectification(session, unit, rating_id, rng.choice(ANSWERS),
                                        at=answer_at)  # fmt: skip
        revisit_at = answer_at + timedelta(hours=rng.uniform(2, 30))
        if revisit_at < now and rng.random() < 0.8:
            accepted = rng.random() < 0.75
            note = "评价人表示认可" if accepted else "评价人仍不认可，要求进一步处理"
            evaluation.record_revisit(session, centre, rating_id,
                                      RevisitIn(accepted=accepted, note=note), at=revisit_at)  # fmt: skip
    evaluation.warn_overdue(session, now)


def _staff_of(session: Session, by_unit: dict[str, Principal], code: str) -> Principal:
    """One of a unit's staff answering for it: the demo has users in few units, and a unit's
    answer is given by its own people (the rating is its own)."""
    unit = orgs.get_unit(session, code)
    template = by_unit["gl.urban"] if "gl.urban" in by_unit else next(iter(by_unit.values()))
    by_unit[code] = template.model_copy(update={
        "user_id": 0, "username": f"{code}.staff", "display_name": f"{unit.name}工作人员",
        "unit_id": unit.id, "unit_code": code,
    })  # fmt: skip
    return by_unit[code]
