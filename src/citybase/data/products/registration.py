"""Data products (数据产品): registration with its compliance checks, the bureau's review,
listing (上架) and delisting (下架), and the catalog customers search in Chinese.

A product is refused at registration, naming the rule, when a check that no review could
overturn fails: its sources outside the operator's live agreement (or, for a unit, not its own),
a source not registered or not graded, a grade the delivery mode may not carry, personal data
delivered unmasked. The checks that passed, and the quality report, are kept with the product
for the steward who reviews it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import ProductsSettings
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead, Status
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Level
from citybase.data.products import agreements, repository
from citybase.data.products.models import DataProduct, OperationAgreement
from citybase.data.products.schemas import (
    CatalogPage,
    CatalogQuery,
    Check,
    FacetCount,
    PriceModel,
    ProductAction,
    ProductCreate,
    ProductDelisted,
    ProductKind,
    ProductListed,
    ProductRead,
    ProductReview,
    ProductStatus,
    to_fen,
    to_yuan,
)
from citybase.data.quality import service as quality
from citybase.data.search import tokens

RULE_SOURCES_AGREEMENT = "product.sources_in_agreement"
RULE_SOURCES_OWN = "product.sources_own_unit"
RULE_SOURCES_REGISTERED = "product.sources_registered"
RULE_SOURCES_GRADED = "product.sources_graded"
RULE_GRADE_DELIVERY = "product.grade_delivery"
RULE_PERSONAL_MASKED = "product.personal_data_masked"
RULE_QUALITY = "product.quality"
RULE_STEP = "product.step"
PERSONAL_KINDS = {"citizen_id", "mobile", "bank_card", "name", "address"}
PERSONAL_LEVELS = {Level.general_3, Level.general_4}
QUALITY_FLOOR = 60.0  # a source scoring below this is flagged to the reviewer, not refused
# the delivery modes each grade may be offered in (GB/T 43697: core data is never offered;
# important data only computed in the sandbox; personal information never as a download)
ALLOWED_KINDS: dict[Level, set[ProductKind]] = {
    Level.core: set(),
    Level.important: {ProductKind.sandbox},
    Level.general_4: {ProductKind.api, ProductKind.report, ProductKind.sandbox},
    Level.general_3: {ProductKind.api, ProductKind.report, ProductKind.sandbox},
    Level.general_2: set(ProductKind),
    Level.general_1: set(ProductKind),
}


# --- reading --------------------------------------------------------------------------------------


def read_products(session: Session, rows: list[DataProduct]) -> list[ProductRead]:
    names = orgs.unit_names(session, {p.owner_unit_code for p in rows})
    deals = repository.agreements_by_id(session, {p.agreement_id for p in rows if p.agreement_id})
    links = repository.scenarios_of(session, [p.id for p in rows])
    found = []
    for p in rows:
        deal = deals.get(p.agreement_id) if p.agreement_id else None
        found.append(ProductRead.model_validate(p, from_attributes=True).model_copy(update={
            "owner_unit_name": names.get(p.owner_unit_code, ""),
            "agreement_number": deal.number if deal else "",
            "price_yuan": to_yuan(p.price_fen), "scenario_ids": sorted(links.get(p.id, [])),
        }))  # fmt: skip
    return found


def _may_manage(principal: Principal, settings: ProductsSettings, product: DataProduct) -> bool:
    """The bureau, and the product's own unit (its registrars)."""
    return agreements.is_bureau(principal, settings) or (
        product.owner_unit_code == principal.unit_code
        and (principal.has_role(Role.data_operator) or principal.has_role(Role.data_steward))
    )


def _accessible(
    session: Session, principal: Principal, settings: ProductsSettings, product_id: int
) -> DataProduct:
    product = repository.product(session, product_id)
    if product is None or not (
        _may_manage(principal, settings, product)
        or repository.is_offered(session, product.id, clock.today())
    ):
        raise NotFound(f"no data product {product_id}", field="product")
    return product


def get_accessible_product(
    session: Session, principal: Principal, settings: ProductsSettings, product_id: int
) -> ProductRead:
    """A listed product on offer to anyone who browses; any other to its unit and the bureau."""
    return read_products(session, [_accessible(session, principal, settings, product_id)])[0]


def get_accessible_products(
    session: Session, principal: Principal, settings: ProductsSettings,
    status: ProductStatus | None = None,
) -> list[ProductRead]:  # fmt: skip
    """Products one manages: the bureau every unit's, a unit (or operator) its own."""
    owner = None if agreements.is_bureau(principal, settings) else (principal.unit_code or "-")
    rows = repository.products(session, owner=owner, status=status.value if status else None)
    return read_products(session, rows)


def search_catalog(session: Session, query: CatalogQuery, today: date | None = None) -> CatalogPage:
    """Listed products on offer, matched in Chinese with data/search's bigram tokens in the
    catalog's own index (every term as a phrase; a name match ranks above a description match),
    with facet counts over the whole match."""
    day = today or clock.today()
    terms = tokens.query_terms(query.q)
    filters = {"kind": query.kind.value if query.kind else "", "sector": query.sector,
               "price_model": query.price_model.value if query.price_model else ""}  # fmt: skip
    total, counts = repository.catalog_counts(session, day, terms, filters)
    page = repository.catalog_page(session, day, terms, filters, limit=query.limit,
                                   offset=query.offset)  # fmt: skip
    found = repository.products_by_id(session, page)
    facets: dict[str, list[FacetCount]] = {facet: [] for facet in repository.CATALOG_FACETS}
    for facet, value, n in sorted(counts, key=lambda c: (-c[2], c[1])):
        facets[facet].append(FacetCount(value=value, count=n))
    return CatalogPage(
        total=total,
        products=read_products(session, [found[i] for i in page if i in found]),
        facets=facets,
    )


def reindex_catalog(session: Session) -> int:
    """Rebuild the catalog's index from the listed products; returns how many it holds."""
    entries = [
        {"product_id": row.id, "agreement_id": row.agreement_id, "kind": row.kind,
         "sector": row.sector, "price_model": row.price_model, "listed_at": row.listed_at,
         "name_tokens": tokens.index_text(row.name), "search_tokens": row.search_tokens}
        for row in repository.listed_products(session)
    ]  # fmt: skip
    repository.replace_catalog(session, entries)
    return len(entries)


# --- compliance -----------------------------------------------------------------------------------


def _refuse(rule: str, message: str, field: str = "source_codes") -> Forbidden:
    return Forbidden(f"{message} (rule {rule})", field=field, rule=rule)


def _sources(session: Session, codes: list[str]) -> list[ResourceRead]:
    found = []
    for code in codes:
        try:
            resource = catalog.get_resource(session, code)
        except NotFound:
            raise InvalidInput(f"no catalog resource {code}", field="source_codes") from None
        if resource.status not in (Status.registered, Status.published):
            raise _refuse(RULE_SOURCES_REGISTERED,
                          f"{code} is {resource.status.value}: a product is made of registered "
                          "resources only")  # fmt: skip
        found.append(resource)
    return found


def assess(
    session: Session, principal: Principal, data: ProductCreate,
    agreement: OperationAgreement | None,
) -> tuple[list[Check], dict[str, Any]]:  # fmt: skip
    """Run the compliance checks; raise on the first that refuses, else return them all with
    what the product inherits from its sources (grade, personal data, quality)."""
    sources = _sources(session, data.source_codes)
    checks: list[Check] = []
    if agreement is not None:
        outside = [
            r.code for r in sources if not agreements.covers(agreement, r.code, r.theme_tags)
        ]
        if outside:
            raise _refuse(RULE_SOURCES_AGREEMENT,
                          f"{', '.join(outside)} not within agreement {agreement.number}")  # fmt: skip
        checks.append(Check(rule=RULE_SOURCES_AGREEMENT, passed=True,
                            detail=f"all within agreement {agreement.number}"))  # fmt: skip
    elif not principal.has_role(Role.platform_admin):
        foreign = [r.code for r in sources if r.provider_unit_code != principal.unit_code]
        if foreign:
            raise _refuse(RULE_SOURCES_OWN,
                          f"{', '.join(foreign)} belong to other units: a unit offers its own "
                          "resources, an operator those of its agreement")  # fmt: skip
        checks.append(Check(rule=RULE_SOURCES_OWN, passed=True, detail="all the unit's own"))
    levels: list[Level] = []
    personal = False
    for resource in sources:
        level, findings = grading.graded(session, resource.code)
        if not level:
            raise _refuse(RULE_SOURCES_GRADED,
                          f"{resource.code} has no security grade yet: grade it first")  # fmt: skip
        levels.append(Level(level))
        personal = (
            personal
            or Level(level) in PERSONAL_LEVELS
            or any(f.kind in PERSONAL_KINDS and f.matches for f in findings)
        )
    grade = max(levels, key=lambda lv: lv.rank)
    if data.kind not in ALLOWED_KINDS[grade]:
        allowed = "、".join(k.value for k in ProductKind if k in ALLOWED_KINDS[grade]) or "none"
        raise _refuse(RULE_GRADE_DELIVERY,
                      f"a source graded {grade.value} may not be offered as {data.kind.value} "
                      f"(allowed: {allowed})", field="kind")  # fmt: skip
    checks.append(Check(rule=RULE_GRADE_DELIVERY, passed=True,
                        detail=f"grade {grade.value} allows {data.kind.value}"))  # fmt: skip
    if personal:
        if data.kind is ProductKind.dataset or (data.kind is ProductKind.api and not data.masked):
            raise _refuse(RULE_PERSONAL_MASKED,
                          "its sources hold personal data: deliver it masked (an API with "
                          "masking), as a report, or in the sandbox", field="masked")  # fmt: skip
        checks.append(Check(rule=RULE_PERSONAL_MASKED, passed=True,
                            detail=f"personal data, delivered as {data.kind.value}"
                            + (" masked" if data.masked else "")))  # fmt: skip
    else:
        checks.append(
            Check(rule=RULE_PERSONAL_MASKED, passed=True, detail="no personal data found")
        )
    scores = {r.code: quality.latest_score(session, r.code) for r in sources}
    report = [{"code": r.code, "name": r.name,
               "score": None if scores[r.code] is None else round(scores[r.code] or 0, 1)}
              for r in sources]  # fmt: skip
    low = [c for c, score in scores.items() if score is not None and score < QUALITY_FLOOR]
    unscored = [c for c, score in scores.items() if score is None]
    detail = (f"below {QUALITY_FLOOR:g}: {', '.join(low)}" if low
              else "no quality rules: " + ", ".join(unscored) if unscored
              else "every source scored")  # fmt: skip
    checks.append(Check(rule=RULE_QUALITY, passed=not low, detail=detail))
    sample = [{"resource": r.code, "items": [f"{i.name}（{i.data_type.value}）" for i in r.items]}
              for r in sources]  # fmt: skip
    return checks, {"grade": grade.value, "personal_data": personal, "quality": report,
                    "sample_rows": sample}  # fmt: skip


def _agreement_for(
    session: Session, principal: Principal, number: str
) -> OperationAgreement | None:
    if number or principal.has_role(Role.data_operator):
        return agreements.live_agreement(session, principal, number)
    return None


def register_product(session: Session, principal: Principal, data: ProductCreate) -> ProductRead:
    """数据产品登记: checked, then kept for the bureau's review (nothing kept when refused)."""
    if not principal.unit_code:
        raise Forbidden("a product is registered by a unit or an operator company", field="unit")
    agreement = _agreement_for(session, principal, data.agreement_number)
    checks, inherited = assess(session, principal, data, agreement)
    values = data.model_dump(exclude={"agreement_number", "price_yuan"})
    product = DataProduct(
        number=repository.next_number(session, DataProduct, f"CP-{clock.today().year}"),
        owner_unit_code=principal.unit_code, agreement_id=agreement.id if agreement else None,
        price_fen=to_fen(data.price_yuan), checks=[c.model_dump() for c in checks],
        registered_by=actor_of(principal).name, status=ProductStatus.submitted.value,
        search_tokens=tokens.index_text(data.name, data.sector, data.description),
        **values, **inherited,
    )  # fmt: skip
    repository.add(session, product)
    _record(session, principal, product, "register", data.description[:200] or data.name)
    return read_products(session, [product])[0]


def _require_step(product: DataProduct, sources: tuple[str, ...], action: str) -> None:
    if product.status not in sources:
        raise Conflict(f"product {product.number} is {product.status}: it cannot be {action}",
                       field="status", rule=RULE_STEP)  # fmt: skip


def _still_live(session: Session, product: DataProduct) -> None:
    if product.agreement_id is None:
        return
    agreement = repository.agreement(session, product.agreement_id)
    reason = agreements.why_not_live(agreement) if agreement else "its agreement is gone"
    if reason:
        raise Forbidden(f"{reason}: its products are not approved or listed (rule "
                        f"{agreements.RULE_LIVE})", field="agreement", rule=agreements.RULE_LIVE)  # fmt: skip


def review_product(
    session: Session, principal: Principal, settings: ProductsSettings, product_id: int,
    data: ProductReview,
) -> ProductRead:  # fmt: skip
    """The bureau's steward approves or rejects, with the reason."""
    agreements.require_bureau(principal, settings)
    product = _accessible(session, principal, settings, product_id)
    _require_step(product, ("submitted",), "reviewed")
    if data.approve:
        _still_live(session, product)
    product.status = (ProductStatus.approved if data.approve else ProductStatus.rejected).value
    product.reviewed_by = actor_of(principal).name
    product.review_reason = data.reason
    _record(session, principal, product, "review." + ("approve" if data.approve else "reject"),
            data.reason)  # fmt: skip
    return read_products(session, [product])[0]


def offer_policy(product: DataProduct, agreement: OperationAgreement | None) -> dict[str, Any]:
    """The ODRL 2.2 offer the product is listed with: use for the agreement's purposes, paid
    where priced, never passed on. It compiles (``policies.compile_policy``); contracts are
    made from it by narrowing it to the purposes asked and the provider's terms."""
    permission: dict[str, Any] = {
        "action": "use",
        "target": f"urn:citybase:product:{product.number}",
    }
    if agreement is not None:
        permission["constraint"] = [{"leftOperand": "purpose", "operator": "isAnyOf",
                                     "rightOperand": list(agreement.purposes)}]  # fmt: skip
    if product.price_model != PriceModel.free.value:
        # the amount is the product's price policy (metering prices each delivery by it); ODRL's
        # payAmount takes a unit and is not among the operands the policies understand
        permission["duty"] = [{"action": "compensate", "dct:description":
                               f"{product.price_model} {to_yuan(product.price_fen)} CNY"}]  # fmt: skip
    return {
        "@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
        "uid": f"urn:citybase:offer:{product.number}",
        "assigner": f"urn:citybase:unit:{product.owner_unit_code}",
        "permission": [permission],
        "prohibition": [{"action": "distribute",
                         "target": f"urn:citybase:product:{product.number}"}],
    }  # fmt: skip


def list_product(
    session: Session, principal: Principal, settings: ProductsSettings, product_id: int,
    data: ProductAction,
) -> ProductRead:  # fmt: skip
    """上架: an approved (or delisted) product goes into the catalog, with its ODRL offer."""
    agreements.require_bureau(principal, settings)
    product = _accessible(session, principal, settings, product_id)
    _require_step(product, ("approved", "delisted"), "listed")
    _still_live(session, product)
    deal = repository.agreement(session, product.agreement_id) if product.agreement_id else None
    product.status = ProductStatus.listed.value
    product.listed_at = datetime.now(UTC)
    product.delisted_at = None
    product.offer_policy = offer_policy(product, deal)
    repository.put_in_catalog(session, product, tokens.index_text(product.name))
    _record(session, principal, product, "list", data.reason)
    bus.publish(session, ProductListed(number=product.number, owner_unit_code=product.owner_unit_code,
                                       kind=product.kind, source_codes=list(product.source_codes)))  # fmt: skip
    return read_products(session, [product])[0]


def delist_product(
    session: Session, principal: Principal, settings: ProductsSettings, product_id: int,
    data: ProductAction,
) -> ProductRead:  # fmt: skip
    """下架: by the bureau, or by the product's own unit."""
    product = _accessible(session, principal, settings, product_id)
    if not _may_manage(principal, settings, product):
        raise Forbidden(f"product {product.number} is delisted by its unit or the bureau",
                        field="unit")  # fmt: skip
    _require_step(product, ("listed",), "delisted")
    _delist(session, actor_of(principal), product, data.reason)
    return read_products(session, [product])[0]


def _delist(session: Session, actor: Actor, product: DataProduct, reason: str) -> None:
    product.status = ProductStatus.delisted.value
    product.delisted_at = datetime.now(UTC)
    repository.take_out_of_catalog(session, product.id)
    _record_as(session, actor, product, "delist", reason)
    bus.publish(session, ProductDelisted(number=product.number,
                                         owner_unit_code=product.owner_unit_code, reason=reason))  # fmt: skip


def delist_under(session: Session, actor: Actor, agreement: OperationAgreement, reason: str) -> int:
    """Delist every listed product of an agreement no longer live; returns how many."""
    listed = repository.products(session, status="listed", agreement_id=agreement.id)
    for product in listed:
        _delist(session, actor, product, f"{agreement.number}: {reason}")
    return len(listed)


def _record(
    session: Session, principal: Principal, product: DataProduct, what: str, reason: str
) -> None:
    _record_as(session, actor_of(principal), product, what, reason)


def _record_as(
    session: Session, actor: Actor, product: DataProduct, what: str, reason: str
) -> None:
    ledger.record(
        session, actor, f"products.product.{what}", object_type="data_product",
        object_id=product.number, reason=reason,
        details={"owner": product.owner_unit_code, "kind": product.kind, "status": product.status,
                 "sources": list(product.source_codes), "grade": product.grade,
                 "agreement": product.agreement_id},
    )  # fmt: skip
