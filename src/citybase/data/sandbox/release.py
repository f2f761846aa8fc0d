"""Releases of de-identified micro-data (去标识化数据发布, GB/T 37964).

- A steward of the providing unit **prepares** a release (``prepare_release``): the
  quasi-identifiers with their generalisation hierarchies, the sensitive column, k, l and the
  largest share of rows that may be suppressed. The rows come through the one traced read
  (``read_rows_under``, basis of kind ``release``), masked by grade; direct identifiers are
  removed or replaced by keyed pseudonyms; ``release_lattice`` generalises and suppresses; k and
  l of what comes out are counted again on its rows; the re-identification risk is measured against
  the base library's person files. A release that does not reach the declared k (or l) within
  the suppression allowed is kept as refused, on the ledger, and can go no further.
- Another steward of that unit, or the bureau, **reviews** it (``review_release``) — never its
  preparer; then it is **published** (``publish_release``) to the units named or to every unit,
  who **download** it as CSV (``download_release``). Every step is on the ledger.

The request owns the transaction; nothing here commits.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs
from citybase.core.settings import ProductsSettings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore.schemas import RowQuery
from citybase.data.masking import operators as ops
from citybase.data.masking import service as masking
from citybase.data.masking.schemas import FieldKind
from citybase.data.products import agreements as products
from citybase.data.sandbox import release_lattice as lattice
from citybase.data.sandbox.auth import SANDBOX_GOVERN
from citybase.data.sandbox.models import SandboxRelease
from citybase.data.sandbox.release_schemas import (
    IdentifierAction,
    ReleaseCreate,
    ReleaseRead,
    ReleaseStatus,
    Report,
    Review,
    Risk,
)
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import Basis, ReadContext

__all__ = [
    "download_release",
    "get_accessible_release",
    "get_accessible_releases",
    "prepare_release",
    "publish_release",
    "review_release",
]

MAX_ROWS = 200_000  # rows one release reads at most
# the grading's direct identifiers (直接标识符): never released as they are
DIRECT = {FieldKind.citizen_id, FieldKind.name, FieldKind.mobile, FieldKind.bank_card}
# what only a quasi-identifier's hierarchy may release
QUASI = {FieldKind.birth_date, FieldKind.age, FieldKind.address}
# who receives the rows of the traced read: the sandbox itself, which de-identifies them; the
# release's recipients get only the released file
READER = "sandbox"


class ReleaseRefused(CitybaseError):
    """A release kept as refused: its rule and message, answered in the error format."""

    status_code = 422
    code = "refused"

    def __init__(self, rule: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field, rule=rule)
        self.rule = rule


# --- access -------------------------------------------------------------------------------------


def _is_steward_of(principal: Principal, unit_code: str) -> bool:
    return principal.can(SANDBOX_GOVERN) and principal.unit_code == unit_code


def _may_oversee(principal: Principal, settings: ProductsSettings, row: SandboxRelease) -> bool:
    return _is_steward_of(principal, row.provider_unit_code) or products.is_bureau(
        principal, settings
    )


def _may_receive(principal: Principal, row: SandboxRelease) -> bool:
    return row.status == ReleaseStatus.published.value and (
        row.open_to_all or (bool(principal.unit_code) and principal.unit_code in row.recipients)
    )


def _read(row: SandboxRelease) -> ReleaseRead:
    return ReleaseRead(
        id=row.id, resource_code=row.resource_code, provider_unit_code=row.provider_unit_code,
        title=row.title, purpose=row.purpose, legal_basis=row.legal_basis, spec=row.spec,
        recipients=list(row.recipients), open_to_all=row.open_to_all,
        status=ReleaseStatus(row.status), message=row.message,
        report=Report.model_validate(row.report) if row.report else None,
        columns=list(row.columns), rows=len(row.rows), access_id=row.access_id,
        prepared_by=row.prepared_by, created_at=row.created_at, reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at, review_note=row.review_note,
        published_by=row.published_by, published_at=row.published_at, downloads=row.downloads,
    )  # fmt: skip


def _get(session: Session, principal: Principal, settings: ProductsSettings,
         release_id: int) -> SandboxRelease:  # fmt: skip
    row = session.get(SandboxRelease, release_id)
    if row is None or not (_may_oversee(principal, settings, row) or _may_receive(principal, row)):
        raise NotFound(f"no release {release_id}", field="release_id")
    return row


def get_accessible_releases(
    session: Session, principal: Principal, settings: ProductsSettings, limit: int = 100
) -> list[ReleaseRead]:
    """The bureau: every release; a steward: their unit's; anyone: those published to their
    unit or to every unit. Newest first."""
    statement = select(SandboxRelease).order_by(SandboxRelease.id.desc())
    if products.is_bureau(principal, settings):
        return [_read(r) for r in session.scalars(statement.limit(limit))]
    seen = SandboxRelease.status == ReleaseStatus.published.value
    if principal.can(SANDBOX_GOVERN) and principal.unit_code:
        seen = or_(seen, SandboxRelease.provider_unit_code == principal.unit_code)
    rows = [r for r in session.scalars(statement.where(seen).limit(limit * 10))
            if _may_oversee(principal, settings, r) or _may_receive(principal, r)]  # fmt: skip
    return [_read(r) for r in rows[:limit]]


def get_accessible_release(
    session: Session, principal: Principal, settings: ProductsSettings, release_id: int
) -> ReleaseRead:
    return _read(_get(session, principal, settings, release_id))


# --- preparing ----------------------------------------------------------------------------------


def _check_spec(session: Session, resource: ResourceRead, data: ReleaseCreate
                ) -> dict[str, FieldKind]:  # fmt: skip
    """The declaration against the resource: every column one of its data items, each in one
    role, the hierarchies well made, the recipients units. Returns each item's kind."""
    plan = masking.plan_for(session, resource.code, resource)
    kinds = {f.item: f.kind for f in plan.fields}
    items = {i.name for i in resource.items}
    named: list[tuple[str, str]] = [(f"quasi_identifiers.{c}", c) for c in data.quasi_identifiers]
    named += [(f"identifiers.{c}", c) for c in data.identifiers]
    named += [(f"keep.{c}", c) for c in data.keep]
    if data.sensitive:
        named.append(("sensitive", data.sensitive))
    seen: dict[str, str] = {}
    for where, column in named:
        if column not in items:
            raise InvalidInput(f"{resource.code} has no data item {column}", field=where)
        if column in seen:
            raise InvalidInput(f"{column} is declared twice ({seen[column]} and {where})",
                               field=where)  # fmt: skip
        seen[column] = where
    for column, h in data.quasi_identifiers.items():
        if kinds.get(column) in DIRECT:
            raise InvalidInput(f"{column} is a direct identifier: remove or pseudonymise it",
                               field=f"quasi_identifiers.{column}")  # fmt: skip
        lattice.check_hierarchy(column, h)
    for column in [*data.keep, *([data.sensitive] if data.sensitive else [])]:
        kind = kinds.get(column)
        where = "sensitive" if column == data.sensitive else f"keep.{column}"
        if kind in DIRECT:
            raise InvalidInput(f"{column} is a direct identifier: remove or pseudonymise it",
                               field=where)  # fmt: skip
        if kind in QUASI:
            raise InvalidInput(f"{column} ({kind}) singles people out: declare it a "
                               "quasi-identifier with a hierarchy", field=where)  # fmt: skip
    if data.l > 1 and not data.sensitive:
        raise InvalidInput("l-diversity is declared on a sensitive column: name it",
                           field="sensitive")  # fmt: skip
    if not data.recipients and not data.open_to_all:
        raise InvalidInput("name the units it is for, or open it to every unit",
                           field="recipients")  # fmt: skip
    for code in data.recipients:
        orgs.get_unit(session, code)
        if code == resource.provider_unit_code:
            raise InvalidInput(f"{code} provides {resource.code}: it has its own rows",
                               field="recipients")  # fmt: skip
    return kinds


def _regions(session: Session) -> lattice.Regions:
    return lattice.Regions.of(
        lattice.Region(r.code, r.name, r.level.value, r.parent_code or "")
        for r in orgs.list_regions(session)
    )


def _served(session: Session, principal: Principal, row: SandboxRelease, data: ReleaseCreate,
            columns: list[str], keys: ops.Keys) -> list[dict[str, Any]]:  # fmt: skip
    basis = Basis(
        kind="release", ref=str(row.id), legal_basis=data.legal_basis, fields=tuple(columns),
        purpose=data.purpose, consumer=READER, action="sandbox.release.read",
    )  # fmt: skip
    result = sharing.read_rows_under(
        session, principal, data.resource_code, ReadContext(purpose=data.purpose),
        RowQuery(fields=columns), keys, basis, operation="release", up_to=MAX_ROWS + 1,
    )  # fmt: skip
    page = getattr(result, "page", None)
    if page is None:
        row.access_id = getattr(result, "access_id")  # noqa: B009
        refusal = getattr(result, "refusal")  # noqa: B009
        raise ReleaseRefused(f"read.{refusal.value}", str(getattr(result, "message")))  # noqa: B009
    row.access_id = page.access_id
    if page.total > MAX_ROWS:
        raise ReleaseRefused("release.too_large", f"{data.resource_code} has {page.total} rows: "
                             f"a release reads at most {MAX_ROWS}")  # fmt: skip
    rows: list[dict[str, Any]] = page.rows
    return rows


def _risk(session: Session, resource: ResourceRead, ladders: list[lattice.Ladder],
          chosen: dict[str, int], released: list[dict[str, Any]], regions: lattice.Regions,
          specs: dict[str, Any]) -> Risk:  # fmt: skip
    """Prosecutor risk against the base library: each released record's quasi-identifiers
    that a person file holds, lifted to the same level, counted among every person."""
    elements = {i.name: i.element or i.name for i in resource.items}
    matched = {ld.column: f for ld in ladders
               if (f := baselib.field_of_element(Kind.person, elements[ld.column]))}  # fmt: skip
    if not matched:
        return Risk()
    used = [ld for ld in ladders if ld.column in matched]

    def key(values: dict[str, str]) -> tuple[str, ...] | None:
        out = []
        for ld in used:
            h = specs[ld.column]
            value = lattice.lift(h.kind, ld.names, chosen[ld.column],
                                      values.get(matched[ld.column]), regions)  # fmt: skip
            if value is None:
                return None
            out.append(value)
        return tuple(out)

    persons, counts = baselib.count_persons_by(session, list(matched.values()), key)
    sizes = [counts.get(tuple(str(r[ld.column]) for ld in used), 0) for r in released]
    unique = sum(1 for n in sizes if n == 1)
    found = [n for n in sizes if n > 0]
    total = len(released) or 1
    return Risk(
        matched_on=matched, persons=persons, unique=unique, absent=len(sizes) - len(found),
        prosecutor_risk=round(unique / total, 4),
        highest=round(1 / min(found), 4) if found else 0.0,
        average=round(sum(1 / n for n in found) / total, 4),
    )  # fmt: skip


def prepare_release(
    session: Session, principal: Principal, data: ReleaseCreate, keys: ops.Keys
) -> tuple[ReleaseRead, ReleaseRefused | None]:
    """Prepare a release of a resource: its providing unit's steward only. A declaration that
    makes no sense is refused at once (``InvalidInput`` naming the field), reading nothing; a
    release whose rows cannot reach it (values no hierarchy can lift, k or l not reached
    within the suppression allowed) is kept as refused, on the ledger, and returned with the
    refusal; the caller commits either way."""
    resource = catalog.get_resource(session, data.resource_code)
    if not _is_steward_of(principal, resource.provider_unit_code):
        raise Forbidden(
            f"only the data stewards of {resource.provider_unit_code} (the providing unit) "
            f"prepare releases of {resource.code} (rule sandbox.steward)",
            field="resource_code", rule="sandbox.steward",
        )  # fmt: skip
    kinds = _check_spec(session, resource, data)
    pseudonymised = [c for c, a in data.identifiers.items() if a is IdentifierAction.pseudonym]
    removed = sorted({i for i, k in kinds.items() if k in DIRECT} - set(pseudonymised))
    quasi = list(data.quasi_identifiers)
    columns = [*pseudonymised, *quasi, *([data.sensitive] if data.sensitive else []), *data.keep]
    row = SandboxRelease(
        resource_code=resource.code, provider_unit_code=resource.provider_unit_code,
        title=data.title, purpose=data.purpose, legal_basis=data.legal_basis,
        spec=data.model_dump(mode="json"), recipients=list(dict.fromkeys(data.recipients)),
        open_to_all=data.open_to_all, status=ReleaseStatus.prepared.value,
        prepared_by=principal.username, columns=columns, rows=[], report={},
    )  # fmt: skip
    session.add(row)
    session.flush()
    identifiers = {c: "pseudonym" for c in pseudonymised} | {c: "remove" for c in removed}
    try:
        served = _served(session, principal, row, data, columns, keys)
        regions = _regions(session)
        ladders = [lattice.ladder_of(c, h, [r.get(c) for r in served], regions)
                   for c, h in data.quasi_identifiers.items()]  # fmt: skip
        sensitive = [r.get(data.sensitive) for r in served] if data.sensitive else None
        outcome = lattice.search(ladders, sensitive, data.k, data.l, data.max_suppression)
        released = []
        for index in outcome.kept:
            source = served[index]
            out: dict[str, Any] = {
                c: "R-" + ops.keyed_hash(f"{row.id}|{source.get(c)}", keys)
                if source.get(c) not in (None, "") else "" for c in pseudonymised
            }  # fmt: skip
            for ld in ladders:
                out[ld.column] = ld.lifted[outcome.levels[ld.column]][index]
            for c in [*([data.sensitive] if data.sensitive else []), *data.keep]:
                value = source.get(c)
                out[c] = "" if value is None else str(value)
            released.append(out)
        achieved_k, achieved_l = lattice.measure(released, quasi, data.sensitive)
        report = Report(
            k=data.k, l=data.l, max_suppression=data.max_suppression, achieved_k=achieved_k,
            achieved_l=achieved_l, rows_read=len(served), rows_released=len(released),
            rows_suppressed=outcome.suppressed,
            levels={ld.column: ld.names[outcome.levels[ld.column]] for ld in ladders},
            height=sum(outcome.levels.values()),
            precision=lattice.precision(ladders, outcome.levels, len(released), len(served)),
            discernibility=outcome.discernibility, classes=outcome.classes,
            lattice=outcome.tried, identifiers=identifiers,
        )  # fmt: skip
        if not outcome.qualified:
            report.achieved_k = outcome.smallest
            row.report = report.model_dump(mode="json")
            raise ReleaseRefused("release.k_not_reached", (
                f"k={data.k}" + (f", l={data.l}" if data.l > 1 else "") + " is not reached by "
                f"any generalisation of {', '.join(quasi)} suppressing at most "
                f"{data.max_suppression:.0%} of {len(served)} rows"
            ), field="k")  # fmt: skip
        if achieved_k < data.k or (data.l > 1 and (achieved_l or 0) < data.l):
            row.report = report.model_dump(mode="json")
            raise ReleaseRefused("release.k_not_reached", (
                f"the released file measures k={achieved_k}, l={achieved_l}: below the "
                f"declared k={data.k}, l={data.l}"
            ), field="k")  # fmt: skip
        specs = dict(data.quasi_identifiers)
        report.risk = _risk(session, resource, ladders, outcome.levels, released, regions, specs)
    except (ReleaseRefused, InvalidInput) as exc:
        refused = exc if isinstance(exc, ReleaseRefused) else ReleaseRefused(
            str(exc.details.get("rule", "release.values")), exc.message, exc.field)  # fmt: skip
        row.status, row.message = ReleaseStatus.refused.value, refused.message
        session.flush()
        ledger.record(
            session, actor_of(principal), "sandbox.release.refuse", object_type="sandbox_release",
            object_id=row.id, reason=data.purpose,
            details={"resource_code": resource.code, "rule": refused.rule,
                     "message": refused.message, "access": row.access_id,
                     "report": row.report or None},
        )  # fmt: skip
        return _read(row), refused
    row.rows = [[r[c] for c in columns] for r in released]
    row.report = report.model_dump(mode="json")
    session.flush()
    ledger.record(
        session, actor_of(principal), "sandbox.release.prepare", object_type="sandbox_release",
        object_id=row.id, reason=data.purpose,
        details={"resource_code": resource.code, "access": row.access_id,
                 "spec": row.spec, "report": row.report},
    )  # fmt: skip
    return _read(row), None


# --- review, publication, download ------------------------------------------------------------


def review_release(session: Session, principal: Principal, settings: ProductsSettings,
                   release_id: int, data: Review) -> ReleaseRead:  # fmt: skip
    """Approve or reject a prepared release: another steward of the providing unit, or the
    bureau — never the one who prepared it."""
    row = _get(session, principal, settings, release_id)
    if not _may_oversee(principal, settings, row):
        raise Forbidden("only the providing unit's stewards or the bureau review a release",
                        field="release_id", rule="release.reviewer")  # fmt: skip
    if row.prepared_by == principal.username:
        raise Forbidden(f"{principal.username} prepared release {row.id}: another steward or "
                        "the bureau reviews it", field="release_id",
                        rule="release.own_review")  # fmt: skip
    if row.status != ReleaseStatus.prepared.value:
        raise InvalidInput(f"release {row.id} is {row.status}: only a prepared release is "
                           "reviewed", field="release_id", rule="release.state")  # fmt: skip
    row.status = (ReleaseStatus.approved if data.approve else ReleaseStatus.rejected).value
    row.reviewed_by, row.reviewed_at = principal.username, datetime.now(UTC)
    row.review_note = data.note
    session.flush()
    ledger.record(
        session, actor_of(principal),
        "sandbox.release.approve" if data.approve else "sandbox.release.reject",
        object_type="sandbox_release", object_id=row.id, reason=data.note,
        details={"resource_code": row.resource_code, "prepared_by": row.prepared_by},
    )  # fmt: skip
    return _read(row)


def publish_release(session: Session, principal: Principal, settings: ProductsSettings,
                    release_id: int) -> ReleaseRead:  # fmt: skip
    """Publish an approved release to its recipients: the providing unit's stewards or the
    bureau. Its k is looked at once more: a file below the declared k is never published."""
    row = _get(session, principal, settings, release_id)
    if not _may_oversee(principal, settings, row):
        raise Forbidden("only the providing unit's stewards or the bureau publish a release",
                        field="release_id", rule="release.publisher")  # fmt: skip
    if row.status != ReleaseStatus.approved.value:
        raise InvalidInput(f"release {row.id} is {row.status}: only an approved release is "
                           "published", field="release_id", rule="release.state")  # fmt: skip
    report = Report.model_validate(row.report)
    quasi = list(report.levels)
    sensitive = row.spec.get("sensitive")
    measured_k, measured_l = lattice.measure(_dicts(row), quasi, sensitive)
    if measured_k < report.k or (report.l > 1 and (measured_l or 0) < report.l):
        raise InvalidInput(f"the file measures k={measured_k}: below the declared k={report.k}",
                           field="k", rule="release.k_not_reached")  # fmt: skip
    row.status = ReleaseStatus.published.value
    row.published_by, row.published_at = principal.username, datetime.now(UTC)
    session.flush()
    ledger.record(
        session, actor_of(principal), "sandbox.release.publish", object_type="sandbox_release",
        object_id=row.id, reason=row.purpose,
        details={"resource_code": row.resource_code, "recipients": row.recipients,
                 "open_to_all": row.open_to_all, "k": measured_k, "l": measured_l,
                 "rows": len(row.rows)},
    )  # fmt: skip
    return _read(row)


def _dicts(row: SandboxRelease) -> list[dict[str, Any]]:
    return [dict(zip(row.columns, values, strict=True)) for values in row.rows]


def download_release(session: Session, principal: Principal, settings: ProductsSettings,
                     release_id: int) -> tuple[str, str]:  # fmt: skip
    """The released file as CSV (UTF-8 with BOM) and its name: for the units it was published
    to (every unit when open), and for its reviewers (the providing unit's stewards and the
    bureau) before. Each download is on the ledger."""
    row = _get(session, principal, settings, release_id)
    if row.status == ReleaseStatus.refused.value:
        raise InvalidInput(f"release {row.id} was refused: it has no file", field="release_id",
                           rule="release.state")  # fmt: skip
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(row.columns)
    writer.writerows(row.rows)
    row.downloads += 1
    session.flush()
    ledger.record(
        session, actor_of(principal), "sandbox.release.download", object_type="sandbox_release",
        object_id=row.id, reason=row.purpose,
        details={"resource_code": row.resource_code, "status": row.status,
                 "rows": len(row.rows), "unit": principal.unit_code},
    )  # fmt: skip
    return out.getvalue(), f"release-{row.id}-{row.resource_code}.csv"
