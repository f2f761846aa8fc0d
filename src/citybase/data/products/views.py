"""Console pages of data products: the product catalog (search and facets), a product's page,
one's own products and the registration form, operation agreements, the bureau's review queue,
the scenario register and data assets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, NotFound
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure_text, split_list, undo
from citybase.core.web.i18n import add_field_labels, add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, Once, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console
from citybase.data.products import service
from citybase.data.products.auth import (
    PRODUCTS_AGREEMENTS,
    PRODUCTS_ASSETS,
    PRODUCTS_BROWSE,
    PRODUCTS_GOVERN,
    PRODUCTS_REGISTER,
    AgreementsReader,
    AssetsKeeper,
    ProductsBrowser,
    ProductsGovernor,
    ProductsRegistrar,
)
from citybase.data.products.schemas import (
    AgreementAction,
    AgreementCreate,
    AgreementReview,
    AssetCreate,
    AssetRevalue,
    CatalogQuery,
    PriceModel,
    ProductAction,
    ProductCreate,
    ProductKind,
    ProductReview,
    ProductStatus,
    ScenarioCreate,
    ScenarioLink,
    UpdateCycle,
    ValuationMethod,
)

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Data products", "/console/products", PRODUCTS_BROWSE, order=40))
console.add_page(NavEntry("Data", "My data products", "/console/products/mine",
                          PRODUCTS_REGISTER, order=41))  # fmt: skip
console.add_page(NavEntry("Data", "Operation agreements", "/console/products/agreements",
                          PRODUCTS_AGREEMENTS, order=42))  # fmt: skip
console.add_page(NavEntry("Data", "Product review", "/console/products/review",
                          PRODUCTS_GOVERN, order=43))  # fmt: skip
console.add_page(NavEntry("Data", "Application scenarios", "/console/products/scenarios",
                          PRODUCTS_BROWSE, order=44))  # fmt: skip
console.add_page(NavEntry("Data", "Data assets", "/console/products/assets",
                          PRODUCTS_ASSETS, order=45))  # fmt: skip
add_translations(
    "zh",
    {
        "Data products": "数据产品",
        "My data products": "本单位数据产品",
        "Operation agreements": "授权运营协议",
        "Operation agreement": "授权运营协议",
        "Product review": "数据产品审核",
        "Application scenarios": "应用场景",
        "Data assets": "数据资产",
        "No product matches.": "没有符合条件的数据产品。",
        "Search product names, sectors and descriptions": "检索产品名称、行业和描述",
        "{n} products listed": "共 {n} 个已上架产品",
        "products.clear": "清除",
        "products.facet.kind": "产品形态",
        "products.facet.sector": "行业",
        "products.facet.price_model": "计价方式",
        "products.kind.dataset": "数据集",
        "products.kind.api": "数据接口",
        "products.kind.report": "模型/报告",
        "products.kind.sandbox": "沙箱分析",
        "products.price_model.free": "免费",
        "products.price_model.per_call": "按次计费",
        "products.price_model.per_row": "按条计费",
        "products.price_model.monthly": "包月订阅",
        "products.cycle.realtime": "实时",
        "products.cycle.daily": "每日",
        "products.cycle.weekly": "每周",
        "products.cycle.monthly": "每月",
        "products.cycle.quarterly": "每季度",
        "products.cycle.yearly": "每年",
        "products.cycle.once": "一次性",
        "products.status.submitted": "待审核",
        "products.status.approved": "审核通过",
        "products.status.rejected": "未通过",
        "products.status.listed": "已上架",
        "products.status.delisted": "已下架",
        "products.agreement.granted": "已授予待审查",
        "products.agreement.reviewed": "已审查待签署",
        "products.agreement.rejected": "审查未通过",
        "products.agreement.signed": "已签署",
        "products.agreement.suspended": "已暂停",
        "products.agreement.ended": "已终止",
        "products.not_in_force": "不在有效期内",
        "products.policy.public_interest_free": "公益使用免费",
        "products.policy.priced": "有偿使用",
        "products.step.approve": "审查通过",
        "products.step.reject": "审查不通过",
        "products.step.sign": "签署",
        "products.step.suspend": "暂停",
        "products.step.resume": "恢复",
        "products.step.end": "终止",
        "products.scenario.planned": "储备",
        "products.scenario.building": "建设中",
        "products.scenario.running": "已应用",
        "products.scenario.retired": "已退出",
        "products.subject": "资产对象",
        "products.subject.resource": "数据资源",
        "products.subject.product": "数据产品",
        "products.subject_code": "资源代码或产品编号",
        "products.method": "估值方法",
        "products.method.cost": "成本法",
        "products.method.income": "收益法",
        "products.method.market": "市场法",
        "products.cost": "成本（元）",
        "products.expected_benefit": "预期收益（元）",
        "products.value": "估值（元）",
        "products.amounts_in_yuan": "金额单位为元，精确到分。",
        "products.record_asset": "登记数据资产",
        "products.revalue": "重新估值",
        "products.history": "变更记录",
        "products.changed_by": "经办人",
        "products.changed_at": "变更时间",
        "products.no_assets": "尚无数据资产。",
        "products.rule.product.sources_in_agreement": "来源在授权范围内",
        "products.rule.product.sources_own_unit": "来源为本单位资源",
        "products.rule.product.grade_delivery": "分级与交付方式相符",
        "products.rule.product.personal_data_masked": "个人信息脱敏或沙箱",
        "products.rule.product.quality": "数据质量",
        "products.checks": "合规检查",
        "products.rule": "检查项",
        "products.result": "结果",
        "products.detail": "说明",
        "products.passed": "通过",
        "products.flagged": "需关注",
        "products.quality_report": "质量报告",
        "products.score": "质量得分",
        "products.no_rules": "未设质量规则",
        "products.sector": "行业",
        "products.sources": "来源资源",
        "products.sources_hint": "资源代码，以逗号或顿号分隔",
        "products.update_cycle": "更新周期",
        "products.grade": "安全级别",
        "products.personal_data": "含个人信息",
        "products.masked": "脱敏交付",
        "products.price": "价格",
        "products.price_yuan": "单价（元）",
        "products.yuan": "元",
        "products.licence": "许可",
        "products.sample": "样例",
        "products.description": "描述",
        "products.review_reason": "审核意见",
        "products.offer": "ODRL 使用策略（要约）",
        "products.review": "审核",
        "products.reject": "不通过",
        "products.list": "上架",
        "products.delist": "下架",
        "products.none_yet": "暂无数据产品。",
        "products.register": "登记数据产品",
        "products.register_hint": "授权运营单位须在有效的授权运营协议范围内登记；登记时即进行合规检查，不合规的登记不予保存。",
        "products.no_agreement": "无（本单位自有资源）",
        "products.no_agreements": "暂无授权运营协议。",
        "products.credit_code": "统一社会信用代码",
        "products.covers": "授权范围",
        "products.purposes": "用途",
        "products.security_duties": "安全责任",
        "products.grant": "授予授权运营协议",
        "products.title": "协议名称",
        "products.operator_unit": "运营单位代码",
        "products.owner_unit": "责任单位代码",
        "products.resource_codes": "资源代码",
        "products.themes": "主题库",
        "products.starts_on": "起始日期",
        "products.ends_on": "截止日期",
        "products.price_policy": "价格政策",
        "products.price_note": "价格说明",
        "products.bureau_only": "产品审核、上架由数据主管部门的数据专员办理。",
        "products.to_review": "待审核",
        "products.to_list": "待上架",
        "products.new_scenario": "新增应用场景",
        "products.no_scenarios": "暂无应用场景。",
        "products.product_number": "产品编号",
        "products.link": "关联",
    },
)
add_translations(
    "en",
    {
        "products.clear": "Clear",
        "products.facet.kind": "Kind",
        "products.facet.sector": "Sector",
        "products.facet.price_model": "Pricing",
        "products.kind.dataset": "Data set",
        "products.kind.api": "Data API",
        "products.kind.report": "Model or report",
        "products.kind.sandbox": "Analysis in the sandbox",
        "products.price_model.free": "Free",
        "products.price_model.per_call": "Per call",
        "products.price_model.per_row": "Per row",
        "products.price_model.monthly": "Monthly subscription",
        "products.cycle.realtime": "Real time",
        "products.cycle.daily": "Daily",
        "products.cycle.weekly": "Weekly",
        "products.cycle.monthly": "Monthly",
        "products.cycle.quarterly": "Quarterly",
        "products.cycle.yearly": "Yearly",
        "products.cycle.once": "Once",
        "products.status.submitted": "Submitted",
        "products.status.approved": "Approved",
        "products.status.rejected": "Rejected",
        "products.status.listed": "Listed",
        "products.status.delisted": "Delisted",
        "products.agreement.granted": "Granted",
        "products.agreement.reviewed": "Reviewed",
        "products.agreement.rejected": "Rejected at review",
        "products.agreement.signed": "Signed",
        "products.agreement.suspended": "Suspended",
        "products.agreement.ended": "Ended",
        "products.not_in_force": "not in force today",
        "products.policy.public_interest_free": "Free for public-interest use",
        "products.policy.priced": "Priced",
        "products.step.approve": "Approve",
        "products.step.reject": "Reject",
        "products.step.sign": "Sign",
        "products.step.suspend": "Suspend",
        "products.step.resume": "Resume",
        "products.step.end": "End",
        "products.scenario.planned": "Planned",
        "products.scenario.building": "Being built",
        "products.scenario.running": "In use",
        "products.scenario.retired": "Retired",
        "products.subject": "Subject",
        "products.subject.resource": "Data resource",
        "products.subject.product": "Data product",
        "products.subject_code": "Resource code or product number",
        "products.method": "Valuation method",
        "products.method.cost": "Cost",
        "products.method.income": "Income",
        "products.method.market": "Market",
        "products.cost": "Cost (yuan)",
        "products.expected_benefit": "Expected benefit (yuan)",
        "products.value": "Value (yuan)",
        "products.amounts_in_yuan": "Amounts in yuan, to the fen.",
        "products.record_asset": "Record a data asset",
        "products.revalue": "Revalue",
        "products.history": "History",
        "products.changed_by": "Changed by",
        "products.changed_at": "Changed at",
        "products.no_assets": "No data assets yet.",
        "products.rule.product.sources_in_agreement": "Sources within the agreement",
        "products.rule.product.sources_own_unit": "Sources are the unit's own",
        "products.rule.product.grade_delivery": "Grade allows the delivery mode",
        "products.rule.product.personal_data_masked": "Personal data masked or in the sandbox",
        "products.rule.product.quality": "Data quality",
        "products.checks": "Compliance checks",
        "products.rule": "Check",
        "products.result": "Result",
        "products.detail": "Detail",
        "products.passed": "Passed",
        "products.flagged": "Flagged",
        "products.quality_report": "Quality report",
        "products.score": "Score",
        "products.no_rules": "no quality rules",
        "products.sector": "Sector",
        "products.sources": "Source resources",
        "products.sources_hint": "Resource codes, separated by commas",
        "products.update_cycle": "Update cycle",
        "products.grade": "Security grade",
        "products.personal_data": "holds personal data",
        "products.masked": "Delivered masked",
        "products.price": "Price",
        "products.price_yuan": "Price (yuan)",
        "products.yuan": "yuan",
        "products.licence": "Licence",
        "products.sample": "Sample",
        "products.description": "Description",
        "products.review_reason": "Review",
        "products.offer": "ODRL offer",
        "products.review": "Review",
        "products.reject": "Reject",
        "products.list": "List",
        "products.delist": "Delist",
        "products.none_yet": "No products yet.",
        "products.register": "Register a data product",
        "products.register_hint": "An operator registers within a live operation agreement; the compliance checks run at registration and a refused product is not kept.",
        "products.no_agreement": "None (the unit's own resources)",
        "products.no_agreements": "No operation agreements.",
        "products.credit_code": "Credit code",
        "products.covers": "Covers",
        "products.purposes": "Purposes",
        "products.security_duties": "Security duties",
        "products.grant": "Grant an operation agreement",
        "products.title": "Title",
        "products.operator_unit": "Operator unit code",
        "products.owner_unit": "Owner unit code",
        "products.resource_codes": "Resource codes",
        "products.themes": "Theme libraries",
        "products.starts_on": "Starts on",
        "products.ends_on": "Ends on",
        "products.price_policy": "Price policy",
        "products.price_note": "Price note",
        "products.bureau_only": "Products are reviewed and listed by the bureau's data stewards.",
        "products.to_review": "To review",
        "products.to_list": "To list",
        "products.new_scenario": "New scenario",
        "products.no_scenarios": "No scenarios yet.",
        "products.product_number": "Product number",
        "products.link": "Link",
    },
)
PAGE = 20


def _go(here: str, session: Session, act: Callable[[], object], once: Once) -> Response:
    """Run one form's verb: back to the page, saved, or with the error named (a 404 passes);
    sent twice, the verb runs once and the second sending lands where the first did."""
    try:
        act()
    except (ValidationError, CitybaseError) as exc:
        return once.redirect(session, f"{here}?error={quote(failure_text(session, exc))}")
    return once.redirect(session, f"{here}?saved=1")


def _make_once(
    request: Request, here: str, session: Session, token: str, act: Callable[[], object]
) -> Response:
    """``_go`` for a form that makes something: sent twice, it makes it once (core/web/once)."""
    try:
        once = claim(request, session, token)
    except CitybaseError as exc:
        return RedirectResponse(f"{here}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    response = _go(here, session, act, once)
    if response.headers.get("location", "").endswith("saved=1"):
        once.done(session, f"{here}?saved=1")
    else:
        undo(session)  # nothing made: the same form may be sent again once corrected
    return response


# --- catalog --------------------------------------------------------------------------------------


@router.get("/console/products")
def catalog_page(request: Request, session: DbSession, principal: ProductsBrowser) -> Response:
    params = {k: v for k, v in request.query_params.items() if v and k != "page"}
    page_text = request.query_params.get("page", "1")
    page = max(int(page_text), 1) if page_text.isdigit() else 1
    try:
        query = CatalogQuery.model_validate(params | {"limit": PAGE, "offset": (page - 1) * PAGE})
    except ValidationError:
        query = CatalogQuery()
    result = service.search_catalog(session, query)
    current = {k: v for k, v in query.model_dump(mode="json").items()
               if v not in (None, "") and k in ("q", "kind", "sector", "price_model")}  # fmt: skip

    def with_(**changes: Any) -> str:
        values = {**current, **changes}
        return "?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})

    return console.render(
        request, "products/catalog.html",
        {"query": query, "result": result, "page": page, "with_": with_,
         "pages": max((result.total + PAGE - 1) // PAGE, 1)},
    )  # fmt: skip


# --- one's own products ---------------------------------------------------------------------------


@router.get("/console/products/mine")
def mine_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsRegistrar
) -> Response:
    own = [p for p in service.get_accessible_products(session, principal, settings.products)
           if p.owner_unit_code == principal.unit_code]  # fmt: skip
    live = [a for a in service.get_accessible_agreements(session, principal, settings.products)
            if a.live and a.operator_unit_code == principal.unit_code]  # fmt: skip
    return console.render(
        request, "products/mine.html",
        {"products": own, "agreements": live, "kinds": list(ProductKind),
         "cycles": list(UpdateCycle), "prices": list(PriceModel)},
    )  # fmt: skip


@router.post("/console/products/mine")
def register(
    request: Request, session: DbSession, principal: ProductsRegistrar, values: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    values["source_codes"] = split_list(str(values.get("source_codes", "")))
    values["masked"] = values.get("masked") == "on"
    return _make_once(request, "/console/products/mine", session, token, lambda: service.register_product(
        session, principal, ProductCreate.model_validate(values)))  # fmt: skip


# --- agreements -----------------------------------------------------------------------------------


@router.get("/console/products/agreements")
def agreements_page(
    request: Request, session: DbSession, settings: AppSettings, principal: AgreementsReader
) -> Response:
    return console.render(
        request, "products/agreements.html",
        {"agreements": service.get_accessible_agreements(session, principal, settings.products),
         "bureau": service.is_bureau(principal, settings.products)},
    )  # fmt: skip


@router.post("/console/products/agreements")
def grant(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsGovernor,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    for key in ("resource_codes", "themes", "purposes", "scenarios"):
        values[key] = split_list(str(values.get(key, "")))
    return _make_once(request, "/console/products/agreements", session, token, lambda: service.grant_agreement(
        session, principal, settings.products, AgreementCreate.model_validate(values)))  # fmt: skip


@router.post("/console/products/agreements/{agreement_id}/{action}")
def agreement_step(
    request: Request, session: DbSession, settings: AppSettings, principal: AgreementsReader,
    agreement_id: Id, action: str, once: FormOnce, values: SubmittedForm) -> Response:  # fmt: skip
    s = settings.products

    def act() -> object:
        if action in ("approve", "reject"):
            data = AgreementReview.model_validate(values | {"approve": action == "approve"})
            return service.review_agreement(session, principal, s, agreement_id, data)
        verbs = {"sign": service.sign_agreement, "suspend": service.suspend_agreement,
                 "resume": service.resume_agreement, "end": service.end_agreement}  # fmt: skip
        if action not in verbs:
            raise NotFound(f"no step {action}", field="action")
        return verbs[action](session, principal, s, agreement_id,
                             AgreementAction.model_validate(values))  # fmt: skip

    return _go("/console/products/agreements", session, act, once)


# --- the bureau's review queue --------------------------------------------------------------------


@router.get("/console/products/review")
def review_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsGovernor
) -> Response:
    bureau = service.is_bureau(principal, settings.products)
    queue = service.get_accessible_products(session, principal, settings.products) if bureau else []
    return console.render(
        request, "products/review.html",
        {"bureau": bureau,
         "submitted": [p for p in queue if p.status is ProductStatus.submitted],
         "approved": [p for p in queue if p.status in (ProductStatus.approved,
                                                       ProductStatus.delisted)],
         "listed": [p for p in queue if p.status is ProductStatus.listed]},
    )  # fmt: skip


# --- scenarios ------------------------------------------------------------------------------------


@router.get("/console/products/scenarios")
def scenarios_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsBrowser
) -> Response:
    sector = request.query_params.get("sector", "")[:40]
    return console.render(
        request, "products/scenarios.html",
        {"scenarios": service.list_scenarios(session, principal, settings.products, sector),
         "sector": sector, "bureau": service.is_bureau(principal, settings.products),
         "may_link": principal.can(PRODUCTS_REGISTER)},
    )  # fmt: skip


@router.post("/console/products/scenarios")
def add_scenario(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsGovernor,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    return _make_once(request, "/console/products/scenarios", session, token, lambda: service.create_scenario(
        session, principal, settings.products, ScenarioCreate.model_validate(values)))  # fmt: skip


@router.post("/console/products/scenarios/{scenario_id}")
def link(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsRegistrar,
    scenario_id: Id, once: FormOnce, values: SubmittedForm) -> Response:  # fmt: skip
    return _go("/console/products/scenarios", session, lambda: service.link_product(
        session, principal, settings.products, scenario_id, ScenarioLink.model_validate(values)), once)  # fmt: skip


# --- data assets ----------------------------------------------------------------------------------


@router.get("/console/products/assets")
def assets_page(
    request: Request, session: DbSession, settings: AppSettings, principal: AssetsKeeper
) -> Response:
    return console.render(
        request, "products/assets.html",
        {"assets": service.get_accessible_assets(session, principal, settings.products),
         "methods": list(ValuationMethod)},
    )  # fmt: skip


@router.post("/console/products/assets")
def add_asset(
    request: Request, session: DbSession, principal: AssetsKeeper, values: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    return _make_once(request, "/console/products/assets", session, token, lambda: service.record_asset(
        session, principal, AssetCreate.model_validate(values)))  # fmt: skip


@router.get("/console/products/assets/{asset_id}")
def asset_page(
    request: Request, session: DbSession, settings: AppSettings, principal: AssetsKeeper,
    asset_id: Id,
) -> Response:  # fmt: skip
    asset = service.get_accessible_asset(session, principal, settings.products, asset_id)
    return console.render(request, "products/asset.html",
                          {"asset": asset, "methods": list(ValuationMethod),
                           "own": asset.unit_code == principal.unit_code})  # fmt: skip


@router.post("/console/products/assets/{asset_id}")
def revalue(
    request: Request, session: DbSession, settings: AppSettings, principal: AssetsKeeper,
    asset_id: Id, once: FormOnce, values: SubmittedForm) -> Response:  # fmt: skip
    return _go(f"/console/products/assets/{asset_id}", session, lambda: service.revalue_asset(
        session, principal, settings.products, asset_id, AssetRevalue.model_validate(values)), once)  # fmt: skip


# --- one product (last: its path takes any number) ------------------------------------------------


@router.get("/console/products/{product_id}")
def product_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsBrowser,
    product_id: Id,
) -> Response:  # fmt: skip
    product = service.get_accessible_product(session, principal, settings.products, product_id)
    bureau = service.is_bureau(principal, settings.products)
    own = product.owner_unit_code == principal.unit_code and principal.can(PRODUCTS_REGISTER)
    return console.render(request, "products/product.html",
                          {"p": product, "bureau": bureau, "own": own})  # fmt: skip


@router.post("/console/products/{product_id}/{action}")
def product_step(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsRegistrar,
    product_id: Id, action: str, once: FormOnce, values: SubmittedForm) -> Response:  # fmt: skip
    s = settings.products

    def act() -> object:
        if action in ("approve", "reject"):
            data = ProductReview.model_validate(values | {"approve": action == "approve"})
            return service.review_product(session, principal, s, product_id, data)
        if action == "list":
            return service.list_product(session, principal, s, product_id,
                                        ProductAction.model_validate(values))  # fmt: skip
        if action == "delist":
            return service.delist_product(session, principal, s, product_id,
                                          ProductAction.model_validate(values))  # fmt: skip
        raise NotFound(f"no step {action}", field="action")

    return _go(f"/console/products/{product_id}", session, act, once)


# the domain's reasons as the console shows them (their values kept, codes as they are)
add_patterns("zh", {
    r"no step \S+(?:: suspend, resume or end)?": "无此操作",
    r"no agreement (\S+)": "未找到授权运营协议 {0}",
    r"no contract (\S+)": "未找到使用合同 {0}",
    r"no data asset (\S+)": "未找到数据资产 {0}",
    r"no data product (\S+)": "未找到数据产品 {0}",
    r"no listed product (\S+)": "未找到已上架的数据产品 {0}",
    r"no negotiation (\S+)": "未找到协商 {0}",
    r"no scenario (\S+)": "未找到应用场景 {0}",
    r"no catalog resource (.+)": "目录中没有资源 {0}",
    r"a scenario named (.+) exists": "已有名为「{0}」的应用场景",
    r"contract (\S+) is already revoked": "合同 {0} 已撤销",
    r"the key of contract (\S+) is issued to its customer \(rule contract\.party\)":
        "合同 {0} 的密钥只发给其需方单位",
    r"product (\S+) is delisted by its unit or the bureau": "数据产品 {0} 只能由其所属单位或数据局下架",
    r"product (\S+) is linked by its unit or the bureau": "数据产品 {0} 只能由其所属单位或数据局关联场景",
    r"asset (\S+) is revalued by (\S+)": "资产 {0} 只能由 {1} 重新估值",
    r"(\S+) is already an asset of (\S+): revalue it": "{0} 已是 {1} 的数据资产：请重新估值",
    r"an amount in yuan between 0 and (\S+)": "金额应在 0 到 {0} 元之间",
    r"(\S+) is not a month \(YYYY-MM\)": "{0} 不是有效月份（年-月）",
})  # fmt: skip
add_translations("zh", {
    "a free product has no price": "免费产品不设单价",
    "a priced product needs its amount": "收费产品需填写单价",
    "name at least one purpose": "请至少填写一项用途",
    "name the resources or theme libraries it covers": "请填写协议覆盖的资源或主题库",
    "the agreement must end after it starts": "协议的结束日期应晚于开始日期",
    "at most two decimals (fen)": "最多两位小数（分）",
    "a product is registered by a unit or an operator company": "数据产品由政务部门或运营单位登记",
})  # fmt: skip
add_field_labels({
    "price_yuan": "products.price_yuan", "purposes": "products.purposes",
    "resource_codes": "products.resource_codes", "ends_on": "products.ends_on",
})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"product (.+?) \((.+?)\) is not transferred: its rows never leave; ask its analyses through the contract API \(rule (.+?)\)": "数据产品 {0}（{1}）不传输：其数据不出域；请通过合同接口申请分析结果（规则 {2}）",
    r"no listed product offers (.+?): ask with the @id of an offer from the catalog \(rule (.+?)\)": "没有已上架的数据产品提供 {0}：请使用目录中报价的 @id 申请（规则 {1}）",
    r"a transfer hands over deliveries: the caller needs products:deliver \(rule (.+?)\)": "传输用于交付数据：调用方须具有 products:deliver 权限（规则 {0}）",
    r"a data product is contracted by a company \(an organisation of kind enterprise\) through its users \(rule (.+?)\)": "数据产品须由企业（类型为企业的组织）通过其用户签订合同（规则 {0}）",
    r"the term may not outlast operation agreement (.+?), which ends on (.+?) \(rule (.+?)\)": "期限不能超过授权运营协议 {0} 的截止日期 {1}（规则 {2}）",
    r"no unit (.+?): register the operator company as an organisation first": "没有单位 {0}：请先把运营企业登记为组织",
    r"(.+?) is not a year \(2026\), a quarter \(2026-Q4\) or a month \(2026-12\) between 2000 and 2999": "{0} 不是 2000 至 2999 年间的年份（2026）、季度（2026-Q4）或月份（2026-12）",
    r"(.+?) has no valid unified social credit code \(GB 32100\): record it first": "{0} 没有有效的统一社会信用代码（GB 32100）：请先登记",
    r"only the data stewards of (.+?) act for the bureau here \(rule (.+?)\)": "只有 {0} 的数据管理员可以代表数据局办理（规则 {1}）",
    r"contract (.+?) is revoked by its provider or the bureau \(rule (.+?)\)": "合同 {0} 只能由供方或数据局撤销（规则 {1}）",
    r"only the customer sends messages to transfer (.+?) here \(rule (.+?)\)": "只有需方可以向传输过程 {0} 发送消息（规则 {1}）",
    r"(.+?) is not an active company \(kind enterprise\): only a company operates": "{0} 不是在册的企业：只有企业可以运营",
    r"(.+?): an operator acts only under a live agreement \(rule (.+?)\)": "{0}：运营单位只能在有效的授权运营协议下办理（规则 {1}）",
    r"the key of contract (.+?) is issued to its customer \(rule (.+?)\)": "合同 {0} 的密钥只发给其需方单位（规则 {1}）",
    r"(.+?) is (.+?)'s: a unit records its own data as an asset": "{0} 属于 {1}：单位只能把本单位的数据登记为资产",
    r"(.+?): its products are not approved or listed \(rule (.+?)\)": "{0}：其数据产品未获批准或未上架（规则 {1}）",
    r"only (.+?) sends this message in negotiation (.+?) \(rule (.+?)\)": "在协商 {1} 中只有 {0} 可以发送此消息（规则 {2}）",
    r"purpose (.+?) is not among those offered \((.+?)\) \(rule (.+?)\)": "用途 {0} 不在所提供的用途（{1}）之内（规则 {2}）",
    r"agreement (.+?) is signed by its operator, (.+?)": "协议 {0} 由其运营单位 {1} 签署",
    r"no contract agreement (.+?) of your company": "贵公司没有合同协议 {0}",
    r"dct:format (.+?) is not served: only (.+?) \(the consumer pulls from the data address; a push to the consumer's endpoint is not built\) \(rule (.+?)\)": "不提供 dct:format {0}：只提供 {1}（由需方从数据地址拉取；尚不支持推送到需方端点）（规则 {2}）",
    r"(.+?): its products are not delivered \(rule (.+?)\)": "{0}：其数据产品不交付（规则 {1}）",
    r"a file to verify has at most (.+?) bytes": "待核验的文件最大为 {0} 字节",
    r"the term ends on (.+?), before today \(rule (.+?)\)": "期限截止于 {0}，早于今天（规则 {1}）",
    r"(.+?) is not a day between 2000 and 2999": "{0} 不是 2000 至 2999 年间的日期",
    r"(.+?) is your company's own product \(rule (.+?)\)": "{0} 是贵公司自己的产品（规则 {1}）",
    r"agreement (\S+) is (\S+): it cannot \S+ \(only from (.+)\)": "协议 {0} 当前为「{1}」，不能进行此操作（只能在「{2}」状态下进行）",
    r"contract (.+?) is (.+?): no key is issued": "合同 {0} 当前为「{1}」：不发放密钥",
    r"(.+?): product (.+?) is not on offer \(rule (.+?)\)": "{0}：数据产品 {1} 未在供应中（规则 {2}）",
    r"(.+?) is not a source of product (.+?): (.+?)": "{0} 不是数据产品 {1} 的来源：{2}",
    r"product (.+?) is (.+?): it cannot be (.+?)": "数据产品 {0} 当前为「{1}」，不能变为「{2}」",
    r"contract (.+?) was revoked: (.+?) \(rule (.+?)\)": "合同 {0} 已撤销：{1}（规则 {2}）",
    r"product (.+?) is not listed \(rule (.+?)\)": "数据产品 {0} 未上架（规则 {1}）",
    r"no dataset (.+?) in the catalog": "目录中没有数据集 {0}",
    r"a period of at most (.+?) days": "期间最长为 {0} 天",
    r"contract (.+?) ended at (.+?) \(rule (.+?)\)": "合同 {0} 已于 {1} 终止（规则 {2}）",
    r"a sample is 1 to (.+?) rows": "样例为 1 到 {0} 行",
    r"no transfer process (.+?)": "未找到传输过程 {0}",
    r"no signed file (.+?)": "未找到签名文件 {0}",
    r"(.+?) is not a day \(YYYY-MM-DD\)": "{0} 不是有效日期（年-月-日）",
    r"(\S+) is before (\S+)": "{0} 早于 {1}",
})  # fmt: skip
add_translations("zh", {
    "a statement is read by its own company or unit, or the bureau": "对账单只能由其所属企业或单位、或数据局查看",
    "a provider's statement is read by its operators and data stewards": "供方的对账单只能由其运营人员和数据管理员查看",
    "agreeing to a request directly, give the terms (ends_on…)": "直接同意申请时，请给出条款（截止日期等）",
    "a delivery's time has a time zone": "交付时间须带时区",
    "revenue reports are read by the bureau, and by a provider for its own products": "收益报表由数据局查看，供方只能查看本方产品的报表",
    "give a period or days from and to, not both": "请填写统计期间或起止日期，二者只能选一",
    "days from and to are given together": "起止日期须同时填写",
    "this platform shows no sample rows (products.sample_rows is 0)": "本平台不展示样例数据（products.sample_rows 设为 0）",
})  # fmt: skip
