"""Owning units: given to the rows kept before they existed, and heeded by the notifier."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.identity.schemas import Role
from citybase.perception.context import jsonld
from citybase.perception.context import service as context
from citybase.perception.context.models import (
    AttributeSeries,
    ContextEntity,
    ContextSubscription,
)
from citybase.perception.context.notify import Notifier
from citybase.perception.context.service import ReadScope
from citybase.perception.context.subscriptions import compile_row
from tests.core.identity.factories import make_user
from tests.perception.devices.test_telemetry import city

CORE = jsonld.context_of(None)


def test_the_migration_gives_existing_rows_an_owner(fresh_db: Database) -> None:
    with fresh_db.session_scope() as session:
        city(session)  # devices wl-1 (fz.water) and wl-3 (gl.urban)
        make_user(session, "water", Role.unit_admin, unit="fz.water")
        for entity_id in ("urn:ngsi-ld:Device:wl-3", "urn:ngsi-ld:Gauge:free"):
            context.create(session, {"id": entity_id, "type": "Thing",
                                     "note": {"type": "Property", "value": 1}}, CORE)  # fmt: skip
        session.add(ContextSubscription(id="urn:ngsi-ld:Subscription:1", owner="water",
                                        body={}, context=CORE))  # fmt: skip
    with fresh_db.engine.begin() as connection:  # as a database from before owning units
        for table in ("perception_entities", "perception_subscriptions",
                      "perception_attribute_series"):  # fmt: skip
            connection.execute(text(f"UPDATE {table} SET unit = 'x'"))
    command.downgrade(migrate.alembic_config(fresh_db.engine), "0027")
    migrate.upgrade(fresh_db.engine, "0028")
    with fresh_db.session_scope() as session:
        units = dict(session.query(ContextEntity.id, ContextEntity.unit).all())
        assert units == {"urn:ngsi-ld:Device:wl-3": "gl.urban", "urn:ngsi-ld:Gauge:free": ""}
        # the columns of 0028 only: later revisions add others to the series
        series = dict(session.query(AttributeSeries.entity_id, AttributeSeries.unit).all())
        assert series == units
        subscription = session.get(ContextSubscription, "urn:ngsi-ld:Subscription:1")
        assert subscription is not None
        assert subscription.unit == "fz.water"
    migrate.upgrade(fresh_db.engine)


def test_a_subscription_hears_only_of_what_its_unit_may_read(database: Database) -> None:
    row = ContextSubscription(id="urn:ngsi-ld:Subscription:w", unit="fz.water", active=True,
                              body={"entities": [{"type": "Thing"}],
                                    "notification": {"endpoint": {"uri": "http://x.org/"}}},
                              context=CORE)  # fmt: skip
    sub = compile_row(row)
    thing = jsonld.expand_names(CORE, set(), {"Thing", "Open"})[1]
    everyone = Notifier(database)
    own = Notifier(database, scope=ReadScope(frozenset(), frozenset({thing["Open"]})))
    try:
        assert everyone.hears(sub, "gl.urban", thing["Thing"])
        assert own.hears(sub, "fz.water", thing["Thing"])
        assert not own.hears(sub, "gl.urban", thing["Thing"])
        assert own.hears(sub, "gl.urban", thing["Open"])  # a public type
    finally:
        for notifier in (everyone, own):
            notifier.pool.shutdown(wait=True)


def test_the_platforms_entities_are_handed_to_a_unit(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from citybase.cli import app

    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    with fresh_db.session_scope() as session:
        city(session)
        for n in range(3):
            context.create(session, {"id": f"urn:ngsi-ld:Gauge:{n}", "type": "Gauge",
                                     "level": {"type": "Property", "value": n}}, CORE)  # fmt: skip
        context.create(session, {"id": "urn:ngsi-ld:Device:wl-3", "type": "Device"}, CORE)
    home = ["--data-dir", str(tmp_path)]
    runner = CliRunner()
    unknown = runner.invoke(app, ["perception", "entities", "hand-over", "nowhere", "--from", "",
                                  *home])  # fmt: skip
    assert unknown.exit_code == 1
    assert "nowhere" in unknown.output
    done = runner.invoke(app, ["perception", "entities", "hand-over", "fz.water", "--from", "",
                               "--reason", "移交水利局", *home])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "3 entities" in done.output
    with fresh_db.session_scope() as session:
        units = dict(session.query(ContextEntity.id, ContextEntity.unit).all())
        assert units == {**{f"urn:ngsi-ld:Gauge:{n}": "fz.water" for n in range(3)},
                         "urn:ngsi-ld:Device:wl-3": "gl.urban"}  # fmt: skip
        assert {s.unit for s in session.query(AttributeSeries)
                if s.entity_id.startswith("urn:ngsi-ld:Gauge")} == {"fz.water"}  # fmt: skip
        entry = session.execute(text("SELECT action, reason FROM ledger_entries "
                                     "ORDER BY seq DESC LIMIT 1")).one()  # fmt: skip
        assert tuple(entry) == ("perception.entities.handed_over", "移交水利局")
