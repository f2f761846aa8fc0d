from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn, Satisfaction
from tests.hub.cases.factories import ROAD, city, mover

# Monday 2026-11-23, 10:00 in Fuzhou
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PHONE = "13805911234"


TEXTS = ["鼓东路口的井盖缺失了，晚上很危险，请尽快处理", "杨桥路人行道上有个窨井盖松动，踩上去会翻",
         "东街口地铁站出口旁边的雨水箅子不见了", "五一广场西侧排水井盖破损塌陷，车辆经过有响声"]  # fmt: skip


def taken(session: Session, n: int = 0) -> str:
    """A case taken in and dispatched to gl.urban (鼓楼), not yet handled (``n``: one of four
    different matters, so that none waits as a duplicate of another)."""
    data = ROAD.model_copy(update={"text": TEXTS[n]})
    return cases.intake(session, mover(session, "operator"), data, now=MONDAY).case.number


def closed(session: Session, n: int = 0) -> str:
    """A case handled to the end: replied, the citizen's 回访 verdict, closed."""
    number = taken(session, n)
    at = MONDAY + timedelta(hours=2)
    for who, action, fields in (
        ("gl.handler", Action.sign, {}),
        ("gl.handler", Action.reply, {"reply": "井盖已补装。"}),
        ("operator", Action.follow_up, {"satisfaction": Satisfaction.satisfied}),
        ("operator", Action.close, {}),
    ):
        cases.act(session, mover(session, who), number, action, ActionIn.model_validate(fields),
                  now=at)  # fmt: skip
    return number


__all__ = ["MONDAY", "PHONE", "city", "closed", "taken"]
