"""The `citybase` command: one group per layer, plus what runs a whole platform.

Starting the command imports only what builds the commands and their options (Typer, and each
layer's ``cli`` module, which imports its services inside its commands): the application, the
services and their libraries are imported by the command that runs. ``citybase --help`` thus
answers at once; ``tests/test_cli_startup.py`` keeps it so.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

import citybase
from citybase.cockpit import cli as cockpit_cli
from citybase.core.identity import cli as users_cli
from citybase.core.ledger import cli as ledger_cli
from citybase.core.orgs import cli as orgs_cli
from citybase.core.runtime import DataDir, NotInitialised, load_settings, open_database
from citybase.data import cli as data_cli
from citybase.data.certificates import cli as certificates_cli
from citybase.data.products import cli as products_cli
from citybase.hub import cli as hub_cli
from citybase.hub.dispatch import cli as dispatch_cli
from citybase.hub.federation import cli as federation_cli
from citybase.perception import cli as perception_cli
from citybase.services.evaluation import cli as evaluation_cli
from citybase.services.onething import cli as onething_cli

if TYPE_CHECKING:
    from citybase.core.db.engine import Database
    from citybase.core.settings import Settings

app = typer.Typer(
    help="citybase: a city's digital base (城市数字底座).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # plain help: Typer's Rich help formatter costs more to import than the rest of the start
    rich_markup_mode=None,
)
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(orgs_cli.app, name="orgs")
app.add_typer(users_cli.app, name="users")
app.add_typer(users_cli.keys, name="keys")
app.add_typer(data_cli.app, name="data")
app.add_typer(certificates_cli.app, name="certificates")
app.add_typer(products_cli.app, name="products")
app.add_typer(cockpit_cli.app, name="cockpit")
app.add_typer(dispatch_cli.app, name="dispatch")
app.add_typer(hub_cli.app, name="hub")
app.add_typer(federation_cli.app, name="federation")
app.add_typer(perception_cli.app, name="perception")
app.add_typer(evaluation_cli.app, name="evaluation")
app.add_typer(onething_cli.app, name="onething")
out = Console()

Port = Annotated[int | None, typer.Option("--port", help="Port to listen on (default 8000).")]
Host = Annotated[str | None, typer.Option("--host", help="Address to listen on.")]


def _settings(data_dir: Path | None, host: str | None = None, port: int | None = None) -> Settings:
    settings = load_settings(data_dir)
    if host is not None:
        settings.web.host = host
    if port is not None:
        settings.web.port = port
    return settings


def _open(settings: Settings) -> Database:
    try:
        return open_database(settings)
    except NotInitialised as exc:
        out.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(citybase.__version__)


@app.command()
def init(
    data_dir: DataDir = None,
    admin: Annotated[str, typer.Option(help="Username of the first platform admin")] = "admin",
    admin_password: Annotated[
        str | None, typer.Option(help="Its password (asked for if not given)")
    ] = None,
) -> None:
    """Create or upgrade the database; create the first platform admin if there is none."""
    from citybase.core.identity import service as identity
    from citybase.core.identity.schemas import Role, UserCreate
    from citybase.core.ledger.schemas import Actor

    settings = _settings(data_dir)
    with out.status("migrating the database"):
        db = open_database(settings, upgrade=False)
        from citybase.core.db import migrate

        migrate.upgrade(db.engine)
    out.print(f"database ready: {settings.resolved_database_url.split('@')[-1]}")
    with db.session_scope() as session:
        if identity.count_users(session) == 0:
            password = admin_password or typer.prompt(
                f"password for {admin}", hide_input=True, confirmation_prompt=True
            )
            identity.create_user(
                session,
                None,
                UserCreate(
                    username=admin,
                    display_name=admin,
                    password=password,
                    roles=[Role.platform_admin],
                ),
                actor=Actor.system("init"),
            )
            out.print(f"created platform admin [bold]{admin}[/]")
    db.dispose()


def _serve(settings: Settings, *, worker: bool) -> None:
    """Serve until SIGTERM (or Ctrl-C): then the requests in flight are finished (up to
    ``web.graceful_seconds``), the MQTT batch in hand is stored and acknowledged, and the
    background worker finishes its job and hands back the claims it has not begun.

    With ``web.workers`` above 1, uvicorn runs that many web processes, each building the app
    from the environment (``citybase.app:app_from_environment``), and this parent process runs
    the one background worker and the MQTT ingestor beside them."""
    import signal

    import uvicorn

    db = _open(settings)
    workers = settings.web.workers
    options: dict[str, Any] = {
        "host": settings.web.host,
        "port": settings.web.port,
        "log_level": "info",
        "proxy_headers": True,
        "timeout_graceful_shutdown": settings.web.graceful_seconds,
    }
    ingestor = None
    if settings.perception.mqtt_url:  # readings from the broker, beside the web server
        from citybase.perception.telemetry.mqtt import Ingestor

        ingestor = Ingestor(db, settings)
        threading.Thread(target=ingestor.run, name="mqtt", daemon=True).start()
    # uvicorn stops gracefully on SIGTERM and then raises the signal again for whatever handler
    # was there before it: this one lets the worker and the ingestor below stop in turn, and the
    # command exit 0, instead of the default handler killing the process at that point
    signal.signal(signal.SIGTERM, lambda *_: None)
    if workers == 1:
        from citybase.app import create_app

        uvicorn.run(create_app(settings, db, run_worker=worker), **options)
    else:
        import os

        import citybase.app  # noqa: F401  (registers every domain's consumers and jobs)
        from citybase.core.bus.tasks import Worker

        # the web processes are spawned: they read the settings from the environment
        os.environ["CITYBASE_HOME"] = str(settings.home)
        background = Worker(db, settings) if worker else None
        thread = None
        if background is not None:
            thread = threading.Thread(target=background.run_forever, name="worker", daemon=True)
            thread.start()
        try:
            uvicorn.run(
                "citybase.app:app_from_environment", factory=True, workers=workers, **options
            )
        finally:
            if background is not None and thread is not None:
                background.stop.set()
                thread.join(timeout=settings.web.graceful_seconds)
    if ingestor is not None:
        ingestor.stop()


Workers = Annotated[
    int | None,
    typer.Option("--workers", min=1, max=64, help="Web worker processes (default 1)."),
]


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    workers: Workers = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Run no background worker")
    ] = False,
) -> None:
    """Serve the console and API (with a background worker unless --no-worker)."""
    settings = _settings(data_dir, host, port)
    if workers is not None:
        settings.web.workers = workers
    _serve(settings, worker=not no_worker)


@app.command()
def worker(
    data_dir: DataDir = None,
    once: Annotated[bool, typer.Option("--once", help="Do what is due now, then exit")] = False,
    health_port: Annotated[
        int | None,
        typer.Option(
            "--health-port",
            min=0,
            max=65535,
            help="Answer /healthz and /readyz on this port (default: worker.health_port; 0: none).",
        ),
    ] = None,
) -> None:
    """Deliver events and run due jobs until stopped (SIGTERM or Ctrl-C: the job or message in
    hand is finished, the claims not begun are handed back)."""
    import signal

    import citybase.app  # noqa: F401  (registers every domain's consumers and jobs)
    from citybase.core.bus.tasks import Worker
    from citybase.core.health import HealthServer, readiness
    from citybase.core.shared.service import open_store

    settings = _settings(data_dir)
    db = _open(settings)
    shared = open_store(settings, db)
    w = Worker(db, settings, shared=shared)
    if once:
        done = w.run_until_idle()
        w.close()
        out.print(f"done: {done} deliveries and jobs")
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: w.stop.set())
    port = settings.worker.health_port if health_port is None else health_port
    health = None
    if port:
        health = HealthServer(
            settings.worker.health_host, port, w.alive, lambda: readiness(settings, db, shared)
        ).start()
        out.print(f"health: http://{settings.worker.health_host}:{health.port}/healthz, /readyz")
    out.print(f"worker {w.worker_id} running; SIGTERM or Ctrl-C stops it")
    w.run_forever()
    if health is not None:
        health.stop()
    out.print(f"worker {w.worker_id} stopped")


@app.command()
def demo(
    data_dir: DataDir = None,
    port: Port = None,
    host: Host = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Build the demo city and exit")
    ] = False,
) -> None:
    """Create (or reuse) the demo city of Fuzhou and serve it on http://127.0.0.1:8000."""
    # said before anything slow (loading every domain takes seconds on a small machine)
    out.print("citybase demo: loading the platform…")
    from rich.table import Table

    import citybase.app  # noqa: F401  (registers every domain's consumers and jobs)
    from citybase.core.progress import terminal
    from citybase.demo.seed import DEMO_PASSWORD, DEMO_USERS, build_demo, demo_exists

    settings = _settings(data_dir, host, port)
    out.print(f"preparing the database in {settings.home}…")
    db = _open(settings)
    if demo_exists(db):
        out.print(f"reusing the demo city in {settings.home}")
    else:
        out.print("building the demo city of Fuzhou (about two minutes on a small machine)")
        with terminal(out, "building the demo city") as report:
            build_demo(db, settings, report)
        out.print(f"built the demo city of Fuzhou in {settings.home}")
    db.dispose()
    url = f"http://{settings.web.host}:{settings.web.port}"
    table = Table(
        "username", "role", "unit", title=f"sign in at {url}/login — password: {DEMO_PASSWORD}"
    )
    for user in DEMO_USERS:
        table.add_row(user.username, user.role.value, user.unit_code)
    out.print(table)
    from citybase.demo.onething import portal_phones

    db = _open(settings)
    with db.session_scope(readonly=True) as session:
        phones = portal_phones(session, settings)
    db.dispose()
    if phones:
        citizens = Table("username", "mobile", title=f"citizens sign in at {url}/portal/signin "
                         f"by SMS code — the codes are in the SMS log, {url}/console/sms (admin)")  # fmt: skip
        for username, phone in phones:
            citizens.add_row(username, phone)
        out.print(citizens)
    out.print(f"console: {url}/   API docs: {url}/docs   health: {url}/healthz")
    if not no_serve:
        _serve(settings, worker=True)


@federation_cli.app.command("bridge")
def federation_bridge(
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

    settings = _settings(data_dir)
    if settings.federation.role == "off":
        out.print("[red]federation is off[/]: set CITYBASE_FEDERATION__ROLE to city or district")
        raise typer.Exit(2)
    db = _open(settings)
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
