"""The one-thing service (高效办成一件事): the catalog of items, the one form filled from what
the city knows, applications handed to the units as hub cases, offers made unasked.

Every value pre-filled into a form is read through the one traced read (``data/sharing``)
under the applicant's consent (申请人授权): the base-library file through baselib's service,
shared catalog resources through sharing's — each read on the ledger and in the access log.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.files import service as files
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel
from citybase.core.settings import Settings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.catalog import service as catalog
from citybase.data.certificates import service as certificates
from citybase.data.datastore.schemas import RowQuery
from citybase.data.masking import operators as ops
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import CONSENT, Basis, ReadContext
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import CaseCreate, Channel
from citybase.hub.cases.schemas import Source as CaseSource
from citybase.services.onething import repository
from citybase.services.onething.auth import ONETHING_FOLLOW, ONETHING_KEEP
from citybase.services.onething.models import (
    Applicant,
    Application,
    ApplicationMatter,
    OneThingItem,
)
from citybase.services.onething.schemas import (
    ApplicantKind,
    ApplicantRegister,
    ApplicationChanged,
    ApplicationCreate,
    ApplicationRead,
    ApplicationState,
    FieldSource,
    FormField,
    FormMaterial,
    FormRead,
    ItemRead,
    ItemSpec,
    LoadReport,
    MatterRead,
    MatterSpec,
    MatterState,
    Supplement,
)

NUMBER_PREFIX = "YJS"  # 一件事
# the form fields that carry the applicant's phone
PHONE_FIELDS = ("手机号码", "联系电话")
PREFILL_ACTION = "onething.prefill"
WORK = "onething"  # who takes the matters' cases in, on the ledger
A, M = ApplicationState, MatterState


# --- the catalog ---------------------------------------------------------------------------------


def find_cycle(spec: ItemSpec) -> list[str] | None:
    """A cycle among the matters' dependencies, as the matter codes around it (first repeated
    at the end), or None."""
    needs = {m.code: list(m.needs) for m in spec.matters}
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(code: str) -> list[str] | None:
        state[code] = 1
        path.append(code)
        for other in needs.get(code, []):
            if state.get(other) == 1:
                return [*path[path.index(other) :], other]
            if other in needs and other not in state and (found := visit(other)):
                return found
        path.pop()
        state[code] = 2
        return None

    for code in needs:
        if code not in state and (found := visit(code)):
            return found
    return None


def stages(spec: ItemSpec) -> list[list[str]]:
    """The matters in stages: each stage needs only the results of earlier ones, so the matters
    of one stage are handled in parallel. Refuses a cycle, naming it."""
    if cycle := find_cycle(spec):
        raise InvalidInput(f"事项之间存在循环依赖：{' → '.join(cycle)}", field="matters.needs")
    done: set[str] = set()
    left = {m.code: set(m.needs) for m in spec.matters}
    out: list[list[str]] = []
    while left:
        ready = [c for c, n in left.items() if n <= done]
        out.append(ready)
        done.update(ready)
        for code in ready:
            del left[code]
    return out


def _resolve_sources(session: Session, spec: ItemSpec) -> None:
    """A source may name its resource by code or by its catalog name: names become codes."""
    wanted = {s.resource for s in spec.sources.values() if s.resource}
    unknown = set()
    for ref in wanted:
        try:
            catalog.get_resource(session, ref)
        except NotFound:
            unknown.add(ref)
    if not unknown:
        return
    by_name: dict[str, str] = {}
    for code in catalog.all_codes(session):
        name = catalog.get_resource(session, code).name
        if name in unknown:
            by_name.setdefault(name, code)
    for source in spec.sources.values():
        if source.resource in by_name:
            source.resource = by_name[source.resource]


def check_spec(session: Session, spec: ItemSpec) -> list[str]:
    """What is wrong with an item's specification, each problem naming its place. Resources
    named by their catalog name are resolved to their codes first."""
    _resolve_sources(session, spec)
    problems: list[str] = []
    codes = [m.code for m in spec.matters]
    if len(set(codes)) != len(codes):
        problems.append(f"{spec.code}.matters: 事项编码重复")
    units = {spec.lead_unit} | {m.unit for m in spec.matters}
    for unit in sorted(units):
        try:
            orgs.get_unit(session, unit)
        except NotFound:
            problems.append(f"{spec.code}.unit: 没有编码为 {unit} 的单位")
    for m in spec.matters:
        for need in m.needs:
            if need not in codes:
                problems.append(f"{spec.code}.{m.code}.needs: 没有事项 {need}")
        names = [x.code for x in m.materials]
        if len(set(names)) != len(names):
            problems.append(f"{spec.code}.{m.code}.materials: 材料编码重复")
        for x in m.materials:
            if x.certificate:
                try:
                    certificates.get_certificate_type(session, x.certificate)
                except NotFound:
                    problems.append(f"{spec.code}.{m.code}.materials.{x.code}: "
                                    f"没有电子证照类型 {x.certificate}")  # fmt: skip
    if cycle := find_cycle(spec):
        problems.append(f"{spec.code}.needs: 事项之间存在循环依赖：{' → '.join(cycle)}")
    kind = Kind(spec.applicant.value)
    for element, source in spec.sources.items():
        if source.library and source.library not in _library_fields(kind):
            problems.append(f"{spec.code}.sources.{element}: 基础库没有字段 {source.library}")
        if source.resource:
            try:
                resource = catalog.get_resource(session, source.resource)
            except NotFound:
                problems.append(f"{spec.code}.sources.{element}: 目录中没有资源 {source.resource}")
                continue
            items = {i.name for i in resource.items}
            for item in (source.item, source.key):
                if item not in items:
                    problems.append(
                        f"{spec.code}.sources.{element}: 资源 {source.resource} 没有数据项 {item}"
                    )
    return problems


def _library_fields(kind: Kind) -> set[str]:
    elements = ("姓名", "公民身份号码", "手机号码", "出生日期", "性别", "地址") if kind is Kind.person \
        else ("统一社会信用代码", "企业名称", "法定代表人", "注册地址", "成立日期")  # fmt: skip
    return {f for e in elements if (f := baselib.field_of_element(kind, e))}


def _item_read(
    session: Session, row: OneThingItem, totals: dict[str, tuple[int, int, int]]
) -> ItemRead:
    spec = ItemSpec.model_validate(row.spec)
    n, pre, tot = totals.get(row.code, (0, 0, 0))
    return ItemRead(
        code=row.code, name=row.name, lead_unit_code=row.lead_unit_code,
        applicant_kind=ApplicantKind(row.applicant_kind), active=row.active, spec=spec,
        order=stages(spec), prefill_share=(pre / tot) if tot else None, applications=n,
        updated_at=row.updated_at,
    )  # fmt: skip


def list_items(session: Session) -> list[ItemRead]:
    totals = repository.prefill_totals(session)
    return [_item_read(session, r, totals) for r in repository.items(session)]


def get_item(session: Session, code: str) -> ItemRead:
    row = repository.item(session, code)
    if row is None:
        raise NotFound(f"没有一件事事项 {code}", field="item_code")
    return _item_read(session, row, repository.prefill_totals(session))


def _require_keeper(principal: Principal | None) -> None:
    if principal is not None and not principal.can(ONETHING_KEEP):
        raise Forbidden(f"编辑一件事清单需要权限 {ONETHING_KEEP}", field="permission")


def save_item(
    session: Session, principal: Principal | None, spec: ItemSpec, *, actor: Actor | None = None
) -> ItemRead:
    """Create or replace an item (by code), refused with every problem named."""
    _require_keeper(principal)
    if problems := check_spec(session, spec):
        raise InvalidInput("；".join(problems), field="spec")
    who = actor or (actor_of(principal) if principal else Actor.system(WORK))
    row = repository.item(session, spec.code)
    created = row is None
    if row is None:
        row = OneThingItem(code=spec.code)
    row.name, row.lead_unit_code = spec.name, spec.lead_unit
    row.applicant_kind, row.spec = spec.applicant.value, spec.model_dump(mode="json")
    row.updated_by, row.active = who.name, True
    repository.add(session, row)
    ledger.record(session, who, "onething.item.created" if created else "onething.item.updated",
                  object_type="onething_item", object_id=spec.code, reason=spec.legal_basis,
                  details={"matters": [m.code for m in spec.matters]})  # fmt: skip
    return get_item(session, spec.code)


_PYDANTIC_ZH = {
    "missing": "缺少此项", "extra_forbidden": "不认识的字段", "string_too_short": "不能为空",
    "string_too_long": "太长", "too_short": "至少要有一项", "too_long": "项数太多",
    "string_pattern_mismatch": "格式不符：小写字母开头，只用字母、数字和 . _ -",
    "int_parsing": "应为整数", "int_type": "应为整数", "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大", "enum": "取值不在允许范围内", "string_type": "应为文字",
    "list_type": "应为列表", "dict_type": "应为映射（键: 值）", "model_type": "应为映射（键: 值）",
    "bool_parsing": "应为 true 或 false", "bool_type": "应为 true 或 false",
}  # fmt: skip


def parse_items(text: str) -> tuple[list[ItemSpec], list[str]]:
    """Items from YAML (or JSON): ``items:`` a list of specifications, or one specification.
    Each problem is ``where: what``, what in Chinese."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [f"YAML: 无法解析{f'（第 {mark.line + 1} 行）' if mark else ''}"]
    raw = doc.get("items", [doc]) if isinstance(doc, dict) else doc
    if not isinstance(raw, list):
        return [], ["YAML: 文件应是一件事事项的列表"]
    specs: list[ItemSpec] = []
    problems: list[str] = []
    for i, entry in enumerate(raw):
        try:
            specs.append(ItemSpec.model_validate(entry))
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                why = _PYDANTIC_ZH.get(err["type"], "取值无效")
                if err["type"] == "value_error":
                    why = "应写明基础库字段或共享资源之一；共享资源须写明数据项和关键项"
                problems.append(f"items[{i}].{where}: {why}")
    return specs, problems


def load_items(
    session: Session, principal: Principal | None, text: str, *, actor: Actor | None = None,
    dry_run: bool = False,
) -> LoadReport:  # fmt: skip
    """Load items from YAML: all of them, or — with any problem — none."""
    _require_keeper(principal)
    specs, problems = parse_items(text)
    for spec in specs:
        problems.extend(check_spec(session, spec))
    report = LoadReport(problems=problems)
    if problems or dry_run:
        return report
    for spec in specs:
        existed = repository.item(session, spec.code) is not None
        save_item(session, principal, spec, actor=actor)
        (report.updated if existed else report.created).append(spec.code)
    return report


def item_yaml(item: ItemRead) -> str:
    return yaml.safe_dump(item.spec.model_dump(mode="json", exclude_defaults=True),
                          allow_unicode=True, sort_keys=False)  # fmt: skip


# --- applicants ----------------------------------------------------------------------------------


def register_applicant(
    session: Session, principal: Principal | None, data: ApplicantRegister, keys: ops.Keys,
    *, actor: Actor | None = None,
) -> None:  # fmt: skip
    """Tie a user of role applicant to its real-name identity (as a real-name service would),
    kept as the keyed hash only."""
    if principal is not None and not principal.has_role(Role.platform_admin):
        raise Forbidden("只有平台管理员可以登记申请人身份", field="permission")
    user = identity.get_user_by_username(session, data.username)
    if Role.applicant not in user.roles:
        raise InvalidInput(f"{data.username} 不是申请人账号", field="username")
    tag = baselib.subject_tag(Kind(data.kind.value), data.number, keys)
    row = repository.applicant(session, user.id) or Applicant(user_id=user.id)
    row.kind, row.subject_tag, row.display_name = data.kind.value, tag, user.display_name
    repository.add(session, row)
    ledger.record(session, actor or (actor_of(principal) if principal else Actor.system(WORK)),
                  "onething.applicant.registered", object_type="user", object_id=user.id,
                  details={"kind": data.kind.value})  # fmt: skip


def _applicant(session: Session, principal: Principal) -> Applicant:
    row = repository.applicant(session, principal.user_id)
    if row is None:
        raise Forbidden("该账号尚未完成实名身份登记，不能申请一件事", field="applicant")
    return row


# --- the one form --------------------------------------------------------------------------------


def consent_basis(spec: ItemSpec, principal: Principal, action: str = PREFILL_ACTION) -> Basis:
    return Basis(
        kind=CONSENT, ref=f"{spec.code}:{principal.username}",
        legal_basis=f"申请人授权（一件事：{spec.name}；{spec.legal_basis or '依申请'}）",
        fields=(), purpose=f"一件事「{spec.name}」一表申请预填", consumer=spec.lead_unit,
        action=action, in_clear=True,
    )  # fmt: skip


def _fields_of(spec: ItemSpec) -> dict[str, FormField]:
    out: dict[str, FormField] = {}
    for m in spec.matters:
        for f in m.fields:
            field = out.get(f.element)
            if field is None:
                out[f.element] = FormField(element=f.element, label=f.label or f.element,
                                           required=f.required, matters=[m.code])  # fmt: skip
            else:
                field.required = field.required or f.required
                field.matters.append(m.code)
    return out


def _materials_of(spec: ItemSpec) -> dict[str, FormMaterial]:
    out: dict[str, FormMaterial] = {}
    for m in spec.matters:
        for x in m.materials:
            got = out.get(x.code)
            if got is None:
                out[x.code] = FormMaterial(code=x.code, name=x.name, matters=[m.code],
                                           required=x.required, certificate=x.certificate)  # fmt: skip
            else:
                got.matters.append(m.code)
                got.required = got.required or x.required
    return out


def _prove(session: Session, applicant: Applicant, material: FormMaterial) -> None:
    """免证明: a material an issued e-certificate proves is not asked for; the applicant's valid
    certificate of the type (found by the same keyed hash the base libraries use) is checked
    instead — its SM2 signature, holder, type and term (``require_valid``)."""
    if not material.certificate:
        return
    found = certificates.valid_certificates_for(
        session, holder_key=applicant.subject_tag, type_codes=[material.certificate]
    )
    for cert in found:
        try:
            certificates.require_valid(session, cert.identifier, holder_key=applicant.subject_tag,
                                       type_codes=[material.certificate])  # fmt: skip
        except certificates.CertificateNotValid as exc:
            material.seam = f"电子证照 {exc.identifier} 不能采信（{_NOT_VALID.get(exc.status, exc.status)}），请上传材料"
            continue
        material.proven = f"{cert.name} {cert.number}（{cert.issuer_name}）"
        material.certificate_id = cert.identifier
        material.seam = ""
        return
    if not material.seam:
        material.seam = "未找到您有效的该类电子证照，请上传材料"


_NOT_VALID = {
    "forged": "签名验证不通过", "wrong_holder": "不属于申请人", "wrong_type": "证照类型不符",
    "revoked": "已注销", "expired": "已过期", "not_yet_valid": "尚未生效",
}  # fmt: skip


def build_form(
    session: Session, principal: Principal, item_code: str, settings: Settings, keys: ops.Keys,
) -> FormRead:  # fmt: skip
    """The one form of an item for the signed-in applicant, pre-filled under its consent: the
    fields the base libraries or shared resources hold, each with its source, read through the
    traced read; a field the sharing rules refuse says why; the rest is the applicant's."""
    spec = get_item(session, item_code).spec
    applicant = _applicant(session, principal)
    kind = Kind(applicant.kind)
    if applicant.kind != spec.applicant.value:
        raise InvalidInput(f"「{spec.name}」由{'企业' if spec.applicant is ApplicantKind.enterprise else '个人'}申请",
                           field="item_code")  # fmt: skip
    fields = _fields_of(spec)
    basis = consent_basis(spec, principal)
    ctx = ReadContext(purpose=basis.purpose)
    access_ids: list[int] = []
    from_library: dict[str, str] = {}  # element → file field
    from_resource: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (code, key) → (el, item)
    for element in fields:
        source = spec.sources.get(element)
        if source is not None and source.resource:
            from_resource.setdefault((source.resource, source.key), []).append(
                (element, source.item)
            )
        elif lib := (source.library if source else baselib.field_of_element(kind, element)):
            from_library[element] = lib
    number = ""
    if from_library or from_resource:
        file = baselib.read_file_under(session, principal, kind, applicant.subject_tag, ctx, keys,
                                       settings.baselib, basis)  # fmt: skip
        if file is None:
            for element in list(from_library) + [e for v in from_resource.values() for e, _ in v]:
                fields[element].refused = "城市基础库中没有申请人的档案"
        elif isinstance(file, sharing.Refused):
            access_ids.append(file.access_id)
            for element in from_library:
                fields[element].refused = f"共享规则拒绝：{file.message}"
        else:
            access_ids.append(file.access_id)
            got = {f.field: f for f in file.fields}
            key = got.get(baselib.key_field(kind))
            number = str(key.value) if key is not None and key.value else ""
            for element, lib in from_library.items():
                if lib in got and got[lib].value not in (None, ""):
                    fields[element].value = got[lib].value
                    fields[element].source = FieldSource.library
                    fields[element].source_ref = (f"{'一人一档' if kind is Kind.person else '一企一档'}"
                                                  f"·{got[lib].resource_code}（{got[lib].unit_code}）")  # fmt: skip
                elif lib in file.withheld_why:
                    fields[element].refused = file.withheld_why[lib]
    for (code, key_item), wanted in from_resource.items():
        if not number:
            continue
        query = RowQuery(filters={key_item: number}, fields=sorted({i for _, i in wanted}), limit=1)
        served = sharing.read_rows_under(session, principal, code, ctx, query, keys, basis)
        if isinstance(served, sharing.Refused):
            access_ids.append(served.access_id)
            for element, _ in wanted:
                fields[element].refused = f"共享规则拒绝（{code}）：{served.message}"
            continue
        access_ids.append(served.page.access_id)
        if not served.page.rows:
            continue
        row = served.page.rows[0]
        provider = catalog.get_resource(session, code).provider_unit_code
        for element, item in wanted:
            if row.get(item) not in (None, ""):
                fields[element].value = str(row[item])
                fields[element].source = FieldSource.resource
                fields[element].source_ref = f"{code}（{provider}）"
    materials = _materials_of(spec)
    for material in materials.values():
        _prove(session, applicant, material)
    listed = list(fields.values())
    pre = sum(1 for f in listed if f.source is not FieldSource.applicant)
    return FormRead(item_code=spec.code, item_name=spec.name, fields=listed,
                    materials=list(materials.values()), prefilled=pre, total=len(listed),
                    access_ids=access_ids)  # fmt: skip


# --- applications --------------------------------------------------------------------------------


def _number(session: Session, now: datetime) -> str:
    prefix = f"{NUMBER_PREFIX}{now.astimezone(clock.CITY_TZ):%Y%m%d}"
    return f"{prefix}{repository.next_serial(session, prefix):05d}"


def _read(session: Session, app: Application, *, unit: str = "") -> ApplicationRead:
    rows = repository.matters(session, app.id)
    out = ApplicationRead.model_validate(app)
    out.matters = [MatterRead.model_validate(r) for r in rows]
    if unit:  # a unit sees the fields and materials of its own matters only
        own = {r.matter_code for r in rows if r.unit_code == unit}
        out.form = {k: v for k, v in app.form.items() if own & set(v.get("matters", []))}
        out.materials = {k: v for k, v in app.materials.items()
                         if own & set(v.get("matters", []))}  # fmt: skip
    return out


def _publish(session: Session, app: Application, matter: ApplicationMatter | None = None) -> None:
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
    where it needs no other's result, later where it does."""
    now = now or datetime.now(UTC)
    if not data.consent:
        raise InvalidInput("请先同意授权调取您在城市基础库和共享资源中的信息", field="consent")
    item = get_item(session, data.item_code)
    if not item.active:
        raise NotFound(f"没有一件事事项 {data.item_code}", field="item_code")
    spec = item.spec
    order = stages(spec)
    offer = _offer_of(session, principal, data.offer) if data.offer else None
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
    applicant = _applicant(session, principal)
    app = offer or Application(number=_number(session, now), item_code=spec.code,
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
            _open_case(session, app, row, spec, matter, applicant, phone, now)
    ledger.record(session, actor_of(principal), "onething.application.submitted",
                  object_type="onething_application", object_id=app.number,
                  reason=consent_basis(spec, principal).legal_basis, case_number=app.number,
                  details={"item": spec.code, "prefilled": form.prefilled, "total": form.total,
                           "reads": form.access_ids, "proactive": app.proactive,
                           "certificates": sorted(m.certificate_id for m in form.materials
                                                  if m.certificate_id)})  # fmt: skip
    _publish(session, app)
    return _read(session, app)


def _open_case(
    session: Session, app: Application, row: ApplicationMatter, spec: ItemSpec, m: MatterSpec,
    applicant: Applicant, phone: str, now: datetime,
) -> None:  # fmt: skip
    try:
        data = CaseCreate(
            source=CaseSource.portal, channel=Channel.web,
            reporter_name=applicant.display_name[:100], reporter_phone=phone,
            title=f"一件事·{spec.name}：{m.name}"[:200],
            text=(f"一件事申请 {app.number}（{spec.name}）的事项「{m.name}」，法定办结时限 "
                  f"{m.days} 个工作日。表单与材料见 /console/onething/applications/{app.number}"),
            region_code=_city(session),
        )  # fmt: skip
    except ValidationError:  # a phone the hub does not take: the case goes without it
        data = CaseCreate(source=CaseSource.portal, channel=Channel.web,
                          reporter_name=applicant.display_name[:100],
                          title=f"一件事·{spec.name}：{m.name}"[:200],
                          text=f"一件事申请 {app.number} 的事项「{m.name}」",
                          region_code=_city(session))  # fmt: skip
    case = cases.open_work(session, WORK, data, lead_unit=m.unit, handle_days=m.days, now=now)
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
        return _read(session, app)
    if principal.can(ONETHING_FOLLOW):
        if principal.has_role(Role.supervisor) or principal.has_role(Role.auditor) \
                or principal.has_role(Role.platform_admin):  # fmt: skip
            return _read(session, app)
        units = {r.unit_code for r in repository.matters(session, app.id)}
        if principal.unit_code and principal.unit_code in units:
            return _read(session, app, unit=principal.unit_code)
    raise NotFound(f"没有申请 {number}", field="number")


def application_for_system(session: Session, number: str) -> ApplicationRead | None:
    """An application as the platform's own work sees it, for the domains that react to its
    events (好差评 opens it for rating); None when there is none."""
    app = repository.application(session, number)
    return _read(session, app) if app is not None else None


def application_of_case(session: Session, case_number: str) -> ApplicationRead | None:
    """The application one of whose matters is handled as this hub case; None for any other."""
    row = repository.matter_by_case(session, case_number)
    app = repository.application_by_id(session, row.application_id) if row is not None else None
    return _read(session, app) if app is not None else None


def applicant_phone(app: ApplicationRead) -> str:
    """The phone the applicant gave on the form (how he proves himself where he does not sign
    in, e.g. to rate what was done); "" when the form asked for none."""
    return next((str(v.get("value") or "") for k, v in app.form.items()
                 if k in PHONE_FIELDS and isinstance(v, dict)), "")  # fmt: skip


def my_applications(session: Session, principal: Principal) -> list[ApplicationRead]:
    return [_read(session, a) for a in repository.applications_of(session, principal.user_id)]


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
    return [_read(session, a, unit="" if everything else principal.unit_code) for a in rows]


def supplement(
    session: Session, principal: Principal, number: str, matter_code: str, data: Supplement,
    *, now: datetime | None = None,
) -> ApplicationRead:  # fmt: skip
    """The applicant gives what a unit asked for (补正): the matter's case goes back to the
    unit with fresh deadlines."""
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
                      now=now)  # fmt: skip
    row.state, row.asked = M.handling, ""
    if all(r.state != M.needs_material for r in repository.matters(session, app.id)):
        app.state = A.in_progress
    ledger.record(session, actor_of(principal), "onething.matter.supplemented",
                  object_type="onething_application", object_id=app.number,
                  case_number=row.case_number, details={"matter": matter_code,
                                                        "materials": sorted(data.materials)})  # fmt: skip
    _publish(session, app, row)
    return _read(session, app)


# --- following the cases -------------------------------------------------------------------------


def on_case_changed(
    session: Session, number: str, action: str, *, now: datetime | None = None
) -> None:
    """React to a step of a matter's case: returned by its unit → the applicant is asked for
    more (补正); replied → the matter is done, the matters that needed it are opened, and the
    application completes with its last matter."""
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
        _open_ready(session, app, now)
        if all(r.state == M.done for r in repository.matters(session, app.id)):
            app.state, app.completed_at = A.completed, now
    else:
        return
    ledger.record(session, Actor.system(WORK), what, object_type="onething_application",
                  object_id=app.number, case_number=number,
                  details={"matter": row.matter_code, "state": row.state})  # fmt: skip
    _publish(session, app, row)


def _open_ready(session: Session, app: Application, now: datetime) -> None:
    rows = repository.matters(session, app.id)
    done = {r.matter_code for r in rows if r.state == M.done}
    spec = ItemSpec.model_validate(repository.item(session, app.item_code).spec)  # type: ignore[union-attr]
    by_code = {m.code: m for m in spec.matters}
    applicant = repository.applicant(session, app.user_id)
    phone = next((v["value"] for k, v in app.form.items() if k in PHONE_FIELDS), "")
    for r in rows:
        if r.state == M.waiting and set(r.needs) <= done and r.matter_code in by_code \
                and applicant is not None:  # fmt: skip
            _open_case(session, app, r, spec, by_code[r.matter_code], applicant, phone, now)


# --- offers made unasked (免申即办) ----------------------------------------------------------------


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _as_date(value: Any) -> date | None:
    text = str(value or "").strip().replace("/", "-")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def make_offers(
    session: Session, settings: Settings, keys: ops.Keys, *, today: date | None = None,
    now: datetime | None = None,
) -> int:  # fmt: skip
    """Offer the items with a proactive rule to the registered persons the data says qualify —
    their age reached, read from their file under the platform's proactive-service basis,
    through the traced read — once each; the person confirms or declines."""
    now = now or datetime.now(UTC)
    today = today or clock.today()
    made = 0
    for row in repository.items(session, active_only=True):
        spec = ItemSpec.model_validate(row.spec)
        rule = spec.proactive
        if rule is None or spec.applicant is not ApplicantKind.person:
            continue
        lib_birth = baselib.field_of_element(Kind.person, rule.element)
        lib_sex = baselib.field_of_element(Kind.person, "性别")
        for applicant in repository.applicants(session, ApplicantKind.person.value):
            if repository.has_application(session, spec.code, applicant.subject_tag):
                continue
            principal = identity.principal_for(
                session, identity.get_user(session, applicant.user_id).username
            )
            basis = Basis(kind="proactive", ref=f"{spec.code}:{principal.username}",
                          legal_basis=f"免申即办（{spec.legal_basis or spec.name}）",
                          fields=(), purpose=f"一件事「{spec.name}」免申即办资格核验",
                          consumer=spec.lead_unit, action="onething.offer.check", in_clear=True)  # fmt: skip
            file = baselib.read_file_under(session, principal, Kind.person, applicant.subject_tag,
                                           ReadContext(purpose=basis.purpose), keys,
                                           settings.baselib, basis)  # fmt: skip
            if file is None or isinstance(file, sharing.Refused):
                continue
            got = {f.field: f.value for f in file.fields}
            number = str(got.get(baselib.key_field(Kind.person)) or "")
            # the birth date the citizen ID carries (GB 11643, fixed at registration), else
            # the file's: a golden 出生日期 can come from a row about someone else's birth
            birth = _as_date(
                f"{number[6:10]}-{number[10:12]}-{number[12:14]}" if len(number) == 18 else ""
            ) or _as_date(got.get(lib_birth or ""))
            if birth is None:
                continue
            sex = str(got.get(lib_sex or "") or "")
            if not sex and len(number) == 18 and number[16].isdigit():
                sex = "男" if int(number[16]) % 2 else "女"
            age = rule.min_age_by_sex.get(sex, rule.min_age)
            if _age(birth, today) < age:
                continue
            app = Application(number=_number(session, now), item_code=spec.code,
                              user_id=applicant.user_id, kind=applicant.kind,
                              subject_tag=applicant.subject_tag, state=A.offered, proactive=True,
                              note=f"您已年满 {age} 周岁，可免申请办理「{spec.name}」")  # fmt: skip
            repository.add(session, app)
            ledger.record(session, Actor.system(WORK), "onething.offer.made",
                          object_type="onething_application", object_id=app.number,
                          reason=basis.legal_basis, details={"item": spec.code,
                                                             "read": file.access_id})  # fmt: skip
            _publish(session, app)
            made += 1
    return made


def _offer_of(session: Session, principal: Principal, number: str) -> Application:
    app = repository.application(session, number)
    if app is None or app.user_id != principal.user_id:
        raise NotFound(f"没有申请 {number}", field="offer")
    if app.state != A.offered:
        raise Conflict(f"申请 {number} 不是待确认的免申即办", field="offer")
    return app


def decline_offer(session: Session, principal: Principal, number: str) -> ApplicationRead:
    app = _offer_of(session, principal, number)
    app.state = A.declined
    ledger.record(session, actor_of(principal), "onething.offer.declined",
                  object_type="onething_application", object_id=number)  # fmt: skip
    _publish(session, app)
    return _read(session, app)


def offers_of(session: Session, principal: Principal) -> list[ApplicationRead]:
    return [a for a in my_applications(session, principal) if a.state == A.offered]
