"""`citybase data …`: the data layer's maintenance commands."""

from __future__ import annotations

import typer
from rich.console import Console

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="The data layer: catalog, search, open data.", no_args_is_help=True)
out = Console()


@app.command()
def reindex(data_dir: DataDir = None) -> None:
    """Rebuild the catalog's search index from the catalog."""
    from citybase.core.progress import terminal
    from citybase.data.catalog import service as catalog
    from citybase.data.search import service as search

    db = open_database(load_settings(data_dir))
    with db.session_scope() as session, terminal(out, "indexing the catalog") as report:
        total = search.reindex(session, catalog.all_codes(session), report)
    out.print(f"[green]search index rebuilt[/]: {total} resources")


@app.command()
def rescan(
    code: str = typer.Argument(
        "", help="One resource; default: every one found by older recognizers"
    ),
    data_dir: DataDir = None,
) -> None:
    """Find the personal data in resources' free-text cells again, with the current recognizers.

    Rows stored before the recognizers changed are still masked correctly (reads then scan as
    they serve); this makes their reads as fast as new ones."""
    from citybase.data.datastore import service as datastore

    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        codes = [code] if code else datastore.stale_scans(session)
        for one in codes:
            rows = datastore.rescan(session, one)
            out.print(f"{one}: {rows} rows")
    out.print(f"[green]rescanned[/] {len(codes)} resources")


baselib_app = typer.Typer(help="The base libraries (基础库).", no_args_is_help=True)
themes_app = typer.Typer(help="Theme libraries (主题库).", no_args_is_help=True)
baselib_app.add_typer(themes_app, name="themes")
app.add_typer(baselib_app, name="baselib")


@themes_app.command("build")
def build_themes(
    code: str = typer.Argument("", help="One theme library; default: every one that is due"),
    as_user: str = typer.Option(
        "", "--as", help="Build as this user (default: whoever last built it by hand)"
    ),
    data_dir: DataDir = None,
) -> None:
    """Build theme libraries now: one by its code, or every one whose refresh is due."""
    from citybase.core.errors import CitybaseError
    from citybase.core.identity import service as identity
    from citybase.data.baselib import theme_builds
    from citybase.data.masking import operators as ops

    settings = load_settings(data_dir)
    keys = ops.keys_for(settings.masking_key)
    db = open_database(settings)
    with db.session_scope() as session:
        if not code:
            built = list(theme_builds.build_due(session, keys, settings.baselib))
            for b in built:
                out.print(f"build {b.id}: {b.status} {b.rows} rows {b.message}")
            out.print(f"[green]built[/] {len(built)} theme libraries that were due")
            return
        try:
            username = as_user or theme_builds.last_builder(session, code)
            if not username:
                raise typer.BadParameter(
                    "never built by hand: name a user with --as", param_hint="--as"
                )
            principal = identity.principal_for(session, username)
            result = theme_builds.build_theme(session, principal, code, keys, settings.baselib)
        except CitybaseError as exc:
            out.print(f"[red]{exc.field or code}[/]: {exc.message}")
            raise typer.Exit(1) from exc
    colour = "green" if result.status == "ok" else "red"
    out.print(
        f"[{colour}]{code}[/]: {result.status}, {result.rows} rows, grade {result.grade or '-'}, "
        f"quality {result.quality_score if result.quality_score is not None else '-'} {result.message}"
    )
