"""`citybase evaluation …`: the 好差评 figures and the overdue sweep from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="Evaluation of service (好差评): figures.", no_args_is_help=True)
out = Console()


@app.command("figures")
def figures(
    by: Annotated[str, typer.Option(help="unit, kind, channel or all")] = "unit",
    days: Annotated[int, typer.Option(min=1, max=3660, help="The last N days")] = 30,
    data_dir: DataDir = None,
) -> None:
    """Count, 好评率, 差评 and rectified on time, per unit, kind or channel."""
    from datetime import UTC, datetime, timedelta

    from citybase.services.evaluation import service

    if by not in service.BY:
        out.print(f"[red]--by: one of {', '.join(service.BY)}[/]")
        raise typer.Exit(2)
    db = open_database(load_settings(data_dir))
    now = datetime.now(UTC)
    with db.session_scope(readonly=True) as session:
        found = service.figures(session, None, by, now - timedelta(days=days), now)
    table = Table("group", "count", "好评率", "差评", "按时整改", "超期", "差评整改率")
    for f in found:
        table.add_row(service.label(by, f.key), str(f.count),
                      "—" if f.good_rate is None else f"{f.good_rate:.1%}", str(f.bad),
                      str(f.rectified_on_time), str(f.overdue),
                      "—" if f.rectify_rate is None else f"{f.rectify_rate:.1%}")  # fmt: skip
    out.print(table)


@app.command("warn-overdue")
def warn_overdue(data_dir: DataDir = None) -> None:
    """Warn once each rectification past its deadline (the worker does this on its own)."""
    from citybase.services.evaluation import service

    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        count = service.warn_overdue(session)
    out.print(f"{count} overdue rectifications warned")
