"""Console pages of data-product contracts: the negotiations one's company or unit takes part
in (with the step each side may take next), the contracts they made, a customer's request from
a product's page, revocation, and the per-contract key (shown once)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError, Forbidden, NotFound
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure_text
from citybase.core.web.i18n import add_translations
from citybase.core.web.once import FormOnce, FormToken
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.auth import PRODUCTS_CONTRACT, PRODUCTS_DELIVER, ContractParty
from citybase.data.products.auth import DeliveryReader as FileTaker
from citybase.data.products.delivery_routes import file_response
from citybase.data.products.schemas import (
    MODES_BY_KIND,
    ContractAction,
    ContractTerms,
    DeliveryMode,
    FileAsk,
    FileFormat,
    NegotiationAction,
    NegotiationCreate,
    StatementSide,
    Termination,
)
from citybase.data.products.views import _go, _make_once
from citybase.data.sharing.schemas import ReadContext

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Data product contracts", "/console/products/contracts",
                          PRODUCTS_CONTRACT, order=46))  # fmt: skip
console.add_page(NavEntry("Data", "Data product statements", "/console/products/statements",
                          PRODUCTS_CONTRACT, order=47))  # fmt: skip
STATES = ("REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED", "TERMINATED")
ZH_STATES = ("已请求", "已要约", "已接受要约", "已达成协议", "已核验", "已生效", "已终止")
add_translations(
    "zh",
    {
        "Data product contracts": "数据产品合同",
        "Data product statements": "数据产品账单",
        "products.deliveries": "交付记录",
        "products.mode": "交付方式",
        "products.mode.api": "接口",
        "products.mode.file": "文件",
        "products.mode.sandbox": "沙箱分析",
        "products.file.download": "下载签名文件",
        "products.file.format": "文件格式",
        "products.file.format.csv": "CSV（Excel 可直接打开）",
        "products.file.format.jsonl": "JSON Lines",
        "products.file.limit": "最多条数",
        "products.file.download_button": "下载",
        "products.file.signature": "签名",
        "products.file.hint": "文件首行写明合同编号，并由供方以 SM2 签名；签名文件（.sig）可在交付记录中下载，用 citybase products verify-file 或核验接口验证。每次下载按合同计量计费。",
        "products.no_deliveries": "暂无交付。",
        "products.outcome.allowed": "已交付",
        "products.outcome.refused": "已拒绝",
        "products.at": "时间",
        "products.amount": "金额（元）",
        "products.refused": "被拒次数",
        "products.total": "合计",
        "products.month": "月份",
        "products.side": "账单方",
        "products.side.customer": "需方（使用与应付）",
        "products.side.provider": "供方（交付与应收）",
        "products.unit_code": "单位代码",
        "products.negotiations": "合同协商",
        "products.contracts": "合同",
        "products.no_negotiations": "暂无合同协商。",
        "products.no_contracts": "暂无合同。",
        "products.customer": "需方",
        "products.provider": "供方",
        "products.purpose": "用途",
        "products.term": "期限",
        "products.term_until": "合同截止日期",
        "products.max_calls": "调用次数上限",
        "products.max_rows": "数据条数上限",
        "products.region": "使用地域（区划代码）",
        "products.agreement_policy": "ODRL 协议（合同条款）",
        "products.contract_number": "合同编号",
        "products.meters": "已计量",
        "products.calls": "调用",
        "products.rows": "条数",
        "products.bytes": "字节",
        "products.issue_key": "签发合同密钥",
        "products.key_once": "合同密钥只显示这一次，请妥善保存；交付接口只接受此密钥。",
        "products.revoke": "撤销合同",
        "products.request": "申请使用",
        "products.request_hint": "以本企业名义申请；协商按数据空间协议进行，供方要约、双方确认后合同生效。",
        "products.negotiation.offer": "提出要约",
        "products.negotiation.agree": "同意签约",
        "products.negotiation.accept": "接受要约",
        "products.negotiation.verify": "核验协议",
        "products.negotiation.terminate": "终止协商",
        "products.contract.in_force": "履行中",
        "products.contract.expired": "已到期",
        "products.contract.revoked": "已撤销",
        **{f"products.dsp.dspace:{s}": zh for s, zh in zip(STATES, ZH_STATES, strict=True)},
    },
)
add_translations(
    "en",
    {
        "products.negotiations": "Negotiations",
        "products.deliveries": "Deliveries",
        "products.mode": "Mode",
        "products.mode.api": "API",
        "products.mode.file": "File",
        "products.mode.sandbox": "Sandbox analysis",
        "products.file.download": "Download a signed file",
        "products.file.format": "Format",
        "products.file.format.csv": "CSV (opens in Excel)",
        "products.file.format.jsonl": "JSON Lines",
        "products.file.limit": "Rows at most",
        "products.file.download_button": "Download",
        "products.file.signature": "Signature",
        "products.file.hint": "The file's first line names the contract, and the provider signs it with SM2; its signature (.sig) is in the deliveries below; check it with citybase products verify-file or the verification API. Each download is metered and priced under the contract.",
        "products.no_deliveries": "No deliveries.",
        "products.outcome.allowed": "Delivered",
        "products.outcome.refused": "Refused",
        "products.at": "Time",
        "products.amount": "Amount (yuan)",
        "products.refused": "Refused",
        "products.total": "Total",
        "products.month": "Month",
        "products.side": "Side",
        "products.side.customer": "Customer (used, owes)",
        "products.side.provider": "Provider (delivered, earns)",
        "products.unit_code": "Unit code",
        "products.contracts": "Contracts",
        "products.no_negotiations": "No negotiations.",
        "products.no_contracts": "No contracts.",
        "products.customer": "Customer",
        "products.provider": "Provider",
        "products.purpose": "Purpose",
        "products.term": "Term",
        "products.term_until": "Runs until",
        "products.max_calls": "Calls at most",
        "products.max_rows": "Rows at most",
        "products.region": "Region of use (code)",
        "products.agreement_policy": "ODRL agreement (the terms)",
        "products.contract_number": "Contract",
        "products.meters": "Metered",
        "products.calls": "calls",
        "products.rows": "rows",
        "products.bytes": "bytes",
        "products.issue_key": "Issue the contract key",
        "products.key_once": "The contract key is shown this once: keep it; deliveries take this key only.",
        "products.revoke": "Revoke",
        "products.request": "Request",
        "products.request_hint": "Asked for your company; the negotiation follows the Dataspace Protocol: the provider offers, both confirm, and the contract is in force.",
        "products.negotiation.offer": "Offer",
        "products.negotiation.agree": "Agree",
        "products.negotiation.accept": "Accept the offer",
        "products.negotiation.verify": "Verify the agreement",
        "products.negotiation.terminate": "Terminate",
        "products.contract.in_force": "In force",
        "products.contract.expired": "Expired",
        "products.contract.revoked": "Revoked",
        **{f"products.dsp.dspace:{s}": s.capitalize() for s in STATES},
    },
)
HERE = "/console/products/contracts"


def _page(request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
          key: object = None) -> Response:  # fmt: skip
    s = settings.products
    return console.render(
        request, "products/contracts.html",
        {"negotiations": service.get_accessible_negotiations(session, principal, s),
         "contracts": service.get_accessible_contracts(session, principal, s),
         "unit": principal.unit_code, "bureau": service.is_bureau(principal, s), "key": key},
    )  # fmt: skip


@router.get("/console/products/contracts")
def contracts_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty
) -> Response:
    return _page(request, session, settings, principal)


@router.post("/console/products/contracts/request/{product_id}")
def request_product(
    request: Request, session: DbSession, principal: ContractParty, product_id: Id,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    return _make_once(request, HERE, session, token, lambda: service.request_product(
        session, principal, product_id, NegotiationCreate.model_validate(values)))  # fmt: skip


@router.post("/console/products/negotiations/{negotiation_id}/{action}")
def negotiation_step(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    negotiation_id: Id, action: str, once: FormOnce, form: SubmittedForm) -> Response:  # fmt: skip
    values = {k: v for k, v in form.items() if v != ""}
    s = settings.products

    def act() -> object:
        if action == "offer":
            return service.offer_terms(session, principal, s, negotiation_id,
                                       ContractTerms.model_validate(values))  # fmt: skip
        if action == "agree":
            terms = ContractTerms.model_validate(values) if "ends_on" in values else None
            return service.agree_contract(session, principal, s, negotiation_id, terms,
                                          str(values.get("reason", ""))[:2000])  # fmt: skip
        if action in ("accept", "verify"):
            verb = service.accept_offer if action == "accept" else service.verify_agreement
            return verb(session, principal, s, negotiation_id,
                        NegotiationAction.model_validate(values).reason)  # fmt: skip
        if action == "terminate":
            return service.terminate_negotiation(session, principal, s, negotiation_id,
                                                 Termination.model_validate(values))  # fmt: skip
        raise NotFound(f"no step {action}", field="action")

    return _go(HERE, session, act, once)


@router.post("/console/products/contracts/{contract_id}/revoke")
def revoke(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    contract_id: Id, once: FormOnce, values: SubmittedForm) -> Response:  # fmt: skip
    return _go(HERE, session, lambda: service.revoke_contract(
        session, principal, settings.products, contract_id, ContractAction.model_validate(values)), once)  # fmt: skip


@router.post("/console/products/contracts/{contract_id}/key")
def issue_key(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    contract_id: Id, once: FormOnce) -> Response:  # fmt: skip
    try:
        key = service.issue_contract_key(session, principal, settings, contract_id)
    except (ValidationError, CitybaseError) as exc:
        return once.redirect(session, f"{HERE}?error={quote(failure_text(session, exc))}")  # fmt: skip
    once.done(session, HERE)  # the key is shown once, by this answer only
    return _page(request, session, settings, principal, key)


@router.get("/console/products/statements")
def statements_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty
) -> Response:
    s = settings.products
    month = request.query_params.get("month", "")[:7] or service.this_month()
    side_text = request.query_params.get("side", "customer")
    side = StatementSide(side_text) if side_text in set(StatementSide) else StatementSide.customer
    unit = request.query_params.get("unit", "")[:40]
    problem = ""
    try:
        statement = service.monthly_statement(session, principal, s, month, side, unit)
    except Forbidden as exc:  # no unit, or a provider's statement asked by a customer's user
        statement, problem = None, failure_text(session, exc)
    return console.render(
        request, "products/statement.html",
        {"s": statement, "problem": problem, "month": month, "side": side,
         "sides": list(StatementSide), "bureau": service.is_bureau(principal, s)},
    )  # fmt: skip


@router.get("/console/products/contracts/{contract_id}")
def contract_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    contract_id: Id,
) -> Response:  # fmt: skip
    s = settings.products
    contract = service.get_accessible_contract(session, principal, s, contract_id)
    deliveries = service.get_deliveries(session, principal, s, contract_id, 200)
    downloads = (
        contract.customer_unit_code == principal.unit_code and principal.can(PRODUCTS_DELIVER)
        and DeliveryMode.file in MODES_BY_KIND.get(contract.product_kind, frozenset())
    )  # fmt: skip
    return console.render(request, "products/contract.html", {
        "c": contract, "deliveries": deliveries, "downloads": downloads,
        "formats": list(FileFormat),
    })  # fmt: skip


@router.post("/console/products/contracts/{contract_id}/file")
def download_file(
    request: Request, session: DbSession, settings: AppSettings, principal: FileTaker,
    contract_id: Id, values: SubmittedForm,
) -> Response:  # fmt: skip
    """The customer's user downloads a signed file: the same delivery as the API's (decided,
    traced, metered), without the contract's key since the user is signed in."""
    here = f"{HERE}/{contract_id}"
    try:
        ask = FileAsk.model_validate(
            {k: v for k, v in values.items() if v != "" and k in FileAsk.model_fields}
        )
        result = service.deliver_file(
            session, principal, ops.keys_for(settings.masking_key), settings.masking_key,
            contract_id, ReadContext(purpose=str(values.pop("purpose", ""))[:500]), ask,
            signed_in=True,
        )  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        if isinstance(exc, NotFound):
            raise
        return RedirectResponse(f"{here}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    if isinstance(result, service.DeliveryRefused):  # kept and traced: this request commits
        text = f"{result.message} ({result.rule})"
        return RedirectResponse(f"{here}?error={quote(text[:1500])}", status_code=303)
    return file_response(result, f"/console/products/deliveries/{result.delivery_id}/signature")


@router.get("/console/products/deliveries/{delivery_id}/signature")
def download_signature(
    session: DbSession, settings: AppSettings, principal: ContractParty, delivery_id: Id
) -> Response:  # fmt: skip
    found = service.get_file_signature(session, principal, settings.products, delivery_id)
    return Response(found.model_dump_json(indent=1), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{found.file}.sig"'})  # fmt: skip
