"""Ledger benchmark: append rate against plain inserts of the same rows, and proof time.

    python bench/ledger_bench.py [--backend sqlite|postgresql] [--entries 1000000]

1. Appends: N entries through ``ledger.record_many`` (hash chain, leaf hash, Merkle nodes) in
   transactions of 1,000, against inserting the very same rows (same columns, same values, hashes
   included) into a plain table of the same shape in the same database, also by 1,000.
   Then the same with one entry per ``record`` call, as a request appends it.
2. Proofs: the ledger is filled to ``--entries`` and random inclusion proofs, consistency proofs
   and tree roots are timed. Aim: a proof in < 5 ms at 1,000,000 entries.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, create_engine, insert, text

from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.ledger import service
from citybase.core.ledger.models import LedgerEntry
from citybase.core.ledger.schemas import Actor

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
BENCH_DATABASE = "citybase_bench"  # its own database: the benchmark never touches the tests'


def fresh_database(backend: str, workdir: Path) -> Database:
    if backend == "sqlite":
        db = Database(f"sqlite:///{workdir / 'bench.db'}")
    else:
        admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}"))
            c.execute(text(f"CREATE DATABASE {BENCH_DATABASE}"))
        admin.dispose()
        db = Database(f"{POSTGRES_SERVER}/{BENCH_DATABASE}")
        with db.engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(db.engine)
    return db


def item(i: int) -> dict[str, object]:
    return {
        "actor": f"user{i % 50}",
        "actor_unit": f"fz.unit{i % 30}",
        "action": "data.access",
        "object_type": "resource",
        "object_id": f"R-{i}",
        "reason": "benchmark",
        "details": {"rows": i % 1000},
    }


def plain_table(db: Database) -> Table:
    """The ledger's columns and indexes, without its triggers or hashing: the reference."""
    plain = Table(
        "bench_plain",
        MetaData(),
        *(
            Column(c.name, c.type, primary_key=c.primary_key, index=bool(c.index))
            for c in LedgerEntry.__table__.columns
        ),
    )
    plain.drop(db.engine, checkfirst=True)
    plain.create(db.engine)
    return plain


def bench_appends(db: Database, n: int, batch: int = 1000) -> tuple[float, float, float]:
    items = [item(i) for i in range(n)]
    start = time.perf_counter()
    for lo in range(0, n, batch):
        with db.session_scope() as session:
            service.record_many(session, items[lo : lo + batch])
    ledger_rate = n / (time.perf_counter() - start)

    with db.session_scope(readonly=True) as session:
        rows = [
            {c.name: getattr(e, c.key) for c in LedgerEntry.__table__.columns}
            for e in session.query(LedgerEntry).order_by(LedgerEntry.seq).limit(n)
        ]
    plain = plain_table(db)
    start = time.perf_counter()
    for lo in range(0, n, batch):
        with db.session_scope() as session:
            session.execute(insert(plain), rows[lo : lo + batch])
    plain_rate = n / (time.perf_counter() - start)

    single = min(n, 2000)
    start = time.perf_counter()
    with db.session_scope() as session:
        for i in range(single):
            service.record(session, Actor("bench", "fz.unit1"), "data.access", object_id=i)
    single_rate = single / (time.perf_counter() - start)
    return ledger_rate, plain_rate, single_rate


def fill(db: Database, target: int, batch: int = 10_000) -> float:
    with db.session_scope(readonly=True) as session:
        have = service.size(session)
    start = time.perf_counter()
    i = have
    while i < target:
        step = min(batch, target - i)
        with db.session_scope() as session:
            service.record_many(session, [item(j) for j in range(i, i + step)])
        i += step
        print(f"\r  filled {i:,} / {target:,}", end="", flush=True)
    print()
    return time.perf_counter() - start


def bench_proofs(db: Database, size: int, samples: int = 1000) -> dict[str, float]:
    rng = random.Random(1)
    timings: dict[str, list[float]] = {"inclusion": [], "consistency": [], "root": []}
    with db.session_scope(readonly=True) as session:
        root = service.root_hash(session, size)
        for _ in range(samples):
            index = rng.randrange(size)
            t = time.perf_counter()
            proof = service.inclusion_proof(session, index, size)
            timings["inclusion"].append(time.perf_counter() - t)
            assert service.verify_inclusion(
                index,
                size,
                bytes.fromhex(proof.leaf_hash),
                [bytes.fromhex(h) for h in proof.audit_path],
                root,
            )
        for _ in range(samples // 10):
            first = rng.randint(1, size)
            t = time.perf_counter()
            service.consistency_proof(session, first, size)
            timings["consistency"].append(time.perf_counter() - t)
            t = time.perf_counter()
            service.root_hash(session, rng.randint(1, size))
            timings["root"].append(time.perf_counter() - t)
    return {k: statistics.median(v) * 1000 for k, v in timings.items()} | {
        "inclusion_p99": sorted(timings["inclusion"])[int(len(timings["inclusion"]) * 0.99)] * 1000
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        db = fresh_database(args.backend, Path(workdir))
        print(f"backend: {args.backend}")
        ledger_rate, plain_rate, single_rate = bench_appends(db, args.appends)
        print(f"appends, 1,000 per transaction: {ledger_rate:,.0f}/s")
        print(f"plain inserts of the same rows: {plain_rate:,.0f}/s")
        print(f"ratio ledger / plain:           {ledger_rate / plain_rate:.2f}")
        print(f"appends one by one (record):    {single_rate:,.0f}/s")
        seconds = fill(db, args.entries)
        print(f"filled to {args.entries:,} entries in {seconds:,.0f} s")
        figures = bench_proofs(db, args.entries)
        print(f"inclusion proof at {args.entries:,}: median {figures['inclusion']:.2f} ms, "
              f"p99 {figures['inclusion_p99']:.2f} ms")  # fmt: skip
        print(f"consistency proof: median {figures['consistency']:.2f} ms")
        print(f"root hash of an arbitrary size: median {figures['root']:.2f} ms")
        db.dispose()


if __name__ == "__main__":
    main()
