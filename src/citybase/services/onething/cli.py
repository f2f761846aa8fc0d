"""`citybase onething …`: load the one-thing catalog, register applicants, make offers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="One-thing service packages (一件事).", no_args_is_help=True)
out = Console()


@app.command("load")
def load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A YAML file of items")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; load nothing")] = False,
    data_dir: DataDir = None,
) -> None:
    """Load one-thing items from YAML. Any problem (a cycle among matters, an unknown unit or
    resource): nothing is loaded, each problem is listed."""
    from citybase.core.ledger.schemas import Actor
    from citybase.services.onething import service

    db = open_database(load_settings(data_dir))
    with db.session_scope() as session:
        report = service.load_items(session, None, file.read_text(encoding="utf-8"),
                                    actor=Actor.system("cli"), dry_run=dry_run)  # fmt: skip
    for problem in report.problems:
        out.print(f"[red]{file.name}[/] {problem}")
    if report.problems:
        out.print("[red]nothing was loaded[/]")
        raise typer.Exit(1)
    verb = "checked" if dry_run else "loaded"
    out.print(f"[green]{verb}[/] {len(report.created)} new, {len(report.updated)} changed")


@app.command("register")
def register(
    username: str,
    number: Annotated[str, typer.Argument(help="Citizen ID, or credit code with --enterprise")],
    enterprise: Annotated[bool, typer.Option("--enterprise")] = False,
    data_dir: DataDir = None,
) -> None:
    """Tie an applicant account to its real-name identity (kept as a keyed hash only)."""
    from citybase.core.ledger.schemas import Actor
    from citybase.data.masking import operators as ops
    from citybase.services.onething import service
    from citybase.services.onething.schemas import ApplicantKind, ApplicantRegister

    settings = load_settings(data_dir)
    db = open_database(settings)
    kind = ApplicantKind.enterprise if enterprise else ApplicantKind.person
    with db.session_scope() as session:
        service.register_applicant(session, None, ApplicantRegister(
            username=username, kind=kind, number=number,
        ), ops.keys_for(settings.masking_key), actor=Actor.system("cli"))  # fmt: skip
    out.print(f"[green]registered[/] {username} as {kind.value}")


@app.command("offer")
def offer(data_dir: DataDir = None) -> None:
    """Look now for persons the data says qualify for an item unasked (免申即办), and offer it."""
    from citybase.data.masking import operators as ops
    from citybase.services.onething import service

    settings = load_settings(data_dir)
    db = open_database(settings)
    with db.session_scope() as session:
        made = service.make_offers(session, settings, ops.keys_for(settings.masking_key))
    out.print(f"[green]{made}[/] offers made")
