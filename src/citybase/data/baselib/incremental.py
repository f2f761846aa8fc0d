"""Linking new rows against a kept model (增量关联): no training, no re-linking of what is linked.

No database of the platform is touched here (as in ``linkage.py``): the caller finds the
existing records that share a blocking key with the new ones (``block_keys``), gives their
names' term frequencies, and places the scored pairs into the existing files.

How an increment goes (as splink's users run it in production):

1. the new rows are prepared as a full run prepares them;
2. the existing records compared with them are only those sharing at least one blocking key
   (each key is an equality of one of the readable blocking rules: ``l.id18 = r.id18`` gives
   ``id:<id18>`` …), found through an index, so the work grows with the new rows, not with the
   library;
3. splink scores them with the model the last full run kept (``predict_between`` new ×
   existing, ``predict_within`` new × new), the blocking rules applying exactly as in a run;
4. ``place`` puts each new row into a file: the existing files are fixed points, a new row
   joins the file of the records it matches, several files it bridges are merged (unless a
   steward split them), and rows matching no file start one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from citybase.data.baselib import linkage
from citybase.data.baselib.linkage import Kind, ScoredPair

KEY_LENGTH = 120
TF_PREFIX = "tf:"
# the column a kind's term-frequency adjustment is made on (the name, for common names)
TF_COLUMN = {Kind.person: "name", Kind.enterprise: "ename"}
# each blocking rule's equalities, as (prefix, columns): a record's key for it; the last person
# rule (a name by sound where an ID is missing or a typo away) is found by its name's sound
BLOCK_KEYS: dict[Kind, tuple[tuple[str, tuple[str, ...]], ...]] = {
    Kind.person: (
        ("id", ("id18",)), ("nb", ("name_py", "birth")), ("m", ("mobile",)),
        ("bs", ("birth", "addr_street")), ("sn", ("surname", "addr_number")),
        ("n", ("name_py",)),
    ),
    Kind.enterprise: (
        ("c", ("credit",)), ("o", ("org_code",)), ("k", ("core",)),
        ("rd", ("rep_py", "addr_district")),
    ),
}  # fmt: skip


def fingerprint(unit_code: str, values: dict[str, Any]) -> str:
    """A row's content hash: the same values from the same unit are the same record."""
    text = json.dumps([unit_code, values], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _key(prefix: str, parts: Iterable[str]) -> str:
    return f"{prefix}:{'|'.join(parts)}"[:KEY_LENGTH]


def block_keys(kind: Kind, record: dict[str, Any]) -> list[str]:
    """The record's blocking keys: two records a blocking rule would compare share one."""
    out = []
    for prefix, columns in BLOCK_KEYS[kind]:
        parts = [record.get(c) for c in columns]
        if all(parts):
            out.append(_key(prefix, [str(p) for p in parts]))
    return out


def tf_key(kind: Kind, record: dict[str, Any]) -> str | None:
    value = record.get(TF_COLUMN[kind])
    return _key(TF_PREFIX.rstrip(":"), [str(value)]) if value else None


def keys_of(kind: Kind, record: dict[str, Any]) -> list[str]:
    """Every key a linked record is indexed by: its blocking keys and its term-frequency key."""
    tf = tf_key(kind, record)
    return [*block_keys(kind, record), *([tf] if tf else [])]


def _table(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    arrays = {c: pa.array([r.get(c) for r in rows], type=pa.string()) for c in columns}
    return pa.table(arrays)


def score_new(
    kind: Kind,
    kept: dict[str, Any],
    existing: list[dict[str, Any]],
    new: list[dict[str, Any]],
    term_frequency: dict[str, float],
    *,
    threshold_probability: float,
) -> list[ScoredPair]:
    """Score the new records against the existing ones and among themselves with the kept
    model (splink's ``predict_between`` and ``predict_within``); pairs at or above the
    threshold. ``term_frequency`` gives each name's share of the library's records."""
    import duckdb
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.WARNING)
    if not new:
        return []
    tf_column = TF_COLUMN[kind]
    columns = list(new[0])
    con = duckdb.connect()
    db_api = DuckDBAPI(con)
    tables = {}
    # the table names are constants: nothing here comes from a record
    copy = {"new_records": "CREATE TABLE new_records AS SELECT * FROM new_records_arrow",
            "existing_records": "CREATE TABLE existing_records AS SELECT * FROM "
                                "existing_records_arrow"}  # fmt: skip
    for name, rows in (("new_records", new), ("existing_records", existing)):
        if rows:
            con.register(f"{name}_arrow", _table(rows, columns))
            con.execute(copy[name])
            tables[name] = db_api.register(name)
    # the kept settings were validated when the model was trained
    linker = Linker(tables["new_records"], kept, log_level=logging.WARNING, validate_settings=False)
    # the library's term frequencies, not the few records compared here
    con.register("tf_arrow", _tf_table(tf_column, term_frequency))
    con.execute("CREATE TABLE tf_lookup AS SELECT * FROM tf_arrow")
    linker.table_management.register_term_frequency_lookup(db_api.register("tf_lookup"), tf_column)
    model = linkage.summary_of(kept)
    found = linker.inference.predict_within(
        tables["new_records"], threshold_match_probability=threshold_probability,
        warning_mode="never",
    )  # fmt: skip
    pairs = linkage.scored_pairs(found.as_duckdbpyrelation(), model)
    if "existing_records" in tables:
        between = linker.inference.predict_between(
            tables["existing_records"], tables["new_records"],
            threshold_match_probability=threshold_probability, warning_mode="never",
        )  # fmt: skip
        pairs += linkage.scored_pairs(between.as_duckdbpyrelation(), model)
    con.close()
    return pairs


def _tf_table(column: str, term_frequency: dict[str, float]) -> Any:
    import pyarrow as pa

    return pa.table({
        column: pa.array(list(term_frequency), type=pa.string()),
        f"tf_{column}": pa.array(list(term_frequency.values()), type=pa.float64()),
    })  # fmt: skip


# --- placing new rows into the files ---------------------------------------------------------------


ENTITY = "\x00entity:"  # a node standing for an existing file (no record uid starts so)


@dataclass
class Placement:
    """Where an increment puts its rows: each new row's file (an existing one, or a new group
    to be given one), and the files merged into another because a new row bridged them."""

    entity_of: dict[str, int] = field(default_factory=dict)  # new uid → existing file
    new_groups: list[list[str]] = field(default_factory=list)  # rows that start a file together
    merged: list[tuple[int, int]] = field(default_factory=list)  # (kept, merged into it)


def place(
    new_uids: Sequence[str],
    pairs: Iterable[ScoredPair],
    entity_of_existing: dict[str, int],
    records_of: dict[int, int],
    threshold: float,
    *,
    confirmed: Iterable[tuple[str, str]] = (),
    split: Iterable[tuple[str, str]] = (),
) -> Placement:
    """Join each new row to the files of the records it matches (at or above ``threshold``,
    strongest first), with the stewards' decisions: a confirmed pair is joined, a split pair
    never ends in one file, even through a third record. Existing files are never split; two
    bridged by a new row are merged into the one with more records (``records_of``)."""
    new_set = set(new_uids)

    def node(uid: str) -> str | None:
        if uid in new_set:
            return uid
        entity = entity_of_existing.get(uid)
        return None if entity is None else f"{ENTITY}{entity:012d}"

    def mapped(decisions: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for a, b in decisions:
            na, nb = node(a), node(b)
            if na and nb and na != nb:
                out.append((na, nb))
        return out

    mapped_pairs = []
    for p in pairs:
        na, nb = node(p.left), node(p.right)
        if na and nb and na != nb and (na in new_set or nb in new_set):
            mapped_pairs.append(ScoredPair(na, nb, p.probability, p.weight, p.weights, p.levels))
    nodes = set(new_set)
    for p in mapped_pairs:
        nodes.update((p.left, p.right))
    decisions_split = mapped(split)
    nodes.update(n for pair in decisions_split for n in pair if n.startswith(ENTITY))
    assignment = linkage.cluster(
        nodes, mapped_pairs, threshold,
        confirmed=[d for d in mapped(confirmed) if d[0] in new_set or d[1] in new_set],
        split=decisions_split,
    )  # fmt: skip
    groups: dict[str, list[str]] = defaultdict(list)
    for n, root in assignment.items():
        groups[root].append(n)
    out = Placement()
    for members in groups.values():
        entities = sorted(
            (int(n[len(ENTITY) :]) for n in members if n.startswith(ENTITY)),
            key=lambda e: (-records_of.get(e, 0), e),
        )
        rows = sorted(n for n in members if n in new_set)
        if not entities:
            out.new_groups.append(rows)
            continue
        keep = entities[0]
        out.merged.extend((keep, gone) for gone in entities[1:])
        out.entity_of.update(dict.fromkeys(rows, keep))
    return out
