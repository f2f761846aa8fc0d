from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.cockpit.plans import service as plans
from citybase.cockpit.tasks import service as tasks
from citybase.cockpit.tasks.schemas import UpdateCreate
from citybase.core.bus.models import OutboxEvent
from citybase.core.errors import Forbidden, InvalidInput
from tests.cockpit.factories import city, load, people


@pytest.fixture
def task_id(session: Session) -> int:
    city(session)
    load(session)
    return plans.overview(session)[0].tasks[0].id


def test_the_lead_units_update_sets_the_tasks_status(session: Session, task_id: int) -> None:
    who = people(session)
    today = date(2024, 7, 3)
    tasks.report_update(session, who["bigdata"], task_id, UpdateCreate(
        period="2024-06", text="平台完成部署并上线试运行", progress=40,
        milestones_done=["平台上线"],
    ), today=today)  # fmt: skip
    task = tasks.get(session, task_id, today=today)
    assert (task.status, task.progress) == ("in_progress", 40)
    done, later = task.milestones
    assert done.done_on == today
    assert not done.overdue
    assert later.done_on is None
    assert not later.overdue
    tasks.report_update(session, who["comms"], task_id, UpdateCreate(
        period="2024-06", text="完成网络保障", progress=90), today=today)  # fmt: skip
    assert tasks.get(session, task_id, today=today).progress == 40  # a support unit's own word
    again = UpdateCreate(period="2024-06", text="平台上线，接入12个部门", progress=45)
    tasks.report_update(session, who["bigdata"], task_id, again, today=today)
    updates = tasks.updates(session, task_id)
    assert [(u.unit_code, u.progress) for u in updates] == [("fz.bigdata", 45), ("fz.comms", 90)]


def test_updates_are_checked(session: Session, task_id: int) -> None:
    who = people(session)
    today = date(2024, 7, 3)
    with pytest.raises(Forbidden, match=r"reported by fz\.bigdata, fz\.comms"):
        tasks.report_update(session, who["outsider"], task_id,
                            UpdateCreate(period="2024-06", text="无关", progress=1), today=today)  # fmt: skip
    with pytest.raises(InvalidInput, match="still to come"):
        tasks.report_update(session, who["bigdata"], task_id,
                            UpdateCreate(period="2024-08", text="未来", progress=1), today=today)  # fmt: skip
    with pytest.raises(InvalidInput, match="no milestone 开香槟"):
        tasks.report_update(session, who["bigdata"], task_id, UpdateCreate(
            period="2024-06", text="完成", progress=1, milestones_done=["开香槟"]), today=today)  # fmt: skip


def test_overdue_milestones_and_missing_monthly_updates(session: Session, task_id: int) -> None:
    who = people(session)
    late = tasks.get(session, task_id, today=date(2024, 7, 3))
    assert late.overdue
    assert late.milestones[0].overdue
    assert tasks.due_month(date(2024, 7, 3), 5) == ("2024-05", date(2024, 6, 5))
    assert tasks.due_month(date(2024, 7, 5), 5) == ("2024-06", date(2024, 7, 5))
    assert tasks.due_month(date(2024, 1, 2), 5) == ("2023-11", date(2023, 12, 5))
    [missing] = plans.missing_updates(session, today=date(2024, 7, 6))
    assert (missing.unit_code, missing.period, missing.plan_code) == ("fz.bigdata", "2024-06",
                                                                      "fz-test")  # fmt: skip
    tasks.report_update(session, who["bigdata"], task_id,
                        UpdateCreate(period="2024-06", text="按计划推进", progress=30),
                        today=date(2024, 7, 6))  # fmt: skip
    assert plans.missing_updates(session, today=date(2024, 7, 6)) == []
    assert plans.missing_updates(session, today=date(2027, 7, 6)) == []  # the plan has ended


def test_late_units_are_reminded_once_per_task_and_month(session: Session, task_id: int) -> None:
    day = date(2024, 7, 6)
    assert plans.send_reminders(session, today=day) == 1
    assert plans.send_reminders(session, today=day) == 0
    [missing] = plans.missing_updates(session, today=day)
    assert missing.reminded_at is not None
    topics = session.scalars(select(OutboxEvent.topic)).all()
    assert topics.count("cockpit.tasks.update.missing") == 1
    assert plans.send_reminders(session, today=date(2024, 8, 6)) == 1  # the next month's
