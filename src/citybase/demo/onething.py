"""The demo city's one-thing service: the six items of ``onething.yaml``, the units they need
that the city's register lacks, applicants tied to residents and firms the base libraries know,
and applications at every stage — submitted, handled in order, returned for more material, an
offer made unasked."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import NotFound
from citybase.core.files import service as files
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import UnitCreate
from citybase.core.settings import Settings
from citybase.core.workdays import WorkCalendar, calendar_for
from citybase.data.baselib import repository as baselib_repository
from citybase.data.baselib import service as baselib
from citybase.data.baselib.models import BaseEntity
from citybase.data.baselib.schemas import Kind
from citybase.data.catalog import service as catalog
from citybase.data.certificates import service as certificates
from citybase.data.certificates.schemas import CertificateCreate
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowQuery
from citybase.data.masking import operators as ops
from citybase.demo.certificates import FOOD, LICENCE, MARRIAGE, RETIREMENT
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn
from citybase.services.onething import repository, service
from citybase.services.onething.schemas import (
    ApplicantKind,
    ApplicantRegister,
    ApplicationCreate,
    FieldSource,
)
from citybase.services.portal import service as portal

ITEMS_FILE = Path(__file__).parent / "onething.yaml"
FOUNDED = "福州榕城示范餐饮管理有限公司"  # the name the founder declared (名称自主申报)
ACTOR = Actor.system("demo")
# units the items need that the demo's register does not hold
UNITS = (
    ("fz.tax", "国家税务总局福州市税务局", "市税务局"),
    ("fz.hpf", "福州住房公积金中心", "市公积金中心"),
    ("fz.fire", "福州市消防救援支队", "市消防救援支队"),
)
# the applicants: the demo users citizen and firm, and these
APPLICANTS = (
    ("citizen", "person"), ("retiree", "person"), ("founder", "person"), ("family", "person"),
    ("firm", "enterprise"), ("firm2", "enterprise"),
)  # fmt: skip


def _code(session: Session, name: str) -> str:
    for code in catalog.all_codes(session):
        if catalog.get_resource(session, code).name == name:
            return code
    raise NotFound(f"no resource {name}")


def _column(session: Session, name: str, column: str) -> list[str]:
    page = datastore.query(session, _code(session, name), RowQuery(limit=10_000))
    return [str(r[column]) for r in page.rows if r.get(column)]


def _files(session: Session, kind: Kind) -> dict[str, dict[str, str]]:
    """number → the golden fields of every file of the library that has its number."""
    out: dict[str, dict[str, str]] = {}
    key = baselib.key_field(kind)
    for entity in session.scalars(select(BaseEntity).where(BaseEntity.kind == kind.value,
                                                           BaseEntity.records > 0)):  # fmt: skip
        golden = {g.field: str(g.value) for g in baselib_repository.golden(session, entity.id)}
        if golden.get(key):
            out[golden[key]] = golden
    return out


def _people(session: Session, firms: dict[str, dict[str, str]]) -> dict[str, str]:
    """Residents whose files are the fullest, one per applicant: a mother of an age to have a
    newborn, one of retirement age, and two more — the first of them (``founder``) the legal
    representative of a firm, so that his portal page reaches its 企业空间; and an elder whose
    death the family reports."""
    files = _files(session, Kind.person)
    full = sorted((n for n, f in files.items() if len(f) >= 5), key=lambda n: (-len(files[n]), n))

    def born(n: str) -> int:
        return int(n[6:10])

    mother = next((n for n in full if int(n[16]) % 2 == 0 and 1982 <= born(n) <= 2000), "")
    retiree = next((n for n in full if born(n) <= 1964), "")
    rest = [n for n in full if n not in (mother, retiree) and 1960 <= born(n) <= 2000]
    # a legal representative first, of those whose files are as full as the fullest: one with a
    # thinner file (no 出生日期, say) would leave part of 企业开办's one form to be typed
    reps = {f.get("legal_rep_id", "") for f in firms.values()}
    fullest = len(files[rest[0]]) if rest else 0
    rest.sort(key=lambda n: not (n in reps and len(files[n]) >= fullest))  # the sort is stable
    elder = next((n for n in full if n not in (mother, retiree) and born(n) <= 1958), "")
    return {
        "citizen": mother,
        "retiree": retiree,
        "founder": rest[0] if rest else "",
        "family": rest[1] if len(rest) > 1 else "",
        "husband": rest[2] if len(rest) > 2 else "",
        "deceased": elder,
    }


def _firms(session: Session, founder: str) -> dict[str, str]:
    """The firms with the fullest files; the first one ``founder`` represents, when he does."""
    files = _files(session, Kind.enterprise)
    full = sorted((c for c, f in files.items() if len(f) >= 5),
                  key=lambda c: (files[c].get("legal_rep_id") != founder, c))  # fmt: skip
    return {"firm": full[0] if full else "", "firm2": full[1] if len(full) > 1 else ""}


def _add_row(session: Session, name: str, row: dict[str, object]) -> None:
    """One more row of a registry, as its unit would record it (the rows are loaded whole)."""
    admin = identity.principal_for(session, "admin")
    code = _code(session, name)
    items = [i.name for i in catalog.get_resource(session, code).items]
    page = datastore.query(session, code, RowQuery(limit=10_000))
    rows = [{k: r.get(k) for k in items} for r in page.rows]
    datastore.load_rows(session, admin, code, [*rows, row], "demo")


def _record_their_lives(session: Session, numbers: dict[str, str]) -> None:
    """What the units' registries hold about the demo's applicants: the mother's marriage and
    her baby's birth certificate, the retiree's social-security card, insurance and housing
    fund, the founder's accepted company name, the family member's card and the death of the
    elder the hospital recorded with the family member as its contact, the firms' annual
    reports."""
    persons = _files(session, Kind.person)
    firms = _files(session, Kind.enterprise)
    today = clock.today()

    def name(n: str) -> str:
        return persons.get(n, {}).get("name", "")

    if (mother := numbers.get("citizen")) and (husband := numbers.get("husband")):
        _add_row(session, "婚姻登记信息", {
            "男方公民身份号码": husband, "男方姓名": name(husband), "女方公民身份号码": mother,
            "女方姓名": name(mother), "登记类型": "结婚", "登记日期": "2023-05-20",
        })  # fmt: skip
        _add_row(session, "出生医学证明信息", {
            "证明编号": "R350100260001", "新生儿姓名": name(husband)[:1] + "若溪",
            "出生日期": (today - timedelta(days=12)).isoformat(), "母亲公民身份号码": mother,
            "母亲姓名": name(mother), "签发机构": "福建省妇幼保健院",
        })  # fmt: skip
    for who in ("retiree", "family"):
        if n := numbers.get(who):
            _add_row(session, "社会保障卡发放信息", {
                "公民身份号码": n, "姓名": name(n), "社会保障卡号": f"E{n[-8:]}",
                "发卡日期": "2019-03-01", "卡状态": "正常",
            })  # fmt: skip
    if n := numbers.get("retiree"):
        _add_row(session, "参保人员缴费信息", {"公民身份号码": n, "姓名": name(n),
                                              "险种": "职工医保", "缴费基数": 8600,
                                              "缴费状态": "正常"})  # fmt: skip
        _add_row(session, "住房公积金缴存信息", {"公民身份号码": n, "姓名": name(n),
                                                "缴存单位": "福州榕城机械有限公司",
                                                "缴存基数": 8600, "月缴存额": 2064})  # fmt: skip
    if n := numbers.get("founder"):  # 名称自主申报: accepted and kept for the registration
        _add_row(session, "企业名称自主申报信息", {
            "申报人公民身份号码": n, "申报人姓名": name(n), "企业名称": FOUNDED,
            "申报日期": (today - timedelta(days=3)).isoformat(),
            "保留期至": (today + timedelta(days=27)).isoformat(),
        })  # fmt: skip
    if (family := numbers.get("family")) and (elder := numbers.get("deceased")):
        _add_row(session, "居民死亡医学证明信息", {
            "证明编号": "D350100260001", "死者姓名": name(elder), "死者公民身份号码": elder,
            "死亡日期": (today - timedelta(days=6)).isoformat(), "家属姓名": name(family),
            "家属公民身份号码": family, "签发机构": "福建省立医院",
        })  # fmt: skip
    for who in ("firm", "firm2"):
        if c := numbers.get(who):
            _add_row(session, "2025年企业年度报告公示", {
                "企业名称": firms.get(c, {}).get("name", ""), "统一社会信用代码": c,
                "经营状态": "开业", "从业人数": 18, "企业联系电话": "0591-87654321",
            })  # fmt: skip


def _issue_their_certificates(
    session: Session, settings: Settings, numbers: dict[str, str]
) -> None:
    """The e-certificates the demo's applicants hold (免证明): the mother's marriage certificate,
    the firms' business licences and the food licence of ``firm``; and the retirement certificate of the elder who died, which
    the family's application finds through the hospital's record."""
    persons, firms = _files(session, Kind.person), _files(session, Kind.enterprise)

    def issue(manager: str, type_code: str, holder: str, number: str, **fields: str) -> None:
        certificates.issue_certificate(session, identity.principal_for(session, manager),
                                       CertificateCreate(type_code=type_code, holder_name=holder,
                                                         holder_id=number, fields=fields,
                                                         reason="演示数据"),
                                       settings.masking_key)  # fmt: skip

    mother, husband = numbers.get("citizen"), numbers.get("husband")
    if mother and husband:
        issue("civilcert", MARRIAGE, persons[mother]["name"], mother,
              spouse=persons[husband]["name"], registered="2023-05-20")  # fmt: skip
    if elder := numbers.get("deceased"):
        issue("hrsscert", RETIREMENT, persons[elder]["name"], elder, employer="福州第二化工厂",
              retired="2018-07-01", kind="退休")  # fmt: skip
    for who in ("firm", "firm2"):
        if code := numbers.get(who):
            firm = firms[code]
            issue("certmanager", LICENCE, firm["name"], code, legal_person=firm.get("legal_rep", "—"),
                  entity_type="有限责任公司", capital="100", established="2018-06-18",
                  address=firm.get("address", "福州市"), scope="餐饮服务；食品销售")  # fmt: skip
    if code := numbers.get("firm"):  # it sells packaged food already; the restaurant is new
        firm = firms[code]
        issue("certmanager", FOOD, firm["name"], code, operator_kind="食品销售经营者",
              items="预包装食品销售", address=firm.get("address", "福州市"))  # fmt: skip


def _picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (230, 230, 230)).save(out, format="PNG")
    return out.getvalue()


def _apply(session: Session, settings: Settings, username: str, item: str,
           values: dict[str, str]) -> str:  # fmt: skip
    principal = identity.principal_for(session, username)
    keys = ops.keys_for(settings.masking_key)
    form = service.build_form(session, principal, item, settings, keys)
    photo = files.keep(session, settings, username, "材料.png", _picture()).id
    filled = {f.element: values.get(f.element, "见附件")
              for f in form.fields if f.source is FieldSource.applicant}  # fmt: skip
    app = service.submit(session, principal, ApplicationCreate(
        item_code=item, consent=True, values=filled,
        materials={m.code: photo for m in form.materials if not m.proven},
    ), settings, keys)  # fmt: skip
    return app.number


def _unit(unit: str) -> cases.Mover:
    return cases.Mover(Actor("demo", unit), unit, frozenset({"*"}))


def _step(
    session: Session, cal: WorkCalendar, number: str, matter: str, action: Action, data: ActionIn
) -> str:
    app = repository.application(session, number)
    assert app is not None
    row = next(m for m in repository.matters(session, app.id) if m.matter_code == matter)
    cases.act(session, _unit(row.unit_code), row.case_number, action, data, cal=cal)
    service.on_case_changed(session, row.case_number, str(action), cal=cal)
    return row.case_number


def seed_onething(session: Session, settings: Settings) -> None:
    keys = ops.keys_for(settings.masking_key)
    cal = calendar_for(settings.home)
    for code, name, short in UNITS:
        try:
            orgs.get_unit(session, code)
        except NotFound:
            orgs.create_unit(session, ACTOR, UnitCreate(code=code, name=name, short_name=short,
                                                        region_code=settings.city_code))  # fmt: skip
    report = service.load_items(session, None, ITEMS_FILE.read_text(encoding="utf-8"), actor=ACTOR)
    if report.problems:
        raise RuntimeError(f"the demo's one-thing items do not load: {report.problems[:3]}")
    people = _people(session, _files(session, Kind.enterprise))
    numbers = people | _firms(session, people["founder"])
    _record_their_lives(session, numbers)
    for username, kind in APPLICANTS:
        if not numbers.get(username):
            continue
        try:
            identity.get_user_by_username(session, username)
        except NotFound:
            identity.create_user(session, None, UserCreate(
                username=username, display_name=f"办事申请人 {username}",
                password=_password(), roles=[Role.applicant],
            ), actor=ACTOR)  # fmt: skip
        service.register_applicant(session, None, ApplicantRegister(
            username=username, kind=ApplicantKind(kind), number=numbers[username],
        ), keys, actor=ACTOR)  # fmt: skip
    _tie_their_phones(session, settings, numbers)
    _issue_their_certificates(session, settings, numbers)
    if numbers.get("citizen"):  # the birth certificate issued, the police registering the child
        born = _apply(session, settings, "citizen", "newborn", {"新生儿性别": "女"})
        _step(session, cal, born, "birth_certificate", Action.sign, ActionIn())
        _step(session, cal, born, "birth_certificate", Action.reply,
              ActionIn(reply="出生医学证明已签发，编号随证寄送"))  # fmt: skip
        _step(session, cal, born, "vaccination", Action.sign, ActionIn())
    if numbers.get("founder"):
        _apply(session, settings, "founder", "company_setup", {
            "企业住所": "鼓楼区五四路88号",
            "注册资本": "100万元", "经营范围": "餐饮服务；餐饮管理",
        })  # fmt: skip
    if numbers.get("firm"):  # the signboard returned for the design to be redrawn
        shop = _apply(session, settings, "firm", "restaurant", {
            "经营项目": "热食类食品制售", "营业面积": "120平方米", "招牌规格": "6米×1.2米",
        })  # fmt: skip
        _step(session, cal, shop, "signboard", Action.return_,
              ActionIn(note="招牌效果图未标注尺寸与材质，请补正后重新提交"))  # fmt: skip
    if numbers.get("firm2"):
        _apply(session, settings, "firm2", "enterprise_change",
               {"变更事项": "住所", "变更后内容": "台江区工业路9号"})  # fmt: skip
    if numbers.get("family"):
        _apply(session, settings, "family", "after_death", {"与逝者关系": "子女"})
    service.make_offers(session, settings, keys)  # those of retirement age are offered 退休一件事
    if numbers.get("retiree"):  # the retiree confirms; the others' offers wait for them
        principal = identity.principal_for(session, "retiree")
        offer = next((a for a in service.offers_of(session, principal)
                      if a.item_code == "retirement"), None)  # fmt: skip
        if offer is not None:
            photo = files.keep(session, settings, "retiree", "身份证.png", _picture()).id
            service.submit(session, principal, ApplicationCreate(
                item_code="retirement", consent=True, offer=offer.number,
                values={"待遇领取银行账号": "6217 0018 0000 1234 567"}, materials={"id_card": photo},
            ), settings, keys)  # fmt: skip


def _tie_their_phones(session: Session, settings: Settings, numbers: dict[str, str]) -> None:
    """The persons' mobile numbers, as their files carry them, sign them in to the portal (the
    demo skips the registration each would make once: 实名注册 with an SMS code)."""
    files = _files(session, Kind.person)
    for username, kind in APPLICANTS:
        phone = files.get(numbers.get(username, ""), {}).get("mobile", "")
        if kind == "person" and phone:
            user = identity.get_user_by_username(session, username)
            portal.tie_phone(session, settings, user.id, phone)


def portal_phones(session: Session, settings: Settings) -> list[tuple[str, str]]:
    """(username, mobile) of the demo's applicants who sign in to the portal by SMS code."""
    found = []
    for username, _ in APPLICANTS:
        try:
            user = identity.get_user_by_username(session, username)
        except NotFound:
            continue
        if phone := portal.phone_of(session, settings, user.id):
            found.append((username, phone))
    return found


def _password() -> str:
    from citybase.demo.seed import DEMO_PASSWORD

    return DEMO_PASSWORD
