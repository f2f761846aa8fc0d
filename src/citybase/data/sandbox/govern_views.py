"""The stewards' console pages of the sandbox (沙箱声明与预算): declare a resource or a theme
library (columns, public keys, bounds, the privacy unit), grant and revoke privacy budgets. The
service decides who may: the providing unit's stewards declare; they and the bureau grant."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure, split_list
from citybase.core.web.i18n import add_field_labels, add_patterns, add_translations
from citybase.core.web.once import FormOnce
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console
from citybase.data.catalog import service as catalog
from citybase.data.sandbox import service
from citybase.data.sandbox.auth import SANDBOX_GOVERN, SandboxSteward
from citybase.data.sandbox.schemas import DeclarationCreate, GrantCreate, Revocation

router = APIRouter(include_in_schema=False)
console.add_page(NavEntry("Data", "Sandbox declarations and budgets", "/console/sandbox/govern",
                          SANDBOX_GOVERN, order=47))  # fmt: skip
HERE = "/console/sandbox/govern"
_TEXTS = {
    "Sandbox declarations and budgets": ("沙箱声明与预算", "Sandbox declarations and budgets"),
    "govern.intro": (
        "数据管理员将本单位的数据资源或主题库声明到隐私计算沙箱（标识列、分类列及其公开取值、数值列及其取值范围、每人贡献上限），并向其他单位授予隐私预算（ε）。",
        "A steward declares the unit's resources or theme libraries to the privacy sandbox "
        "(identifier, categorical columns with public keys, numeric columns with bounds, rows "
        "per person) and grants other units privacy budgets (ε).",
    ),
    "govern.declare": ("声明数据资源或主题库", "Declare a resource or theme library"),
    "govern.code": ("资源代码或主题库代码", "Resource or theme library code"),
    "govern.open": ("打开声明表单", "Open the declaration form"),
    "govern.declared": ("已声明的数据资源", "Declared resources"),
    "govern.none_declared": ("暂无声明。", "Nothing declared."),
    "govern.edit": ("修改声明", "Change the declaration"),
    "govern.theme": ("主题库", "Theme library"),
    "govern.grant": ("授予隐私预算", "Grant a privacy budget"),
    "govern.grants": ("本单位资源上的沙箱授权", "Sandbox grants on our resources"),
    "govern.unit": ("被授权单位（代码）", "Unit granted (code)"),
    "govern.user": ("仅限该用户（可不填）", "Only this user (optional)"),
    "govern.revoke": ("撤销", "Revoke"),
    "govern.share_request": ("答复共享申请", "Answers share request"),
    "declare.title": ("沙箱声明", "Sandbox declaration"),
    "declare.items": ("数据项", "Data items"),
    "declare.identifier": (
        "标识列（区分个人的列）",
        "Identifier (the column that tells people apart)",
    ),
    "declare.max_rows": ("每人贡献上限（行）", "Rows per person at most"),
    "declare.privacy_unit": ("隐私单位", "Privacy unit"),
    "declare.unit.person": (
        "一人一档人员编号（行已关联基础库时；否则按标识列）",
        "The base library's person id (where rows are linked; else the identifier)",
    ),
    "declare.unit.identifier": ("仅按标识列", "The identifier column alone"),
    "declare.categorical": (
        "分类列：每行“列名：取值1、取值2”",
        "Categorical: one per line, “column: key1, key2”",
    ),
    "declare.numeric": (
        "数值列：每行“列名：下限、上限”",
        "Numeric: one per line, “column: lower, upper”",
    ),
    "declare.save": ("保存声明", "Save the declaration"),
    "declare.not_provider": (
        "只有提供单位的数据管理员可以声明该资源。",
        "Only the providing unit's stewards declare this resource.",
    ),
}
add_translations("zh", {k: v[0] for k, v in _TEXTS.items()} | {
    "Identifier column": "标识列", "Rows per person": "每人贡献上限", "Privacy unit": "隐私单位",
    "Categorical columns": "分类列", "Numeric columns": "数值列", "Privacy budget ε": "隐私预算 ε",
    "Budget period": "预算周期", "Valid until": "有效期至",
})  # fmt: skip
add_translations("en", {k: v[1] for k, v in _TEXTS.items()})
add_field_labels({
    "identifier": "Identifier column", "max_rows_per_person": "Rows per person",
    "privacy_unit": "Privacy unit", "categorical": "Categorical columns",
    "numeric": "Numeric columns", "epsilon": "Privacy budget ε", "period": "Budget period",
    "valid_until": "Valid until",
})  # fmt: skip
add_patterns("zh", {
    r"(\S+) has no data item (.+)": "{0} 没有数据项 {1}",
    r"line (\d+): write “column: .*": "第 {0} 行格式应为“列名：取值、取值”",
    r"line (\d+): write “column: lower, upper”.*": "第 {0} 行格式应为“列名：下限、上限”",
    r"the identifier is never asked about.*": "标识列不能同时声明为分类列或数值列",
    r"(\S+) is declared both categorical and numeric": "{0} 不能同时声明为分类列和数值列",
    r"(\S+): a key is given twice": "{0}：取值重复",
    r"(\S+) is masked \((.+)\) at (\S+)'s grade.*": "{0} 在 {2} 的分级下被脱敏（{1}），不能作为数值列",
    r"only the data stewards of (\S+) \(the providing unit\) (.+) (\S+) \(rule sandbox.steward\)":
        "只有提供单位 {0} 的数据管理员可以操作 {2}",
    r"(\S+) is not declared to the sandbox: its steward declares it first":
        "{0} 尚未声明到沙箱：请其数据管理员先声明",
    r"(\S+) provides (\S+): it reads its own rows without the sandbox":
        "{0} 是 {1} 的提供单位，可直接使用本单位数据，无需沙箱",
    r"(\S+) is not a user of (\S+)": "{0} 不是 {1} 的用户",
    r"valid_until is in the past": "有效期不能早于今天",
    r"no sandbox grant (\S+)": "未找到沙箱授权 {0}",
    r"grant (\S+) is already revoked": "授权 {0} 已撤销",
    r"no data resource (\S+)": "未找到数据资源 {0}",
    r"no unit (\S+)": "未找到单位 {0}",
})  # fmt: skip


def _status(exc: Exception) -> int:
    return exc.status_code if isinstance(exc, CitybaseError) else 422


_LINE = re.compile(r"\s*([^:：]+?)\s*[:：]\s*(.+)")


def _pairs(text: str, field: str, hint: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n, line in enumerate(str(text or "").splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise InvalidInput(f"line {n}: write “column: {hint}”", field=field)
        out[match.group(1)] = split_list(match.group(2))
    return out


def _declaration(values: dict[str, str]) -> DeclarationCreate:
    numeric: dict[str, Any] = {}
    for column, bounds in _pairs(values.get("numeric", ""), "numeric", "lower, upper").items():
        if len(bounds) != 2:
            raise InvalidInput("line 1: write “column: lower, upper”", field="numeric")
        numeric[column] = {"lower": bounds[0], "upper": bounds[1]}
    return DeclarationCreate.model_validate({
        "identifier": values.get("identifier") or None,
        "max_rows_per_person": values.get("max_rows_per_person") or None,
        "privacy_unit": values.get("privacy_unit") or "person",
        "categorical": _pairs(values.get("categorical", ""), "categorical", "key1, key2"),
        "numeric": numeric,
    })  # fmt: skip


def _govern(
    request: Request, session: Session, principal: Principal, settings: Any, status: int = 200,
    **extra: Any,
) -> Response:  # fmt: skip
    declared = [d for d in service.list_declarations(session)
                if service.may_declare(principal, d.provider_unit_code)]  # fmt: skip
    grants = [g for g in service.get_accessible_grants(session, principal, settings.products)
              if g.resource_code in {d.resource_code for d in declared}
              or service.is_bureau(principal, settings.products)]  # fmt: skip
    return console.render(
        request, "sandbox/govern.html",
        {"declared": declared, "grants": grants, "errors": {}, "form": {},
         "names": catalog.resource_names(session, {d.resource_code for d in declared}),
         "done": request.query_params.get("done"), **extra},
        status,
    )  # fmt: skip


@router.get("/console/sandbox/govern")
def govern_page(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward
) -> Response:
    wanted = request.query_params.get("code", "").strip()[:60]
    if wanted:
        return RedirectResponse(f"/console/sandbox/declarations/{quote(wanted)}", status_code=303)
    return _govern(request, session, principal, settings)


@router.post("/console/sandbox/grants")
def grant_submit(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward,
    once: FormOnce, form: SubmittedForm,
) -> Response:  # fmt: skip
    values = {k: str(v) for k, v in form.items()}
    try:
        made = service.grant_budget(session, principal, settings.products, GrantCreate.model_validate({
            "resource_code": values.get("resource_code") or None,
            "unit_code": values.get("unit_code") or None, "username": values.get("username", ""),
            "epsilon": values.get("epsilon") or None, "period": values.get("period") or "month",
            "purpose": values.get("purpose") or None, "legal_basis": values.get("legal_basis") or None,
            "valid_until": values.get("valid_until") or None,
        }))  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        errors = failure(session, exc)
        return _govern(
            request, session, principal, settings, _status(exc), errors=errors, form=values
        )
    return once.redirect(session, f"{HERE}?done={made.id}")


@router.post("/console/sandbox/grants/{grant_id}/revoke")
def revoke_submit(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward,
    grant_id: Id, once: FormOnce, form: SubmittedForm,
) -> Response:  # fmt: skip
    values = {k: str(v) for k, v in form.items()}
    try:
        service.revoke_grant(session, principal, settings.products, grant_id,
                             Revocation.model_validate({"reason": values.get("reason") or None}))  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        errors = failure(session, exc)
        return _govern(request, session, principal, settings, _status(exc), errors=errors)
    return once.redirect(session, f"{HERE}?done={grant_id}")


def _declare_page(
    request: Request, session: Session, principal: Principal, code: str, status: int = 200,
    errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    resource = catalog.get_resource(session, service.resolve_code(session, code))
    try:
        current = service.get_declaration(session, resource.code)
    except NotFound:
        current = None
    form = values
    if form is None:
        form = {"identifier": current.identifier if current else "",
                "max_rows_per_person": str(current.max_rows_per_person) if current else "1",
                "privacy_unit": current.privacy_unit.value if current else "person",
                "categorical": "\n".join(f"{c}：{'、'.join(k)}"
                                         for c, k in (current.categorical if current else {}).items()),
                "numeric": "\n".join(f"{c}：{b.lower:g}、{b.upper:g}"
                                     for c, b in (current.numeric if current else {}).items())}  # fmt: skip
    return console.render(
        request, "sandbox/declare.html",
        {"resource": resource, "current": current, "form": form, "errors": errors or {},
         "may": service.may_declare(principal, resource.provider_unit_code)},
        status,
    )  # fmt: skip


@router.get("/console/sandbox/declarations/{code}")
def declare_page(
    request: Request, session: DbSession, principal: SandboxSteward, code: str
) -> Response:
    return _declare_page(request, session, principal, code)


@router.post("/console/sandbox/declarations/{code}")
def declare_submit(
    request: Request, session: DbSession, principal: SandboxSteward, code: str, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    values = {k: str(v) for k, v in form.items()}
    try:
        made = service.declare_resource(session, principal, code, _declaration(values))
    except (ValidationError, CitybaseError) as exc:
        errors = failure(session, exc)
        return _declare_page(request, session, principal, code, _status(exc), errors, values)
    return once.redirect(session, f"{HERE}?done={quote(made.resource_code)}")
