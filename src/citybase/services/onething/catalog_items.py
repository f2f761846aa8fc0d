"""The one-thing catalog (一件事清单): items loaded from YAML and checked — units, needs,
cycles among the matters, the sources of the fields — and the stages the matters run in."""

from __future__ import annotations

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.catalog import service as catalog
from citybase.data.certificates import service as certificates
from citybase.services.onething import repository
from citybase.services.onething.auth import ONETHING_KEEP
from citybase.services.onething.models import OneThingItem
from citybase.services.onething.schemas import (
    ApplicantKind,
    ItemRead,
    ItemSpec,
    LoadReport,
)

WORK = "onething"  # who keeps the items and takes the matters' cases in, on the ledger


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
            if x.holder and not x.certificate:
                problems.append(f"{spec.code}.{m.code}.materials.{x.code}.holder: "
                                "只有由电子证照证明的材料才能指定持证人字段")  # fmt: skip
            elif x.holder and not (spec.sources.get(x.holder) and spec.sources[x.holder].resource):
                # another's certificate only where a register ties that person to the applicant
                problems.append(f"{spec.code}.{m.code}.materials.{x.code}.holder: 持证人字段"
                                f"「{x.holder}」须由共享资源按申请人本人的记录预填")  # fmt: skip
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
