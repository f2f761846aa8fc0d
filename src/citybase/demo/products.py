"""The demo city's authorized operation: 福州数据运营公司 operates two agreements (a priced one
over five theme libraries, a free public-interest one over three), registers a product from
each resource they cover in the kind its grade allows, and the bureau lists most of them; a
few scenarios are served by them, and a few units record data assets."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Forbidden
from citybase.core.identity import service as identity
from citybase.core.settings import Settings
from citybase.data.catalog import service as catalog
from citybase.data.products import service as products
from citybase.data.products.schemas import (
    AgreementAction,
    AgreementCreate,
    AgreementReview,
    AssetCreate,
    AssetRevalue,
    PriceModel,
    PricePolicy,
    ProductAction,
    ProductCreate,
    ProductKind,
    ProductRead,
    ProductReview,
    ScenarioCreate,
    ScenarioLink,
)
from citybase.demo.contracts import seed_contracts

OPERATOR = "fz.dataops"
PRICED_THEMES = ["交通运输", "市场监管", "生态环境", "文化旅游", "城乡建设"]
FREE_THEMES = ["医疗健康", "教育养老", "就业社保"]
SECTORS = {
    "交通运输": "交通出行", "市场监管": "普惠金融", "生态环境": "绿色低碳", "文化旅游": "文化旅游",
    "城乡建设": "城市治理", "医疗健康": "医疗健康", "教育养老": "民生服务", "就业社保": "民生服务",
}  # fmt: skip
SUFFIX = {
    ProductKind.dataset: "数据集", ProductKind.api: "查询接口", ProductKind.report: "分析报告",
    ProductKind.sandbox: "沙箱分析服务",
}  # fmt: skip
PRICES = [
    (PriceModel.per_call, Decimal("0.05")), (PriceModel.monthly, Decimal("2000")),
    (PriceModel.free, Decimal("0")), (PriceModel.per_row, Decimal("0.01")),
]  # fmt: skip
SCENARIOS = [
    ("小微企业普惠信贷", "普惠金融", "以市场主体登记、纳税、社保等数据辅助银行授信", "fz.market", "running"),
    ("城市交通出行服务", "交通出行", "公交、停车、路况数据支撑出行规划与导航", "fz.transport", "running"),
    ("生态环境监测预警", "绿色低碳", "空气、水质监测数据支撑污染溯源与预警", "fz.ecology", "building"),
    ("文旅客流分析", "文化旅游", "景区客流与消费数据支撑文旅营销", "fz.culture", "building"),
    ("城市部件智能巡检", "城市治理", "井盖、路灯等城市部件数据支撑智能巡检", "fz.urban", "planned"),
    ("居民健康服务", "医疗健康", "在沙箱中分析医疗资源分布，优化就医服务", "fz.health", "planned"),
    ("一老一小民生服务", "民生服务", "养老、托育、就业数据支撑民生服务精准供给", "fz.civil", "planned"),
]  # fmt: skip
TO_REVIEW = 3  # the last products registered stay in the bureau's queue


def _agreement(session: Session, settings: Settings, title: str, themes: list[str],
               policy: PricePolicy, purposes: list[str]) -> str:  # fmt: skip
    admin = identity.principal_for(session, "admin")
    operator = identity.principal_for(session, "dataop")
    today = clock.today()
    data = AgreementCreate(
        title=title, operator_unit_code=OPERATOR, themes=themes, purposes=purposes,
        scenarios=[s[0] for s in SCENARIOS if s[1] in {SECTORS[t] for t in themes}],
        starts_on=today - timedelta(days=90), ends_on=today + timedelta(days=3 * 365 - 90),
        security_duties="数据不出域、原始数据不可见；按级脱敏；调用日志留存不少于六个月；"
        "发生安全事件两小时内报告市大数据委。",
        price_policy=policy,
        price_note="公益用途免费；经营性用途按市发改委备案价格收费。",
    )  # fmt: skip
    s = settings.products
    granted = products.grant_agreement(session, admin, s, data)
    products.review_agreement(session, admin, s, granted.id,
                              AgreementReview(approve=True, reason="运营方案和安全评估通过"))  # fmt: skip
    products.sign_agreement(session, operator, s, granted.id, AgreementAction(reason="签署"))
    return granted.number


def _register(
    session: Session, number: str, code: str, theme: str, n: int, free: bool
) -> ProductRead | None:
    """A product of one resource, in the first kind its grade and personal data allow."""
    operator = identity.principal_for(session, "dataop")
    resource = catalog.get_resource(session, code)
    model, price = (PriceModel.free, Decimal("0")) if free else PRICES[n % len(PRICES)]
    kinds = list(ProductKind)
    for kind in kinds[n % 4 :] + kinds[: n % 4]:
        data = ProductCreate(
            name=f"{resource.name}{SUFFIX[kind]}", kind=kind, sector=SECTORS[theme],
            description=f"基于{resource.provider_unit_name}「{resource.name}」加工，"
            f"{resource.abstract}"[:4000],
            source_codes=[code], update_cycle="monthly", masked=kind is ProductKind.api,
            sample=f"字段：{'、'.join(i.name for i in resource.items[:6])}",
            price_model=model, price_yuan=price, licence="限约定用途使用，不得转授权",
            agreement_number=number,
        )  # fmt: skip
        try:
            return products.register_product(session, operator, data)
        except Forbidden:
            continue  # that kind is not allowed for its grade: the next one
    return None


def seed_products(session: Session, settings: Settings) -> None:
    admin = identity.principal_for(session, "admin")
    s = settings.products
    priced = _agreement(session, settings, "福州市公共数据授权运营协议（经营类）", PRICED_THEMES,
                        PricePolicy.priced, ["普惠金融", "交通出行服务", "城市治理", "文旅营销"])  # fmt: skip
    free = _agreement(session, settings, "福州市公共数据授权运营协议（公益类）", FREE_THEMES,
                      PricePolicy.public_interest_free, ["公共卫生研究", "民生服务"])  # fmt: skip
    made: list[ProductRead] = []
    used: set[str] = set()
    registered = sorted(catalog.registered_resources(session), key=lambda r: r.code)
    for number, themes in ((priced, PRICED_THEMES), (free, FREE_THEMES)):
        for theme in themes:  # up to seven products per theme library
            codes = [r.code for r in registered if theme in r.theme_tags and r.code not in used]
            for code in codes[:7]:
                used.add(code)
                product = _register(session, number, code, theme, len(made), number == free)
                if product is not None:
                    made.append(product)
    for product in made[: len(made) - TO_REVIEW]:
        products.review_product(session, admin, s, product.id,
                                ProductReview(approve=True, reason="合规检查通过，同意上架"))  # fmt: skip
        products.list_product(session, admin, s, product.id, ProductAction(reason="上架"))
    by_sector: dict[str, list[str]] = {}
    for product in made:
        by_sector.setdefault(product.sector, []).append(product.number)
    for name, sector, description, owner, status in SCENARIOS:
        scenario = products.create_scenario(session, admin, s, ScenarioCreate(
            name=name, sector=sector, description=description, owner_unit_code=owner,
            status=status))  # fmt: skip
        for number in by_sector.get(sector, [])[:6]:
            products.link_product(session, admin, s, scenario.id,
                                  ScenarioLink(product_number=number))  # fmt: skip
    _seed_assets(session, settings, made)
    seed_contracts(session, settings, made[: len(made) - TO_REVIEW])  # those listed


def _seed_assets(session: Session, settings: Settings, made: list[ProductRead]) -> None:
    """The operator records three of its products; the city-management committee one of its
    resources, revalued once."""
    operator = identity.principal_for(session, "dataop")
    for product, (cost, value) in zip(made[:3], ((80_000, 150_000), (60_000, 90_000),
                                                 (120_000, 260_000)), strict=False):  # fmt: skip
        products.record_asset(session, operator, AssetCreate(
            subject_kind="product", subject_code=product.number, cost_yuan=Decimal(cost),
            expected_benefit_yuan=Decimal(value * 2), method="income",
            value_yuan=Decimal(value)))  # fmt: skip
    unit_admin = identity.principal_for(session, "unitadmin")
    own = [r for r in catalog.registered_resources(session)
           if r.provider_unit_code == unit_admin.unit_code]  # fmt: skip
    if own:
        asset = products.record_asset(session, unit_admin, AssetCreate(
            subject_kind="resource", subject_code=own[0].code, cost_yuan=Decimal("350000"),
            expected_benefit_yuan=Decimal("0"), method="cost", value_yuan=Decimal("350000")))  # fmt: skip
        products.revalue_asset(session, unit_admin, settings.products, asset.id, AssetRevalue(
            cost_yuan=Decimal("350000"), expected_benefit_yuan=Decimal("500000"),
            method="market", value_yuan=Decimal("420000.00"),
            reason="参照同类数据产品交易价格重估"))  # fmt: skip
