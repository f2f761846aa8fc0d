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


@app.command("forecast-accuracy")
def forecast_accuracy_command(
    inputs: Annotated[list[Path], typer.Argument(help="CSV files with timestamp,value")],
    origins: Annotated[int, typer.Option("--origins", min=1, help="Forecasts per series")] = 288,
    every: Annotated[int, typer.Option("--every", min=1, help="One origin in this many")] = 1,
    data_dir: DataDir = None,
) -> None:
    """Backtest the hour-ahead forecast on series: its error (MASE) beside seasonal-naive's.

    Each series is put on a 5-minute grid; from each of its last ``--origins`` origins the next
    hour is forecast from the history before it only, and so are the value a day back and a
    week back. MASE divides each mean absolute error by that of the value a day back within the
    history before the first origin: below 1 is better than that in-sample reference, and ours
    against seasonal-naive's in the same rows tells which serves better."""
    from citybase.perception.rules import forecast as forecasting
    from citybase.perception.rules.series import read_series

    del data_dir
    out.print("series  steps  origins  MASE ours  MASE day-back  MASE week-back  in 80%  method")
    for path in inputs:
        try:
            found = forecasting.accuracy(read_series(path), origins=origins, every=every)
        except CitybaseError as exc:
            out.print(f"[red]{exc.message}[/]")
            raise typer.Exit(1) from exc
        except ValueError as exc:
            out.print(f"[red]{path.name}: {exc}[/]")
            raise typer.Exit(1) from exc
        week = "—" if found.mase_week is None else f"{found.mase_week:.3f}"
        out.print(f"{path.name}  {found.steps}  {found.origins}  {found.mase:.3f}  "
                  f"{found.mase_day:.3f}  {week}  {found.inside80:.0%}  {found.method}",
                  highlight=False)  # fmt: skip


@app.command("mqtt")
def mqtt_command(
    url: Annotated[str, typer.Option("--url", help="mqtt://host:1883 (default: the setting)")] = "",
    client_id: Annotated[
        str, typer.Option("--client-id", help="Its MQTT client id (default: the setting)")
    ] = "",
    share_group: Annotated[
        str,
        typer.Option(
            "--share-group", help="Share the subscription with other ingestors of this group"
        ),
    ] = "",
    metrics_port: Annotated[
        int,
        typer.Option("--metrics-port", help="Serve the reading counters on 127.0.0.1:PORT/metrics"),
    ] = 0,
    data_dir: DataDir = None,
) -> None:
    """Store readings from an MQTT broker until stopped (JSON and UltraLight 2.0 topics as the
    settings say; each message acknowledged once stored)."""
    import signal
    import threading

    from citybase.core.runtime import load_settings, open_database
    from citybase.perception.telemetry.mqtt import Ingestor, serve_metrics

    settings = load_settings(data_dir)
    if url:
        settings.perception.mqtt_url = url
    if client_id:
        settings.perception.mqtt_client_id = client_id
    if share_group:
        settings.perception.mqtt_share_group = share_group
    if metrics_port:
        serve_metrics(metrics_port)
    if not settings.perception.mqtt_url:
        out.print("[red]no broker: give --url or set CITYBASE_PERCEPTION__MQTT_URL[/]")
        raise typer.Exit(1)
    db = open_database(settings)
    ingestor = Ingestor(db, settings)
    out.print(f"storing readings from {settings.perception.mqtt_url} "
              f"({settings.perception.json_topic}, {settings.perception.ul_topic}); Ctrl-C stops")  # fmt: skip

    def tell_when_subscribed() -> None:  # an operator (and a supervisor) sees it is taking
        if ingestor.subscribed.wait():
            out.print("subscribed: taking readings")

    threading.Thread(target=tell_when_subscribed, daemon=True).start()
    # SIGTERM (a supervisor's stop) as Ctrl-C: the batch in hand is stored and acknowledged,
    # the connection closed, and the process exits 0; what was not taken waits at the broker
    signal.signal(signal.SIGTERM, lambda *_: ingestor.stop())
    try:
        ingestor.run()
    except KeyboardInterrupt:
        ingestor.stop()
    finally:
        db.dispose()
    out.print("stopped")


@app.command("mqtt-acl")
def mqtt_acl_command(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for passwd and acl")],
    url: Annotated[
        str,
        typer.Option(
            "--url", help="mqtt://user:password@host:1883 of the ingestor (default: the setting)"
        ),
    ] = "",
    data_dir: DataDir = None,
) -> None:
    """Write Mosquitto's password file (passwd) and ACL file (acl) from the device register:
    each device logs in with its id and credential and may publish only on its own topics; the
    ingestor (the user in the URL) reads them all. Send the broker SIGHUP afterwards."""
    from citybase.core.runtime import load_settings, open_database
    from citybase.perception.devices import service as devices

    settings = load_settings(data_dir)
    if url:
        settings.perception.mqtt_url = url
    db = open_database(settings)
    try:
        with db.session_scope() as session:
            files = devices.write_broker_files(session, settings, out_dir)
    finally:
        db.dispose()
    out.print(f"[green]{files.devices:,}[/] devices may publish → {out_dir / 'passwd'}, "
              f"{out_dir / 'acl'}")  # fmt: skip
    for device_id, why in sorted(files.left_out.items()):
        out.print(f"[yellow]left out[/] {device_id}: {why}")


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
    from citybase.perception.context import contexts

    if not directory.is_dir():
        out.print(f"[red]{directory} is not a folder[/]")
        raise typer.Exit(1)
    db = open_database(load_settings(data_dir))
    try:
        with db.session_scope() as session:
            loaded = contexts.load_contexts(session, directory, base_url)
    except CitybaseError as exc:
        out.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    for url in loaded:
        out.print(f"kept {url}")


entities = typer.Typer(help="The NGSI-LD context store's entities.")
app.add_typer(entities, name="entities")


@entities.command("hand-over")
def hand_over(
    unit: Annotated[str, typer.Argument(help="Code of the unit that will own them")],
    ids: Annotated[list[str] | None, typer.Option("--id", help="An entity id (repeatable)")] = None,
    types: Annotated[
        list[str] | None, typer.Option("--type", help="An entity type (repeatable)")
    ] = None,
    from_unit: Annotated[
        str | None,
        typer.Option("--from", help="Only those now held by this unit ('' the platform)"),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the ledger")] = "",
    data_dir: DataDir = None,
) -> None:
    """Give entities and their history to a unit, which alone (with the platform's
    administrators) then changes them. Entities kept before owning units existed belong to the
    platform: hand them over with --from ''. A registered device's entity stays its unit's."""
    from citybase.core.ledger.schemas import Actor
    from citybase.core.runtime import load_settings, open_database
    from citybase.perception.context import updates

    db = open_database(load_settings(data_dir))
    try:
        with db.session_scope() as session:
            count = updates.hand_over(session, Actor.system("citybase perception entities"), unit,
                                      ids=ids, types=types, from_unit=from_unit, reason=reason)  # fmt: skip
    except CitybaseError as exc:
        out.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    out.print(f"{count} entities now belong to {unit}")


notifications = typer.Typer(
    help="NGSI-LD notifications a subscriber did not take after every attempt (given up)."
)
app.add_typer(notifications, name="notifications")

SubscriptionOption = Annotated[
    str | None, typer.Option("--subscription", help="Only this subscription's (its id)")
]
IdsOption = Annotated[list[str] | None, typer.Option("--id", help="A notification id (repeatable)")]


@notifications.command("list")
def list_notifications(
    subscription: SubscriptionOption = None,
    waiting: Annotated[
        bool, typer.Option("--waiting", help="Those still being tried, not those given up")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """The notifications given up (or, with --waiting, still tried): when, to which subscription,
    after how many attempts, and the subscriber's last answer."""
    from citybase.core.runtime import load_settings, open_database
    from citybase.perception.context import deliveries

    db = open_database(load_settings(data_dir))
    try:
        with db.session_scope(readonly=True) as session:
            rows = deliveries.pending(session, subscription, given_up=not waiting)
            for row in rows:
                when = row.given_up_at or row.next_attempt_at
                out.print(f"{row.id}  {row.subscription_id}  {when:%Y-%m-%d %H:%M:%S}  "
                          f"{row.attempts} attempts  {row.last_error}", markup=False,
                          highlight=False)  # fmt: skip
    finally:
        db.dispose()
    out.print(f"{len(rows)} {'waiting' if waiting else 'given up'}")


def _settle(verb: str, subscription: str | None, ids: list[str] | None, data_dir: Path | None,
            reason: str) -> None:  # fmt: skip
    from citybase.core.db.base import utcnow
    from citybase.core.ledger import service as ledger
    from citybase.core.ledger.schemas import Actor
    from citybase.core.runtime import load_settings, open_database
    from citybase.perception.context import deliveries

    if (
        subscription is None
        and not ids
        and not typer.confirm(
            f"{verb.capitalize()} every notification given up, of every subscription?"
        )
    ):
        raise typer.Exit(1)
    db = open_database(load_settings(data_dir))
    try:
        with db.session_scope() as session:
            if verb == "retry":
                count = deliveries.retry(session, utcnow(), subscription_id=subscription, ids=ids)
                action = "perception.notification.retry"
            else:
                count = deliveries.discard(session, subscription_id=subscription, ids=ids)
                action = "perception.notification.discard"
            if count:
                ledger.record(
                    session, Actor.system("citybase perception notifications"), action,
                    object_type="subscription", object_id=subscription or "", reason=reason,
                    details={"count": count, "ids": ids or []},
                )  # fmt: skip
    finally:
        db.dispose()
    out.print(f"{count} {'sent again' if verb == 'retry' else 'discarded'}")


@notifications.command("retry")
def retry_notifications(
    subscription: SubscriptionOption = None,
    ids: IdsOption = None,
    reason: Annotated[str, typer.Option(help="Why, for the ledger")] = "",
    data_dir: DataDir = None,
) -> None:
    """Send the chosen given-up notifications again (the subscriber is back): the next notifier
    round takes them, with their attempts counted afresh."""
    _settle("retry", subscription, ids, data_dir, reason)


@notifications.command("discard")
def discard_notifications(
    subscription: SubscriptionOption = None,
    ids: IdsOption = None,
    reason: Annotated[str, typer.Option(help="Why, for the ledger")] = "",
    data_dir: DataDir = None,
) -> None:
    """Let the chosen given-up notifications go for good."""
    _settle("discard", subscription, ids, data_dir, reason)
