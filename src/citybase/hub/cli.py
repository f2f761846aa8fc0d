"""`citybase hub …`: the city brain's maintenance commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="The city brain: the event taxonomy, the centre's figures.",
                  no_args_is_help=True)  # fmt: skip
out = Console()


@app.command("import-taxonomy")
def import_taxonomy(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A .yaml or .csv file")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; load nothing")] = False,
    data_dir: DataDir = None,
) -> None:
    """Load the event taxonomy (大类/小类/细类). Any problem: nothing is loaded, each is listed."""
    from citybase.core.ledger.schemas import Actor
    from citybase.hub.events import service as events

    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        report = events.import_taxonomy(session, Actor.system("cli"), file.name, file.read_bytes(),
                                        dry_run=dry_run)  # fmt: skip
    for p in report.problems:
        out.print(f"[red]{file.name}:{p.row or ''}[/] {p.field}: {p.message}")
    if report.problems:
        out.print("[red]nothing was loaded[/]")
        raise typer.Exit(1)
    verb = "checked" if dry_run else "loaded"
    out.print(f"[green]{verb}[/] {report.rows} categories: {report.created} new, "
              f"{report.updated} changed, {report.unchanged} the same")  # fmt: skip


@app.command("rebuild-figures")
def rebuild_figures(data_dir: DataDir = None) -> None:
    """Count the centre's figures (按时办结率, 退单率, …) again from the cases: after an upgrade
    that changes what they count, or to check the counts kept as cases change."""
    from citybase.hub.cases import service as cases

    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        written = cases.rebuild_stats(session)
    out.print(f"[green]counted again[/]: {written} rows of the kept counts written")
