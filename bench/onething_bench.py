"""One-thing benchmark: assembling and pre-filling the one form of a six-matter item.

    citybase demo --data-dir DIR --no-serve       # once: the demo city, with its applicants
    python bench/onething_bench.py --data-dir DIR [--item after_death] [--user family] [--rounds 50]

On the demo city's database (SQLite, or whatever ``DIR``'s settings name), for the demo's
applicant ``--user`` and the item ``--item`` (身后一件事: six matters of six units, a person's
form), it times ``service.build_form`` — the item read and its stages checked, the fields of
every matter gathered and de-duplicated by data element, the applicant's base-library file read
under its consent through the traced read (ledger entry, access-log row), each shared resource
the item names read through the traced read for the applicant's row, the materials gathered —
each call in its own transaction, rolled back (so the ledger does not grow between rounds).

The reference, in the same run and taking turns call by call, is the bare base-library file
read the form starts with: ``baselib.read_file_under`` for the same applicant under the same
consent basis, in its own transaction, rolled back. Each figure is the median (and p95) of
``--rounds`` after two to warm up. Aim: the form under 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.runtime import load_settings, open_database
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.masking import operators as ops
from citybase.data.sharing.schemas import ReadContext
from citybase.services.onething import repository, service


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--item", default="after_death")
    parser.add_argument("--user", default="family")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    settings = load_settings(args.data_dir)
    db = open_database(settings)
    keys = ops.keys_for(settings.masking_key)
    with db.session_scope(readonly=True) as session:
        principal = identity.principal_for(session, args.user)
        applicant = repository.applicant(session, principal.user_id)
        item = service.get_item(session, args.item)
        if applicant is None:
            print(f"{args.user} is not a registered applicant", file=sys.stderr)
            return 1
        kind, tag = Kind(applicant.kind), applicant.subject_tag
    spec = item.spec
    basis = service.consent_basis(spec, principal)
    ctx = ReadContext(purpose=basis.purpose)

    def form() -> tuple[int, int]:
        with db.engine.connect() as connection:
            outer = connection.begin()
            with Session(bind=connection) as session:
                built = service.build_form(session, principal, args.item, settings, keys)
            outer.rollback()
        return built.prefilled, built.total

    def file_read() -> None:
        with db.engine.connect() as connection:
            outer = connection.begin()
            with Session(bind=connection) as session:
                baselib.read_file_under(session, principal, kind, tag, ctx, keys,
                                        settings.baselib, basis)  # fmt: skip
            outer.rollback()

    for _ in range(2):
        form()
        file_read()
    forms: list[float] = []
    reads: list[float] = []
    shape = (0, 0)
    for _ in range(args.rounds):
        start = time.perf_counter()
        shape = form()
        forms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        file_read()
        reads.append((time.perf_counter() - start) * 1000)

    def p95(values: list[float]) -> float:
        return sorted(values)[max(0, int(len(values) * 0.95) - 1)]

    f_med, r_med = statistics.median(forms), statistics.median(reads)
    print(f"item {spec.code} ({spec.name}): {len(spec.matters)} matters, "
          f"{shape[1]} fields, {shape[0]} pre-filled ({shape[0] / shape[1]:.0%})")  # fmt: skip
    print(f"one form, assembled and pre-filled: median {f_med:.1f} ms, p95 {p95(forms):.1f} ms")
    print(f"reference, the bare file read:      median {r_med:.1f} ms, p95 {p95(reads):.1f} ms")
    print(f"ratio form / file read: {f_med / r_med:.2f}; aim < 200 ms: "
          f"{'met' if p95(forms) < 200 else 'not met'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
