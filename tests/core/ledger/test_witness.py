"""The witnesses of signed tree heads: a directory, and NATS JetStream when it is reachable."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from citybase.core.ledger.witness import (
    DirectoryWitness,
    NatsWitness,
    WitnessedHead,
    WitnessError,
    witness_for,
)
from citybase.core.settings import Settings
from tests.conftest import reachable

NATS_URL = os.environ.get("CITYBASE_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _head(size: int) -> WitnessedHead:
    return WitnessedHead(
        tree_size=size,
        root_hash=size.to_bytes(32, "big"),
        signed_at=datetime(2026, 1, 1, tzinfo=UTC),
        signature=bytes(64),
        key_id="k",
    )


def test_directory_witness_appends_and_never_goes_back(tmp_path: Path) -> None:
    witness = DirectoryWitness(tmp_path / "w")
    assert witness.latest() is None
    witness.publish(_head(5))
    witness.publish(_head(9))
    witness.publish(_head(9))  # already there
    witness.publish(_head(7))  # smaller than what it holds
    assert witness.latest() == _head(9)
    assert len(witness.path.read_text().splitlines()) == 2


def test_directory_witness_reads_the_newest_of_a_long_file(tmp_path: Path) -> None:
    witness = DirectoryWitness(tmp_path)
    witness.path.write_text("".join(_head(n).to_json() + "\n" for n in range(1, 1000)))
    assert witness.path.stat().st_size > 64 * 1024
    assert witness.latest() == _head(999)


def test_directory_witness_leaves_a_torn_line_alone(tmp_path: Path) -> None:
    witness = DirectoryWitness(tmp_path)
    witness.publish(_head(3))
    with witness.path.open("a") as f:
        f.write('{"tree_size": 4, "ro')  # a write cut short by a crash
    assert witness.latest() == _head(3)
    witness.publish(_head(6))
    assert witness.latest() == _head(6)


def test_directory_witness_refuses_what_is_not_a_head(tmp_path: Path) -> None:
    witness = DirectoryWitness(tmp_path)
    witness.path.write_text('{"tree_size": 0}\n')
    with pytest.raises(WitnessError, match="not a tree head"):
        witness.latest()


def test_the_setting_chooses_the_witness(tmp_path: Path) -> None:
    default = witness_for(Settings(home=tmp_path))
    assert isinstance(default, DirectoryWitness)
    assert default.directory == tmp_path / "ledger-witness"
    elsewhere = witness_for(
        Settings(home=tmp_path, ledger={"witness": f"file://{tmp_path}/audit"})  # type: ignore[arg-type]
    )
    assert isinstance(elsewhere, DirectoryWitness)
    assert elsewhere.directory == tmp_path / "audit"
    on_bus = witness_for(
        Settings(home=tmp_path, bus_url="nats://bus:4222", ledger={"witness": "nats"})  # type: ignore[arg-type]
    )
    assert isinstance(on_bus, NatsWitness)
    assert on_bus.url == "nats://bus:4222"
    assert on_bus.stream == "CITYBASE_LEDGER_WITNESS"


def test_a_nats_witness_needs_the_bus_on_nats(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CITYBASE_LEDGER__WITNESS"):
        Settings(home=tmp_path, ledger={"witness": "nats://127.0.0.1:4222"})  # type: ignore[arg-type]


@pytest.mark.skipif(
    not reachable(NATS_URL.replace("nats", "http", 1), 4222), reason="NATS is not reachable"
)
def test_nats_witness_keeps_heads_it_will_not_let_go() -> None:
    import nats
    import nats.js.errors

    stream = f"CBTEST_{uuid.uuid4().hex[:8].upper()}_LEDGER_WITNESS"
    witness = NatsWitness(NATS_URL, stream)
    try:
        assert witness.latest() is None
        witness.publish(_head(5))
        witness.publish(_head(8))
        witness.publish(_head(8))
        witness.publish(_head(6))
        assert witness.latest() == _head(8)

        async def try_to_take_back() -> tuple[int, list[str]]:
            nc = await nats.connect(NATS_URL)
            js = nc.jetstream()
            refused = []
            try:
                await js.delete_msg(stream, 2)
            except nats.js.errors.APIError as exc:
                refused.append(f"delete: {exc.description}")
            try:
                await js.purge_stream(stream)
            except nats.js.errors.APIError as exc:
                refused.append(f"purge: {exc.description}")
            info = await js.stream_info(stream)
            await nc.close()
            return info.state.messages, refused

        messages, refused = asyncio.run(try_to_take_back())
        assert messages == 2
        assert len(refused) == 2, refused
        assert witness.latest() == _head(8)
    finally:

        async def delete() -> None:
            nc = await nats.connect(NATS_URL)
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await nc.jetstream().delete_stream(stream)
            await nc.close()

        asyncio.run(delete())


def test_an_unreachable_nats_witness_says_so() -> None:
    witness = NatsWitness("nats://127.0.0.1:1", "CBTEST_NOWHERE")
    with pytest.raises(WitnessError, match="cannot be reached"):
        witness.latest()
