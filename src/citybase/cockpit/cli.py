"""`citybase cockpit …`: load plans, list where every indicator stands, remind units."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="Plan supervision: plans, indicators, tasks.", no_args_is_help=True)
out = Console()

STATUS_MARK = {"green": "[green]● green[/]", "yellow": "[yellow]● yellow[/]",
               "red": "[red]● red[/]", "none": "○ none"}  # fmt: skip


class Format(StrEnum):
    table = "table"
    json = "json"


class _Rollback(Exception):
    """Leaves the session scope so that it rolls back."""


@app.command("import")
def import_files(
    files: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, help="Plan YAML files")
    ],
    data_dir: DataDir = None,
) -> None:
    """Load plan files. Anything wrong in any of them: nothing is loaded, every problem listed."""
    from citybase.cockpit.plans import service as plans
    from citybase.core.ledger.schemas import Actor

    db = open_database(load_settings(data_dir))
    named = [(f.name, f.read_text(encoding="utf-8")) for f in files]
    try:
        with db.session_scope() as session:
            results = plans.import_plans(session, Actor.system("cli"), named)
            if any(r.problems for r in results):
                raise _Rollback
    except _Rollback:
        for r in results:
            for p in r.problems:
                where = f"{r.file}:{p.line}" if p.line else r.file
                out.print(f"[red]{where}[/] {p.field or '(file)'}: {p.message}")
        out.print("[red]nothing was loaded[/]")
        raise typer.Exit(1) from None
    for r in results:
        out.print(f"[green]{r.plan_code}[/] revision {r.revision}: "
                  f"{r.indicators} indicators, {r.tasks} tasks ({r.file})")  # fmt: skip


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:,.6g}"


@app.command("indicators")
def list_indicators(
    plan: Annotated[list[str] | None, typer.Option("--plan", help="Only these plans")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
    data_dir: DataDir = None,
) -> None:
    """Every indicator with its plan, target year and value, latest value and status."""
    from citybase.cockpit.plans import service as plans

    db = open_database(load_settings(data_dir))
    with db.session_scope(readonly=True) as session:
        overview = plans.overview(session, plan or None)
    if fmt is Format.json:
        rows = [
            {"plan": p.plan.code, "plan_title": p.plan.title, "code": i.indicator.code,
             "name": i.indicator.name, "unit": i.indicator.measure_unit,
             "target_year": i.final_year, "target": i.final_target,
             "comparator": i.indicator.comparator, "this_year_target": i.target,
             "latest_period": i.latest.period if i.latest else None,
             "latest": i.latest.value if i.latest else None,
             "measured": bool(i.latest and i.latest.measured), "completion": i.completion,
             "status": i.status.value, "forecast": i.forecast, "forecast_meets": i.forecast_meets}
            for p in overview for i in p.indicators
        ]  # fmt: skip
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("plan", "indicator", "unit", "target", "latest", "status", "forecast")
    for p in overview:
        for i in p.indicators:
            latest = i.latest
            table.add_row(
                p.plan.code, i.indicator.name, i.indicator.measure_unit,
                f"{i.final_year}: {i.indicator.comparator}{_number(i.final_target)}",
                f"{latest.period}: {_number(latest.value)}{' (measured)' if latest.measured else ''}"
                if latest else "", STATUS_MARK[i.status.value],
                "" if i.forecast is None else
                f"{_number(i.forecast)} {'✓' if i.forecast_meets else '✗'}",
            )  # fmt: skip
    out.print(table)


@app.command("reminders")
def reminders(data_dir: DataDir = None) -> None:
    """Lead units whose monthly task update is overdue."""
    from citybase.cockpit.plans import service as plans

    settings = load_settings(data_dir)
    db = open_database(settings)
    with db.session_scope(readonly=True) as session:
        missing = plans.missing_updates(session)
    table = Table("plan", "task", "unit", "month", "was due")
    for m in missing:
        table.add_row(m.plan_code, f"{m.number} {m.title}", m.unit_code, m.period, str(m.due))
    out.print(table)


@app.command("measure")
def measure(
    month: Annotated[
        str | None,
        typer.Option("--month", help="A closed month, YYYY-MM (default: the month just closed)"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Measure the indicators the platform counts itself for a closed month, as the monthly
    job does (a month already measured is left as it is); the values await review."""
    import re

    from citybase.cockpit.indicators import service as indicators
    from citybase.core import clock

    today = clock.today()
    if month is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        out.print(f"[red]--month {month}: a month as YYYY-MM[/]")
        raise typer.Exit(2)
    if month is not None and (int(month[:4]), int(month[5:])) >= (today.year, today.month):
        out.print(f"[red]--month {month}: not closed yet (today is {today})[/]")
        raise typer.Exit(2)
    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        written = (indicators.measure_month(session, month) if month
                   else indicators.measure_due(session, today))  # fmt: skip
        for w in written:
            out.print(f"{w.period} indicator {w.indicator_id}: {_number(w.value)} "
                      f"({w.source}), awaiting review")  # fmt: skip
    out.print(f"{len(written)} measured value(s) written")
