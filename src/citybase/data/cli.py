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
    from citybase.data.catalog import service as catalog
    from citybase.data.search import service as search

    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        total = search.reindex(session, catalog.all_codes(session))
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
