"""`citybase ledger …`: verify the ledger, show the signed tree head."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from citybase.core.ledger import service
from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)
out = Console()


@app.command()
def verify(data_dir: DataDir = None) -> None:
    """Recompute every hash, Merkle node and signed tree head; exit 1 naming the first bad entry."""
    settings = load_settings(data_dir)
    db = open_database(settings)
    signer = service.signer_for(settings)
    with db.session_scope(readonly=True) as session:
        total = service.size(session)
        with Progress(
            TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), console=out,
            transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("verify", total=total)
            report = service.verify(
                session, signer, progress=lambda n: progress.update(task, completed=n)
            )
    if report.ok:
        out.print(
            f"[green]ledger intact[/]: {report.entries} entries, {report.nodes_checked} Merkle "
            f"nodes and {report.heads_checked} signed tree heads checked"
        )
        return
    out.print(f"[red]ledger damaged[/]: {report.problems[0]}")
    out.print(f"first bad entry: {report.first_bad_seq}")
    raise typer.Exit(1)


@app.command()
def head(data_dir: DataDir = None) -> None:
    """Print the current signed tree head as JSON."""
    settings = load_settings(data_dir)
    db = open_database(settings)
    with db.session_scope(readonly=True) as session:
        sth = service.signed_tree_head(session, service.signer_for(settings))
    typer.echo(sth.model_dump_json(indent=2))
