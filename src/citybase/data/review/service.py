"""Normative review (规范性审查): check a resource's metadata against the data element registry and
the catalog's rules; report per field. Approval of a resource with errors is refused: the review
registers itself as a check of the catalog's ``approve`` step.
"""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy.orm import Session

from citybase.core.errors import Conflict
from citybase.core.identity.schemas import Principal
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import (
    Category,
    DataType,
    ResourceFilter,
    ResourceRead,
    ShareType,
)
from citybase.data.review.schemas import (
    CatalogReview,
    DataElement,
    Issue,
    ResourceReview,
    Severity,
)

ELEMENTS: dict[str, DataElement] = {
    e.name: e
    for e in (
        DataElement(name="公民身份号码", data_type=DataType.string, length=18, fixed_length=True,
                    format="18 位，末位为校验码（0–9 或 X）", check="GB 11643 校验码"),
        DataElement(name="统一社会信用代码", data_type=DataType.string, length=18, fixed_length=True,
                    format="18 位数字或大写字母（不含 I、O、Z、S、V）", check="GB 32100 校验码"),
        DataElement(name="手机号码", data_type=DataType.string, length=11, fixed_length=True,
                    format="11 位，1 开头"),
        DataElement(name="银行卡号", data_type=DataType.string, length=19, format="16–19 位数字",
                    check="Luhn 校验"),
        DataElement(name="姓名", data_type=DataType.string, length=50),
        DataElement(name="地址", data_type=DataType.string, length=200,
                    format="省、市、区县、街道（乡镇）及门牌"),
        DataElement(name="日期", data_type=DataType.date, format="YYYY-MM-DD (GB/T 7408)"),
        DataElement(name="日期时间", data_type=DataType.datetime,
                    format="YYYY-MM-DDThh:mm:ss (GB/T 7408)"),
        DataElement(name="行政区划代码", data_type=DataType.string, length=12,
                    format="6、9 或 12 位数字 (GB/T 2260)"),
        DataElement(name="性别代码", data_type=DataType.string, length=1, fixed_length=True,
                    format="0 未知、1 男、2 女、9 未说明 (GB/T 2261.1)"),
        DataElement(name="邮政编码", data_type=DataType.string, length=6, fixed_length=True),
        DataElement(name="电子邮箱", data_type=DataType.string, length=100),
        DataElement(name="经度", data_type=DataType.decimal, format="WGS-84 或 CGCS2000，十进制度"),
        DataElement(name="纬度", data_type=DataType.decimal, format="WGS-84 或 CGCS2000，十进制度"),
        DataElement(name="金额", data_type=DataType.decimal, format="元，两位小数"),
    )
}  # fmt: skip
RESOURCE_CODE = re.compile(r"^[1-3]\d{5}[0-9A-Za-z]{0,20}-\d{6}$")


def elements() -> list[DataElement]:
    return list(ELEMENTS.values())


def _issue(field: str, rule: str, severity: Severity, message: str) -> Issue:
    return Issue(field=field, rule=rule, severity=severity, message=message)


def check_resource(resource: ResourceRead, known_codes: set[str]) -> list[Issue]:
    """Every rule the resource breaks, each naming its field."""
    issues: list[Issue] = []
    error, warning = Severity.error, Severity.warning
    # completeness of the core metadata
    if len(resource.abstract.strip()) < 20:
        issues.append(_issue("abstract", "completeness", warning,
                             "the abstract is short: say what the resource holds, for whom, and where"))  # fmt: skip
    if not resource.keywords:
        issues.append(_issue("keywords", "completeness", warning, "give at least one keyword"))
    if resource.share_type is not ShareType.none and not resource.share_method.strip():
        issues.append(_issue("share_method", "completeness", error,
                             "a shared resource names how it is shared (接口, 库表, 文件)"))  # fmt: skip
    if resource.category is Category.theme and not resource.theme_tags:
        issues.append(_issue("theme_tags", "completeness", error,
                             "a theme resource (类 2) names its theme library"))  # fmt: skip
    if resource.category is Category.base and not resource.base_tags:
        issues.append(_issue("base_tags", "completeness", error,
                             "a base resource (类 1) names its base library"))  # fmt: skip
    # code formats
    if resource.classification[1:3] == "00" or resource.classification[3:6] == "000":
        issues.append(_issue("classification", "code_format", error,
                             "项 and 目 start from 01 and 001"))  # fmt: skip
    for i, code in enumerate(resource.related_codes):
        if not RESOURCE_CODE.match(code):
            issues.append(_issue(f"related_codes.{i}", "code_format", error,
                                 f"{code} is not a resource code (分类码-顺序码)"))  # fmt: skip
        elif code not in known_codes:
            issues.append(_issue(f"related_codes.{i}", "code_format", error,
                                 f"no resource {code} in the catalog"))  # fmt: skip
    # data items against the data elements they follow
    for i, item in enumerate(resource.items):
        if not item.element:
            if item.name in ELEMENTS:
                issues.append(_issue(f"items.{i}.element", "data_element", warning,
                                     f"{item.name} has a data element of the same name: follow it"))  # fmt: skip
            continue
        element = ELEMENTS.get(item.element)
        if element is None:
            issues.append(_issue(f"items.{i}.element", "data_element", error,
                                 f"no data element {item.element} in the registry"))  # fmt: skip
            continue
        if item.data_type is not element.data_type:
            issues.append(_issue(f"items.{i}.data_type", "data_element", error,
                                 f"{item.name} follows {element.name}, which is {element.data_type.value}, "
                                 f"not {item.data_type.value}"))  # fmt: skip
        if element.length and item.length:
            too_short = item.length < element.length
            wrong_fixed = element.fixed_length and item.length != element.length
            if too_short or wrong_fixed:
                issues.append(_issue(f"items.{i}.length", "data_element", error,
                                     f"{element.name} needs length {element.length}, not {item.length}"))  # fmt: skip
    return issues


def _review(resource: ResourceRead, known: set[str]) -> ResourceReview:
    issues = check_resource(resource, known)
    return ResourceReview(
        code=resource.code, name=resource.name, provider_unit_code=resource.provider_unit_code,
        status=resource.status.value,
        errors=sum(i.severity is Severity.error for i in issues),
        warnings=sum(i.severity is Severity.warning for i in issues),
        issues=issues,
    )  # fmt: skip


def _known_codes(session: Session, principal: Principal) -> set[str]:
    page = catalog.get_accessible_resources(session, principal, ResourceFilter(limit=500))
    codes = {r.code for r in page.resources}
    offset = 500
    while offset < page.total:
        more = catalog.get_accessible_resources(
            session, principal, ResourceFilter(limit=500, offset=offset)
        )
        codes |= {r.code for r in more.resources}
        offset += 500
    return codes


def review_resource(session: Session, principal: Principal, code: str) -> ResourceReview:
    resource = catalog.get_accessible_resource(session, principal, code)
    return _review(resource, _known_codes(session, principal))


def review_catalog(session: Session, principal: Principal) -> CatalogReview:
    """The report for every resource the principal may see."""
    known = _known_codes(session, principal)
    reviews = [
        _review(catalog.get_accessible_resource(session, principal, code), known)
        for code in sorted(known)
    ]
    by_rule = Counter(i.rule for r in reviews for i in r.issues)
    return CatalogReview(
        resources=len(reviews),
        with_errors=sum(r.errors > 0 for r in reviews),
        with_warnings=sum(r.warnings > 0 for r in reviews),
        errors=sum(r.errors for r in reviews),
        warnings=sum(r.warnings for r in reviews),
        by_rule=dict(by_rule),
        reviews=reviews,
    )


def _before_approve(session: Session, principal: Principal, resource: ResourceRead) -> None:
    review = _review(resource, _known_codes(session, principal))
    if review.errors:
        first = next(i for i in review.issues if i.severity is Severity.error)
        raise Conflict(
            f"the normative review found {review.errors} error(s); first: {first.field}: "
            f"{first.message}",
            field=first.field,
            issues=[i.model_dump() for i in review.issues if i.severity is Severity.error],
        )


catalog.register_check("approve", _before_approve)
