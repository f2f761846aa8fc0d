"""`citybase ledger …`: verify the ledger, sign and show tree heads.

What a command needs is imported when it runs, so that ``citybase --help`` stays quick.
"""

from __future__ import annotations

import typer

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)


@app.command()
def verify(data_dir: DataDir = None) -> None:
    """Recompute every hash, Merkle node and signed tree head, and hold the ledger to the newest
    head its witness keeps; exit 1 saying what is wrong."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from citybase.core.ledger import service
    from citybase.core.ledger.witness import witness_for

    out = Console()
    settings = load_settings(data_dir)
    db = open_database(settings)
    signer = service.signer_for(settings)
    witness = witness_for(settings)
    with db.session_scope(readonly=True) as session:
        total = service.size(session)
        with Progress(
            TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), console=out,
            transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("verify", total=total)
            report = service.verify_with_witness(
                session, signer, witness, progress=lambda n: progress.update(task, completed=n)
            )
    if report.ok:
        held = (
            f"; held to the head of {report.witnessed_size} entries kept by {witness.where}"
            if report.witnessed_size is not None
            else f"; the witness {witness.where} keeps no head yet"
        )
        out.print(
            f"[green]ledger intact[/]: {report.entries} entries, {report.nodes_checked} Merkle "
            f"nodes and {report.heads_checked} signed tree heads checked{held}",
            soft_wrap=True,
        )
        return
    out.print(f"[red]ledger damaged[/]: {report.problems[0]}", soft_wrap=True)
    if report.first_bad_seq is not None:
        out.print(f"first bad entry: {report.first_bad_seq}")
    raise typer.Exit(1)


@app.command()
def sign(data_dir: DataDir = None) -> None:
    """Sign and keep a tree head now if the ledger grew, and publish the newest to the witness
    (the worker does this every `ledger.tree_head_interval_seconds`)."""
    from citybase.core.ledger import service
    from citybase.core.ledger.witness import WitnessError, witness_for

    settings = load_settings(data_dir)
    db = open_database(settings)
    witness = witness_for(settings)
    with db.session_scope() as session:
        service.store_tree_head(session, service.signer_for(settings))
    with db.session_scope(readonly=True) as session:
        try:
            head = service.publish_newest_head(session, witness)
        except WitnessError as exc:
            typer.echo(f"the tree head was kept but not published: {exc}", err=True)
            raise typer.Exit(1) from exc
    if head is None:
        typer.echo("the ledger is empty: nothing to sign")
        return
    typer.echo(f"tree head of {head.tree_size} entries kept and published to {witness.where}")


@app.command()
def head(data_dir: DataDir = None) -> None:
    """Print the current signed tree head as JSON."""
    from citybase.core.ledger import service

    settings = load_settings(data_dir)
    db = open_database(settings)
    with db.session_scope(readonly=True) as session:
        sth = service.signed_tree_head(session, service.signer_for(settings))
    typer.echo(sth.model_dump_json(indent=2))
