"""`citybase perception …`: the perception layer's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from citybase.core.errors import CitybaseError
from citybase.core.runtime import DataDir

app = typer.Typer(help="Perception: sensors, readings and their judgement.", no_args_is_help=True)
out = Console()


@app.command("score-series")
def score_series_command(
    input: Annotated[Path, typer.Option("--input", help="CSV with timestamp,value")],
    output: Annotated[
        Path, typer.Option("--output", help="Where to write timestamp,value,anomaly_score")
    ],
    data_dir: DataDir = None,
) -> None:
    """Score every reading of a series for anomaly, as the streaming detector would live.

    It needs no platform: a file in, a file out (``--data-dir`` is accepted, and unused)."""
    from citybase.perception.rules import score_series

    del data_dir
    try:
        rows = score_series(input, output)
    except CitybaseError as exc:
        out.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    out.print(f"[green]{rows:,}[/] readings scored → {output}")


@app.command("mqtt")
def mqtt_command(
    url: Annotated[str, typer.Option("--url", help="mqtt://host:1883 (default: the setting)")] = "",
    data_dir: DataDir = None,
) -> None:
    """Store readings from an MQTT broker until stopped (JSON and UltraLight 2.0 topics as the
    settings say; each message acknowledged once stored)."""
    from citybase.core.runtime import load_settings, open_database
    from citybase.perception.telemetry.mqtt import Ingestor

    settings = load_settings(data_dir)
    if url:
        settings.perception.mqtt_url = url
    if not settings.perception.mqtt_url:
        out.print("[red]no broker: give --url or set CITYBASE_PERCEPTION__MQTT_URL[/]")
        raise typer.Exit(1)
    db = open_database(settings)
    ingestor = Ingestor(db, settings)
    out.print(f"storing readings from {settings.perception.mqtt_url} "
              f"({settings.perception.json_topic}, {settings.perception.ul_topic}); Ctrl-C stops")  # fmt: skip
    try:
        ingestor.run()
    except KeyboardInterrupt:
        ingestor.stop()
    finally:
        db.dispose()


contexts = typer.Typer(help="JSON-LD contexts kept here for the NGSI-LD store (none is fetched).")
app.add_typer(contexts, name="contexts")


@contexts.command("load")
def load_contexts(
    directory: Annotated[Path, typer.Argument(help="A folder of *.jsonld / *.json contexts")],
    base_url: Annotated[str, typer.Option("--base-url", help="URL prefix of the files")] = "",
    data_dir: DataDir = None,
) -> None:
    """Keep the contexts in a folder, each under its URL (from urls.txt: file<TAB>url, or
    --base-url + file name), so that requests naming them work with no internet."""
    from citybase.core.runtime import load_settings, open_database
    from citybase.perception.context import service as context

    if not directory.is_dir():
        out.print(f"[red]{directory} is not a folder[/]")
        raise typer.Exit(1)
    db = open_database(load_settings(data_dir))
    try:
        with db.session_scope() as session:
            loaded = context.load_contexts(session, directory, base_url)
    except CitybaseError as exc:
        out.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    for url in loaded:
        out.print(f"kept {url}")
