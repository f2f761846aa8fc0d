"""Base libraries (基础库): one file per person (一人一档) and per enterprise (一企一档), linked from
every registered resource whose data items follow the persons' or enterprises' data elements.

- ``link_base_library``: read the rows, link them (``linkage.py``), keep the entities, each
  row's link with its match weights, the review queue, and the golden fields chosen by the
  一数一源 register (the authoritative unit first, then the latest); conflicting values are raised
  as quality disputes to the units that hold them.
- ``decide_review``: a steward confirms or splits a pair; every later run keeps to it.
- ``read_file`` / ``find_file``: a file read through the one traced read
  (``sharing/access.py``): only the fields whose source the reader's unit holds a grant for,
  masked by grade, with a purpose, on the ledger and in the access log with the data subject.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import backends, golden, incremental, linkage, repository
from citybase.data.baselib import comparisons as cmp
from citybase.data.baselib.auth import BASELIB_STEWARD
from citybase.data.baselib.linkage import Kind, SourceRecord
from citybase.data.baselib.models import BaseEntity, EntityLink, LinkRun, ReviewItem
from citybase.data.baselib.schemas import (
    Decision,
    FileField,
    FileRead,
    LinkRead,
    ReviewDecide,
    ReviewRead,
    ReviewStatus,
    RunRead,
)
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead, Status
from citybase.data.datastore import service as datastore
from citybase.data.masking import operators as ops
from citybase.data.sharing import access
from citybase.data.sharing.schemas import Basis, ReadContext

# the stewards keep the files for the city: they read them in the clear, traced, on this basis
KEEPER_BASIS = "基础库管理（基础库数据管理员读取）"
MAX_REVIEWS = 5_000  # open pairs kept per run: a queue longer than this is a threshold to move
FIELD_LABELS = golden.FIELD_LABELS  # each field of a file as the console names it


# --- who may -------------------------------------------------------------------------------------


def is_steward(principal: Principal, settings: BaselibSettings) -> bool:
    """The platform's admins, and the data stewards of the unit that keeps the base libraries."""
    if principal.has_role(Role.platform_admin):
        return True
    return bool(
        settings.steward_unit
        and principal.unit_code == settings.steward_unit
        and principal.can(BASELIB_STEWARD)
    )


def require_steward(principal: Principal, settings: BaselibSettings) -> None:
    if not is_steward(principal, settings):
        raise Forbidden(
            "the base libraries are run by the data stewards of "
            f"{settings.steward_unit or 'the platform'}",
            field="unit",
        )


# --- sources -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    resource: ResourceRead
    fields: dict[str, str]  # item name → library field
    elements: dict[str, str]  # library field → the data element its item follows


def sources_of(session: Session, kind: Kind) -> list[Source]:
    """Registered resources whose items follow the kind's data elements: the key (公民身份号码,
    统一社会信用代码) or the name, and at least one more."""
    mapping = linkage.ELEMENTS[kind]
    found = []
    for resource in catalog.registered_resources(session):
        if resource.status not in (Status.registered, Status.published):
            continue
        fields: dict[str, str] = {}
        elements: dict[str, str] = {}
        for item in resource.items:
            field = mapping.get(item.element) or mapping.get(item.name)
            if field and field not in fields.values():
                fields[item.name] = field
                elements[field] = item.element or item.name
        present = set(fields.values())
        if len(present) >= 2 and ({"name", linkage.KEY_FIELD[kind]} & present):
            if (
                kind is Kind.enterprise
                and "credit_code" not in present
                and "legal_rep" not in present
            ):
                continue  # a name and an address are a person's as well as a firm's
            if kind is Kind.person and "credit_code" in {
                linkage.ENTERPRISE_ELEMENTS.get(i.element or i.name) for i in resource.items
            }:
                # a firm's register naming its legal representative (by name, and by citizen ID
                # too): its address and phone are the firm's, not a resident's
                continue
            found.append(Source(resource, fields, elements))
    return found


def region_index(session: Session) -> cmp.RegionIndex:
    return cmp.RegionIndex(
        cmp.Region(r.code, r.name, r.level.value, r.parent_code or "")
        for r in orgs.list_regions(session)
    )


@dataclass(frozen=True)
class Row:
    record: SourceRecord
    source: Source
    row_no: int
    observed_at: datetime | None
    raw: dict[str, Any]  # field → the value as stored


def read_rows(session: Session, kind: Kind) -> list[Row]:
    return [row for source in sources_of(session, kind) for row in rows_of(session, source)]


def rows_of(session: Session, source: Source) -> list[Row]:
    """A source's rows as records of its library (none if it holds no rows)."""
    code = source.resource.code
    table = datastore.table_of(session, code)
    if table is None:
        return []
    rows = []
    for row_no, cells in datastore.iter_numbered_rows(session, code):
        values = {field: cells.get(item) for item, field in source.fields.items()}
        rows.append(row_of(source, row_no, values, table.loaded_at))
    return rows


def row_of(source: Source, row_no: int, values: dict[str, Any], loaded_at: datetime) -> Row:
    code = source.resource.code
    record = SourceRecord(
        linkage.record_uid(code, row_no), code, source.resource.provider_unit_code, values,
        loaded_at.isoformat(),
    )  # fmt: skip
    return Row(record, source, row_no, loaded_at, values)


# --- the run -------------------------------------------------------------------------------------


def _entity_ids(
    session: Session, kind: Kind, clusters: dict[str, list[str]], old: dict[str, int], run: LinkRun
) -> dict[str, int]:
    """Each cluster's entity: the one most of its rows were linked to before, so that a file
    keeps its id across runs; else a new one."""
    taken: set[int] = set()
    out: dict[str, int] = {}
    fresh: list[tuple[str, BaseEntity]] = []
    for root, members in sorted(clusters.items(), key=lambda kv: -len(kv[1])):
        votes = Counter(old[u] for u in members if u in old)
        pick = next((eid for eid, _ in votes.most_common() if eid not in taken), None)
        if pick is None:
            entity = BaseEntity(kind=kind.value, subject="", records=len(members), run_id=run.id)
            fresh.append((root, entity))
        else:
            taken.add(pick)
            out[root] = pick
    repository.add_all(session, [e for _, e in fresh])
    out.update({root: e.id for root, e in fresh})
    return out


def link_base_library(
    session: Session, principal: Principal, kind: Kind, settings: BaselibSettings,
    keys: ops.Keys, *, dispute_days: int = 5,
) -> RunRead:  # fmt: skip
    """Link every row of the kind's sources into entities, keep the files and the queue."""
    require_steward(principal, settings)
    started = time.perf_counter()
    run = LinkRun(
        kind=kind.value, started_at=datetime.now(UTC), run_by=principal.username,
        match_threshold=settings.match_threshold, review_threshold=settings.review_threshold,
    )  # fmt: skip
    repository.add(session, run)
    regions = region_index(session)
    rows = read_rows(session, kind)
    by_uid = {r.record.uid: r for r in rows}
    prepared = linkage.prepare(kind, [r.record for r in rows], regions)
    prepared_of = {p["unique_id"]: p for p in prepared}
    result = linkage.link(kind, prepared, threshold_probability=settings.review_threshold,
                          backend=backends.from_settings(settings))  # fmt: skip
    decided = repository.all_reviews(session, kind.value)
    confirmed = [(d.left_uid, d.right_uid) for d in decided if d.status == ReviewStatus.confirmed]
    split = [(d.left_uid, d.right_uid) for d in decided if d.status == ReviewStatus.apart]
    assignment = linkage.cluster(by_uid, result.pairs, settings.match_threshold,
                                 confirmed=confirmed, split=split)  # fmt: skip
    clusters: dict[str, list[str]] = defaultdict(list)
    for uid, root in assignment.items():
        clusters[root].append(uid)

    old_links = repository.links(session, kind.value)
    old = {link.record_uid: link.entity_id for link in old_links}
    entity_of_cluster = _entity_ids(session, kind, clusters, old, run)
    best: dict[str, linkage.ScoredPair] = {}
    for pair in result.pairs:
        if assignment.get(pair.left) != assignment.get(pair.right):
            continue
        for uid in (pair.left, pair.right):
            if uid not in best or pair.probability > best[uid].probability:
                best[uid] = pair
    repository.delete_links(session, kind.value)
    session.flush()
    new_links = []
    for uid, root in assignment.items():
        row = by_uid[uid]
        strongest = best.get(uid)
        new_links.append(EntityLink(
            kind=kind.value, record_uid=uid, resource_code=row.record.resource_code,
            row_no=row.row_no, unit_code=row.record.unit_code,
            entity_id=entity_of_cluster[root],
            partner_uid=(
                (strongest.right if strongest.left == uid else strongest.left) if strongest else ""
            ),
            probability=strongest.probability if strongest else None,
            weights=strongest.weights if strongest else {},
            levels=strongest.levels if strongest else {},
            run_id=run.id,
            fingerprint=incremental.fingerprint(row.record.unit_code, row.raw),
            raw=row.raw, prepared=prepared_of[uid],
        ))  # fmt: skip
    repository.add_all(session, new_links)
    repository.add_keys(session, kind.value, {
        uid: incremental.keys_of(kind, p) for uid, p in prepared_of.items()
    })  # fmt: skip

    kept = golden.keep_golden(session, principal, kind, clusters, entity_of_cluster, by_uid,
                              regions, settings, keys, dispute_days)  # fmt: skip
    conflicts = kept.conflicts
    reviews = _queue(session, kind, result.pairs, assignment, decided, settings, run)

    run.finished_at = datetime.now(UTC)
    run.resources = sorted({r.record.resource_code for r in rows})
    run.records, run.pairs, run.entities = len(rows), len(result.pairs), len(clusters)
    run.reviews, run.conflicts = reviews, conflicts
    run.model = {
        "prior": result.model.prior, "comparisons": result.model.comparisons,
        "blocking_rules": result.model.blocking_rules,
        "training_rules": result.model.training_rules, "trained": result.model.trained,
        "notes": result.model.notes, "kept": result.model.kept,
        "seconds": round(time.perf_counter() - started, 2),
        "reads": trace_reads(session, principal, run, rows, settings),
        "disputes": kept.disputes,
    }  # fmt: skip
    session.flush()
    seq = ledger.record(
        session, actor_of(principal), "baselib.link", object_type="base_library",
        object_id=kind.value, reason="基础库关联比对",
        details={"run": run.id, "records": run.records, "entities": run.entities,
                 "reviews": reviews, "conflicts": conflicts, "resources": run.resources},
    )  # fmt: skip
    run.model = {**run.model, "ledger": seq}
    session.flush()
    return RunRead.model_validate(run)


LINK_PURPOSE = "基础库关联比对"


def trace_reads(
    session: Session, principal: Principal, run: LinkRun, rows: list[Row],
    settings: BaselibSettings,
) -> list[dict[str, Any]]:  # fmt: skip
    """A run's reads of its sources, traced: one ledger entry and access-log row per resource
    read, with its rows and fields, on the keepers' basis, its case the run itself. Without
    the data subjects: a full run reads every row of the library (a million subjects per
    read), and the files it makes say whose data they hold. Returns what the run keeps of
    each read (resource, unit, rows, access-log id)."""
    by_source: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_source[row.record.resource_code].append(row)
    basis = KEEPER_BASIS if not principal.has_role(Role.platform_admin) else access.PLATFORM_BASIS
    ctx = ReadContext(purpose=LINK_PURPOSE, case_number=run_case(run))
    reads = []
    for code, read in sorted(by_source.items()):
        resource = read[0].source.resource
        access_id = access.record_read(
            session, principal, what=code, object_type="data_resource",
            action="baselib.link.read", operation="link",
            provider_unit_code=resource.provider_unit_code, legal_basis=basis, ctx=ctx,
            fields=sorted(read[0].source.fields), rows=len(read),
        )  # fmt: skip
        reads.append({"resource_code": code, "unit_code": resource.provider_unit_code,
                      "rows": len(read), "access_id": access_id})  # fmt: skip
    return reads


def run_case(run: LinkRun) -> str:
    """The case a run's reads state (LINK, the day, the run's number): an auditor finds every
    read of one run by it."""
    return f"LINK{run.started_at:%Y%m%d}{run.id:06d}"


def _queue(
    session: Session, kind: Kind, pairs: list[linkage.ScoredPair], assignment: dict[str, str],
    decided: list[ReviewItem], settings: BaselibSettings, run: LinkRun,
) -> int:  # fmt: skip
    """Pairs between the thresholds whose records the run left apart, and pairs above the
    match threshold kept apart by a steward's split elsewhere, go to the queue; decided pairs
    stay decided."""
    repository.delete_open_reviews(session, kind.value)
    session.flush()
    done = {(d.left_uid, d.right_uid) for d in decided if d.status != ReviewStatus.open}
    items = []
    for pair in sorted(pairs, key=lambda p: -p.probability):
        if (pair.left, pair.right) in done or pair.probability < settings.review_threshold:
            continue
        apart = assignment.get(pair.left) != assignment.get(pair.right)
        if pair.probability >= settings.match_threshold and not apart:
            continue
        if not apart and pair.probability < settings.match_threshold:
            continue  # joined through others, confidently: nothing to ask
        items.append(ReviewItem(
            kind=kind.value, left_uid=pair.left, right_uid=pair.right,
            probability=pair.probability, weight=pair.weight, weights=pair.weights,
            levels=pair.levels, status=ReviewStatus.open.value, run_id=run.id,
        ))  # fmt: skip
        if len(items) >= MAX_REVIEWS:
            break
    repository.add_all(session, items)
    return len(items)


# --- the review queue ------------------------------------------------------------------------------


def list_reviews(
    session: Session, principal: Principal, kind: Kind, settings: BaselibSettings,
    status: ReviewStatus | None = ReviewStatus.open,
) -> list[ReviewRead]:  # fmt: skip
    require_steward(principal, settings)
    found = repository.reviews(session, kind.value, status.value if status else None)
    return [ReviewRead.model_validate(r) for r in found]


def decide_review(
    session: Session, principal: Principal, review_id: int, data: ReviewDecide,
    settings: BaselibSettings,
) -> ReviewRead:  # fmt: skip
    """A steward says whether a pair is the same person (enterprise). The decision binds every
    later run: a confirmed pair is joined whatever its score, a split one never."""
    require_steward(principal, settings)
    item = repository.review(session, review_id)
    if item is None:
        raise NotFound(f"no review item {review_id}", field="review")
    if item.status != ReviewStatus.open:
        raise InvalidInput(f"review item {review_id} is already {item.status}", field="status")
    item.status = (
        ReviewStatus.confirmed if data.decision is Decision.confirm else ReviewStatus.apart
    ).value
    item.decided_by, item.decided_at, item.reason = (
        principal.username, datetime.now(UTC), data.reason,
    )  # fmt: skip
    session.flush()
    ledger.record(
        session, actor_of(principal), f"baselib.review.{data.decision.value}",
        object_type="base_library", object_id=item.kind, reason=data.reason,
        details={"review": item.id, "left": item.left_uid, "right": item.right_uid,
                 "probability": round(item.probability, 6)},
    )  # fmt: skip
    return ReviewRead.model_validate(item)


def last_run(
    session: Session, principal: Principal, kind: Kind, settings: BaselibSettings
) -> RunRead | None:
    require_steward(principal, settings)
    run = repository.last_run(session, kind.value)
    return RunRead.model_validate(run) if run else None


def field_of_element(kind: Kind, element: str) -> str | None:
    """The file's field that holds a data element (公民身份号码 → citizen_id), if any."""
    return linkage.ELEMENTS[kind].get(element)


def key_field(kind: Kind) -> str:
    """The file's field by whose number it is found (citizen_id, credit_code)."""
    return linkage.KEY_FIELD[kind]


def subject_tag(kind: Kind, number: str, keys: ops.Keys) -> str:
    """The keyed hash by which every domain finds a person or an enterprise without keeping its
    number; the number is checked (GB 11643 / GB 32100) and normalised first."""
    key = cmp.citizen_id(number) if kind is Kind.person else cmp.credit_code(number)
    valid = cmp.citizen_id_valid(key) if kind is Kind.person else cmp.credit_code_valid(key)
    if not valid:
        what = "citizen ID (GB 11643)" if kind is Kind.person else "credit code (GB 32100)"
        raise InvalidInput(f"not a valid {what}: check its length and check character",
                           field="number")  # fmt: skip
    return ops.subject_tag(key, keys)


def count_files(session: Session, kind: Kind) -> int:
    return repository.count_entities(session, kind.value)


# --- reading a file --------------------------------------------------------------------------------


def read_file(
    session: Session, principal: Principal, kind: Kind, entity_id: int, ctx: ReadContext,
    keys: ops.Keys, settings: BaselibSettings,
) -> FileRead | access.Refused:  # fmt: skip
    """A file as the reader's unit may see it: through the traced read, field by field."""
    entity = repository.entity(session, entity_id)
    if entity is None or entity.records == 0 or entity.kind != kind.value:
        raise NotFound(f"no file {entity_id}", field="id")
    return _serve(session, principal, entity, ctx, keys, settings)


def find_file(
    session: Session, principal: Principal, kind: Kind, number: str, ctx: ReadContext,
    keys: ops.Keys, settings: BaselibSettings,
) -> FileRead | access.Refused:  # fmt: skip
    """The file of a citizen ID (15 or 18 digits) or a credit code, found by its keyed hash.
    A number with no file is answered as a file with no source one may read: a look-up tells
    nobody whether the city knows a number, and it is traced like a read."""
    key = cmp.citizen_id(number) if kind is Kind.person else cmp.credit_code(number)
    valid = cmp.citizen_id_valid(key) if kind is Kind.person else cmp.credit_code_valid(key)
    if not valid:
        what = "citizen ID (GB 11643)" if kind is Kind.person else "credit code (GB 32100)"
        raise InvalidInput(f"not a valid {what}: check its length and check character",
                           field="number")  # fmt: skip
    found = repository.entities_by_subject(session, kind.value, ops.subject_tag(key, keys))
    if not found:
        refused = access.read_held_values(
            session, principal, what=f"baselib:{kind.value}:lookup", object_type="base_file",
            action="baselib.read", ctx=ctx, held=[], subject_values={key}, keys=keys,
        )  # fmt: skip
        assert isinstance(refused, access.Refused)
        return refused
    return _serve(session, principal, found[0], ctx, keys, settings)


def read_file_under(
    session: Session, principal: Principal, kind: Kind, subject_tag: str, ctx: ReadContext,
    keys: ops.Keys, settings: BaselibSettings, basis: Basis,
) -> FileRead | access.Refused | None:  # fmt: skip
    """The file of the data subject whose keyed hash (of its citizen ID or credit code) is
    ``subject_tag``, read under ``basis`` — the subject's own consent to a one-thing
    application's pre-fill — through the traced read. None: the city keeps no file of it
    (nothing is read, nothing to trace)."""
    found = repository.entities_by_subject(session, kind.value, subject_tag)
    if not found:
        return None
    return _serve(session, principal, found[0], ctx, keys, settings, basis)


NOT_REPRESENTATIVE = "you are not this enterprise's legal representative: its page is not yours"


def read_file_as_representative(
    session: Session, principal: Principal, entity_id: int, person_subject: str,
    ctx: ReadContext, keys: ops.Keys, settings: BaselibSettings, basis: Basis,
) -> FileRead | access.Refused:  # fmt: skip
    """An enterprise's file read by its legal representative — the person whose keyed hash
    (of his citizen ID) is ``person_subject`` and is the file's golden 法定代表人证件号码 —
    under ``basis``, through the traced read. Anyone else, and a file that does not exist,
    get the same refusal (Forbidden): it tells nobody whether the city keeps that file."""
    entity = repository.entity(session, entity_id)
    if (entity is None or entity.records == 0 or entity.kind != Kind.enterprise.value
            or not person_subject or entity.rep_subject != person_subject):  # fmt: skip
        raise Forbidden(NOT_REPRESENTATIVE, field="enterprise")
    return _serve(session, principal, entity, ctx, keys, settings, basis)


def _serve(
    session: Session, principal: Principal, entity: BaseEntity, ctx: ReadContext,
    keys: ops.Keys, settings: BaselibSettings, basis: Basis | None = None,
) -> FileRead | access.Refused:  # fmt: skip
    kind = Kind(entity.kind)
    golden = repository.golden(session, entity.id)
    held = [
        access.HeldValue(g.field, src["item"], src["resource_code"], g.value)
        for g in golden
        for src in g.sources or [{"item": g.item, "resource_code": g.resource_code}]
    ]
    key = next((g.value for g in golden if g.field == linkage.KEY_FIELD[kind]), "")
    served = access.read_held_values(
        session, principal, what=f"baselib:{kind.value}:{entity.id}", object_type="base_file",
        action="baselib.read", ctx=ctx, held=held, subject_values={key} if key else set(),
        keys=keys, keeper_basis=KEEPER_BASIS if basis is None and is_steward(principal, settings)
        else "", basis=basis,
    )  # fmt: skip
    if isinstance(served, access.Refused):
        return served
    fields = [
        FileField(
            field=g.field, value=served.values[g.field], masked=served.masked.get(g.field, ""),
            resource_code=g.resource_code, unit_code=g.unit_code, observed_at=g.observed_at,
            served_from=served.served_from[g.field],
            authoritative=g.authoritative, conflicts=len(g.alternatives),
            dispute_number=g.dispute_number,
        )
        for g in golden if g.field in served.values
    ]  # fmt: skip
    links = (
        [LinkRead.model_validate(link) for link in repository.links_of(session, entity.id)]
        if basis is None and is_steward(principal, settings) else []
    )  # fmt: skip
    return FileRead(
        id=entity.id, kind=kind, fields=fields, withheld=served.withheld,
        withheld_why=served.reasons,
        legal_basis=served.legal_basis, links=links, access_id=served.access_id,
    )  # fmt: skip


def count_theme_libraries(session: Session, at: datetime | None = None) -> int:
    """Theme libraries (主题库) built by ``at`` (now by default): those with a successful build."""
    return repository.count_themes_built(session, at or datetime.now(UTC))


def entity_id_by_subject(session: Session, kind: str, subject: str) -> int | None:
    """The id of the file (``person`` or ``enterprise``) whose golden number has the keyed hash
    ``subject`` (``ops.subject_tag``), or None. Only the id: no value of the file is read, so
    this is no delivery of data and not traced; reading the file is ``read_file``."""
    found = repository.entities_by_subject(session, kind, subject)
    return found[0].id if found else None


def enterprises_represented_by(session: Session, person_subject: str) -> list[tuple[int, str]]:
    """The enterprise files whose golden legal representative's citizen ID (法定代表人证件号码)
    has the keyed hash ``person_subject``: each file's id and its own keyed hash (of its credit
    code). Only ids and hashes, no value of a file: reading one is ``read_file_under``."""
    if not person_subject:
        return []
    return [(e.id, e.subject) for e in repository.entities_by_rep_subject(session, person_subject)]


def matches_file(session: Session, kind: Kind, subject: str, claims: dict[str, str]) -> bool:
    """Whether the file whose golden number has the keyed hash ``subject`` holds every one of
    ``claims`` (field → value: ``name``, ``mobile``…): a real-name check (实名核验) answers yes
    or no, never which claim failed, and gives out no value of the file — so it is no delivery
    of data and not a traced read; the caller records each check on the ledger. No file, or a
    field the file lacks, is a no."""
    found = repository.entities_by_subject(session, kind.value, subject)
    if not found:
        return False
    held = {g.field: str(g.value) for g in repository.golden(session, found[0].id)}
    for field, value in claims.items():
        if field not in held:
            return False
        if field == "mobile":
            if not cmp.mobile(held[field]) or cmp.mobile(held[field]) != cmp.mobile(value):
                return False
        elif "".join(held[field].split()) != "".join(value.split()):
            return False
    return True


def count_persons_by(
    session: Session, fields: list[str], key: Callable[[dict[str, str]], tuple[str, ...] | None]
) -> tuple[int, Counter[tuple[str, ...]]]:
    """How many person files (一人一档) there are, and how many share each combination that
    ``key`` makes of their golden ``fields`` (``birth``, ``sex``, ``address``…; ``key`` returns
    None to leave a file out). Only the counts leave the base library — no file, value or id —
    so this is no delivery of data: it is how a de-identified release measures its
    re-identification risk (重标识风险) against the people the city knows."""
    wanted = set(fields)
    live = {e.id for e in repository.entities(session, Kind.person.value) if e.records > 0}
    values: dict[int, dict[str, str]] = defaultdict(dict)
    for g in repository.golden_of_kind(session, Kind.person.value):
        if g.entity_id in live and g.field in wanted:
            values[g.entity_id][g.field] = g.value
    counts: Counter[tuple[str, ...]] = Counter()
    for entity_id in live:
        combination = key(values.get(entity_id, {}))
        if combination is not None:
            counts[combination] += 1
    return len(live), counts


def person_ids_of_rows(
    session: Session, code: str, item: str, key: Callable[[Any], str | None]
) -> list[tuple[str, int]]:
    """For every row of resource ``code`` linked to a person file (一人一档) by the last link
    run, ``key`` of the row's ``item`` and the file's id. Only ids and what ``key`` makes of
    the value leave the base library — no field of a file, no row — so this is no delivery of
    data: it is how the privacy sandbox bounds one person's contribution once, whichever
    identifier the rows carry (``key`` masks the value as the sandbox's traced read does)."""
    linked = {link.row_no: link.entity_id
              for link in repository.links_of_resource(session, Kind.person.value, code)}  # fmt: skip
    if not linked:
        return []
    pairs: list[tuple[str, int]] = []
    for row_no, cells in datastore.iter_numbered_rows(session, code):
        entity_id = linked.get(row_no)
        if entity_id is not None and (value := key(cells.get(item))) is not None:
            pairs.append((value, entity_id))
    return pairs


def theme_resource_code(session: Session, code: str) -> str | None:
    """The catalog resource of theme library ``code`` (主题库): a theme library is a governed
    data set registered in the catalog, read and queried as that resource. None: no theme
    library has that code, or it has no catalog entry yet."""
    theme = repository.theme_by_code(session, code)
    return (theme.resource_code or None) if theme is not None else None


def theme_of_resource(session: Session, resource_code: str) -> str | None:
    """The code of the theme library whose catalog resource is ``resource_code``, or None."""
    theme = repository.theme_by_resource(session, resource_code)
    return theme.code if theme is not None else None
