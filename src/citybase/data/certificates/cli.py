"""`citybase certificates …`: verify a certificate offline, list the published keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from citybase.core.runtime import DataDir, load_settings, open_database

app = typer.Typer(help="E-certificates (电子证照).", no_args_is_help=True)
out = Console()


def _read_keys(path: Path) -> dict[str, str]:
    """Key id → public key, from a file as ``GET /api/v1/certificates/keys`` answers it."""
    listed = json.loads(path.read_text())
    if not isinstance(listed, list):
        raise typer.BadParameter("a keys file is a JSON list of {key_id, public_key}")
    return {str(k["key_id"]): str(k["public_key"]) for k in listed}


def _token_and_fields(given: str) -> tuple[str, dict[str, Any] | None]:
    """A token, a QR code's URL, or a file holding one of them or a certificate as the API
    answers it (whose fields are then checked against the signed hash)."""
    text = given.strip()
    if not text.startswith("CBC1.") and "://" not in text:
        try:
            text = Path(text).read_text().strip()
        except OSError as exc:
            raise typer.BadParameter(f"neither a token nor a readable file: {exc}") from exc
    if text.startswith("{"):
        record = json.loads(text)
        return str(record.get("token", "")), record.get("fields")
    return text, None


@app.command()
def verify(
    certificate: str = typer.Argument(
        ..., help="A token (CBC1.…), a verification URL, or a file with one or a certificate's JSON"
    ),
    keys: Path | None = typer.Option(
        None, "--keys", help="Published keys (JSON of /api/v1/certificates/keys): check offline"
    ),
    key: str = typer.Option("", "--key", help="One public key (hex, 04 ‖ x ‖ y): check offline"),
    data_dir: DataDir = None,
) -> None:
    """Check a certificate's SM2 signature and validity. Offline (``--keys`` or ``--key``) it
    needs no database but cannot know of a revocation; without them it asks this platform's
    database, which does. Exits 0 only for a valid certificate."""
    from citybase.data.certificates import service, signing

    token, fields = _token_and_fields(certificate)
    if keys is not None or key:
        published = _read_keys(keys) if keys is not None else {}
        if key:
            published[signing.key_id(signing.normal_public_key(key))] = key
        result = service.verify_offline(token, published)
    else:
        db = open_database(load_settings(data_dir))
        with db.session_scope(readonly=True) as session:
            result = service.verify_certificate(session, token, check_signature=True)
    fields_ok = None
    if fields is not None and result.payload:
        fields_ok = signing.sm3_hex(signing.canonical(fields)) == result.payload.get("fields_sm3")
    colour = "green" if result.valid and fields_ok is not False else "red"
    out.print(f"[{colour}]{result.status.value}[/]: {result.message_zh} / {result.message}")
    if result.identifier:
        out.print(f"identifier: {result.identifier}")
    if result.payload and result.status.value not in ("forged", "malformed"):
        p = result.payload
        out.print(f"{p.get('name')} · {p.get('holder')} ({p.get('holder_id')}) · {p.get('issuer')}"
                  f" · {p.get('from')} – {p.get('until') or '长期'}")  # fmt: skip
    if fields_ok is False:
        out.print("[red]the certificate's fields differ from those signed[/]")
    if not result.revocation_checked:
        out.print("[yellow]offline: a revocation cannot be known; verify online for it[/]")
    raise typer.Exit(0 if result.valid and fields_ok is not False else 1)


@app.command("keys")
def list_keys(data_dir: DataDir = None) -> None:
    """Print the published public keys (the JSON an offline check takes with ``--keys``)."""
    from citybase.data.certificates import service

    db = open_database(load_settings(data_dir))
    with db.session_scope(readonly=True) as session:
        found = service.list_public_keys(session)
    typer.echo(json.dumps([k.model_dump(mode="json") for k in found], ensure_ascii=False, indent=1))
