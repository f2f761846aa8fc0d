"""Witnesses: copies of the signed tree heads kept outside the database.

Whoever can write to the database can cut entries from the end of the ledger together with the
tree heads that covered them; what is left is a shorter chain that checks out on its own. A copy
of every head published somewhere the database's owner cannot rewrite — a file on another mount
or host, a JetStream stream on another server — is what ``citybase ledger verify`` holds the
ledger to: the ledger must still reach the newest witnessed size and have the witnessed root
there.

One ``Witness`` protocol, one adapter per kind, chosen by ``ledger.witness`` (``witness_for``):
a directory holding ``tree-heads.jsonl`` (append-only JSON lines) or a NATS JetStream stream whose
configuration forbids deleting or purging messages.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from citybase.core.settings import Settings

WITNESS_FILE = "tree-heads.jsonl"
_TAIL_BYTES = 64 * 1024  # a head is about 300 bytes: the newest is in the file's last 64 KiB


class WitnessError(Exception):
    """The witness cannot be read or holds something that is not a tree head."""


@dataclass(frozen=True)
class WitnessedHead:
    tree_size: int
    root_hash: bytes
    signed_at: datetime
    signature: bytes
    key_id: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "tree_size": self.tree_size,
                "root_hash": self.root_hash.hex(),
                "signed_at": self.signed_at.isoformat(timespec="microseconds"),
                "signature": self.signature.hex(),
                "key_id": self.key_id,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, where: str) -> WitnessedHead:
        try:
            data = json.loads(text)
            head = cls(
                tree_size=int(data["tree_size"]),
                root_hash=bytes.fromhex(data["root_hash"]),
                signed_at=datetime.fromisoformat(data["signed_at"]),
                signature=bytes.fromhex(data["signature"]),
                key_id=str(data["key_id"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WitnessError(f"{where} holds something that is not a tree head") from exc
        if head.tree_size < 1 or len(head.root_hash) != 32 or head.signed_at.tzinfo is None:
            raise WitnessError(f"{where} holds something that is not a tree head")
        return head


class Witness(Protocol):
    @property
    def where(self) -> str:
        """Where the heads are kept, for messages."""
        ...

    def publish(self, head: WitnessedHead) -> None:
        """Append ``head`` unless the witness already holds one at least as large."""
        ...

    def latest(self) -> WitnessedHead | None:
        """The newest head published, or None when none was."""
        ...


class DirectoryWitness:
    """``<directory>/tree-heads.jsonl``, one head per line, only ever appended to.

    The directory belongs on another mount or host than the database (see docs/kernel.md); the
    file can be made append-only there (``chattr +a``) or copied on by ``rsync --append``.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / WITNESS_FILE

    @property
    def where(self) -> str:
        return str(self.path)

    def publish(self, head: WitnessedHead) -> None:
        latest = self.latest()
        if latest is not None and latest.tree_size >= head.tree_size:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            line = head.to_json() + "\n"
            if not self._ends_with_newline():
                line = "\n" + line  # a line torn by a crash stays on its own
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return True
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def latest(self) -> WitnessedHead | None:
        try:
            with self.path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                end = f.tell()
                f.seek(max(0, end - _TAIL_BYTES))
                tail = f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WitnessError(f"the witness {self.where} cannot be read: {exc}") from exc
        lines = tail.split(b"\n")
        complete = lines[:-1]  # what follows the last newline is a line still being written
        if len(tail) < end:
            complete = complete[1:]  # the first line read may be cut
        for line in reversed(complete):
            if line.strip():
                try:
                    text = line.decode()
                except UnicodeDecodeError as exc:
                    raise WitnessError(f"the witness {self.where} is not text") from exc
                return WitnessedHead.from_json(text, f"the last line of {self.where}")
        return None


async def _ignore(_exc: Exception) -> None:
    """Connection errors are raised as ``WitnessError``; nats-py need not log them as well."""


class NatsWitness:
    """A JetStream stream of its own, created with deletes and purges denied, so that a head once
    published cannot be taken back through the NATS API."""

    def __init__(self, url: str, stream: str) -> None:
        self.url = url
        self.stream = stream
        self.subject = f"{stream.lower()}.heads"

    @property
    def where(self) -> str:
        return f"the JetStream stream {self.stream} at {self.url.split('@')[-1]}"

    def _run(self, work: Any) -> Any:
        async def main() -> Any:
            import nats

            try:
                nc = await asyncio.wait_for(
                    nats.connect(
                        self.url,
                        connect_timeout=5,
                        max_reconnect_attempts=1,
                        reconnect_time_wait=0.5,
                        error_cb=_ignore,
                    ),
                    15,
                )
            except Exception as exc:
                raise WitnessError(f"{self.where} cannot be reached: {exc}") from exc
            try:
                return await work(nc.jetstream())
            finally:
                await nc.close()

        return asyncio.run(main())

    async def _ensure_stream(self, js: Any) -> None:
        import nats.js.errors
        from nats.js.api import StreamConfig

        try:
            await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[self.subject],
                    deny_delete=True,
                    deny_purge=True,
                )
            )

    def publish(self, head: WitnessedHead) -> None:
        async def work(js: Any) -> None:
            await self._ensure_stream(js)
            latest = await self._latest(js)
            if latest is not None and latest.tree_size >= head.tree_size:
                return
            await js.publish(
                self.subject,
                head.to_json().encode(),
                headers={"Nats-Msg-Id": f"sth-{head.tree_size}-{head.root_hash.hex()[:16]}"},
            )

        self._run(work)

    async def _latest(self, js: Any) -> WitnessedHead | None:
        import nats.js.errors

        try:
            msg = await js.get_last_msg(self.stream, self.subject)
        except nats.js.errors.NotFoundError:
            return None
        return WitnessedHead.from_json(msg.data.decode(), f"the last message of {self.where}")

    def latest(self) -> WitnessedHead | None:
        result: WitnessedHead | None = self._run(self._latest)
        return result


def witness_for(settings: Settings) -> Witness:
    """The witness ``ledger.witness`` names (see ``LedgerSettings.witness``)."""
    where = settings.ledger.witness.strip()
    if where == "nats" or where.startswith(("nats://", "tls://")):
        url = settings.bus_url if where == "nats" else where
        return NatsWitness(url, f"{settings.bus.stream}_LEDGER_WITNESS")
    if not where:
        return DirectoryWitness(settings.home / "ledger-witness")
    return DirectoryWitness(Path(where.removeprefix("file://")).expanduser())
