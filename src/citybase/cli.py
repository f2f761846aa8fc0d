"""The `citybase` command: one group per layer, plus what runs a whole platform.

Starting the command imports only what builds the commands and their options (Typer, and each
layer's ``cli`` module, which imports its services inside its commands): the application, the
services and their libraries are imported by the command that runs. ``citybase --help`` thus
answers at once; ``tests/test_cli_startup.py`` keeps it so.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from citybase.hub import cli as hub_cli
from citybase.hub.dispatch import cli as dispatch_cli
from citybase.perception import cli as perception_cli
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
app.add_typer(cockpit_cli.app, name="cockpit")
app.add_typer(dispatch_cli.app, name="dispatch")
app.add_typer(hub_cli.app, name="hub")
app.add_typer(perception_cli.app, name="perception")
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
    import uvicorn

    from citybase.app import create_app

    db = _open(settings)
    application = create_app(settings, db, run_worker=worker)
    if settings.perception.mqtt_url:  # readings from the broker, beside the web server
        from citybase.perception.telemetry.mqtt import Ingestor

        threading.Thread(target=Ingestor(db, settings).run, name="mqtt", daemon=True).start()
    uvicorn.run(
        application,
        host=settings.web.host,
        port=settings.web.port,
        log_level="info",
        proxy_headers=True,
    )


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Run no background worker")
    ] = False,
) -> None:
    """Serve the console and API (with a background worker unless --no-worker)."""
    _serve(_settings(data_dir, host, port), worker=not no_worker)


@app.command()
def worker(
    data_dir: DataDir = None,
    once: Annotated[bool, typer.Option("--once", help="Do what is due now, then exit")] = False,
) -> None:
    """Deliver events and run due jobs until stopped."""
    import citybase.app  # noqa: F401  (registers every domain's consumers and jobs)
    from citybase.core.bus.tasks import Worker

    settings = _settings(data_dir)
    db = _open(settings)
    w = Worker(db, settings)
    if once:
        done = w.run_until_idle()
        w.close()
        out.print(f"done: {done} deliveries and jobs")
        return
    stop = threading.Event()
    out.print(f"worker {w.worker_id} running; Ctrl-C stops it")
    try:
        w.run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
        w.close()


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
    from rich.progress import Progress, SpinnerColumn, TextColumn
    from rich.table import Table

    import citybase.app  # noqa: F401  (registers every domain's consumers and jobs)
    from citybase.demo.seed import DEMO_PASSWORD, DEMO_USERS, build_demo, demo_exists

    settings = _settings(data_dir, host, port)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=out, transient=True
    ) as progress:
        task = progress.add_task("preparing the database")
        db = _open(settings)
        if demo_exists(db):
            out.print(f"reusing the demo city in {settings.home}")
        else:
            build_demo(
                db,
                settings,
                step=lambda what: progress.update(task, description=f"creating {what}"),
            )
            out.print(f"built the demo city of Fuzhou in {settings.home}")
    db.dispose()
    url = f"http://{settings.web.host}:{settings.web.port}"
    table = Table(
        "username", "role", "unit", title=f"sign in at {url}/login — password: {DEMO_PASSWORD}"
    )
    for user in DEMO_USERS:
        table.add_row(user.username, user.role.value, user.unit_code)
    out.print(table)
    out.print(f"console: {url}/   API docs: {url}/docs   health: {url}/healthz")
    if not no_serve:
        _serve(settings, worker=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
