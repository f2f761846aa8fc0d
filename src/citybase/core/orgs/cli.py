"""`citybase orgs …`: import and list regions and units."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from citybase.core.errors import CitybaseError
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
    from citybase.core.ledger.schemas import Actor
    from citybase.core.orgs import service

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
    from citybase.core.orgs import service

    db = open_database(load_settings(data_dir))
    with db.session_scope(readonly=True) as session:
        units = service.list_units(session, region_code=region or None, include_subregions=True)
    table = Table("code", "name", "region", "counterpart")
    for u in units:
        table.add_row(u.code, u.name, u.region_name, u.counterpart_name or "")
    out.print(table)


@app.command("boundaries")
def import_boundaries(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A GeoJSON file")],
    code_property: Annotated[
        str, typer.Option(help="The property naming each feature's region (default: code, "
                          "adcode or region_code)")] = "",
    source: Annotated[str, typer.Option(help="Where the outlines come from (勘界成果 …)")] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; import nothing")] = False,
    data_dir: DataDir = None,
) -> None:  # fmt: skip
    """Import regions' outlines from a GeoJSON FeatureCollection. Any bad feature: nothing is
    imported and every bad feature is listed."""
    from citybase.core.ledger.schemas import Actor
    from citybase.core.orgs import boundaries

    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        try:
            report = boundaries.import_boundaries(
                session, Actor.system("cli"), file.read_bytes(), code_property=code_property,
                source=source, dry_run=dry_run,
            )  # fmt: skip
        except CitybaseError as exc:
            out.print(f"[red]{exc.message}[/]")
            raise typer.Exit(1) from exc
    if report.problems:
        table = Table("feature", "field", "problem")
        for p in report.problems:
            table.add_row(str(p.row), p.field, p.message)
        out.print(table)
        out.print("[red]nothing was imported[/]")
        raise typer.Exit(1)
    for w in report.warnings:
        out.print(f"[yellow]feature {w.row}: {w.message}[/]")
    if dry_run:
        out.print(f"{report.rows} outlines checked, [yellow]nothing imported[/]")
        return
    out.print(f"{report.rows} outlines: {report.created} new, {report.updated} changed, "
              f"{report.unchanged} same [green]imported[/]")  # fmt: skip


@app.command("at")
def regions_at(
    lon: Annotated[float, typer.Argument(help="WGS84 longitude")],
    lat: Annotated[float, typer.Argument(help="WGS84 latitude")],
    data_dir: DataDir = None,
) -> None:
    """The regions whose outlines hold a point, top down."""
    from citybase.core.orgs import boundaries

    db = open_database(load_settings(data_dir))
    with db.session_scope(readonly=True) as session:
        found = boundaries.regions_at(session, lon, lat)
    if not found:
        out.print("no outlined region holds this point")
        raise typer.Exit(1)
    for r in found:
        out.print(f"{r.level.value:10} {r.code:16} {r.name}")
