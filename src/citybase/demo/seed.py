"""Build the demo city in a database: Fuzhou's regions and units, and one user per role."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from citybase.core.codes import citizen_id_check_char, credit_code_check_char
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceCreate, ResourceFilter, Transition
from citybase.data.datastore import service as datastore
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision, Domain, ScanRequest
from citybase.data.search import service as search
from citybase.data.sources import service as sources
from citybase.data.sources.schemas import SourceCreate
from citybase.demo.resources import Blueprint, blueprints, infer_spec, rows_for

DEMO_FILE = Path(__file__).parent / "fuzhou.yaml"
CATALOG_FILE = Path(__file__).parent / "catalog.yaml"
# the steps from a draft to each state, and who takes them (the provider or the bureau)
PATH_TO = {
    "draft": [],
    "submitted": ["submit"],
    "reviewed": ["submit", "approve"],
    "registered": ["submit", "approve", "register"],
    "published": ["submit", "approve", "register", "publish"],
}
DEMO_PASSWORD = "citybase-demo"  # noqa: S105 -- printed for the demo city on purpose
DEMO_ACTOR = Actor.system("demo")


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    unit_code: str


DEMO_USERS = (
    DemoUser("admin", "平台管理员 王敏", Role.platform_admin, "fz.bigdata"),
    DemoUser("unitadmin", "城管委管理员 林峰", Role.unit_admin, "fz.urban"),
    DemoUser("steward", "数据专员 陈静", Role.data_steward, "fz.bigdata"),
    DemoUser("consumer", "卫健委数据使用者 黄磊", Role.data_consumer, "fz.health"),
    DemoUser("operator", "12345话务员 郑丽", Role.hotline_operator, "fz.hotline"),
    DemoUser("handler", "鼓楼区城管局承办人 刘洋", Role.case_handler, "gl.urban"),
    DemoUser("supervisor", "联排联调中心督办员 吴强", Role.supervisor, "fz.coord"),
    DemoUser("viewer", "智慧福州中心观察员 张华", Role.viewer, "fz.smartcity"),
)


def demo_exists(db: Database) -> bool:
    with db.session_scope(readonly=True) as session:
        return identity.count_users(session) > 0


def build_demo(
    db: Database, settings: Settings, step: Callable[[str], None] = lambda _: None
) -> None:
    """Create the demo city in an empty database (all in one transaction)."""
    with db.session_scope() as session:
        step("regions and units")
        reports = orgs.import_orgs(session, DEMO_ACTOR, DEMO_FILE.name, DEMO_FILE.read_bytes())
        problems = [p for r in reports for p in r.problems]
        if problems:
            raise RuntimeError(f"the demo data does not import: {problems[:3]}")
        step("users")
        for user in DEMO_USERS:
            identity.create_user(
                session,
                None,
                UserCreate(
                    username=user.username,
                    display_name=user.display_name,
                    password=DEMO_PASSWORD,
                    unit_code=user.unit_code,
                    roles=[user.role],
                ),
                actor=DEMO_ACTOR,
            )
        step("data resources")
        seed_catalog(session)
        step("more data resources, their rows and grading")
        seed_resources(session)
        step("one data, one source")
        seed_sources(session)
        step("grading")
        seed_grading(session)
        step("search index")
        search.reindex(session, catalog.all_codes(session))
        step("signed tree head")
        ledger.store_tree_head(session, ledger.signer_for(settings))


def seed_catalog(session: Session) -> None:
    """Register the demo resources as the platform admin, reviewed by the bureau's steward."""
    admin = identity.principal_for(session, "admin")
    bureau = identity.principal_for(session, "steward")
    for entry in yaml.safe_load(CATALOG_FILE.read_text()):
        items = []
        for line in entry.pop("items"):
            name, data_type, length, meaning, element = line.split("|")
            items.append(
                {"name": name, "data_type": data_type, "length": length or None,
                 "meaning": meaning, "element": element}
            )  # fmt: skip
        target = entry.pop("status")
        data = ResourceCreate.model_validate(
            {**entry, "provider_unit_code": entry.pop("unit"), "items": items}
        )
        resource = catalog.create_resource(session, admin, data)
        for action in PATH_TO[target]:
            actor = (
                admin if action == "submit" or data.provider_unit_code == "fz.bigdata" else bureau
            )
            catalog.transition(session, actor, resource.code, action, Transition())


DOMAINS = {
    "医疗健康": Domain.health, "医保定点规划": Domain.health, "交通运输": Domain.transport,
    "教育养老": Domain.education, "生态环境": Domain.ecology, "城乡建设": Domain.urban,
    "住房保障": Domain.urban, "就业社保": Domain.social_security,
}  # fmt: skip


def seed_resources(session: Session) -> None:
    """Register the resources of ``resources.yaml`` with generated rows, scan each for its level
    (the bureau confirms where the resource allows it), and give rows to the earlier demo
    resources that are registered or published."""
    admin = identity.principal_for(session, "admin")
    bureau = identity.principal_for(session, "steward")
    for n, blueprint in enumerate(blueprints()):
        data = ResourceCreate.model_validate(
            {**blueprint.metadata, "provider_unit_code": blueprint.unit}
        )
        resource = catalog.create_resource(session, admin, data)
        rows = rows_for(blueprint, seed=n)
        datastore.load_rows(session, admin, resource.code, rows, "demo")
        domain = next(
            (DOMAINS[t] for t in data.theme_tags if t in DOMAINS), Domain.public_administration
        )
        scan = grading.scan_resource(
            session, admin, resource.code, ScanRequest(domain=domain, rows=rows[:20])
        )
        if blueprint.status == "published" and not scan.violations:
            grading.decide(session, admin, resource.code, Decision(level=scan.proposed_level))
        for action in PATH_TO[blueprint.status]:
            actor = admin if action == "submit" or blueprint.unit.endswith("bigdata") else bureau
            catalog.transition(session, actor, resource.code, action, Transition())
    for r in catalog.registered_resources(session):
        if datastore.table_of(session, r.code) is None and r.format.value != "image":
            specs = [
                (i.name, infer_spec(i.name, i.data_type.value, i.element, i.length))
                for i in r.items
            ]
            rows = rows_for(
                Blueprint(r.provider_unit_code, "", "", {}, specs, 30), seed=len(r.code)
            )
            datastore.load_rows(session, admin, r.code, rows, "demo")


GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国晓东海燕玉兰志强"
STREETS = ("五四路", "八一七北路", "古田路", "湖东路", "杨桥中路", "工业路", "六一北路", "华林路")
DISTRICTS = ("鼓楼区", "台江区", "仓山区", "晋安区")


def fake_people(n: int, seed: int = 350100) -> list[dict[str, str]]:
    """Made-up residents whose identity numbers pass the GB 11643 check (nobody real)."""
    rng = random.Random(seed)
    surnames = "王李张刘陈杨黄林郑吴"
    rows = []
    for _ in range(n):
        born = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        first17 = (
            f"{rng.choice(['350102', '350103', '350104', '350111'])}{born}{rng.randint(0, 999):03d}"
        )
        district = rng.choice(DISTRICTS)
        rows.append(
            {
                "公民身份号码": first17 + citizen_id_check_char(first17),
                "姓名": rng.choice(surnames) + "".join(rng.sample(GIVEN, rng.randint(1, 2))),
                "性别": str(int(first17[16]) % 2 or 2),
                "出生日期": f"{born[:4]}-{born[4:6]}-{born[6:]}",
                "户籍地址": f"福建省福州市{district}{rng.choice(STREETS)}{rng.randint(1, 300)}号",
            }
        )
    return rows


def fake_companies(n: int, seed: int = 350101) -> list[dict[str, str]]:
    """Made-up companies whose credit codes pass the GB 32100 check (none real)."""
    rng = random.Random(seed)
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    rows = []
    for i in range(n):
        first17 = "91350100" + "".join(rng.choice(chars) for _ in range(9))
        rows.append(
            {
                "统一社会信用代码": first17 + credit_code_check_char(first17),
                "单位名称": f"福州{rng.choice(['闽江', '榕城', '三坊', '鼓山'])}{rng.choice(['科技', '贸易', '物流'])}有限公司{i}",
                "法定代表人": rng.choice("王李张刘陈") + rng.choice(GIVEN),
                "成立日期": f"{rng.randint(1995, 2024)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                "住所": f"福建省福州市{rng.choice(DISTRICTS)}{rng.choice(STREETS)}{rng.randint(1, 300)}号",
            }
        )
    return rows


def seed_grading(session: Session) -> None:
    """Scan the two base-library resources on generated samples; the police confirms its level."""
    police = identity.principal_for(session, "admin")
    people = catalog.get_accessible_resources(session, police, ResourceFilter(q="人口基本信息"))
    firms = catalog.get_accessible_resources(session, police, ResourceFilter(q="法人单位基本信息"))
    population_code = people.resources[0].code
    result = grading.scan_resource(
        session, police, population_code,
        ScanRequest(domain="public_administration", business="户籍管理", rows=fake_people(50)),
    )  # fmt: skip
    grading.decide(session, police, population_code, Decision(level=result.proposed_level))
    grading.scan_resource(
        session, police, firms.resources[0].code,
        ScanRequest(domain="public_administration", business="市场主体登记", rows=fake_companies(30)),
    )  # fmt: skip


def seed_sources(session: Session) -> None:
    """Name the sources of the two base libraries the demo holds; detection finds who else
    provides them (the civil affairs bureau's list of low-income residents repeats population
    data)."""
    admin = identity.principal_for(session, "admin")
    for kind, unit, elements, basis in (
        ("人口基本信息", "fz.police", ["公民身份号码", "姓名", "出生日期"], "户籍管理职责"),
        ("法人单位基本信息", "fz.market", ["统一社会信用代码", "单位名称"], "市场主体登记职责"),
    ):
        sources.register_source(
            session, admin,
            SourceCreate(data_kind=kind, unit_code=unit, elements=elements, legal_basis=basis),
        )  # fmt: skip
