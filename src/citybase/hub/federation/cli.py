"""`citybase federation …`: what it shows of the links with the other side, and the city's pushes
of its taxonomy, catalog and calendar. ``citybase federation bridge`` itself is added by
``citybase.cli``, which alone may load every domain (their consumers and jobs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(
    help="District brains as their own deployments: the exchange over NATS JetStream.",
    no_args_is_help=True,
)
out = Console()


def _ago(moment: datetime | None, now: datetime) -> str:
    return "—" if moment is None else f"{(now - moment).total_seconds():.1f} s ago"


@app.command()
def status(data_dir: DataDir = None) -> None:
    """Each link: reached or not, what waits each way, the last message each way, the lag."""
    from citybase.hub.federation import service

    settings = load_settings(data_dir)
    db = open_database(settings)
    with db.session_scope(readonly=True) as session:
        links = service.status(session)
    now = datetime.now(UTC)
    out.print(f"role: {settings.federation.role}")
    table = Table("peer", "role", "link", "waiting out", "waiting in", "last sent",
                  "last received", "lag", "cases linked")  # fmt: skip
    for s in links:
        state = "up" if s.connected else f"down {s.last_error}".strip()
        table.add_row(
            s.code, s.role, f"{state} (checked {_ago(s.checked_at, now)})",
            f"{s.waiting_out} (oldest {_ago(s.oldest_waiting_at, now)})", str(s.waiting_in),
            f"{s.last_sent_subject or '—'} {_ago(s.last_sent_at, now)}",
            f"{s.last_received_subject or '—'} {_ago(s.last_received_at, now)}",
            "—" if s.lag_in_seconds is None else f"{s.lag_in_seconds:.2f} s",
            f"{s.links} ({s.disagreeing} apart)" if s.disagreeing else str(s.links),
        )  # fmt: skip
    out.print(table)
    db.dispose()


@app.command()
def push(
    what: Annotated[str, typer.Argument(help="taxonomy, catalog or calendar")],
    data_dir: DataDir = None,
) -> None:
    """On the city's deployment: send the taxonomy, the dispatch catalog or the working calendar
    down to every district that runs its own brain (the bridge carries it)."""
    from citybase.core.errors import CitybaseError
    from citybase.core.ledger.schemas import Actor
    from citybase.hub.federation import service

    settings = load_settings(data_dir)
    db = open_database(settings)
    actor = Actor.system("cli")
    try:
        with db.session_scope() as session:
            if what == "taxonomy":
                n = service.push_taxonomy(session, actor)
            elif what == "catalog":
                n = service.push_catalog(session, actor)
            elif what == "calendar":
                n = service.push_calendar(session, actor, settings.home)
            else:
                out.print(f"[red]what[/]: taxonomy, catalog or calendar, not {what!r}")
                raise typer.Exit(2)
    except CitybaseError as exc:
        out.print(f"[red]{exc.field}[/]: {exc.message}")
        raise typer.Exit(1) from None
    out.print(f"queued the {what} for {n} districts")
