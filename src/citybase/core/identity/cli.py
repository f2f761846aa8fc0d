"""`citybase users …`: create users and reset passwords from the command line."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
out = Console()


class RoleName(StrEnum):
    """``identity.schemas.Role``, spelled out here so that starting the command needs no Pydantic
    (a test checks that the two agree)."""

    platform_admin = "platform_admin"
    unit_admin = "unit_admin"
    data_steward = "data_steward"
    data_consumer = "data_consumer"
    hotline_operator = "hotline_operator"
    case_handler = "case_handler"
    supervisor = "supervisor"
    auditor = "auditor"
    viewer = "viewer"
    data_operator = "data_operator"
    certificate_manager = "certificate_manager"
    applicant = "applicant"


@app.command()
def create(
    username: str,
    display_name: Annotated[str, typer.Option(help="Name shown in the console")],
    role: Annotated[list[RoleName], typer.Option(help="A role; repeat for several")],
    unit: Annotated[str | None, typer.Option(help="Code of the user's unit")] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
    data_dir: DataDir = None,
) -> None:
    """Create a user (as the platform itself, recorded on the ledger as `cli`)."""
    from pydantic import ValidationError

    from citybase.core.errors import CitybaseError
    from citybase.core.identity import service
    from citybase.core.identity.schemas import Role, UserCreate
    from citybase.core.ledger.schemas import Actor

    db = open_database(load_settings(data_dir))
    try:
        data = UserCreate(
            username=username, display_name=display_name, password=password, unit_code=unit,
            roles=[Role(r.value) for r in role],
        )  # fmt: skip
        with db.session_scope() as session:
            service.create_user(session, None, data, actor=Actor.system("cli"))
    except ValidationError as exc:
        err = exc.errors()[0]
        out.print(f"[red]{'.'.join(map(str, err['loc']))}: {err['msg']}[/]")
        raise typer.Exit(1) from exc
    except CitybaseError as exc:
        out.print(f"[red]{exc.field}: {exc.message}[/]")
        raise typer.Exit(1) from exc
    out.print(f"[green]created[/] {username}")


@app.command("set-password")
def set_password(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    data_dir: DataDir = None,
) -> None:
    """Set a user's password and lift any lock-out."""
    from pydantic import ValidationError

    from citybase.core.errors import CitybaseError
    from citybase.core.identity import service
    from citybase.core.identity.schemas import UserUpdate

    db = open_database(load_settings(data_dir))
    try:
        with db.session_scope() as session:
            user = service.get_user_by_username(session, username)
            service.update_user(session, None, user.id, UserUpdate(password=password))
    except (ValidationError, CitybaseError) as exc:
        out.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    out.print(f"[green]password set[/] for {username}")


keys = typer.Typer(help="API keys for machine clients (suites, IoT agents, harvesters).")


@keys.command("create")
def create_key(
    user: Annotated[str, typer.Option("--user", help="Username whose key this is")],
    name: Annotated[str, typer.Option("--name", help="What the key is for")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="A permission the key may use; repeat (default: all)"),
    ] = None,
    days: Annotated[int | None, typer.Option("--days", help="Days until it expires")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API key for a user and print it once: it is never shown again."""
    from pydantic import ValidationError

    from citybase.core.errors import CitybaseError
    from citybase.core.identity import service
    from citybase.core.identity.schemas import ApiKeyCreate

    settings = load_settings(data_dir)
    db = open_database(settings)
    try:
        data = ApiKeyCreate(name=name, scopes=scope or [], expires_in_days=days)
        with db.session_scope() as session:
            principal = service.principal_for(session, user)
            created = service.create_api_key(session, settings, principal, data)
    except ValidationError as exc:
        err = exc.errors()[0]
        out.print(f"[red]{'.'.join(map(str, err['loc']))}: {err['msg']}[/]")
        raise typer.Exit(1) from exc
    except CitybaseError as exc:
        out.print(f"[red]{exc.field}: {exc.message}[/]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    out.print(f"key {created.name!r} for {user}, expires {created.expires_at:%Y-%m-%d}")
    out.print("shown once, keep it now:", style="bold")
    typer.echo(created.secret)
