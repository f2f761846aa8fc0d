"""Request bodies past their limits: the server's memory when it is sent a 100 MB readings body
and an NGSI-LD batch of a million entities, against its memory after small valid requests.

    python bench/bodies_bench.py [--megabytes 100] [--entities 1000000] [--unlimited]

The app is served by uvicorn in a process of its own (SQLite; the limits are Settings'
defaults). A raw socket client sends each body in 1 MB pieces and stops as soon as the server
answers, so "sent" is what the server let in (the kernel's socket buffers included) before
refusing. Each body is sent twice: with its Content-Length (refused before a byte is read) and
chunked without one (counted as it arrives).

1. **Reference.** A valid readings batch of 100 readings and a valid NGSI-LD upsert of 100
   entities, each sent 20 times; the server's peak resident memory (VmHWM) after them.
2. **Oversized.** The 100 MB readings body and the million-entity batch; the server's peak
   resident memory after all four, and its ratio to the reference.
3. **Without the limit** (``--unlimited``): the batch limit raised to 1,000 MB and the 100 MB
   readings body sent once with its length, read and parsed whole — what the limit spares.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import Served, open_db
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate, Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.demo.seed import DEMO_FILE
from citybase.perception.devices import service as devices
from citybase.perception.devices.schemas import AttributeSpec, DeviceIn, DeviceTypeIn

SYSTEM = Actor.system("bench")
PIECE = 1_000_000


def setup(db_url: str, home: Path) -> str:
    from citybase.core.db.engine import Database

    db = Database(db_url)
    settings = Settings(home=home, database_url=db_url)
    with db.session_scope() as s:
        orgs.import_orgs(s, SYSTEM, DEMO_FILE.name, DEMO_FILE.read_bytes())
        devices.put_type(s, SYSTEM, DeviceTypeIn(code="gauge", name="gauge", attributes=[
            AttributeSpec(name="level", min=0, max=15)]))  # fmt: skip
        devices.put_device(s, None, SYSTEM, DeviceIn(device_id="g0001", type_code="gauge",
                                                     owner_unit="fz.water"))  # fmt: skip
        identity.create_user(s, None, UserCreate(
            username="admin", display_name="admin", password="bench-password-1",  # noqa: S106 -- a throwaway database
            roles=[Role.platform_admin]), actor=SYSTEM)  # fmt: skip
        key = identity.create_api_key(s, settings, identity.principal_for(s, "admin"),
                                      ApiKeyCreate(name="bench"))  # fmt: skip
    db.dispose()
    return key.secret


def readings(n: int) -> bytes:
    one = {"device_id": "g0001", "ts": "2026-12-01T08:00:00+08:00", "values": {"level": 2.5}}
    return json.dumps([one] * n).encode()


def entities(n: int, first: int = 0) -> bytes:
    return b"[" + b",".join(
        b'{"id":"urn:ngsi-ld:Bench:%07d","type":"Bench","n":{"type":"Property","value":%d}}'
        % (i, i) for i in range(first, first + n)
    ) + b"]"  # fmt: skip


def send(url: str, path: str, key: str, body: bytes, *, chunked: bool) -> tuple[int, int, float]:
    """POST ``body`` in pieces over a raw socket; stop when the server answers. Returns the
    status, the bytes sent before the answer, and the seconds until it."""
    where = urlparse(url)
    start = time.perf_counter()
    with socket.create_connection((where.hostname, where.port)) as sock:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {where.netloc}\r\nAuthorization: Bearer "
                     f"{key}\r\nContent-Type: application/json\r\n{length}\r\n"
                     "Connection: close\r\n\r\n".encode())  # fmt: skip
        sent = 0
        for at in range(0, len(body), PIECE):
            if select.select([sock], [], [], 0)[0]:
                break  # answered
            piece = body[at : at + PIECE]
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1]), sent, time.perf_counter() - start


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--unlimited", action="store_true")
    args = parser.parse_args()
    if args.unlimited:
        os.environ["CITYBASE_WEB__MAX_BATCH_MEGABYTES"] = "1000"
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db("sqlite", Path(tmp))
        key = setup(db.url, Path(tmp) / "home")
        server = Served(Path(tmp) / "home", db.url)
        try:
            pid = server.process.pid
            small_readings, small_batch = readings(100), entities(100)
            for n in range(20):
                for path, body in (("/api/v1/perception/readings", small_readings),
                                   ("/ngsi-ld/v1/entityOperations/upsert", small_batch)):  # fmt: skip
                    status, _, _ = send(server.url, path, key, body, chunked=n % 2 == 1)
                    assert status in (200, 201, 204), (path, status)
            reference = status_mb(pid, "VmHWM")
            print(f"reference: small valid requests ({len(small_readings):,} B of readings, "
                  f"{len(small_batch):,} B NGSI-LD batch), 40 of each: server peak "
                  f"{reference:.0f} MB")  # fmt: skip
            one_reading = len(readings(1)) - 2
            big_readings = readings(args.megabytes * 1_000_000 // (one_reading + 2))
            big_batch = entities(args.entities)
            cases = (("readings", "/api/v1/perception/readings", big_readings),
                     (f"{args.entities:,} entities", "/ngsi-ld/v1/entityOperations/upsert",
                      big_batch))  # fmt: skip
            for name, path, body in cases[:1] if args.unlimited else cases:
                for chunked in (False,) if args.unlimited else (False, True):
                    status, sent, seconds = send(server.url, path, key, body, chunked=chunked)
                    how = "chunked, no length" if chunked else "with Content-Length"
                    print(f"{name} ({len(body) / 1e6:.0f} MB, {how}): {status} after "
                          f"{sent / 1e6:.1f} MB sent, {seconds * 1000:.0f} ms; server now "
                          f"{status_mb(pid, 'VmRSS'):.0f} MB, peak {status_mb(pid, 'VmHWM'):.0f} MB")  # fmt: skip
            peak = status_mb(pid, "VmHWM")
            print(
                f"server peak after the oversized bodies: {peak:.0f} MB; "
                f"ratio to the reference: {peak / reference:.2f}"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
