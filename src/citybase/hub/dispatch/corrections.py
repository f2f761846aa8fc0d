"""Corrections as labelled examples (纠错样本): every return (退单) with its reason, reassignment
(改派), change of category (at the desk against the classifier's suggestion, or later by the centre
or a supervisor) and merge (并单), read from the cases' stored workflow steps — not from the bus —
so that none is missed when the worker was down, a replay counts nothing twice, and whether a
correction was later undone is decided from the whole history: a category put back, or a case
sent back to the unit it was taken from."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from citybase.core.clock import CITY_TZ
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.tables import write_xlsx
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import StepHistory
from citybase.hub.dispatch.schemas import CORRECTION_NAMES, Correction, CorrectionKind

SENDING = ("dispatch", "reassign", "reopen")


def derive(history: StepHistory) -> list[Correction]:
    """The corrections in one case's history, each marked undone when a later step undid it."""
    out: list[Correction] = []
    category: str | None = None
    unit = ""
    sent_to: list[tuple[int, str]] = []  # (index of the step, unit) for every sending step
    set_to: list[tuple[int, str]] = []  # (index, category) for every step that set a category
    marks: list[int] = []  # the index of each correction's step

    def add(i: int, kind: CorrectionKind, field: str, before: str, after: str) -> None:
        step = history.steps[i]
        out.append(Correction(number=history.number, kind=kind, field=field, text=history.text,
                              before=before, after=after, by=step.actor, unit=step.unit,
                              at=step.at, why=step.note))  # fmt: skip
        marks.append(i)

    for i, step in enumerate(history.steps):
        details = step.details or {}
        if step.action in SENDING:
            new_category = str(details.get("category_code") or "")
            new_unit = str(details.get("lead_unit") or "")
            first = category is None
            before = history.suggested if first else category
            if new_category and before and new_category != before:
                add(i, CorrectionKind.category, "category", before, new_category)
            if step.action == "reassign" and unit and new_unit != unit:
                add(i, CorrectionKind.reassign, "unit", unit, new_unit)
            for n, c in enumerate(out):  # a return learns where the case went next
                if c.kind is CorrectionKind.return_ and not c.after:
                    out[n] = c.model_copy(update={"after": new_unit})
            category = new_category or category
            unit = new_unit
            sent_to.append((i, new_unit))
            set_to.append((i, new_category))
        elif step.action == "return":
            returned_by = str(details.get("returned_by") or unit)
            add(i, CorrectionKind.return_, "unit", returned_by, "")
            unit = ""
        elif step.action == "merge":
            add(i, CorrectionKind.merge, "category", category or history.category_code,
                history.merged_into_category)  # fmt: skip
    for n, (c, i) in enumerate(zip(out, marks, strict=True)):
        later = sent_to if c.field == "unit" else set_to
        if c.kind is not CorrectionKind.merge and any(j > i and v == c.before for j, v in later):
            out[n] = c.model_copy(update={"undone": True})
    return out


def find(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    kind: CorrectionKind | None = None,
    include_undone: bool = True,
    limit: int = 100_000,
) -> list[Correction]:
    """The corrections made in [since, until), newest first."""
    found = [c for h in cases.step_histories(session, since, until, limit) for c in derive(h)
             if since <= c.at < until and (kind is None or c.kind is kind)
             and (include_undone or not c.undone)]  # fmt: skip
    return sorted(found, key=lambda c: c.at, reverse=True)


def category_examples(corrections: Iterable[Correction]) -> dict[str, tuple[str, str]]:
    """Case number → (text, category) from the category corrections that stand (the latest
    per case): what the classifier learns besides the closed cases."""
    return examples(corrections, "category")


def examples(corrections: Iterable[Correction], field: str) -> dict[str, tuple[str, str]]:
    """Case number → (text, label) from the corrections of ``field`` (category, or unit: a
    reassignment's new unit, a return's unit the case was then sent to) that stand, the latest
    per case."""
    out: dict[str, tuple[str, str]] = {}
    for c in sorted(corrections, key=lambda c: c.at):
        if c.field == field and not c.undone and c.after:
            out[c.number] = (c.text, c.after)
    return out


HEADER = ["工单编号", "纠错类型", "标签类型", "诉求内容", "纠错前", "纠错后", "纠错人", "所在单位",
          "纠错时间", "原因", "已撤销"]  # fmt: skip


def _row(c: Correction) -> list[str]:
    return [c.number, CORRECTION_NAMES[c.kind], "分类" if c.field == "category" else "单位",
            c.text, c.before, c.after, c.by, c.unit,
            c.at.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M"), c.why,
            "是" if c.undone else "否"]  # fmt: skip


def to_csv(corrections: Iterable[Correction]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(_row(c) for c in corrections)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(corrections: Iterable[Correction]) -> bytes:
    return write_xlsx([("纠错样本", HEADER, (_row(c) for c in corrections))])


def record_export(
    session: Session, actor: Actor, since: datetime, until: datetime, rows: int, fmt: str
) -> None:
    """An export of citizens' words leaves the platform: on the ledger with its period and size."""
    ledger.record(session, actor, "hub.dispatch.corrections.exported", object_type="corrections",
                  details={"since": since.isoformat(), "until": until.isoformat(), "rows": rows,
                           "format": fmt})  # fmt: skip
