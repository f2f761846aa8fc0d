"""`citybase perception …`: the perception layer's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from citybase.core.errors import CitybaseError
from citybase.core.runtime import DataDir
from citybase.perception.rules import score_series

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
    del data_dir
    try:
        rows = score_series(input, output)
    except CitybaseError as exc:
        out.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    out.print(f"[green]{rows:,}[/] readings scored → {output}")
