"""`citybase federation …`: the bridge between this deployment's brain and the other side's,
what it shows of the links, and the city's pushes of its taxonomy, catalog and calendar."""

from __future__ import annotations

import signal
import threading
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


@app.command()
def bridge(
    data_dir: DataDir = None,
    worker: Annotated[
        bool,
        typer.Option("--worker", help="Also deliver this deployment's events and run its jobs"),
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Exchange what is waiting, then exit")
    ] = False,
) -> None:
    """Relay this side's messages to the stream and apply the other side's, until stopped."""
    import citybase.app  # noqa: F401  (registers every domain's consumers and jobs)
    from citybase.core.bus.tasks import Worker
    from citybase.hub.federation.tasks import Bridge

    settings = load_settings(data_dir)
    if settings.federation.role == "off":
        out.print("[red]federation is off[/]: set CITYBASE_FEDERATION__ROLE to city or district")
        raise typer.Exit(2)
    db = open_database(settings)
    b = Bridge(db, settings, Worker(db, settings) if worker else None)
    peers = b.configure()
    if once:
        b.connect()
        done = b.run_until_idle()
        b.close()
        out.print(f"done: {done} messages and deliveries")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out.print(f"bridge of the {settings.federation.role} running for "
              f"{', '.join(p[0] for p in peers) or 'no peer'}; Ctrl-C stops it")  # fmt: skip
    try:
        b.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
        b.close()


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
            "—" if s.lag_in_seconds is None else f"{s.lag_in_seconds:.2f} s", str(s.links),
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
