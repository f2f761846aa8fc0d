"""`citybase orgs …`: import and list regions and units."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from citybase.core.errors import CitybaseError
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service
from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="Regions and units.", no_args_is_help=True)
out = Console()


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A .csv or .yaml file")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; import nothing")] = False,
    data_dir: DataDir = None,
) -> None:
    """Import regions and units. Any bad row: nothing is imported and every bad row is listed."""
    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        try:
            reports = service.import_orgs(
                session, Actor.system("cli"), file.name, file.read_bytes(), dry_run=dry_run
            )
        except CitybaseError as exc:
            out.print(f"[red]{exc.message}[/]")
            raise typer.Exit(1) from exc
    problems = [(r.kind, p) for r in reports for p in r.problems]
    for r in reports:
        out.print(
            f"{r.kind}: {r.rows} rows, {r.created} new, {r.updated} changed, {r.unchanged} same"
        )
    if problems:
        table = Table("file part", "row", "field", "problem")
        for kind, p in problems:
            table.add_row(kind, str(p.row), p.field, p.message)
        out.print(table)
        out.print("[red]nothing was imported[/]")
        raise typer.Exit(1)
    out.print("[yellow]checked only, nothing imported[/]" if dry_run else "[green]imported[/]")


@app.command("units")
def list_units(region: str = "", data_dir: DataDir = None) -> None:
    """List units, optionally of one region and the regions below it."""
    db = open_database(load_settings(data_dir))
    with db.session_scope(readonly=True) as session:
        units = service.list_units(session, region_code=region or None, include_subregions=True)
    table = Table("code", "name", "region", "counterpart")
    for u in units:
        table.add_row(u.code, u.name, u.region_name, u.counterpart_name or "")
    out.print(table)
