"""Cases: intake (with the place resolved, near-duplicates flagged and the category suggested),
and the workflow 受理 → 派单 → 签收 → 办理 → 答复 → 回访 → 办结 with 退单, 改派, 延期, 重办 and 并单.

Every step checks who may take it from the state the case is in, is kept in the case's history,
written to the ledger and published on the bus, all in the caller's transaction. Deadlines run on
the working clock of the Chinese calendar (``core.workdays``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.clock import CITY_TZ
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.files import service as files
from citybase.core.files.schemas import FileRead
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import boundaries
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel, RegionRead
from citybase.core.progress import Report, silent
from citybase.core.settings import HubSettings
from citybase.core.tables import write_xlsx
from citybase.core.workdays import DEFAULT, WorkCalendar
from citybase.data.sharing import access as traced
from citybase.data.sharing.schemas import ReadContext
from citybase.hub.cases import repository
from citybase.hub.cases.auth import (
    CASES_ALL,
    CASES_DISPATCH,
    CASES_HANDLE,
    CASES_INTAKE,
    CASES_SUPERVISE,
)
from citybase.hub.cases.models import STAT_FIELDS, Case, CaseStep
from citybase.hub.cases.schemas import (
    CHANNEL_NAMES,
    MAX_ATTACHMENTS,
    OPEN_STATES,
    SATISFACTION_NAMES,
    SOURCE_NAMES,
    STATE_NAMES,
    Action,
    ActionIn,
    Attachment,
    CaseCreate,
    CaseDetail,
    CaseEvent,
    CaseFilter,
    CaseOverview,
    CaseRead,
    CaseState,
    CaseWarning,
    Contact,
    Duplicate,
    Figures,
    IntakeResult,
    Satisfaction,
    Source,
    StepHistory,
    StepRead,
)
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.schemas import Route, Urgency
from citybase.hub.events import service as events

S = CaseState

# action → (states it may be taken from, the state it leads to (None: stays), who takes it)
#   centre: the 12345 centre (or a district's) — dispatch permission, within its region
#   lead: the lead unit's handlers; involved: lead or support unit; supervisor: supervise
WORKFLOW: dict[Action, tuple[frozenset[CaseState], CaseState | None, str]] = {
    Action.dispatch: (frozenset({S.accepted, S.returned}), S.dispatched, "centre"),
    Action.reassign: (frozenset({S.dispatched, S.signed, S.handling}), S.dispatched, "centre"),
    Action.return_: (frozenset({S.dispatched, S.signed}), S.returned, "lead"),
    Action.sign: (frozenset({S.dispatched}), S.signed, "lead"),
    Action.note: (frozenset({S.signed, S.handling}), S.handling, "involved"),
    Action.extend: (frozenset({S.signed, S.handling}), None, "lead"),
    Action.approve_extension: (frozenset({S.signed, S.handling}), None, "supervisor"),
    Action.deny_extension: (frozenset({S.signed, S.handling}), None, "supervisor"),
    Action.reply: (frozenset({S.signed, S.handling}), S.replied, "lead"),
    Action.follow_up: (frozenset({S.replied}), S.followed_up, "centre"),
    Action.reopen: (frozenset({S.followed_up, S.closed}), S.dispatched, "supervisor"),
    Action.close: (frozenset({S.accepted, S.followed_up}), S.closed, "centre"),
    Action.merge: (frozenset({S.accepted, S.returned, S.dispatched}), S.merged, "centre"),
    Action.urge: (frozenset({S.dispatched, S.signed, S.handling}), None, "supervisor"),
    Action.escalate: (frozenset({S.accepted, S.returned}), None, "centre"),
}
ACTION_NAMES = {
    Action.dispatch: "派单", Action.reassign: "改派", Action.return_: "退单", Action.sign: "签收",
    Action.note: "办理", Action.extend: "延期申请", Action.approve_extension: "同意延期",
    Action.deny_extension: "不同意延期", Action.reply: "答复", Action.follow_up: "回访",
    Action.reopen: "重办", Action.close: "办结", Action.merge: "并单", Action.urge: "催办",
    Action.escalate: "上报",
}  # fmt: skip
_WHO = {"centre": CASES_DISPATCH, "lead": CASES_HANDLE, "involved": CASES_HANDLE,
        "supervisor": CASES_SUPERVISE}  # fmt: skip


@dataclass(frozen=True)
class Mover:
    """Who takes a step: the ledger's actor, the unit acted for, what they may do, and the region
    their centre covers (None: the whole city)."""

    actor: Actor
    unit: str
    permissions: frozenset[str]
    region: str | None = None

    def can(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions

    @classmethod
    def of(cls, session: Session, principal: Principal) -> Mover:
        region: str | None = None
        if principal.unit_code:
            unit = orgs.get_unit(session, principal.unit_code)
            if orgs.get_region(session, unit.region_code).level is not RegionLevel.city:
                region = unit.region_code
        return cls(actor_of(principal), principal.unit_code, principal.permissions, region)

    @classmethod
    def system(cls, what: str) -> Mover:
        return cls(Actor.system(what), "", frozenset({"*"}), None)


# --- where: the address resolved on the region register ----------------------------------------

_SUFFIXES = {
    RegionLevel.district: ("区", "县", "市"),
    RegionLevel.street: ("街道", "镇", "乡"),
    RegionLevel.community: ("社区", "村"),
    RegionLevel.grid: ("网格",),
}


def _names(region: RegionRead) -> list[str]:
    names = [region.name]
    for suffix in _SUFFIXES.get(region.level, ()):
        short = region.name.removesuffix(suffix)
        if short != region.name and len(short) >= 2:
            names.append(short)
    return names


@dataclass
class Place:
    region_code: str = ""
    district_code: str = ""
    street_code: str = ""
    community_code: str = ""
    grid_code: str = ""

    def codes(self) -> list[str]:
        return [c for c in (self.grid_code, self.community_code, self.street_code,
                            self.district_code) if c]  # fmt: skip


def locate(
    session: Session, address: str, region_code: str = "", lon: float | None = None,
    lat: float | None = None,
) -> Place:  # fmt: skip
    """The district, street, community and grid a case lies in. Each of these may say: the
    region code given, the regions whose outlines hold the coordinates, the region names found
    in the address (the deepest consistent match). The first that says anything places the case,
    in that order; a later one only takes it deeper, below the region already found (an
    inspector's community and the GPS point of the grid in it; an address naming a community in
    the street the point fell in). Where they disagree the earlier stands."""
    regions = {r.code: r for r in orgs.list_regions(session)}
    if region_code and region_code not in regions:
        raise InvalidInput(f"no region with code {region_code}", field="region_code")

    def chain(code: str) -> set[str]:
        out, cur = set(), code
        while cur and cur in regions:
            out.add(cur)
            cur = regions[cur].parent_code or ""
        return out

    said = [region_code]
    if lon is not None and lat is not None:
        at = boundaries.region_at(session, lon, lat)
        said.append(at.code if at else "")
    if address:
        found = [r for r in regions.values() if r.level is not RegionLevel.city
                 and any(n in address for n in _names(r))]  # fmt: skip
        hits = {r.code for r in found}
        # the deepest region whose found ancestors agree with it; more agreement wins
        best = max(found, default=None,
                   key=lambda r: (len(chain(r.code) & hits), r.level.depth))  # fmt: skip
        said.append(best.code if best is not None else "")
    code = ""
    for other in said:
        if other and (not code or (other != code and code in chain(other))):
            code = other
    place = Place(region_code=code)
    cur = code
    while cur and cur in regions:
        r = regions[cur]
        attr = {RegionLevel.district: "district_code", RegionLevel.street: "street_code",
                RegionLevel.community: "community_code", RegionLevel.grid: "grid_code"}.get(r.level)  # fmt: skip
        if attr:
            setattr(place, attr, r.code)
        cur = r.parent_code or ""
    return place


def _in_china(lon: float, lat: float) -> bool:
    return 73 <= lon <= 136 and 3 <= lat <= 54


def city_code(session: Session, region_code: str = "") -> str:
    """The top of the region tree above this region (or of the whole tree)."""
    if region_code:
        return orgs.region_path(session, region_code)[0].code
    tops = orgs.list_regions(session, level=RegionLevel.city)
    return tops[0].code if tops else ""


def _path(session: Session, case: Case) -> list[str]:
    """The case's region path from the city down (for the dispatch catalog)."""
    return [r.code for r in orgs.region_path(session, case.region_code)] if case.region_code else []


# --- near-duplicates -----------------------------------------------------------------------------


def _grams(text: str) -> set[str]:
    chars = [c for c in text if not c.isspace() and c not in "，。！？、；：,.!?;:“”\"'（）()"]
    return {a + b for a, b in pairwise(chars)}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' character bigrams (0–1)."""
    ga, gb = _grams(a), _grams(b)
    return len(ga & gb) / len(ga | gb) if ga and gb else 0.0


def _duplicates(session: Session, case: Case, hub: HubSettings, now: datetime) -> list[Duplicate]:
    place = [c for c in (case.community_code or case.street_code, case.grid_code) if c]
    if not place:
        return []
    since = now - timedelta(hours=hub.duplicate_hours)
    found = []
    for other in repository.open_near(session, since, place, case.id):
        score = similarity(case.text, other.text)
        if score >= hub.duplicate_similarity:
            found.append(Duplicate(number=other.number, similarity=round(score, 3),
                                   state=CaseState(other.state), title=other.title))  # fmt: skip
    return sorted(found, key=lambda d: -d.similarity)[:5]


# --- reading -------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    return name[:1] + "*" * min(len(name) - 1, 2) if name else ""


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else phone[:2] + "****"


def _read(case: Case) -> CaseRead:
    read = CaseRead.model_validate(case)
    return read.model_copy(update={"reporter_name": mask_name(case.reporter_name),
                                   "reporter_phone": mask_phone(case.reporter_phone)
                                   if case.reporter_phone else ""})  # fmt: skip


def _visible_units(mover: Mover) -> list[str] | None:
    """None: every case; else the units whose cases the mover sees."""
    return None if mover.can(CASES_ALL) else [mover.unit]


def _get(session: Session, number: str) -> Case:
    case = repository.by_number(session, number)
    if case is None:
        raise NotFound(f"no case {number}", field="number")
    return case


def _in_area(region: str, case: Case) -> bool:
    """Whether the case lies in the region, or its loop is run by a brain inside it."""
    return region in (case.district_code, case.street_code, case.community_code,
                      case.grid_code) or case.brain_code.startswith(region)  # fmt: skip


def _may_see(mover: Mover, case: Case) -> bool:
    units = _visible_units(mover)
    if units is None:
        return mover.region is None or "*" in mover.permissions or _in_area(mover.region, case)
    return case.lead_unit in units or any(u in units for u in case.support_units)


def get(session: Session, principal: Principal, number: str) -> CaseDetail:
    mover = Mover.of(session, principal)
    case = _get(session, number)
    if not _may_see(mover, case):
        raise NotFound(f"no case {number}", field="number")
    return _detail(session, mover, case)


def get_for_system(session: Session, number: str) -> CaseRead:
    """A case as the platform's own work sees it (no reader to check)."""
    return _read(_get(session, number))


def _detail(session: Session, mover: Mover, case: Case) -> CaseDetail:
    steps = [StepRead.model_validate(s) for s in repository.steps(session, case.id)]
    return CaseDetail(**_read(case).model_dump(), steps=steps, allowed=allowed(mover, case),
                      may_attach=attach_refusal(mover, case) is None)  # fmt: skip


# --- files that go with a case -------------------------------------------------------------------


def _kept(session: Session, given: list[Attachment]) -> tuple[list[Attachment], list[FileRead]]:
    """The attachments as the case keeps them: an uploaded file's name, kind and size are the
    platform's own; a file_id no upload has is refused."""
    ids = [a.file_id for a in given if a.file_id]
    found = files.many(session, ids) if ids else {}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"no uploaded file {', '.join(missing)}", field="attachments")
    out = [a.model_copy(update={"name": found[a.file_id].name, "url": "",
                                "media_type": found[a.file_id].media_type,
                                "size": found[a.file_id].size}) if a.file_id else a
           for a in given]  # fmt: skip
    return out, [found[i] for i in ids]


def attach_refusal(mover: Mover, case: Case) -> str | None:
    """Why ``mover`` may not add a file to ``case`` (None: it may). The centre that takes cases
    in or dispatches them, supervisors, and the units handling it may, until it is closed."""
    if case.state in (S.closed, S.merged):
        return f"case {case.number} is {STATE_NAMES[CaseState(case.state)]}: nothing more is added"
    if len(case.attachments) >= MAX_ATTACHMENTS:
        return f"case {case.number} already has {MAX_ATTACHMENTS} files"
    if "*" in mover.permissions:
        return None
    if mover.can(CASES_DISPATCH) or mover.can(CASES_INTAKE):
        if _in_region(mover, case) or (mover.region and _in_area(mover.region, case)):
            return None
    if mover.can(CASES_SUPERVISE) and _may_see(mover, case):
        return None
    if mover.can(CASES_HANDLE) and mover.unit in [case.lead_unit, *case.support_units]:
        return None
    return f"unit {mover.unit or '(none)'} may not add files to case {case.number}"


def may_attach(session: Session, mover: Mover, number: str) -> Case:
    """The case, if ``mover`` may add a file to it now; else refused with the reason (404 for a
    case it may not see, 409 for a closed or full one, 403 for one it has no part in)."""
    case = _get(session, number)
    if not _may_see(mover, case) and not mover.can(CASES_DISPATCH):
        raise NotFound(f"no case {number}", field="number")
    why = attach_refusal(mover, case)
    if why is None:
        return case
    full = case.state in (S.closed, S.merged) or len(case.attachments) >= MAX_ATTACHMENTS
    raise Conflict(why, field="file") if full else Forbidden(why, field="file")


def attach(
    session: Session,
    mover: Mover,
    number: str,
    file: FileRead,
    note: str = "",
    now: datetime | None = None,
) -> CaseDetail:
    """Add an uploaded file to a case (a photo of the place, of the work done, a document): a
    step of its history, on the ledger, with the state unchanged."""
    case = may_attach(session, mover, number)
    if any(a.get("file_id") == file.id for a in case.attachments):
        raise Conflict(f"file {file.id} is already attached to case {number}", field="file")
    item = Attachment(file_id=file.id, name=file.name, media_type=file.media_type, size=file.size)
    case.attachments = [*case.attachments, item.model_dump()]
    _step(session, case, mover, "attach", case.state, note.strip(),
          {"file_id": file.id, "name": file.name, "media_type": file.media_type}, now)  # fmt: skip
    session.flush()
    return _detail(session, mover, case)


def attached_file(session: Session, principal: Principal, number: str, file_id: str) -> FileRead:
    """A file of a case, for a reader who may see the case; NotFound for anything else."""
    case = _get(session, number)
    if not _may_see(Mover.of(session, principal), case):
        raise NotFound(f"no case {number}", field="number")
    return attached_for_system(session, number, file_id, case)


def attached_for_system(
    session: Session, number: str, file_id: str, case: Case | None = None
) -> FileRead:
    case = case or _get(session, number)
    if not any(a.get("file_id") == file_id for a in case.attachments):
        raise NotFound(f"case {number} has no file {file_id}", field="file_id")
    return files.get(session, file_id)


def find(session: Session, principal: Principal, flt: CaseFilter) -> tuple[list[CaseRead], int]:
    mover = Mover.of(session, principal)
    units = _visible_units(mover)
    if units is None and mover.region is not None:  # a district's centre sees its district
        flt = flt.model_copy(update={"within": mover.region})
    rows, total = repository.find(session, flt, units)
    return [_read(c) for c in rows], total


def overview(
    session: Session, principal: Principal, flt: CaseFilter, since: datetime, most_points: int
) -> CaseOverview:
    """What the cases list draws above the list, over the same cases it lists (the same filter,
    the same visibility): how many per district, per day and 大类 since ``since``, and the
    newest ``most_points`` with a place."""
    mover = Mover.of(session, principal)
    units = _visible_units(mover)
    if units is None and mover.region is not None:
        flt = flt.model_copy(update={"within": mover.region})
    return CaseOverview(
        by_district=repository.by_district(session, flt, units),
        per_day=repository.per_day_by_category(session, flt, units, since),
        points=repository.placed(session, flt, units, most_points),
    )


EXPORT_MOST = 100_000
EXPORT_HEADER = (
    "工单编号", "受理时间", "来源", "渠道", "标题", "诉求内容", "诉求人", "联系电话", "地址", "区县",
    "街道", "社区", "网格", "分类编码", "分类", "紧急程度", "状态", "主办单位", "协办单位", "派单时间",
    "签收时限", "签收时间", "办理时限", "答复时间", "答复", "满意度", "办结时间", "退单次数",
    "改派次数", "重办次数", "预警",
)  # fmt: skip
_URGENCY = {"urgent": "紧急", "pressing": "较急", "normal": "一般"}
_WARNING = {"red": "逾期", "yellow": "临期"}


EXPORT_STEP = "writing the cases"


def export(
    session: Session, principal: Principal, flt: CaseFilter, progress: Report = silent
) -> tuple[bytes, int]:
    """The cases the reader sees that meet the filter, newest first, as a workbook with the
    names of units, places and categories (contacts masked, as on screen); at most
    ``EXPORT_MOST``. The export is on the ledger with its filter and size; ``progress`` is told
    the rows written."""
    mover = Mover.of(session, principal)
    units = _visible_units(mover)
    if units is None and mover.region is not None:
        flt = flt.model_copy(update={"within": mover.region})
    _, matching = repository.find(session, flt.model_copy(update={"limit": 1, "offset": 0}), units)
    total = min(matching, EXPORT_MOST)
    progress(0, total, EXPORT_STEP)
    names = {c.code: c.name for c in events.categories(session, active_only=False)}
    unit_names: dict[str, str] = {}
    region_names: dict[str, str] = {}
    count = 0

    def when(moment: datetime | None) -> str:
        return moment.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M") if moment else ""

    def rows() -> Any:
        nonlocal count
        for case in repository.stream(session, flt, units, EXPORT_MOST):
            count += 1
            if count % 500 == 0:
                progress(count, total, EXPORT_STEP)
            wanted = {case.lead_unit, *case.support_units} - unit_names.keys() - {""}
            if wanted:
                unit_names.update(orgs.unit_names(session, wanted))
            places = {case.district_code, case.street_code, case.community_code,
                      case.grid_code} - region_names.keys() - {""}  # fmt: skip
            if places:
                region_names.update(orgs.region_names(session, places))
            read = _read(case)
            yield (
                case.number, when(case.accepted_at), SOURCE_NAMES.get(read.source, case.source),
                CHANNEL_NAMES.get(read.channel, case.channel), case.title, case.text,
                read.reporter_name, read.reporter_phone, case.address,
                *(region_names.get(c, c) for c in (case.district_code, case.street_code,
                                                   case.community_code, case.grid_code)),
                case.category_code, names.get(case.category_code, ""),
                _URGENCY.get(case.urgency, case.urgency), STATE_NAMES[read.state],
                unit_names.get(case.lead_unit, case.lead_unit),
                "、".join(unit_names.get(u, u) for u in case.support_units),
                when(case.dispatched_at), when(case.sign_due), when(case.signed_at),
                when(case.handle_due), when(case.replied_at), case.reply,
                SATISFACTION_NAMES[read.satisfaction] if read.satisfaction else "",
                when(case.closed_at), case.return_count, case.reassign_count, case.reopen_count,
                _WARNING.get(case.warning, ""),
            )  # fmt: skip

    book = write_xlsx([("工单", EXPORT_HEADER, rows())])
    progress(total, total, EXPORT_STEP)
    ledger.record(session, mover.actor, "hub.cases.exported", object_type="case",
                  details={"filter": flt.model_dump(mode="json", exclude_defaults=True),
                           "rows": count})  # fmt: skip
    return book, count


def steps_for_system(session: Session, number: str) -> list[StepRead]:
    return [StepRead.model_validate(s) for s in repository.steps(session, _get(session, number).id)]


def tracked(session: Session, number: str, phone: str) -> CaseRead | None:
    """The case, if ``phone`` is the one it was taken in with (for a citizen following it);
    None otherwise. The phone itself is never given out through this."""
    case = repository.by_number(session, number)
    if case is None or not case.reporter_phone or case.reporter_phone != phone:
        return None
    return _read(case)


def find_all(session: Session, flt: CaseFilter) -> tuple[list[CaseRead], int]:
    """Cases for the platform's own readers (Open311, the portal); contacts stay masked."""
    rows, total = repository.find(session, flt, None)
    return [_read(c) for c in rows], total


CONTACT_BASIS = "12345工单办理（回访诉求人）"


def contact(session: Session, principal: Principal, number: str, why: str) -> Contact:
    """The reporter's name and phone in full, for calling back; each look is a traced read (on
    the ledger and in the access log)."""
    mover = Mover.of(session, principal)
    case = _get(session, number)
    if not _may_see(mover, case):
        raise NotFound(f"no case {number}", field="number")
    if not why.strip():
        raise InvalidInput("say why the contact is needed", field="why")
    # the one traced read: the ledger entry and the access log's row (who, for which unit,
    # what, why), the same from the API and the console
    traced.record_read(
        session, principal, what=number, object_type="case", action="hub.case.contact_viewed",
        operation="contact", provider_unit_code="", legal_basis=CONTACT_BASIS,
        ctx=ReadContext(case_number=number, purpose=why.strip()[:500]),
        fields=["reporter_name", "reporter_phone"],
    )  # fmt: skip
    return Contact(number=number, reporter_name=case.reporter_name,
                   reporter_phone=case.reporter_phone)  # fmt: skip


# --- who may do what -----------------------------------------------------------------------------


def _in_region(mover: Mover, case: Case) -> bool:
    """A centre works the cases whose loop its brain (or one below it) runs."""
    return mover.region is None or case.brain_code.startswith(mover.region)


def refusal(mover: Mover, case: Case, action: Action) -> str | None:
    """Why ``mover`` may not take ``action`` on ``case`` now (None: it may)."""
    states, _, who = WORKFLOW[action]
    if CaseState(case.state) not in states:
        allowed_from = "、".join(STATE_NAMES[s] for s in sorted(states))
        return (f"{ACTION_NAMES[action]} ({action}) is not possible on a case in state "
                f"{STATE_NAMES[CaseState(case.state)]} ({case.state}), it needs {allowed_from}")  # fmt: skip
    if not mover.can(_WHO[who]):
        return f"{ACTION_NAMES[action]} ({action}) needs the permission {_WHO[who]}"
    if "*" in mover.permissions:
        return None
    if who == "centre" and not _in_region(mover, case):
        return (f"case {case.number} is run by the brain of {case.brain_code or '(none)'}, "
                f"not within the region {mover.region} this centre covers")  # fmt: skip
    if who == "lead" and mover.unit != case.lead_unit:
        return f"only the lead unit {case.lead_unit or '(none)'} may {action} case {case.number}"
    if who == "involved" and mover.unit not in [case.lead_unit, *case.support_units]:
        return f"unit {mover.unit or '(none)'} is not handling case {case.number}"
    return None


def allowed(mover: Mover, case: Case) -> list[Action]:
    return [a for a in WORKFLOW if refusal(mover, case, a) is None]


# --- the counts kept for the figures -------------------------------------------------------------

StatKey = tuple[str, str, str]  # the city's day of intake, district, 大类
Counts = dict[str, int]


def _vector(c: Any) -> Vector:  # a Case, or a row of the columns the counts are made of
    """What a case adds to the kept counts, and under which keys (None: nothing, when merged):
    its counts for all cases, its district and its 大类, and each unit's own counts. Work
    handed over by another domain (source ``work``) is not the centre's and counts for none."""
    if c.state == S.merged or c.source == Source.work:
        return None
    key = (c.accepted_at.astimezone(CITY_TZ).date().isoformat(), c.district_code,
           c.category_code[:2])  # fmt: skip
    closed = c.state == S.closed
    counts = {
        "cases": 1, "dispatched": int(c.dispatched_at is not None),
        "signed": int(c.signed_on_time is not None), "signed_on_time": int(c.signed_on_time is True),
        "replied": int(c.replied_on_time is not None),
        "replied_on_time": int(c.replied_on_time is True), "returned": int(c.return_count > 0),
        "verdicts": int(c.reopen_count > 0 or c.followed_up_at is not None),
        "reopened": int(c.reopen_count > 0), "rated": int(c.satisfaction != ""),
        "satisfied": int(c.satisfaction in ("satisfied", "basic")), "reopens": c.reopen_count,
        "closed": int(closed),
        "closed_first_time": int(closed and not (c.return_count or c.reopen_count
                                                 or c.reassign_count)),
        "never_reassigned": int(c.dispatched_at is not None and not c.reassign_count
                                and not c.return_count),
        "overdue": int(c.warning == "red"),
    }  # fmt: skip
    return key, counts, _unit_counts(c, counts)


def _unit_counts(c: Any, counts: Counts) -> dict[str, Counts]:
    """Each unit's own part: a unit the case left counts it as given to it (and signed, on time
    or not, and returned, as it did); the current lead unit counts the rest — not a return or
    a reassignment that happened before the case came to it. A case with no lead unit yet
    counts for none."""
    out: dict[str, Counts] = {}

    def add(unit: str, part: Counts) -> None:
        mine = out.setdefault(unit, {})
        for k, v in part.items():
            mine[k] = max(mine.get(k, 0), v)

    for left in c.former_leads or []:
        signed = left.get("signed_on_time")
        add(str(left.get("unit") or ""), {
            "cases": 1, "dispatched": 1, "signed": int(signed is not None),
            "signed_on_time": int(signed is True), "returned": int(bool(left.get("returned"))),
        })  # fmt: skip
    if c.lead_unit:
        closed = c.state == S.closed
        add(c.lead_unit, counts | {
            "returned": 0, "never_reassigned": counts["dispatched"],
            "closed_first_time": int(closed and not c.reopen_count),
        })  # fmt: skip
    out.pop("", None)
    return out


Vector = tuple[StatKey, Counts, dict[str, Counts]] | None


def _entries(v: Vector) -> dict[tuple[str, str, str], Counts]:
    """A contribution as the rows it touches: (dimension, day, key) → counts."""
    if v is None:
        return {}
    (day, district, category), counts, units = v
    rows = {("all", day, ""): counts, ("district", day, district): counts,
            ("category", day, category): counts}  # fmt: skip
    rows.update({("unit", day, unit): part for unit, part in units.items()})
    return rows


def _account(session: Session, before: Vector, after: Vector) -> None:
    """Move the case's contribution to the kept counts from ``before`` to ``after``."""
    if before == after:
        return
    old, new = _entries(before), _entries(after)
    for row in old.keys() | new.keys():
        was, now = old.get(row, {}), new.get(row, {})
        delta = {k: now.get(k, 0) - was.get(k, 0) for k in was.keys() | now.keys()}
        delta = {k: d for k, d in delta.items() if d}
        if delta:
            repository.add_stats(session, *row, delta)


def _moved_by_unit(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> dict[tuple[str, str], Counts]:
    """(day, unit) → counts of the cases that were returned or reassigned: those whose units'
    parts the database cannot sum by the lead unit alone."""
    out: dict[tuple[str, str], Counts] = {}
    for case in repository.moved(session, since, until):
        v = _vector(case)
        if v is None:
            continue
        for unit, part in v[2].items():
            row = out.setdefault((v[0][0], unit), {})
            for k, n in part.items():
                row[k] = row.get(k, 0) + n
    return out


def rebuild_stats(session: Session) -> int:
    """Count the figures' numbers again from every case (after a bulk load, or to check)."""
    moved = {("unit", day, unit): counts for (day, unit), counts in _moved_by_unit(session).items()}
    return repository.rebuild_stats(session, moved)


# --- intake --------------------------------------------------------------------------------------


def _number(case: Case, prefix: str, now: datetime) -> str:
    return f"{prefix}{now.astimezone(CITY_TZ):%Y%m%d}{case.id:07d}"


def _step(
    session: Session,
    case: Case,
    mover: Mover,
    action: str,
    from_state: str,
    note: str = "",
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    details = details or {}
    repository.add(session, CaseStep(
        case_id=case.id, action=action, from_state=from_state, to_state=case.state,
        actor=mover.actor.name, unit=mover.unit, note=note, details=details,
        at=now or datetime.now(UTC),
    ))  # fmt: skip
    ledger.record(session, mover.actor, f"hub.case.{action}", object_type="case",
                  object_id=case.number, case_number=case.number, reason=note,
                  details={"from": from_state, "to": case.state, **details})  # fmt: skip
    bus.publish(session, CaseEvent(
        number=case.number, action=action, from_state=from_state, to_state=case.state,
        lead_unit=case.lead_unit, district_code=case.district_code,
        category_code=case.category_code, actor=mover.actor.name, note=note, details=details,
        reply=case.reply if action in ("reply", "close") else "",
    ))  # fmt: skip


def _check_category(session: Session, code: str, field: str = "category_code") -> None:
    try:
        events.get_category(session, code)
    except NotFound:
        raise InvalidInput(f"no category {code} in the taxonomy", field=field) from None


def intake(
    session: Session,
    mover: Mover,
    data: CaseCreate,
    *,
    home: Path | None = None,
    hub: HubSettings | None = None,
    cal: WorkCalendar = DEFAULT,
    now: datetime | None = None,
    brain_code: str = "",
) -> IntakeResult:
    """Take a matter in (受理): resolve where it is, flag open cases on the same matter nearby,
    suggest its category, and dispatch it at once when the suggestion is sure enough and the
    catalog says where it goes. With ``brain_code`` (a case handed over by another deployment's
    brain) that brain runs its loop and the case waits for its centre. Work another domain hands
    over (source ``work``) comes through ``open_work`` only."""
    if data.source is Source.work:
        raise InvalidInput("a case of source work is handed over by its service, not taken in",
                           field="source")  # fmt: skip
    return _take_in(session, mover, data, home=home, hub=hub, cal=cal, now=now,
                    brain_code=brain_code)  # fmt: skip


def _take_in(
    session: Session,
    mover: Mover,
    data: CaseCreate,
    *,
    home: Path | None,
    hub: HubSettings | None,
    cal: WorkCalendar,
    now: datetime | None,
    brain_code: str,
) -> IntakeResult:
    hub = hub or HubSettings()
    now = now or datetime.now(UTC)
    if not mover.can(CASES_INTAKE):
        raise Forbidden(f"taking in cases needs the permission {CASES_INTAKE}", field="permission")
    attachments, uploads = _kept(session, data.attachments)
    lon, lat, placed_by = data.lon, data.lat, ""
    if lon is None:  # a photo that says where it was taken places a case nothing else places
        for photo in uploads:
            if photo.lon is not None and photo.lat is not None and _in_china(photo.lon, photo.lat):
                lon, lat, placed_by = photo.lon, photo.lat, photo.id
                break
    if not (data.address.strip() or data.region_code or lon is not None):
        raise InvalidInput("say where: an address, a region or coordinates", field="address")
    if data.category_code:
        _check_category(session, data.category_code)
    related = repository.by_numbers(session, data.related) if data.related else []
    missing = sorted(set(data.related) - {c.number for c in related})
    if missing:
        raise InvalidInput(f"no case {', '.join(missing)}", field="related")
    place = locate(session, data.address, data.region_code, lon, lat)
    suggestion = dispatch.suggest(home, hub.dispatch_model, data.text) if home else None
    case = Case(
        number=f"new-{uuid.uuid4().hex[:24]}", source=str(data.source),
        channel=str(data.channel), reporter_name=data.reporter_name.strip(),
        reporter_phone=data.reporter_phone, title=data.title or data.text[:30],
        text=data.text, address=data.address.strip(), region_code=place.region_code,
        district_code=place.district_code, street_code=place.street_code,
        community_code=place.community_code, grid_code=place.grid_code, lon=lon,
        lat=lat, category_code=data.category_code, urgency=str(data.urgency),
        state=str(S.accepted), attachments=[a.model_dump() for a in attachments],
        related=list(data.related), accepted_at=now, accepted_by=mover.actor.name,
        suggestion=suggestion.model_dump() if suggestion else {}, support_units=[],
        device_id=data.device_id,
        # the district's brain runs the loop of what happens in it; the city's the rest
        brain_code=brain_code or mover.region or place.district_code
        or city_code(session, place.region_code),
    )  # fmt: skip
    repository.add(session, case)
    case.number = _number(case, hub.case_prefix, now)
    duplicates = _duplicates(session, case, hub, now)
    _step(session, case, mover, "accept", "", details={
        "source": case.source, "channel": case.channel,
        "duplicates": [d.number for d in duplicates],
        **({"placed_by_photo": placed_by} if placed_by else {}),
    }, now=now)  # fmt: skip
    dispatched = False
    if not duplicates and case.district_code and not brain_code:
        category = case.category_code
        sure = suggestion is not None and suggestion.sure(hub.auto_dispatch_confidence)
        if not category and sure and suggestion is not None:
            category = suggestion.label
        if category and (data.category_code or sure):
            found = dispatch.route(session, category, _path(session, case),
                                   Urgency(case.urgency))  # fmt: skip
            if found is not None:
                case.category_code = category
                case.auto_dispatched = True
                _send(session, case, Mover.system("dispatch"), found, S.accepted, "", cal, now,
                      "dispatch")  # fmt: skip
                dispatched = True
    _account(session, None, _vector(case))
    return IntakeResult(case=_read(case), duplicates=duplicates, dispatched=dispatched)


def open_work(
    session: Session,
    what: str,
    data: CaseCreate,
    *,
    lead_unit: str,
    handle_days: float,
    cal: WorkCalendar = DEFAULT,
    now: datetime | None = None,
) -> CaseRead:
    """A piece of work another domain gives one unit directly (a one-thing application's
    matter, 一件事的事项): taken in by the platform (``what`` names the domain on the ledger) and
    dispatched at once to ``lead_unit`` with ``handle_days`` working days to reply — the
    matter's legal time limit — then signed, handled, returned, warned and supervised like any
    case. Its source is ``work``: it is not a request to the 12345 centre, and the centre's
    figures (``figures``) leave it out."""
    now = now or datetime.now(UTC)
    mover = Mover.system(what)
    work = data.model_copy(update={"category_code": "", "source": Source.work})
    taken = _take_in(session, mover, work, home=None, hub=None, cal=cal, now=now, brain_code="")
    case = _get(session, taken.case.number)
    return _give(session, case, mover, lead_unit, handle_days, cal, now)


def resend_work(
    session: Session,
    what: str,
    number: str,
    *,
    lead_unit: str,
    handle_days: float,
    note: str,
    cal: WorkCalendar = DEFAULT,
    now: datetime | None = None,
) -> CaseRead:
    """Send work its unit returned (for more material) back to that unit once it is supplied,
    with fresh deadlines; refused (409) unless the case is waiting as returned."""
    now = now or datetime.now(UTC)
    case = _get(session, number)
    if case.state != S.returned:
        raise Conflict(f"case {number} is {case.state}, not returned", field="number")
    return _give(session, case, Mover.system(what), lead_unit, handle_days, cal, now, note)


def _give(
    session: Session, case: Case, mover: Mover, lead_unit: str, handle_days: float,
    cal: WorkCalendar, now: datetime, note: str = "",
) -> CaseRead:  # fmt: skip
    route = dispatch.default_route(lead_unit, [], Urgency(case.urgency)).model_copy(
        update={"handle_days": handle_days}
    )
    counted, before = _vector(case), case.state
    _send(session, case, mover, route, before, note, cal, now, "dispatch")
    _account(session, counted, _vector(case))
    session.flush()
    return _read(case)


# --- the workflow --------------------------------------------------------------------------------


def _send(
    session: Session,
    case: Case,
    mover: Mover,
    route: Route,
    from_state: str,
    note: str,
    cal: WorkCalendar,
    now: datetime,
    action: str,
) -> None:
    """Give the case to a lead unit with fresh deadlines (dispatch, reassign, reopen)."""
    if case.lead_unit and case.lead_unit != route.lead_unit:  # reassigned away from it
        _leaves(case, returned=False)
    case.state = str(S.dispatched)
    case.lead_unit, case.support_units = route.lead_unit, list(route.support_units)
    # the loop is run at the level of the unit that acts: closed as low as it can be
    case.brain_code = orgs.get_unit(session, route.lead_unit).region_code
    case.dispatched_at, case.signed_at, case.replied_at = now, None, None
    case.sign_due = cal.add(now, route.sign_hours)
    case.handle_due = cal.add(now, route.handle_days * 24)
    if action != "reopen":  # a new unit's marks start afresh; a reopened case keeps its record
        case.signed_on_time = case.replied_on_time = None
    case.extension_asked = None
    case.warning = case.warned_for = ""
    _step(session, case, mover, action, from_state, note, {
        "lead_unit": route.lead_unit, "support_units": route.support_units,
        "category_code": case.category_code, "rule": route.rule_id,
        "sign_due": case.sign_due.isoformat(), "handle_due": case.handle_due.isoformat(),
    }, now)  # fmt: skip


def _route_for(session: Session, case: Case, data: ActionIn) -> Route:
    """Where dispatch sends the case: the units named, else the catalog's line for it."""
    urgency = Urgency(case.urgency)
    if data.lead_unit:
        for field, codes in (("lead_unit", [data.lead_unit]),
                             ("support_units", data.support_units or [])):  # fmt: skip
            for code in codes:
                try:
                    unit = orgs.get_unit(session, code)
                except NotFound:
                    raise InvalidInput(f"no unit with code {code}", field=field) from None
                if not unit.active:
                    raise InvalidInput(f"unit {code} is no longer active", field=field)
        if data.lead_unit in (data.support_units or []):
            raise InvalidInput("the lead unit cannot also support", field="support_units")
        found = dispatch.route(session, case.category_code, _path(session, case), urgency)
        base = found or dispatch.default_route(data.lead_unit, [], urgency)
        return base.model_copy(update={"lead_unit": data.lead_unit,
                                       "support_units": list(data.support_units or [])})  # fmt: skip
    if not case.category_code:
        raise InvalidInput("name the lead unit, or the category for the catalog to decide",
                           field="lead_unit")  # fmt: skip
    found = dispatch.route(session, case.category_code, _path(session, case), urgency)
    if found is None:
        raise InvalidInput(f"the dispatch catalog has no line for category {case.category_code} "
                           f"here: name the lead unit", field="lead_unit")  # fmt: skip
    if data.support_units is not None:
        found = found.model_copy(update={"support_units": list(data.support_units)})
    return found


def act(
    session: Session,
    mover: Mover,
    number: str,
    action: Action,
    data: ActionIn,
    *,
    cal: WorkCalendar = DEFAULT,
    now: datetime | None = None,
) -> CaseDetail:
    """Take one step of the workflow; refused with the reason (409) when the case's state does
    not allow it, 403 when the mover may not take it, 422 when what goes with it is missing."""
    now = now or datetime.now(UTC)
    case = _get(session, number)
    if not _may_see(mover, case) and not mover.can(CASES_DISPATCH):
        raise NotFound(f"no case {number}", field="number")
    why = refusal(mover, case, action)
    if why is not None:
        state_ok = CaseState(case.state) in WORKFLOW[action][0]
        raise Forbidden(why, field="action") if state_ok else Conflict(why, field="action")
    before, counted = case.state, _vector(case)
    note = data.note.strip()
    _ACTIONS[action](session, case, mover, data, note, before, cal, now)
    _account(session, counted, _vector(case))
    session.flush()
    return _detail(session, mover, case)


def _need(value: object, field: str, what: str) -> None:
    if not value:
        raise InvalidInput(f"{what} is needed", field=field)


def _leaves(case: Case, *, returned: bool) -> None:
    """The lead unit gives the case up: what it did with it stays counted for it."""
    mark = {"unit": case.lead_unit, "returned": returned, "signed_on_time": case.signed_on_time}
    case.former_leads = [*(case.former_leads or []), mark]


def _do_dispatch(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
                 cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    if d.category_code:
        _check_category(s, d.category_code)
        c.category_code = d.category_code
    if d.urgency is not None:
        c.urgency = str(d.urgency)
    if not c.district_code:
        raise InvalidInput("the case has no place in the city yet: give its region",
                           field="region_code")  # fmt: skip
    _send(s, c, m, _route_for(s, c, d), before, note, cal, now, "dispatch")


def _do_reassign(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
                 cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(note, "note", "the reason for reassigning")
    if d.category_code:
        _check_category(s, d.category_code)
        c.category_code = d.category_code
    route = _route_for(s, c, d)
    if route.lead_unit == c.lead_unit:
        raise InvalidInput(f"the case is already with {c.lead_unit}", field="lead_unit")
    c.reassign_count += 1
    _send(s, c, m, route, before, note, cal, now, "reassign")


def _do_return(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
               cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(note, "note", "the reason for returning the case (not ours, and whose it is)")
    returned_by = c.lead_unit
    _leaves(c, returned=True)
    c.state, c.return_count = str(S.returned), c.return_count + 1
    c.lead_unit, c.support_units, c.sign_due, c.handle_due = "", [], None, None
    c.warning = c.warned_for = ""
    _step(s, c, m, "return", before, note, {"returned_by": returned_by}, now)


def _do_sign(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
             cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    c.state, c.signed_at = str(S.signed), now
    c.signed_on_time = c.sign_due is None or now <= c.sign_due
    if c.warned_for.startswith("sign"):
        c.warning = c.warned_for = ""
    _step(s, c, m, "sign", before, note, {"on_time": c.signed_on_time}, now)


def _do_note(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
             cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(note, "note", "what was done")
    c.state = str(S.handling)
    _step(s, c, m, "note", before, note, None, now)


def _do_extend(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
               cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(d.days, "days", "the working days asked for")
    _need(note, "note", "the reason for more time")
    if c.extension_asked:
        raise Conflict("an extension asked for is still waiting for a decision", field="action")
    c.extension_asked = {"days": d.days, "reason": note, "by": m.unit, "at": now.isoformat()}
    _step(s, c, m, "extend", before, note, {"days": d.days}, now)


def _do_decide(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
               cal: WorkCalendar, now: datetime, *, grant: bool) -> None:  # fmt: skip
    asked = c.extension_asked
    if not asked:
        raise Conflict("no extension has been asked for", field="action")
    if not grant:
        _need(note, "note", "the reason for refusing")
    details: dict[str, Any] = {"days": asked["days"]}
    if grant and c.handle_due is not None:
        c.handle_due = cal.add(c.handle_due, asked["days"] * 24)
        c.extension_count += 1
        details["handle_due"] = c.handle_due.isoformat()
        if c.warned_for.startswith("handle"):
            c.warning = c.warned_for = ""
    c.extension_asked = None
    _step(s, c, m, "approve_extension" if grant else "deny_extension", before, note, details, now)


def _do_reply(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
              cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(d.reply.strip(), "reply", "the reply to the citizen")
    c.state, c.replied_at, c.reply = str(S.replied), now, d.reply.strip()
    c.replied_on_time = c.handle_due is None or now <= c.handle_due
    c.extension_asked, c.warning, c.warned_for = None, "", ""
    _step(s, c, m, "reply", before, note, {"on_time": c.replied_on_time}, now)


def _do_follow_up(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
                  cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(d.satisfaction, "satisfaction", "the citizen's verdict (satisfied, basic, unsatisfied)")
    c.state, c.followed_up_at = str(S.followed_up), now
    c.satisfaction = str(d.satisfaction)
    _step(s, c, m, "follow_up", before, note, {"satisfaction": c.satisfaction}, now)


def _do_reopen(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
               cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(note, "note", "what the citizen still wants")
    lead = d.lead_unit or c.lead_unit
    if not lead:
        raise InvalidInput("name the unit to handle it again", field="lead_unit")
    route = _route_for(s, c, d.model_copy(update={"lead_unit": lead,
                                                  "support_units": d.support_units
                                                  if d.support_units is not None
                                                  else c.support_units}))  # fmt: skip
    c.reopen_count += 1
    c.closed_at, c.closed_how, c.satisfaction, c.reply = None, "", "", ""
    _send(s, c, m, route, before, note, cal, now, "reopen")


def _do_close(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
              cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    if before == S.accepted:  # answered on the spot (直接答复办结)
        _need(d.reply.strip(), "reply", "the answer given on the spot")
        if d.category_code:
            _check_category(s, d.category_code)
            c.category_code = d.category_code
        c.reply, c.replied_at, c.closed_how = d.reply.strip(), now, "answered"
    elif c.satisfaction == Satisfaction.unsatisfied:
        if not m.can(CASES_SUPERVISE):
            raise Forbidden("closing a case the citizen is unsatisfied with needs the "
                            f"permission {CASES_SUPERVISE}; or reopen it", field="action")  # fmt: skip
        _need(note, "note", "why it is closed although the citizen is unsatisfied")
        c.closed_how = "closed_unsatisfied"
    else:
        c.closed_how = "handled"
    c.state, c.closed_at = str(S.closed), now
    _step(s, c, m, "close", before, note, {"how": c.closed_how}, now)


def _do_merge(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
              cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(d.target, "target", "the case this one joins")
    target = repository.by_number(s, d.target)
    if target is None:
        raise InvalidInput(f"no case {d.target}", field="target")
    if target.id == c.id:
        raise InvalidInput("a case cannot be merged into itself", field="target")
    if CaseState(target.state) not in OPEN_STATES:
        raise Conflict(f"case {target.number} is {target.state}: merge into an open case",
                       field="target")  # fmt: skip
    c.state, c.merged_into, c.closed_at, c.closed_how = str(S.merged), target.number, now, "merged"
    c.lead_unit, c.sign_due, c.handle_due, c.warning, c.warned_for = "", None, None, "", ""
    target.related = [*target.related, c.number]
    _step(s, c, m, "merge", before, note, {"into": target.number}, now)


def _do_urge(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
             cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _step(s, c, m, "urge", before, note, {"lead_unit": c.lead_unit}, now)


def _do_escalate(s: Session, c: Case, m: Mover, d: ActionIn, note: str, before: str,
                 cal: WorkCalendar, now: datetime) -> None:  # fmt: skip
    _need(note, "note", "why the brain above must take it (which units it needs)")
    parent = orgs.get_region(s, c.brain_code).parent_code if c.brain_code else None
    if not parent:
        raise Conflict("the case is already with the city's brain", field="action")
    was, c.brain_code = c.brain_code, parent
    _step(s, c, m, "escalate", before, note, {"from": was, "to": parent}, now)


_ACTIONS: dict[Action, Any] = {
    Action.dispatch: _do_dispatch, Action.reassign: _do_reassign, Action.return_: _do_return,
    Action.sign: _do_sign, Action.note: _do_note, Action.extend: _do_extend,
    Action.approve_extension: lambda *a: _do_decide(*a, grant=True),
    Action.deny_extension: lambda *a: _do_decide(*a, grant=False),
    Action.reply: _do_reply, Action.follow_up: _do_follow_up, Action.reopen: _do_reopen,
    Action.close: _do_close, Action.merge: _do_merge, Action.urge: _do_urge,
    Action.escalate: _do_escalate,
}  # fmt: skip


# --- supervision's view: deadlines and figures ----------------------------------------------------


def _stage(case: Case) -> tuple[str, datetime | None, datetime | None]:
    """The running stage, when it started and its deadline."""
    if case.state == S.dispatched:
        return "sign", case.dispatched_at, case.sign_due
    return "handle", case.dispatched_at, case.handle_due


def level_of(
    cal: WorkCalendar, start: datetime | None, due: datetime, now: datetime, warn_fraction: float
) -> str:
    """'' while there is time, 'yellow' when less than ``warn_fraction`` of the stage's working
    time is left, 'red' once it is past."""
    if now > due:
        return "red"
    if start is None:
        return ""
    allowance = cal.hours_between(start, due)
    return "yellow" if cal.hours_between(now, due) < warn_fraction * allowance else ""


def sweep(
    session: Session, cal: WorkCalendar, warn_fraction: float, now: datetime | None = None
) -> list[CaseWarning]:
    """Mark cases whose stage turned yellow or red since the last look; each change is a step of
    the case, on the ledger and published (red ones escalated to the lead unit's counterpart
    above). Returns the warnings raised."""
    now = now or datetime.now(UTC)
    raised: list[CaseWarning] = []
    system = Mover.system("supervision")
    counterparts: dict[str, str | None] = {}
    for case in repository.watched(session):
        stage, start, due = _stage(case)
        if due is None:
            continue
        level = level_of(cal, start, due, now, warn_fraction)
        mark = f"{stage}:{level}" if level else ""
        if not level or mark == case.warned_for:
            continue
        counted = _vector(case)
        case.warning, case.warned_for = level, mark
        _account(session, counted, _vector(case))
        escalate: list[str] = []
        if level == "red" and case.lead_unit:
            if case.lead_unit not in counterparts:
                counterparts[case.lead_unit] = orgs.get_unit(
                    session, case.lead_unit
                ).counterpart_code
            above = counterparts[case.lead_unit]
            escalate = [above] if above else []
        _step(session, case, system, "warn", case.state,
              f"{'逾期' if level == 'red' else '临期'}: {stage} due {due.isoformat()}",
              {"level": level, "stage": stage, "escalate_to": escalate}, now)  # fmt: skip
        warning = CaseWarning(number=case.number, level=level, stage=stage, due=due,
                              lead_unit=case.lead_unit, escalate_to=escalate,
                              district_code=case.district_code,
                              category_code=case.category_code)  # fmt: skip
        bus.publish(session, warning)
        raised.append(warning)
    session.flush()
    return raised


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _day(moment: datetime | None) -> str | None:
    return moment.astimezone(CITY_TZ).date().isoformat() if moment is not None else None


def _figures(row: dict[str, Any]) -> Figures:
    n = {k: int(v or 0) for k, v in row.items() if k != "key"}
    return Figures(
        key=str(row.get("key") or ""), cases=n["cases"], overdue=n["overdue"],
        on_time_signing=_rate(n["signed_on_time"], n["signed"]),
        on_time_closing=_rate(n["replied_on_time"], n["replied"]),
        return_rate=_rate(n["returned"], n["dispatched"]),
        reopen_rate=_rate(n["reopened"], n["verdicts"]),
        # a reopening follows an unsatisfied verdict whose mark the new round cleared
        satisfaction_rate=_rate(n["satisfied"], n["rated"] + n["reopens"]),
        first_time_rate=_rate(n["closed_first_time"], n["closed"]),
        dispatch_accuracy=_rate(n["never_reassigned"], n["dispatched"]),
        counts=n,
    )  # fmt: skip


def figures(
    session: Session,
    by: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Figures]:
    """The figures a 12345 centre is judged on, over the cases taken in from the city's day of
    ``since`` up to (not including) the day of ``until``, for all cases or per lead unit,
    district or 大类. Read from the counts kept as cases change."""
    if by is not None and by not in repository.GROUPS:
        raise InvalidInput(f"group by one of {', '.join(repository.GROUPS)}", field="by")
    rows = repository.figures(session, by, _day(since), _day(until))
    return [_figures(r) for r in rows if by is None or r["cases"]]


def no_figures(key: str = "") -> Figures:
    """The figures of a group with no cases."""
    return _figures({"key": key, **dict.fromkeys(STAT_FIELDS, 0)})


def collaboration_rate(session: Session, since: datetime, until: datetime) -> float | None:
    """跨部门协同率: of the cases taken in from ``since`` up to ``until`` and closed, the share
    handled by more than one unit (a lead with support units); None when none is closed."""
    closed = together = 0
    for units in repository.closed_support(session, since, until):
        closed += 1
        together += bool(units)
    return together / closed if closed else None


def figures_from_cases(
    session: Session,
    by: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Figures]:
    """The same figures aggregated over the cases themselves (slow over many: for checking)."""
    rows = repository.figures_from_cases(session, by, since, until)
    if by == "unit":
        summed = {str(r["key"]): {k: int(v or 0) for k, v in r.items() if k != "key"}
                  for r in rows}  # fmt: skip
        for (_, unit), counts in _moved_by_unit(session, since, until).items():
            row = summed.setdefault(unit, dict.fromkeys(STAT_FIELDS, 0))
            for k, n in counts.items():
                row[k] += n
        rows = [{"key": k, **v} for k, v in sorted(summed.items())]
    return [_figures(r) for r in rows]


# --- learning from what was handled ---------------------------------------------------------------


def retrain(
    session: Session, home: Path, model: str, limit: int = 200_000
) -> dict[str, Any] | None:
    """Learn the classifiers again from closed cases: ``model`` the category, ``model``-units
    the lead unit, the labels being the final ones after any return or reassignment. None when
    there is too little to learn from (fewer than 50 cases or a single category); the unit model
    is left as it was when fewer than 50 of them went to a unit."""
    examples = repository.closed_examples(session, limit)
    if len(examples) < 50 or len({c for _, c, _ in examples}) < 2:
        return None
    texts = [t for t, _, _ in examples]
    info = dispatch.retrain(home, model, texts, [c for _, c, _ in examples])
    routed = [(t, u) for t, _, u in examples if u]
    if len(routed) >= 50 and len({u for _, u in routed}) >= 2:
        dispatch.retrain(home, f"{model}-units", [t for t, _ in routed], [u for _, u in routed])
    ledger.record(session, Actor.system("dispatch"), "hub.dispatch.model.retrained",
                  object_type="model", object_id=model,
                  details={"examples": len(examples), "labels": len(info["labels"]),
                           "routed": len(routed)})  # fmt: skip
    return info


# --- for the brains: counts, and repeated alarms --------------------------------------------------


def counts(
    session: Session, since: datetime, until: datetime, prefix: int = 4
) -> dict[tuple[str, str], int]:
    return repository.counts(session, since, until, prefix)


def recent_numbers(session: Session, category: str, district: str, since: datetime) -> list[str]:
    return repository.recent_numbers(session, category, district, since)


def repeat_alarm(
    session: Session, device_id: str, message: str, now: datetime | None = None
) -> str | None:
    """A device alarms again while its case is open: the alarm joins that case as a step (并单)
    instead of opening another. Returns the case's number, or None when none is open."""
    case = repository.open_for_device(session, device_id)
    if case is None:
        return None
    _step(session, case, Mover.system("perception"), "alarm", case.state, message,
          {"device_id": device_id}, now)  # fmt: skip
    return case.number


def per_day(session: Session, since: datetime, within: str = "") -> list[tuple[str, int]]:
    return repository.per_day(session, since, within)


def open_by_district(session: Session) -> dict[str, tuple[int, int, int]]:
    return repository.open_by_district(session)


def open_points(session: Session, limit: int = 1000) -> list[tuple[str, float, float, str]]:
    """Open cases that have coordinates, the newest first, for a map: (number, lon, lat,
    warning)."""
    return repository.open_points(session, limit)


MOVING_STEPS = ("dispatch", "reassign", "return", "reopen", "merge")


def step_histories(
    session: Session, since: datetime, until: datetime, limit: int = 100_000
) -> list[StepHistory]:
    """Cases dispatched, reassigned, returned, reopened or merged in [since, until), newest
    first, each with those steps of its whole history (a later step may undo an earlier one)."""
    found = repository.moving_steps(session, MOVING_STEPS, since, until, limit)
    targets = repository.categories_of(session, [c.merged_into for c, _ in found if c.merged_into])
    return [StepHistory(
        number=c.number, text=c.text, category_code=c.category_code, lead_unit=c.lead_unit,
        suggested=str((c.suggestion or {}).get("label") or ""),
        merged_into_category=targets.get(c.merged_into, ""),
        steps=[StepRead.model_validate(s) for s in steps],
    ) for c, steps in found]  # fmt: skip


def closed_between(
    session: Session, since: datetime, until: datetime, limit: int = 200_000
) -> list[tuple[str, str, str, str, datetime]]:
    """(number, text, final category, final lead unit, closed at) of the cases closed in
    [since, until), oldest first: the labels after any return, reassignment or change."""
    return repository.closed_between(session, since, until, limit)
