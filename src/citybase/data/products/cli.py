"""`citybase products …`: verify a delivered file against its detached signature."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="Data products (数据产品).", no_args_is_help=True)
out = Console()


def _read_keys(path: Path) -> dict[str, str]:
    """Key id → public key, from a file as ``GET /api/v1/certificates/keys`` answers it."""
    try:
        listed = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"the keys file does not read as JSON: {exc}") from exc
    if not isinstance(listed, list):
        raise typer.BadParameter("a keys file is a JSON list of {key_id, public_key}")
    return {str(k["key_id"]): str(k["public_key"]) for k in listed if isinstance(k, dict)}


@app.command("verify-file")
def verify_file(
    file: Path = typer.Argument(..., help="The delivered file (.csv or .jsonl)"),
    signature: Path = typer.Argument(..., help="Its detached signature (.sig)"),
    keys: Path | None = typer.Option(
        None, "--keys", help="Published keys (JSON of /api/v1/certificates/keys): check offline"
    ),
    key: str = typer.Option(
        "", "--key", help="The provider's public key (hex, 04 ‖ x ‖ y): offline"
    ),
    data_dir: DataDir = None,
) -> None:
    """Check a delivered file's SM2 signature. Offline (``--keys`` or ``--key``) it needs no
    database; without them it reads this platform's published keys. Exits 0 only when the
    signature verifies over the very bytes of the file."""
    from citybase.data.certificates import signing
    from citybase.data.products import service

    try:
        content, signed = file.read_bytes(), signature.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if keys is not None or key:
        published = _read_keys(keys) if keys is not None else {}
        if key:
            if not signing.is_public_key(key.strip()):
                raise typer.BadParameter("a public key is 128 hex digits, or 130 with 04 first")
            published[signing.key_id(signing.normal_public_key(key))] = key.strip()
        result = service.verify_file(content, service.read_signature(signed), published.get)
    else:
        db = open_database(load_settings(data_dir))
        with db.session_scope(readonly=True) as session:
            result = service.verify_file_online(session, content, signed)
    colour = "green" if result.valid else "red"
    out.print(f"[{colour}]{'valid' if result.valid else 'invalid'}[/]: {result.reason}")
    if result.valid:
        out.print(f"contract {result.contract} · delivery {result.delivery} · signed by "
                  f"{result.signer} (key {result.key_id})")  # fmt: skip
    raise typer.Exit(0 if result.valid else 1)
