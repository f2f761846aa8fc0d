"""Build the demo city in a database: Fuzhou's regions and units, and one user per role."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from citybase.cockpit.indicators import service as cockpit_indicators
from citybase.cockpit.indicators.schemas import Decision as ValueDecision
from citybase.cockpit.plans import service as plans
from citybase.cockpit.tasks import service as cockpit_tasks
from citybase.cockpit.tasks.schemas import UpdateCreate
from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.codes import citizen_id_check_char, credit_code_check_char
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import boundaries
from citybase.core.orgs import service as orgs
from citybase.core.progress import Report, Stages, silent
from citybase.core.settings import Settings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind as BaseKind
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import BaseLibrary, ResourceCreate, ResourceFilter, Transition
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowQuery
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision, Domain, ScanRequest
from citybase.data.masking import operators as ops
from citybase.data.quality import service as quality
from citybase.data.quality.schemas import DisputeCreate, RuleCreate
from citybase.data.search import service as search
from citybase.data.sharing import access, demand
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import Decision as SharingDecision
from citybase.data.sharing.schemas import DemandCreate, ReadContext, RequestCreate
from citybase.data.sources import service as sources
from citybase.data.sources.schemas import SourceCreate
from citybase.demo.cases import KNOWLEDGE_FILE, seed_hub
from citybase.demo.certificates import seed_certificates
from citybase.demo.evaluation import seed_evaluation
from citybase.demo.onething import seed_onething
from citybase.demo.products import seed_products
from citybase.demo.resources import Blueprint, blueprints, infer_spec, rows_for
from citybase.demo.sandbox import seed_sandbox
from citybase.demo.sensors import seed_entities, seed_sensors
from citybase.demo.themes import seed_themes
from citybase.hub.events import service as events
from citybase.services.hotline import service as hotline

DEMO_FILE = Path(__file__).parent / "fuzhou.yaml"
# outlines of the city, its districts (cells around each seat) and one street down to its grids:
# drawn for the demo, not survey data
BOUNDARIES_FILE = Path(__file__).parent / "boundaries.geojson"
# the districts' outlines: see boundaries.README.md beside the file
OUTLINES_SOURCE = "echarts-china-cities-pypkg 0.0.9 (MIT), GCJ-02 → WGS84"
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
    DemoUser("auditor", "大数据局审计员 何琳", Role.auditor, "fz.bigdata"),
    DemoUser("viewer", "智慧福州中心观察员 张华", Role.viewer, "fz.smartcity"),
    DemoUser("dataop", "福州数据运营公司运营专员 林晨", Role.data_operator, "fz.dataops"),
    DemoUser("customer", "榕城物流公司数据专员 陈阳", Role.data_consumer, "fz.rclogistics"),
    DemoUser("certmanager", "市场监管局证照管理员 周婷", Role.certificate_manager, "fz.market"),
    # applicants (办事申请人), tied to a resident and a firm of the base libraries by the demo
    DemoUser("citizen", "办事申请人 citizen", Role.applicant, ""),
    DemoUser("firm", "办事申请人 firm", Role.applicant, ""),
)


def import_demo_outlines(session: Session) -> None:
    """The city's and districts' real outlines (named by their source), then the street, its
    communities and grids, which are drawn for the demo and say so."""
    collection = json.loads(BOUNDARIES_FILE.read_bytes())
    real = [f for f in collection["features"] if len(f["properties"]["code"]) <= 6]
    drawn = [f for f in collection["features"] if len(f["properties"]["code"]) > 6]
    for features, source in ((real, OUTLINES_SOURCE), (drawn, "示意边界 (illustrative)")):
        content = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        outlines = boundaries.import_boundaries(session, DEMO_ACTOR, content, source=source)
        if outlines.problems:
            raise RuntimeError(f"the demo outlines do not load: {outlines.problems[:3]}")


def demo_exists(db: Database) -> bool:
    with db.session_scope(readonly=True) as session:
        return identity.count_users(session) > 0


# the demo's steps and the seconds each took when measured (a 2-CPU machine, under load): the
# progress bar advances by them, so that the time it says remains follows the work
DEMO_STEPS: tuple[tuple[str, float], ...] = (
    ("regions and units", 4.2),
    ("users", 6.3),
    ("data resources", 1.1),
    ("more data resources, their rows and grading", 21.4),
    ("one data, one source", 0.5),
    ("grading", 0.1),
    ("sharing, quality and disputes", 0.6),
    ("base libraries: persons and enterprises linked", 3.9),
    ("authorized operation: agreements, data products, scenarios, assets", 1.3),
    ("theme libraries built from the resources and the base libraries", 2.4),
    ("the privacy sandbox: declarations, budgets, a question", 0.5),
    ("e-certificates: types, issuing units' keys, certificates", 2.5),
    ("plans, their indicators and tasks", 1.0),
    ("the event taxonomy", 0.7),
    ("sensors and their last day, with a rainstorm", 3.2),
    ("the dispatch catalog and the 12345 requests", 32.4),
    ("one-thing items, applicants and their applications", 5.2),
    ("好差评: ratings of the closed cases and matters, 差评 rectified", 1.4),
    ("the indicators the platform measures", 0.1),
    ("search index", 0.4),
    ("signed tree head", 0.1),
    ("sensor alarms into cases", 26.3),
)


def build_demo(db: Database, settings: Settings, progress: Report = silent) -> None:
    """Create the demo city in an empty database (all in one transaction), telling
    ``progress`` each step as it begins."""
    stages = Stages(progress, DEMO_STEPS)
    step = stages.start
    with db.session_scope() as session:
        step("regions and units")
        reports = orgs.import_orgs(session, DEMO_ACTOR, DEMO_FILE.name, DEMO_FILE.read_bytes())
        problems = [p for r in reports for p in r.problems]
        if problems:
            raise RuntimeError(f"the demo data does not import: {problems[:3]}")
        import_demo_outlines(session)
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
        step("sharing, quality and disputes")
        seed_sharing(session, settings)
        step("base libraries: persons and enterprises linked")
        seed_baselib(session, settings)
        step("authorized operation: agreements, data products, scenarios, assets")
        seed_products(session, settings)
        step("theme libraries built from the resources and the base libraries")
        seed_themes(session, settings)
        step("the privacy sandbox: declarations, budgets, a question")
        seed_sandbox(session, settings)
        step("e-certificates: types, issuing units' keys, certificates")
        seed_certificates(session, settings)
        step("plans, their indicators and tasks")
        seed_cockpit(session)
        step("the event taxonomy")
        report = events.import_taxonomy(session, DEMO_ACTOR, TAXONOMY_FILE.name,
                                        TAXONOMY_FILE.read_bytes())  # fmt: skip
        if report.problems:
            raise RuntimeError(f"the demo taxonomy does not load: {report.problems}")
        step("sensors and their last day, with a rainstorm")
        seed_sensors(session)
        seed_entities(session)
        step("the dispatch catalog and the 12345 requests")
        phones: dict[str, str] = {}
        seed_hub(session, settings.home, settings=settings, phones=phones)
        hotline.import_answers(session, DEMO_ACTOR, KNOWLEDGE_FILE.read_text(encoding="utf-8"))
        step("one-thing items, applicants and their applications")
        seed_onething(session, settings)
        step("好差评: ratings of the closed cases and matters, 差评 rectified")
        seed_evaluation(session, settings, phones)
        step("the indicators the platform measures")
        seed_measures(session)
        step("search index")
        search.reindex(session, catalog.all_codes(session))
        step("signed tree head")
        ledger.sign_tree_head(session, settings)
    step("sensor alarms into cases")
    while bus.dispatch_in_process(db):  # the city brain takes the storm's alarms in
        pass
    stages.finish()


def seed_baselib(session: Session, settings: Settings) -> None:
    """Link the residents and firms the units' resources hold into their files (as the
    platform admin, so that no dispute is raised on the demo's behalf)."""
    admin = identity.principal_for(session, "admin")
    keys = ops.keys_for(settings.masking_key)
    for kind in (BaseKind.person, BaseKind.enterprise):
        baselib.link_base_library(session, admin, kind, settings.baselib, keys)


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
    bare = [r for r in catalog.registered_resources(session)
            if datastore.table_of(session, r.code) is None and r.format.value != "image"]  # fmt: skip
    made = {}
    for r in bare:
        specs = [(i.name, infer_spec(i.name, i.data_type.value, i.element, i.length))
                 for i in r.items]  # fmt: skip
        blueprint = Blueprint(r.provider_unit_code, "", "", {}, specs, 30)
        made[r.code] = (blueprint, rows_for(blueprint, seed=len(r.code)))
    # the household register names every legal representative the market register does
    reps = [str(row[item]) for r in bare if BaseLibrary.legal_person in (r.base_tags or [])
            for item in (i.name for i in r.items if i.element == "公民身份号码")
            for row in made[r.code][1] if row.get(item)]  # fmt: skip
    for r in bare:
        blueprint, rows = made[r.code]
        if BaseLibrary.population in (r.base_tags or []):
            rows = rows_for(blueprint, seed=len(r.code), also=list(dict.fromkeys(reps)))
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
    reps = fake_people(n, seed + 7)  # the legal representatives, by citizen ID
    rows = []
    for i in range(n):
        first17 = "91350100" + "".join(rng.choice(chars) for _ in range(9))
        rows.append(
            {
                "统一社会信用代码": first17 + credit_code_check_char(first17),
                "单位名称": f"福州{rng.choice(['闽江', '榕城', '三坊', '鼓山'])}{rng.choice(['科技', '贸易', '物流'])}有限公司{i}",
                "法定代表人": rng.choice("王李张刘陈") + rng.choice(GIVEN),
                "法定代表人证件号码": reps[i]["公民身份号码"],
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


def seed_sharing(session: Session, settings: Settings) -> None:
    """Grants, reads (one refused), a pending request, a demand, quality rules and a dispute,
    so that every sharing and quality page of the demo has something to show."""
    consumer = identity.principal_for(session, "consumer")  # fz.health
    bureau = identity.principal_for(session, "steward")  # fz.bigdata
    keys = ops.keys_for(settings.masking_key)
    shared = [
        r for r in catalog.registered_resources(session)
        if r.provider_unit_code not in ("fz.health", "") and datastore.table_of(session, r.code)
    ]  # fmt: skip
    personal = [
        r for r in shared if grading.level_of(session, r.code) in ("general_3", "general_4")
    ]
    today = clock.today().strftime("%Y%m%d")
    for n, resource in enumerate(
        [r for r in personal if r.share_type.value == "unconditional"][:2]
        + [r for r in shared if r.share_type.value == "unconditional"
           and grading.level_of(session, r.code) in ("general_1", "general_2")][:1]
    ):  # fmt: skip
        fields = [i.name for i in resource.items][:4]
        sharing.request_share(session, consumer, RequestCreate(
            resource_code=resource.code, purpose="医保基金使用监督与参保核查",
            legal_basis="《医疗保障基金使用监督管理条例》第十七条", fields=fields, days=180,
        ))  # fmt: skip
        ctx = ReadContext(case_number=f"YB{today}{n + 1:04d}", end_user="huanglei",
                          purpose="参保人员身份核验")  # fmt: skip
        access.read_rows(session, consumer, resource.code, ctx, RowQuery(limit=20), keys)
        access.read_rows(session, consumer, resource.code, ctx,
                         RowQuery(fields=[i.name for i in resource.items][-1:], limit=5), keys)  # fmt: skip
    # a conditionally shared resource with identity numbers, approved (by the platform, standing
    # in for its provider's steward), so that "whose data went where" has answers in the demo
    admin = identity.principal_for(session, "admin")
    ids = next(
        (r for r in shared if r.share_type.value == "conditional"
         and any(i.element == "公民身份号码" for i in r.items)), None,
    )  # fmt: skip
    if ids is not None:
        asked = sharing.request_share(session, consumer, RequestCreate(
            resource_code=ids.code, purpose="医保参保人员身份核验",
            legal_basis="《社会保险法》第八十七条", fields=[i.name for i in ids.items][:5], days=90,
        ))  # fmt: skip
        sharing.decide(session, admin, asked.number, SharingDecision(approve=True, reason="同意"))
        ctx = ReadContext(case_number=f"YB{today}0009", end_user="huanglei", purpose="参保核验")
        access.read_rows(session, consumer, ids.code, ctx, RowQuery(limit=10), keys)
    pending = next(
        (r for r in shared if r.provider_unit_code == "fz.bigdata"
         and r.share_type.value == "conditional"), None,
    )  # fmt: skip
    if pending is not None:
        sharing.request_share(session, consumer, RequestCreate(
            resource_code=pending.code, purpose="分级诊疗转诊统计分析",
            legal_basis="《基本医疗卫生与健康促进法》第三十条",
            fields=[i.name for i in pending.items][:3], days=90,
        ))  # fmt: skip
    demand.post(session, consumer, DemandCreate(
        title="独居老人名单", description="需要各街道独居老人的姓名、住址与紧急联系人，用于家庭医生签约随访",
        purpose="家庭医生签约服务随访", legal_basis="《福州市养老服务条例》",
        items=["姓名", "住址", "紧急联系人电话"], provider_unit_code="fz.civil",
    ))  # fmt: skip
    own = [r for r in shared if r.provider_unit_code == "fz.bigdata"][:3]
    for resource in own:
        for item in resource.items:
            kind = (
                "check_chars" if item.element in ("公民身份号码", "统一社会信用代码") else
                "not_null" if item is resource.items[0] else None
            )  # fmt: skip
            if kind is None:
                continue
            params = {"code": "citizen_id" if item.element == "公民身份号码" else "credit_code"} \
                if kind == "check_chars" else {}  # fmt: skip
            quality.add_rule(session, bureau, resource.code,
                             RuleCreate(item=item.name, kind=kind, params=params))  # fmt: skip
        quality.run(session, DEMO_ACTOR, resource.code)
    if own:
        quality.raise_dispute(session, consumer, DisputeCreate(
            resource_code=own[0].code, item=own[0].items[0].name,
            description="该条记录与卫健委掌握的情况不一致，请核实",
        ), settings.quality.dispute_days)  # fmt: skip


PLANS_DIR = Path(__file__).parent / "plans"
TAXONOMY_FILE = Path(__file__).parent / "taxonomy.yaml"


def seed_cockpit(session: Session, today: date | None = None) -> None:
    """The published plans (as far as their figures are entered), the demo city's own rollout
    plan, and some monthly updates: last month's for the first task, none from the unit that
    leads the third."""
    files = sorted(PLANS_DIR.glob("*.yaml"))
    results = plans.import_plans(
        session, DEMO_ACTOR, [(f.name, f.read_text(encoding="utf-8")) for f in files]
    )
    problems = [f"{r.file}: {p.line} {p.field} {p.message}" for r in results for p in r.problems]
    if problems:
        raise RuntimeError("the demo plans do not load: " + "; ".join(problems))
    day = today or clock.today()
    steward = identity.principal_for(session, "steward")
    [rollout] = plans.overview(session, ["demo-citybase-rollout"], day)
    first, second, _ = rollout.tasks
    last_month = date(day.year, day.month, 1) - timedelta(days=1)
    for task, text, progress, done in (
        (first, "首批资源已发布，正在组织第二批资源的规范性审查。", 70, ["目录规范印发", "首批资源发布"]),
        (second, "共享申请、审批和调用留痕已上线试运行，正在编写审计查询指引。", 60, ["审批流程上线"]),
    ):  # fmt: skip
        cockpit_tasks.report_update(session, steward, task.id, UpdateCreate(
            period=f"{last_month.year}-{last_month.month:02d}", text=text, progress=progress,
            milestones_done=done,
        ), today=day)  # fmt: skip


def seed_measures(session: Session, today: date | None = None) -> None:
    """This month's figures of the indicators the platform measures, as they stand once the
    demo city is built, reviewed by the bureau; the satisfaction rate is left awaiting its
    review, so that the approval queue shows a measured value."""
    day = today or clock.today()
    bureau = identity.principal_for(session, "admin")
    now = datetime.now(clock.CITY_TZ)
    if (now.year, now.month) != (day.year, day.month):
        now = datetime(day.year, day.month, day.day, 12, tzinfo=clock.CITY_TZ)
    for measured in cockpit_indicators.measure_month(session, f"{day.year}-{day.month:02d}",
                                                      now=now):  # fmt: skip
        if measured.source != "hub.hotline.satisfaction":
            cockpit_indicators.decide(session, bureau, measured.id,
                                      ValueDecision(approve=True, note="平台采集，核对无误"))  # fmt: skip
