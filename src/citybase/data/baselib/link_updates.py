"""Keeping the base libraries up to date as rows are stored (增量关联), from the bus.

A load of a source resource publishes ``RowsLoaded``; the consumer stores a job
(``tasks.py``), and the job calls ``link_rows_of``: the resource's rows are compared with what its links hold (each link
keeps its row's content hash), and only the new and changed rows are linked — against the
model the last full run kept (no training) and the existing files (no re-linking of what is
linked). A row whose content moved to another row number keeps its file; a row gone leaves
its file. The files touched get their golden fields chosen anew, the unsure pairs go to the
review queue, and the run is on the ledger with the files it created, merged and changed.
Stewards' decisions bind it as they bind a full run.
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, Forbidden
from citybase.core.identity import service as identity
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import golden, incremental, linkage, repository, service
from citybase.data.baselib.linkage import Kind, ScoredPair
from citybase.data.baselib.models import BaseEntity, EntityLink, LinkRun, ReviewItem
from citybase.data.baselib.schemas import ReviewStatus, RunRead
from citybase.data.catalog import service as catalog
from citybase.data.datastore import service as datastore
from citybase.data.masking import operators as ops


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while an increment runs: it makes tens of thousands of
    short-lived objects (rows, ORM instances, pairs) and no cycles worth collecting, and the
    collector, walking every object the process holds each time, took a fifth of the time
    (measured: 1.36 s of 6.08 s). Restored as it was, whatever happens."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def link_rows_of(
    session: Session, kind: Kind, code: str, settings: BaselibSettings, keys: ops.Keys,
    *, unit_code: str, event_id: str = "",
) -> RunRead | None:  # fmt: skip
    """Link the new and changed rows of resource ``code`` into the kind's files. None when
    there is nothing to do: no full run has kept a model yet, or the rows are as linked (a
    replayed event changes nothing). Acts for whoever made the last full run, if still a
    steward. ``unit_code`` is the unit the load came from: it must provide the resource."""
    with _without_cycle_collection():
        return _link_rows_of(session, kind, code, settings, keys, unit_code=unit_code,
                             event_id=event_id)  # fmt: skip


def _link_rows_of(
    session: Session, kind: Kind, code: str, settings: BaselibSettings, keys: ops.Keys,
    *, unit_code: str, event_id: str,
) -> RunRead | None:  # fmt: skip
    resource = catalog.get_resource(session, code)
    if resource.provider_unit_code != unit_code:
        raise Forbidden(f"{code} is provided by another unit: {unit_code} cannot link its rows",
                        field="code")  # fmt: skip
    kept_run = repository.last_run(session, kind.value)
    if kept_run is None or not kept_run.model.get("kept"):
        return None
    try:
        principal = identity.principal_for(session, kept_run.run_by)
    except CitybaseError:
        return None
    if not service.is_steward(principal, settings):
        return None
    started = time.perf_counter()
    source = next((s for s in service.sources_of(session, kind) if s.resource.code == code), None)
    rows = service.rows_of(session, source) if source else []
    current = {r.record.uid: r for r in rows}
    printed = {
        uid: incremental.fingerprint(r.record.unit_code, r.raw) for uid, r in current.items()
    }
    # the links' marks only (not their values): most rows of a load are unchanged
    old = {m.record_uid: m for m in repository.link_marks(session, kind.value, code)}
    unchanged = {uid for uid, fp in printed.items() if uid in old and old[uid].fingerprint == fp}
    free: dict[str, list[repository.LinkMark]] = defaultdict(list)
    for uid, mark in old.items():
        if uid not in unchanged:
            free[mark.fingerprint].append(mark)
    moved_from: dict[str, str] = {}  # new uid → the row its content had before
    for uid, fp in printed.items():
        if uid not in unchanged and free.get(fp):
            moved_from[uid] = free[fp].pop().record_uid
    to_link = [uid for uid in current if uid not in unchanged and uid not in moved_from]
    gone = [mark for marks in free.values() for mark in marks]
    if not to_link and not moved_from and not gone:
        return None
    full = {link.record_uid: link for link in repository.links_by_uids(
        session, kind.value, moved_from.values())} if moved_from else {}  # fmt: skip
    moved = {uid: full[before] for uid, before in moved_from.items()}

    run = LinkRun(
        kind=kind.value, started_at=datetime.now(UTC), run_by=principal.username,
        match_threshold=settings.match_threshold, review_threshold=settings.review_threshold,
        incremental=True, resources=[code],
    )  # fmt: skip
    repository.add(session, run)
    touched = {link.entity_id for link in old.values() if link.record_uid not in unchanged}
    relinked = [uid for uid in old if uid not in unchanged]
    _rekey_reviews(session, kind, {link.record_uid: uid for uid, link in moved.items()})
    repository.delete_open_reviews_of(
        session, kind.value, [*to_link, *(g.record_uid for g in gone)]
    )
    repository.delete_links_by_uids(session, kind.value, relinked)
    session.flush()
    kept_links = [_moved(link, current[uid], run) for uid, link in moved.items()]
    repository.add_all(session, kept_links)
    repository.add_keys(session, kind.value, {
        link.record_uid: incremental.keys_of(kind, link.prepared) for link in kept_links
    })  # fmt: skip

    regions = service.region_index(session)
    linking = time.perf_counter()
    prepared = linkage.prepare(kind, [current[uid].record for uid in to_link], regions)
    pairs, candidates = _score(session, kind, kept_run.model["kept"], prepared, settings)
    decided = repository.all_reviews(session, kind.value)
    entity_of = {link.record_uid: link.entity_id for link in candidates}
    decided_uids = {u for d in decided if d.status != ReviewStatus.open
                    for u in (d.left_uid, d.right_uid)} - set(to_link) - set(entity_of)  # fmt: skip
    entity_of.update(
        (link.record_uid, link.entity_id)
        for link in repository.links_by_uids(session, kind.value, decided_uids)
    )
    records_of = {
        e.id: e.records for e in repository.entities_by_ids(session, set(entity_of.values()))
    }
    placed = incremental.place(
        to_link, pairs, entity_of, records_of, settings.match_threshold,
        confirmed=[(d.left_uid, d.right_uid) for d in decided if d.status == ReviewStatus.confirmed],
        split=[(d.left_uid, d.right_uid) for d in decided if d.status == ReviewStatus.apart],
    )  # fmt: skip
    placed_in = time.perf_counter() - linking

    merged_into: dict[int, int] = {}
    for keep, merged in placed.merged:
        merged_into[merged] = keep
        repository.move_links(session, merged, keep)
    final = dict(placed.entity_of)
    groups = _reuse_files(session, placed.new_groups, old, final, merged_into)
    created = [BaseEntity(kind=kind.value, subject="", records=len(g), run_id=run.id)
               for g, reused in groups if reused is None]  # fmt: skip
    repository.add_all(session, created)
    fresh = iter(created)
    for group, reused in groups:
        final.update(dict.fromkeys(group, reused if reused is not None else next(fresh).id))

    def file_of(uid: str) -> int | None:
        if uid in final:
            return final[uid]
        entity = entity_of.get(uid)
        return merged_into.get(entity, entity) if entity is not None else None

    prepared_of = {p["unique_id"]: p for p in prepared}
    best: dict[str, ScoredPair] = {}
    for pair in pairs:
        if file_of(pair.left) is None or file_of(pair.left) != file_of(pair.right):
            continue
        for uid in (pair.left, pair.right):
            if uid in final and (uid not in best or pair.probability > best[uid].probability):
                best[uid] = pair
    new_links = []
    for uid in to_link:
        row, strongest = current[uid], best.get(uid)
        new_links.append(dict(
            kind=kind.value, record_uid=uid, resource_code=code, row_no=row.row_no,
            unit_code=row.record.unit_code, entity_id=final[uid],
            partner_uid=(
                (strongest.right if strongest.left == uid else strongest.left) if strongest else ""
            ),
            probability=strongest.probability if strongest else None,
            weights=strongest.weights if strongest else {},
            levels=strongest.levels if strongest else {}, run_id=run.id,
            fingerprint=printed[uid], raw=row.raw, prepared=prepared_of[uid],
        ))  # fmt: skip
    repository.insert_links(session, new_links)
    repository.add_keys(session, kind.value, {
        uid: incremental.keys_of(kind, p) for uid, p in prepared_of.items()
    })  # fmt: skip

    touched |= set(final.values()) | set(merged_into) | set(merged_into.values())
    touched |= {link.entity_id for link in kept_links}
    kept = _choose_golden(session, principal, kind, touched, settings, keys, regions)
    conflicts = kept.conflicts
    reviews = _queue(session, kind, pairs, file_of, decided, settings, run)

    run.finished_at = datetime.now(UTC)
    run.records, run.pairs, run.entities = len(to_link), len(pairs), len(created)
    run.reviews, run.conflicts = reviews, conflicts
    changed = sorted(touched - {e.id for e in created} - set(merged_into))
    run.model = {
        "kept_run": kept_run.id, "event": event_id, "unchanged": len(unchanged),
        "linked": len(to_link), "moved": len(moved), "removed": len(gone),
        "candidates": len(candidates), "created": [e.id for e in created],
        "merged": [[keep, merged] for keep, merged in placed.merged], "changed": changed,
        "seconds": round(time.perf_counter() - started, 3),
        # preparing the new rows, finding the records to compare, scoring, placing
        "seconds_linking": round(placed_in, 3),
        "reads": service.trace_reads(session, principal, run, rows, settings),
        "disputes": kept.disputes,
    }  # fmt: skip
    session.flush()
    seq = ledger.record(
        session, actor_of(principal), "baselib.link.incremental", object_type="base_library",
        object_id=kind.value, reason="基础库增量关联",
        details={"run": run.id, "resource": code, "event": event_id, "kept_run": kept_run.id,
                 "linked": len(to_link), "moved": len(moved), "removed": len(gone),
                 "created": run.model["created"], "merged": run.model["merged"],
                 "changed": changed, "reviews": reviews, "conflicts": conflicts},
    )  # fmt: skip
    run.model = {**run.model, "ledger": seq}
    session.flush()
    return RunRead.model_validate(run)


def _reuse_files(
    session: Session, new_groups: list[list[str]], old: dict[str, repository.LinkMark],
    placed: dict[str, int], merged_into: dict[int, int],
) -> list[tuple[list[str], int | None]]:  # fmt: skip
    """Each group of rows that starts a file, with the file it keeps: a changed row that was
    its file's only row keeps that file's id (a person whose phone changed is the same file),
    unless the file is still in use."""
    former = {uid: old[uid].entity_id for group in new_groups for uid in group if uid in old}
    in_use = {
        link.entity_id for link in repository.links_of_entities(session, set(former.values()))
    }
    in_use |= set(placed.values()) | set(merged_into) | set(merged_into.values())
    out: list[tuple[list[str], int | None]] = []
    for group in new_groups:
        reused = next((former[u] for u in group if u in former and former[u] not in in_use), None)
        if reused is not None:
            in_use.add(reused)
        out.append((group, reused))
    return out


def _moved(link: EntityLink, row: service.Row, run: LinkRun) -> EntityLink:
    """The link of a row whose content is now at another row number: same file, same pair."""
    return EntityLink(
        kind=link.kind, record_uid=row.record.uid, resource_code=link.resource_code,
        row_no=row.row_no, unit_code=link.unit_code, entity_id=link.entity_id,
        partner_uid=link.partner_uid, probability=link.probability, weights=link.weights,
        levels=link.levels, run_id=run.id, fingerprint=link.fingerprint, raw=row.raw,
        prepared={**link.prepared, "unique_id": row.record.uid},
    )  # fmt: skip


def _rekey_reviews(session: Session, kind: Kind, renamed: dict[str, str]) -> None:
    """Decisions follow a row whose content moved to another row number."""
    if not renamed:
        return
    for item in repository.all_reviews(session, kind.value):
        left, right = (
            renamed.get(item.left_uid, item.left_uid),
            renamed.get(item.right_uid, item.right_uid),
        )
        if (left, right) != (item.left_uid, item.right_uid):
            item.left_uid, item.right_uid = sorted((left, right))
    session.flush()


def _score(
    session: Session, kind: Kind, kept: dict[str, Any], prepared: list[dict[str, Any]],
    settings: BaselibSettings,
) -> tuple[list[ScoredPair], list[repository.LinkValues]]:  # fmt: skip
    """The new records' pairs (among themselves and with the existing records sharing one of
    their blocking keys), scored with the kept model and the library's term frequencies."""
    if not prepared:
        return [], []
    wanted = {k for p in prepared for k in incremental.block_keys(kind, p)}
    uids = repository.uids_by_keys(session, kind.value, wanted)
    candidates = [link for link in repository.link_values_by_uids(session, kind.value, uids)
                  if link.prepared]  # fmt: skip
    existing = [link.prepared for link in candidates]
    tf_keys = {incremental.tf_key(kind, p) for p in [*prepared, *existing]} - {None}
    counts = repository.key_counts(session, kind.value, {k for k in tf_keys if k})
    total = repository.count_keys_starting(session, kind.value, incremental.TF_PREFIX)
    column = incremental.TF_COLUMN[kind]
    term_frequency: dict[str, float] = {}
    for p in [*prepared, *existing]:
        key = incremental.tf_key(kind, p)
        if key and p.get(column):  # a name new to the library counts once
            term_frequency[str(p[column])] = (counts.get(key, 0) + 1) / (total + len(prepared))
    pairs = incremental.score_new(
        kind, kept, existing, prepared, term_frequency,
        threshold_probability=settings.review_threshold,
    )  # fmt: skip
    return pairs, candidates


def _choose_golden(
    session: Session, principal: Any, kind: Kind, entity_ids: set[int],
    settings: BaselibSettings, keys: ops.Keys, regions: Any,
) -> golden.Kept:  # fmt: skip
    """The touched files' golden fields, chosen anew from every row they now hold."""
    links = repository.link_values_of_entities(session, entity_ids)
    sources = {s.resource.code: s for s in service.sources_of(session, kind)}
    loaded = datastore.tables_of(session, sorted({link.resource_code for link in links}))
    clusters: dict[str, list[str]] = defaultdict(list)
    by_uid: dict[str, service.Row] = {}
    for link in links:
        source, table = sources.get(link.resource_code), loaded.get(link.resource_code)
        if source is None or table is None:
            continue
        by_uid[link.record_uid] = service.row_of(source, link.row_no, link.raw, table.loaded_at)
        clusters[str(link.entity_id)].append(link.record_uid)
    return golden.keep_golden(
        session, principal, kind, clusters, {root: int(root) for root in clusters}, by_uid,
        regions, settings, keys, 5, only=entity_ids,
    )  # fmt: skip


def _queue(
    session: Session, kind: Kind, pairs: list[ScoredPair], file_of: Any,
    decided: list[ReviewItem], settings: BaselibSettings, run: LinkRun,
) -> int:  # fmt: skip
    """The new rows' unsure pairs left in two files go to the stewards (never a decided one)."""
    known = {(d.left_uid, d.right_uid) for d in decided}
    items = []
    for pair in sorted(pairs, key=lambda p: -p.probability):
        if (pair.left, pair.right) in known or pair.probability < settings.review_threshold:
            continue
        if file_of(pair.left) == file_of(pair.right):
            continue
        known.add((pair.left, pair.right))
        items.append(ReviewItem(
            kind=kind.value, left_uid=pair.left, right_uid=pair.right,
            probability=pair.probability, weight=pair.weight, weights=pair.weights,
            levels=pair.levels, status=ReviewStatus.open.value, run_id=run.id,
        ))  # fmt: skip
        if len(items) >= service.MAX_REVIEWS:
            break
    repository.add_all(session, items)
    return len(items)
