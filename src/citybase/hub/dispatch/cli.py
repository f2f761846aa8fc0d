"""`citybase dispatch …`: train, run and evaluate the dispatch classifier on CSV files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from citybase.core.errors import CitybaseError
from citybase.core.progress import terminal
from citybase.core.runtime import DataDir, load_settings, open_database

if TYPE_CHECKING:
    from citybase.hub.dispatch import classifier as learning
    from citybase.hub.dispatch.schemas import Evaluation, Prediction

app = typer.Typer(help="The dispatch classifier (派单): category or unit from a message's text.",
                  no_args_is_help=True)  # fmt: skip
out = Console()
PREDICT_BATCH = 2000  # messages classified between two moves of the progress bar

Model = Annotated[str, typer.Option("--model", help="The model's name (letters, digits, . _ -)")]
TextCol = Annotated[str, typer.Option("--text-col", help="Column holding the message")]
LabelCol = Annotated[str, typer.Option("--label-col", help="Column holding the right answer")]


def _fail(exc: CitybaseError) -> typer.Exit:
    out.print(f"[red]{exc.message}[/]")
    return typer.Exit(1)


@app.command()
def train(
    csv: Annotated[Path, typer.Option("--csv", help="Labelled messages (UTF-8 CSV)")],
    model: Model,
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    data_dir: DataDir = None,
) -> None:
    """Learn a model from a labelled file and keep it in the data directory."""
    from citybase.hub.dispatch import classifier as learning

    if not re.match(learning.NAME, model):
        out.print("[red]a model's name is letters, digits, '.', '_' and '-'[/]")
        raise typer.Exit(2)
    home = load_settings(data_dir).home
    try:
        texts, labels = learning.read_csv(csv, text_col, label_col)
        # one step whose share cannot be known: the bar shows the time it has taken so far
        with terminal(out, f"training on {len(texts):,} messages"):
            classifier = learning.Classifier.train(texts, labels, model, csv.name)
    except CitybaseError as exc:
        raise _fail(exc) from exc
    path = learning.save(classifier, home)
    info = classifier.info
    out.print(f"[green]{model}[/]: {info.examples:,} messages, {len(info.labels)} labels, "
              f"trained in {info.seconds:.1f} s → {path}")  # fmt: skip


@app.command()
def predict(
    model: Model,
    input: Annotated[Path, typer.Option("--input", help="Messages to classify (UTF-8 CSV)")],
    output: Annotated[Path, typer.Option("--output", help="Where to write them, classified")],
    text_col: TextCol = "text",
    data_dir: DataDir = None,
) -> None:
    """Add `predicted` and `confidence` to every row of a file."""
    from citybase.hub.dispatch import classifier as learning

    classifier, texts, _ = _model_and_file(model, data_dir, input, text_col, None)
    found: list[Prediction] = []
    with terminal(out, "classifying", len(texts)) as report:
        for start in range(0, len(texts), PREDICT_BATCH):
            found.extend(classifier.predict(texts[start : start + PREDICT_BATCH]))
            report(len(found), len(texts), "classifying")
    count = learning.write_predictions(input, output, text_col, found)
    out.print(f"[green]{count:,}[/] rows classified → {output}")


@app.command()
def evaluate(
    model: Model,
    csv: Annotated[Path, typer.Option("--csv", help="Labelled messages it has not seen")],
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON")] = False,
    data_dir: DataDir = None,
) -> None:
    """Accuracy, macro-F1 and a report per class on a labelled file."""
    from citybase.hub.dispatch import classifier as learning

    classifier, texts, labels = _model_and_file(model, data_dir, csv, text_col, label_col)
    result = learning.evaluate(classifier, texts, labels)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    _print(result)


@app.command()
def retrain(
    by: Annotated[str, typer.Option("--by", help="Who asks (for the ledger)")] = "dispatch",
    data_dir: DataDir = None,
) -> None:
    """Train a challenger from the closed cases and corrections of the window, judge it against
    the champion on the most recent period and promote or reject it (on the ledger)."""
    from citybase.core.ledger.schemas import Actor
    from citybase.hub.dispatch import learning

    settings = load_settings(data_dir)
    db = open_database(settings)
    with db.session_scope() as session, terminal(out, "training a challenger") as report:
        version = learning.retrain(session, settings.home, settings.hub, Actor(name=by),
                                   progress=report)  # fmt: skip
    if version is None:
        out.print("[yellow]too little to learn from in the window: nothing trained[/]")
        raise typer.Exit(1)
    f, c = version.figures, version.champion_figures
    out.print(f"{version.name} v{version.version}: [bold]{version.status.value}[/] — "
              f"{version.examples:,} examples, judged on {version.holdout:,} cases")  # fmt: skip
    if f:
        out.print(f"macro-F1 {f['macro_f1']:.3f}, routed {f['routed']:.1%}"
                  + (f" (champion {c['macro_f1']:.3f}, {c['routed']:.1%})" if c else ""))  # fmt: skip
    out.print(version.decision)


def _model_and_file(
    model: str, data_dir: Path | None, path: Path, text_col: str, label_col: str | None
) -> tuple[learning.Classifier, list[str], list[str]]:
    from citybase.hub.dispatch import classifier as learning

    try:
        classifier = learning.load(model, load_settings(data_dir).home)
        texts, labels = learning.read_csv(path, text_col, label_col)
    except CitybaseError as exc:
        raise _fail(exc) from exc
    return classifier, texts, labels


def _print(result: Evaluation) -> None:
    out.print(f"{result.model}: {result.examples:,} messages · accuracy {result.accuracy:.3f} · "
              f"macro-F1 {result.macro_f1:.3f} · {result.per_second:,.0f} messages/s")  # fmt: skip
    table = Table("label", "precision", "recall", "F1", "support")
    for c in result.classes:
        table.add_row(c.label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}",
                      str(c.support))  # fmt: skip
    out.print(table)
    cover = Table("dispatched automatically at confidence ≥", "share", "accuracy")
    for level in result.coverage:
        cover.add_row(f"{level.threshold:.1f}", f"{level.share:.1%}", f"{level.accuracy:.3f}")
    out.print(cover)
