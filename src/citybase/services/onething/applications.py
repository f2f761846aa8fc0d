"""Applications: the one form submitted, each matter handed to its unit as a hub case (at once,
or once the matters it needs are done), followed on the cases' steps until the last matter is
done; the applicant supplements what a unit asked for (补正)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.errors import Conflict, InvalidInput, NotFound
from citybase.core.files import service as files
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel
from citybase.core.settings import Settings
from citybase.core.workdays import WorkCalendar, calendar_for
from citybase.data.masking import operators as ops
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import CaseCreate, Channel
from citybase.hub.cases.schemas import Source as CaseSource
from citybase.services.onething import repository
from citybase.services.onething.auth import ONETHING_FOLLOW
from citybase.services.onething.catalog_items import WORK, get_item, stages
from citybase.services.onething.forms import applicant_of, build_form, consent_basis
from citybase.services.onething.models import (
    Applicant,
    Application,
    ApplicationMatter,
)
from citybase.services.onething.schemas import (
    ApplicationChanged,
    ApplicationCreate,
    ApplicationRead,
    ApplicationState,
    FieldSource,
    ItemSpec,
    MatterRead,
    MatterSpec,
    MatterState,
    Supplement,
)

NUMBER_PREFIX = "YJS"  # 一件事
# the form fields that carry the applicant's phone
PHONE_FIELDS = ("手机号码", "联系电话")
A, M = ApplicationState, MatterState


# --- applications --------------------------------------------------------------------------------


def new_number(session: Session, now: datetime) -> str:
    prefix = f"{NUMBER_PREFIX}{now.astimezone(clock.CITY_TZ):%Y%m%d}"
    return f"{prefix}{repository.next_serial(session, prefix):05d}"


def read_application(session: Session, app: Application, *, unit: str = "") -> ApplicationRead:
    rows = repository.matters(session, app.id)
    out = ApplicationRead.model_validate(app)
    out.matters = [MatterRead.model_validate(r) for r in rows]
    if unit:  # a unit sees the fields and materials of its own matters only
        own = {r.matter_code for r in rows if r.unit_code == unit}
        out.form = {k: v for k, v in app.form.items() if own & set(v.get("matters", []))}
        out.materials = {k: v for k, v in app.materials.items()
                         if own & set(v.get("matters", []))}  # fmt: skip
    return out


def publish_change(
    session: Session, app: Application, matter: ApplicationMatter | None = None
) -> None:
    bus.publish(session, ApplicationChanged(
        number=app.number, item_code=app.item_code, state=app.state,
        matter_code=matter.matter_code if matter else "",
        matter_state=matter.state if matter else "",
    ))  # fmt: skip


def submit(
    session: Session, principal: Principal, data: ApplicationCreate, settings: Settings,
    keys: ops.Keys, *, now: datetime | None = None,
) -> ApplicationRead:  # fmt: skip
    """Submit one application (一表申请): the whole form and every material are checked before
    anything is created; then each matter becomes a case of its unit on the hub — at once
    where it needs no other's result, later where it does — its deadlines counted on the city's
    working calendar (``<home>/calendar.yaml`` over the built-in one)."""
    now = now or datetime.now(UTC)
    cal = calendar_for(settings.home)
    if not data.consent:
        raise InvalidInput("请先同意授权调取您在城市基础库和共享资源中的信息", field="consent")
    item = get_item(session, data.item_code)
    if not item.active:
        raise NotFound(f"没有一件事事项 {data.item_code}", field="item_code")
    spec = item.spec
    order = stages(spec)
    offer = offer_of(session, principal, data.offer) if data.offer else None
    form = build_form(session, principal, spec.code, settings, keys)
    problems: list[tuple[str, str]] = []
    known = {f.element for f in form.fields}
    for element in data.values:
        if element not in known:
            problems.append((f"values.{element}", f"表单中没有字段「{element}」"))
    kept: dict[str, Any] = {}
    for f in form.fields:
        value = f.value if f.source is not FieldSource.applicant else data.values.get(f.element, "")
        value = value.strip() if isinstance(value, str) else value
        if f.required and value in (None, ""):
            problems.append((f"values.{f.element}", f"请填写「{f.label}」"))
        kept[f.element] = {"value": value, "source": f.source.value, "source_ref": f.source_ref,
                           "label": f.label, "matters": f.matters}  # fmt: skip
    given = files.many(session, [v for v in data.materials.values() if v])
    materials: dict[str, Any] = {}
    names = {m.code: m for m in form.materials}
    for code in data.materials:
        if code not in names:
            problems.append((f"materials.{code}", f"没有编码为 {code} 的材料"))
    for m in form.materials:
        file_id = data.materials.get(m.code, "")
        if m.proven:
            materials[m.code] = {"name": m.name, "proven": m.proven, "matters": m.matters,
                                 "certificate": m.certificate_id}  # fmt: skip
        elif file_id and file_id in given:
            materials[m.code] = {"name": m.name, "file_id": file_id, "matters": m.matters}
        elif file_id:
            problems.append((f"materials.{m.code}", f"材料「{m.name}」的文件 {file_id} 不存在"))
        elif m.required:
            problems.append(
                (f"materials.{m.code}", f"缺少材料：「{m.name}」（{'、'.join(m.matters)}）")
            )
    if problems:
        raise InvalidInput("；".join(p for _, p in problems), field=problems[0][0],
                           problems=[{"field": f, "message": p} for f, p in problems])  # fmt: skip
    applicant = applicant_of(session, principal)
    app = offer or Application(number=new_number(session, now), item_code=spec.code,
                               user_id=principal.user_id, kind=applicant.kind,
                               subject_tag=applicant.subject_tag)  # fmt: skip
    app.state, app.form, app.materials = A.in_progress, kept, materials
    app.fields_total, app.fields_prefilled = form.total, form.prefilled
    app.submitted_at = now
    repository.add(session, app)
    first = set(order[0])
    phone = next((v["value"] for k, v in kept.items() if k in ("手机号码", "联系电话")), "")
    for matter in spec.matters:
        row = ApplicationMatter(application_id=app.id, matter_code=matter.code,
                                matter_name=matter.name, unit_code=matter.unit, state=M.waiting,
                                needs=list(matter.needs), time_limit_days=matter.days)  # fmt: skip
        repository.add(session, row)
        if matter.code in first:
            _open_case(session, app, row, spec, matter, applicant, phone, cal, now)
    ledger.record(session, actor_of(principal), "onething.application.submitted",
                  object_type="onething_application", object_id=app.number,
                  reason=consent_basis(spec, principal).legal_basis, case_number=app.number,
                  details={"item": spec.code, "prefilled": form.prefilled, "total": form.total,
                           "reads": form.access_ids, "proactive": app.proactive,
                           "certificates": sorted(m.certificate_id for m in form.materials
                                                  if m.certificate_id)})  # fmt: skip
    publish_change(session, app)
    return read_application(session, app)


def _open_case(
    session: Session, app: Application, row: ApplicationMatter, spec: ItemSpec, m: MatterSpec,
    applicant: Applicant, phone: str, cal: WorkCalendar, now: datetime,
) -> None:  # fmt: skip
    """The matter handed to its unit as a hub case of work (办件, not a 12345 request), its legal
    time limit in working days on ``cal``."""
    try:
        data = CaseCreate(
            source=CaseSource.work, channel=Channel.web,
            reporter_name=applicant.display_name[:100], reporter_phone=phone,
            title=f"一件事·{spec.name}：{m.name}"[:200],
            text=(f"一件事申请 {app.number}（{spec.name}）的事项「{m.name}」，法定办结时限 "
                  f"{m.days} 个工作日。表单与材料见 /console/onething/applications/{app.number}"),
            region_code=_city(session),
        )  # fmt: skip
    except ValidationError:  # a phone the hub does not take: the case goes without it
        data = CaseCreate(source=CaseSource.work, channel=Channel.web,
                          reporter_name=applicant.display_name[:100],
                          title=f"一件事·{spec.name}：{m.name}"[:200],
                          text=f"一件事申请 {app.number} 的事项「{m.name}」",
                          region_code=_city(session))  # fmt: skip
    case = cases.open_work(session, WORK, data, lead_unit=m.unit, handle_days=m.days, cal=cal,
                           now=now)  # fmt: skip
    row.case_number, row.state = case.number, M.handling
    ledger.record(session, Actor.system(WORK), "onething.matter.opened",
                  object_type="onething_application", object_id=app.number,
                  case_number=case.number, details={"matter": m.code, "unit": m.unit})  # fmt: skip


def _city(session: Session) -> str:
    regions = orgs.list_regions(session)
    city = next((r for r in regions if r.level is RegionLevel.city), None)
    return city.code if city else (regions[0].code if regions else "")


def get_application(session: Session, principal: Principal, number: str) -> ApplicationRead:
    """An application for its own applicant; for a unit, the part its matters need; for the
    supervisors and auditors, all of it. To anyone else it does not exist."""
    app = repository.application(session, number)
    if app is None:
        raise NotFound(f"没有申请 {number}", field="number")
    if app.user_id == principal.user_id:
        return read_application(session, app)
    if principal.can(ONETHING_FOLLOW):
        if principal.has_role(Role.supervisor) or principal.has_role(Role.auditor) \
                or principal.has_role(Role.platform_admin):  # fmt: skip
            return read_application(session, app)
        units = {r.unit_code for r in repository.matters(session, app.id)}
        if principal.unit_code and principal.unit_code in units:
            return read_application(session, app, unit=principal.unit_code)
    raise NotFound(f"没有申请 {number}", field="number")


def application_for_system(session: Session, number: str) -> ApplicationRead | None:
    """An application as the platform's own work sees it, for the domains that react to its
    events (好差评 opens it for rating); None when there is none."""
    app = repository.application(session, number)
    return read_application(session, app) if app is not None else None


def application_of_case(session: Session, case_number: str) -> ApplicationRead | None:
    """The application one of whose matters is handled as this hub case; None for any other."""
    row = repository.matter_by_case(session, case_number)
    app = repository.application_by_id(session, row.application_id) if row is not None else None
    return read_application(session, app) if app is not None else None


def applicant_phone(app: ApplicationRead) -> str:
    """The phone the applicant gave on the form (how he proves himself where he does not sign
    in, e.g. to rate what was done); "" when the form asked for none."""
    return next((str(v.get("value") or "") for k, v in app.form.items()
                 if k in PHONE_FIELDS and isinstance(v, dict)), "")  # fmt: skip


def my_applications(session: Session, principal: Principal) -> list[ApplicationRead]:
    return [
        read_application(session, a) for a in repository.applications_of(session, principal.user_id)
    ]


def enterprise_applications(session: Session, subject_tag: str) -> list[ApplicationRead]:
    """The applications made for the enterprise whose keyed hash (of its credit code) is
    ``subject_tag``, by whichever account applied for it — for the page its legal
    representative sees (企业空间), once the caller has checked that he represents it."""
    return [
        read_application(session, a)
        for a in repository.applications_of_subject(session, "enterprise", subject_tag)
    ]


def unit_applications(
    session: Session, principal: Principal, item_code: str = ""
) -> list[ApplicationRead]:
    """Applications the reader may follow: all for supervisors, its unit's for a unit."""
    everything = principal.has_role(Role.supervisor) or principal.has_role(Role.platform_admin) \
        or principal.has_role(Role.auditor)  # fmt: skip
    if not everything and not principal.unit_code:
        return []
    rows = repository.applications(session, item_code=item_code,
                                   unit_code="" if everything else principal.unit_code)  # fmt: skip
    return [
        read_application(session, a, unit="" if everything else principal.unit_code) for a in rows
    ]


def supplement(
    session: Session, principal: Principal, number: str, matter_code: str, data: Supplement,
    *, cal: WorkCalendar, now: datetime | None = None,
) -> ApplicationRead:  # fmt: skip
    """The applicant gives what a unit asked for (补正): the matter's case goes back to the
    unit with fresh deadlines, counted on ``cal`` (the city's working calendar)."""
    now = now or datetime.now(UTC)
    app = repository.application(session, number)
    if app is None or app.user_id != principal.user_id:
        raise NotFound(f"没有申请 {number}", field="number")
    row = next(
        (r for r in repository.matters(session, app.id) if r.matter_code == matter_code), None
    )
    if row is None:
        raise NotFound(f"申请 {number} 没有事项 {matter_code}", field="matter_code")
    if row.state != M.needs_material:
        raise Conflict(f"事项「{row.matter_name}」没有要求补正", field="matter_code")
    if not (data.note.strip() or data.materials):
        raise InvalidInput("请上传补正材料或说明", field="materials")
    given = files.many(session, list(data.materials.values()))
    for code, file_id in data.materials.items():
        if file_id not in given:
            raise InvalidInput(f"材料 {code} 的文件 {file_id} 不存在", field=f"materials.{code}")
        app.materials = app.materials | {code: {"name": code, "file_id": file_id,
                                                "matters": [matter_code], "supplement": True}}  # fmt: skip
    cases.resend_work(session, WORK, row.case_number, lead_unit=row.unit_code,
                      handle_days=row.time_limit_days, note=f"申请人补正：{data.note.strip()}",
                      cal=cal, now=now)  # fmt: skip
    row.state, row.asked = M.handling, ""
    if all(r.state != M.needs_material for r in repository.matters(session, app.id)):
        app.state = A.in_progress
    ledger.record(session, actor_of(principal), "onething.matter.supplemented",
                  object_type="onething_application", object_id=app.number,
                  case_number=row.case_number, details={"matter": matter_code,
                                                        "materials": sorted(data.materials)})  # fmt: skip
    publish_change(session, app, row)
    return read_application(session, app)


# --- following the cases -------------------------------------------------------------------------


def follows_step(session: Session, number: str, action: str) -> bool:
    """Whether this step of a hub case is one ``on_case_changed`` acts on: a return or a reply
    of a matter's case."""
    return action in ("return", "reply") and repository.matter_by_case(session, number) is not None


def on_case_changed(
    session: Session, number: str, action: str, *, cal: WorkCalendar, now: datetime | None = None
) -> None:
    """React to a step of a matter's case: returned by its unit → the applicant is asked for
    more (补正); replied → the matter is done, the matters that needed it are opened (their
    deadlines on ``cal``, the city's working calendar), and the application completes with its
    last matter."""
    now = now or datetime.now(UTC)
    row = repository.matter_by_case(session, number)
    if row is None:
        return
    app = repository.application_by_id(session, row.application_id)
    assert app is not None
    if action == "return" and row.state == M.handling:
        steps = cases.steps_for_system(session, number)
        row.state, row.asked = M.needs_material, (steps[-1].note if steps else "")
        app.state = A.needs_material
        what = "onething.matter.returned"
    elif action == "reply" and row.state != M.done:
        row.state, row.done_at = M.done, now
        row.result = cases.get_for_system(session, number).reply or ""
        what = "onething.matter.done"
        _open_ready(session, app, cal, now)
        if all(r.state == M.done for r in repository.matters(session, app.id)):
            app.state, app.completed_at = A.completed, now
    else:
        return
    ledger.record(session, Actor.system(WORK), what, object_type="onething_application",
                  object_id=app.number, case_number=number,
                  details={"matter": row.matter_code, "state": row.state})  # fmt: skip
    publish_change(session, app, row)


def _open_ready(session: Session, app: Application, cal: WorkCalendar, now: datetime) -> None:
    rows = repository.matters(session, app.id)
    done = {r.matter_code for r in rows if r.state == M.done}
    spec = ItemSpec.model_validate(repository.item(session, app.item_code).spec)  # type: ignore[union-attr]
    by_code = {m.code: m for m in spec.matters}
    applicant = repository.applicant(session, app.user_id)
    phone = next((v["value"] for k, v in app.form.items() if k in PHONE_FIELDS), "")
    for r in rows:
        if r.state == M.waiting and set(r.needs) <= done and r.matter_code in by_code \
                and applicant is not None:  # fmt: skip
            _open_case(session, app, r, spec, by_code[r.matter_code], applicant, phone, cal, now)


def offer_of(session: Session, principal: Principal, number: str) -> Application:
    """An offer made unasked to this applicant, still waiting to be confirmed or declined."""
    app = repository.application(session, number)
    if app is None or app.user_id != principal.user_id:
        raise NotFound(f"没有申请 {number}", field="offer")
    if app.state != A.offered:
        raise Conflict(f"申请 {number} 不是待确认的免申即办", field="offer")
    return app
