"""E-certificates' pages (电子证照): the issuing unit's list, issue form, certificate with its QR
code and revocation, and keys; the public verification page (亮证核验) and the holder's own
certificates (我的证照), which need no sign-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError, TooMany
from citybase.core.identity.auth import OptionalPrincipal
from citybase.core.identity.schemas import Principal, Role
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure_text, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations, translate
from citybase.core.web.limits import limiter_for
from citybase.core.web.once import FormToken, claim
from citybase.core.web.templating import NavEntry, console
from citybase.data.certificates import service
from citybase.data.certificates.auth import (
    CERTIFICATES_READ,
    CertificateManager,
    CertificateReader,
)
from citybase.data.certificates.routes import base_url
from citybase.data.certificates.schemas import (
    HOLDER_ID_TYPE_NAME,
    CertificateCreate,
    Revocation,
)

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "E-certificates", "/console/certificates", CERTIFICATES_READ,
                          order=48))  # fmt: skip
console.add_page(NavEntry("Applications", "Verify a certificate", "/certificates/verify", None,
                          order=12))  # fmt: skip
console.add_page(NavEntry("Applications", "My certificates", "/certificates/mine", None,
                          order=13))  # fmt: skip
HOUR = 3600
LOOKUPS_PER_HOUR = 30  # the holder's look-up, per client address
_TEXTS = {
    "certs.intro": (
        "电子证照由签发单位以其 SM2 密钥签名；证照标识依 GB/T 36904 编制，元数据依 GB/T 36903。",
        "E-certificates are signed with the issuing unit's SM2 key; identifiers follow "
        "GB/T 36904, metadata GB/T 36903.",
    ),
    "certs.issue": ("签发证照", "Issue a certificate"),
    "certs.issued": ("本单位签发的证照", "Certificates issued by my unit"),
    "certs.none": ("暂无证照。", "No certificates yet."),
    "certs.type": ("证照类型", "Certificate type"),
    "certs.all_types": ("全部类型", "All types"),
    "certs.identifier": ("证照标识", "Identifier"),
    "certs.number": ("证照编号", "Certificate number"),
    "certs.name": ("证照名称", "Certificate name"),
    "certs.holder": ("持证主体", "Holder"),
    "certs.holder_id": ("持证主体代码", "Holder's identity number"),
    "certs.holder_id_type": ("持证主体代码类型", "Holder's identity type"),
    "certs.id_person": ("公民身份号码", "citizen ID"),
    "certs.optional": ("（选填）", "(optional)"),
    "certs.years": ("{n} 年", "{n} years"),
    "certs.id_enterprise": ("统一社会信用代码", "unified social credit code"),
    "certs.issuer": ("颁发机构", "Issuing authority"),
    "certs.issuer_code": ("颁发机构代码", "Issuing authority code"),
    "certs.issuer_kind": ("颁证单位类型", "Kind of issuing unit"),
    "certs.issue_date": ("颁发日期", "Issue date"),
    "certs.valid_from": ("有效期起始", "Valid from"),
    "certs.valid_until": ("有效期截止", "Valid until"),
    "certs.no_end": ("长期", "No end"),
    "certs.status": ("状态", "Status"),
    "certs.status.valid": ("有效", "Valid"),
    "certs.status.revoked": ("已撤销", "Revoked"),
    "certs.status.expired": ("已过期", "Expired"),
    "certs.status.not_yet_valid": ("尚未生效", "Not valid yet"),
    "certs.status.forged": ("伪造或被篡改", "Forged or altered"),
    "certs.status.unknown": ("无签发记录", "No record"),
    "certs.status.malformed": ("无法识别", "Not recognised"),
    "certs.key": ("签名密钥", "Signing key"),
    "certs.keys": ("签名密钥", "Signing keys"),
    "certs.keys_intro": (
        "密钥轮换后，旧密钥不再签发新证照，但仍公布，用于核验其已签发的证照。",
        "After a rotation the old key signs nothing new, but stays published to verify what it "
        "signed.",
    ),
    "certs.rotate": ("轮换本单位密钥", "Rotate my unit's key"),
    "certs.created": ("生成时间", "Created"),
    "certs.retired": ("停用时间", "Retired"),
    "certs.in_use": ("使用中", "In use"),
    "certs.public_keys": ("公开的公钥（JSON）", "Published public keys (JSON)"),
    "certs.fields": ("证照信息", "Certificate fields"),
    "certs.qr": ("核验二维码", "Verification QR code"),
    "certs.qr_hint": (
        "二维码含签名后的证照数据，扫码即可在线核验；离线时可用公开的公钥验签。",
        "The QR code holds the signed certificate: scan it to verify online, or check it "
        "offline against the published public key.",
    ),
    "certs.token": ("证照签名数据", "Signed certificate token"),
    "certs.revoke": ("撤销证照", "Revoke the certificate"),
    "certs.revoke_reason": ("撤销理由", "Reason for revocation"),
    "certs.revoked_at": ("撤销时间", "Revoked at"),
    "certs.reason": ("签发依据（申请编号或事由）", "Basis of issue (application or reason)"),
    "certs.verify": ("证照核验", "Verify a certificate"),
    "certs.verify_intro": (
        "粘贴证照签名数据或扫描二维码所得的网址，核验证照是否有效、已撤销或被伪造。",
        "Paste a certificate's signed token or its QR code's address to learn whether it is "
        "valid, revoked or forged.",
    ),
    "certs.check": ("核验", "Verify"),
    "certs.signature_checked": ("已用颁发机构公钥验证 SM2 签名", "SM2 signature verified"),
    "certs.record_matched": ("与签发记录逐字节一致", "Identical to the issuance record"),
    "certs.mine": ("我的证照", "My certificates"),
    "certs.mine_intro": (
        "输入您的公民身份号码（或统一社会信用代码），以及您持有的任一证照的标识或编号，"
        "即可查看您名下的全部电子证照。",
        "Enter your citizen ID (or unified social credit code) and the identifier or number "
        "of any certificate you hold to see all your e-certificates.",
    ),
    "certs.find": ("查询", "Find"),
    "certs.one_certificate": (
        "您持有的任一证照的标识或编号",
        "Identifier or number of one of your certificates",
    ),
}
add_translations("zh", {"E-certificates": "电子证照", "Verify a certificate": "证照核验",
                        "My certificates": "我的证照"} | {k: v[0] for k, v in _TEXTS.items()})  # fmt: skip
add_translations("en", {k: v[1] for k, v in _TEXTS.items()})
add_translations("zh", {
    "not a valid citizen ID (GB 11643): 18 characters with a right check character":
        "不是有效的公民身份号码（GB 11643）：应为 18 位且校验码正确",
    "not a valid unified social credit code (GB 32100): 18 characters with a right check "
    "character": "不是有效的统一社会信用代码（GB 32100）：应为 18 位且校验码正确",
    "not a valid citizen ID or unified social credit code": "不是有效的公民身份号码或统一社会信用代码",
    "the end of validity comes before its start": "有效期截止日期早于起始日期",
    "only an issuing unit's certificate managers issue, revoke and rotate keys":
        "只有签发单位的电子证照管理员可以签发、撤销证照和轮换密钥",
    "no certificate with this identifier or number for this holder":
        "未找到该持证主体名下此标识或编号的证照",
})  # fmt: skip
add_patterns("zh", {
    r"(.+) has no field (.+)": "{0}没有字段 {1}",
    r"(.+) \((.+)\) is required": "{0}为必填项",
    r"(.+) is longer than (\d+) characters": "{0}不能超过 {1} 个字符",
    r"(.+) is a date: YYYY-MM-DD": "{0}应为日期（年-月-日）",
    r"(.+) is a number": "{0}应为数字",
    r"(.+) is one of (.+)": "{0}只能是：{1}",
    r"(.+) is not an issuing unit of (.+) \((.+)\)": "{0}不是{1}的签发单位（应为{2}）",
    r"(.+) has no unified social credit code: .+": "{0}没有统一社会信用代码，无法编制证照标识",
    r"certificate (.+) was issued by (.+): only its certificate managers revoke it":
        "证照 {0} 由 {1} 签发，只能由该单位的电子证照管理员撤销",
    r"certificate (.+) is already revoked": "证照 {0} 已撤销",
    r"no certificate type (.+)": "没有证照类型 {0}",
    r"(.+) issues no certificate type: it has no signing key": "{0}不签发任何证照，没有签名密钥",
    r"no certificate (.+)": "没有证照 {0}",
})  # fmt: skip
HERE = "/console/certificates"
LABELS = {"holder_name": "certs.holder", "holder_id": "certs.holder_id",
          "valid_from": "certs.valid_from", "valid_until": "certs.valid_until",
          "reason": "certs.revoke_reason", "certificate": "certs.one_certificate",
          "type_code": "certs.type"}  # fmt: skip


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _is_manager(principal: Principal) -> bool:
    return principal.has_role(Role.certificate_manager)


@router.get("/console/certificates")
def certificates_page(
    request: Request, session: DbSession, principal: CertificateReader
) -> Response:
    wanted = request.query_params.get("type", "")[:21] or None
    total, found = service.get_accessible_certificates(session, principal, type_code=wanted,
                                                       limit=200)  # fmt: skip
    types = service.list_certificate_types(session)
    return console.render(request, "certificates/list.html", {
        "certificates": found, "total": total, "types": types, "wanted": wanted or "",
        "issuable": [t for t in types if principal.unit_code in t.issuer_units]
        if _is_manager(principal) else [],
        "error": request.query_params.get("error", "")[:500],
    })  # fmt: skip


def _issue_form(
    request: Request, session: DbSession, type_code: str, form: dict[str, Any],
    errors: dict[str, str], status: int = 200,
) -> Response:  # fmt: skip
    kind = service.get_certificate_type(session, type_code)
    labels = (
        LABELS | {"reason": "certs.reason"} | {f"fields.{f.name}": f.label for f in kind.fields}
    )
    return console.render(request, "certificates/issue.html",
                          {"kind": kind, "form": form, "errors": errors, "labels": labels},
                          status)  # fmt: skip


@router.get("/console/certificates/issue/{type_code}")
def issue_page(
    request: Request, session: DbSession, principal: CertificateManager, type_code: str
) -> Response:
    return _issue_form(request, session, type_code, {}, {})


@router.post("/console/certificates/issue/{type_code}")
def issue_submit(
    request: Request, session: DbSession, settings: AppSettings, principal: CertificateManager,
    type_code: str, form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        kind = service.get_certificate_type(session, type_code)
        data = CertificateCreate.model_validate({
            "type_code": type_code, "holder_name": form.get("holder_name", ""),
            "holder_id": form.get("holder_id", ""),
            "fields": {f.name: form.get(f"field_{f.name}", "") for f in kind.fields},
            "valid_from": form.get("valid_from") or None,
            "valid_until": form.get("valid_until") or None,
            "reason": form.get("reason", ""),
        })  # fmt: skip
        made = service.issue_certificate(session, principal, data, settings.masking_key)
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        status = exc.status_code if isinstance(exc, CitybaseError) else 422
        return _issue_form(request, session, type_code, dict(form), form_errors(exc), status)
    return once.redirect(session, f"{HERE}/c/{made.identifier}")


@router.get("/console/certificates/c/{identifier}")
def certificate_page(
    request: Request, session: DbSession, settings: AppSettings, principal: CertificateReader,
    identifier: str,
) -> Response:  # fmt: skip
    found = service.get_accessible_certificate(session, principal, identifier)
    url = service.verification_url(base_url(request, settings.web.public_url), found.token)
    kind = service.get_certificate_type(session, found.type_code)
    return console.render(request, "certificates/certificate.html", {
        "c": found, "kind": kind, "qr": service.qr_svg(url), "url": url,
        "id_types": HOLDER_ID_TYPE_NAME,
        "may_revoke": _is_manager(principal) and found.issuer_unit_code == principal.unit_code,
        "error": request.query_params.get("error", "")[:500],
    })  # fmt: skip


@router.post("/console/certificates/c/{identifier}/revoke")
def revoke_submit(
    request: Request, session: DbSession, principal: CertificateManager, identifier: str,
    form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    here = f"{HERE}/c/{identifier}"
    try:
        once = claim(request, session, token)  # sent twice: revoked once, the page shown again
        service.revoke_certificate(session, principal, identifier,
                                   Revocation(reason=str(form.get("reason", ""))))  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        return RedirectResponse(f"{here}?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    return once.redirect(session, here)


@router.get("/console/certificates/keys")
def keys_page(request: Request, session: DbSession, principal: CertificateReader) -> Response:
    keys = service.list_public_keys(session)
    mine = keys if principal.has_role(Role.auditor) else [
        k for k in keys if k.unit_code == principal.unit_code]  # fmt: skip
    return console.render(request, "certificates/keys.html",
                          {"keys": mine, "may_rotate": _is_manager(principal)})  # fmt: skip


@router.post("/console/certificates/keys")
def rotate_submit(
    request: Request, session: DbSession, settings: AppSettings, principal: CertificateManager,
    token: FormToken,
) -> Response:  # fmt: skip
    """Rotate the unit's key; a double click rotates it once (a one-time form token)."""
    try:
        once = claim(request, session, token)
    except CitybaseError as exc:
        return RedirectResponse(f"{HERE}/keys?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    service.rotate_unit_key(session, principal, settings.masking_key)
    return once.redirect(session, f"{HERE}/keys?saved=1")


# --- public pages --------------------------------------------------------------------------------


def _verify_page(request: Request, session: DbSession, token: str, status: int = 200) -> Response:
    result = service.verify_certificate(session, token) if token else None
    return console.render(request, "certificates/verify.html",
                          {"result": result, "token": token, "id_types": HOLDER_ID_TYPE_NAME},
                          status)  # fmt: skip


@router.get("/certificates/verify")
def verify_page(
    request: Request, session: DbSession, _: Public, who: OptionalPrincipal
) -> Response:
    """The page a certificate's QR code opens (``?c=<token>``): valid, revoked or forged."""
    return _verify_page(request, session, request.query_params.get("c", "")[:8000])


@router.post("/certificates/verify")
def verify_submit(
    request: Request, session: DbSession, _: Public, who: OptionalPrincipal, form: SubmittedForm
) -> Response:
    return _verify_page(request, session, str(form.get("payload", ""))[:8000])


@router.get("/certificates/mine")
def mine_page(request: Request, _: Public, who: OptionalPrincipal) -> Response:
    return console.render(request, "certificates/mine.html",
                          {"found": None, "form": {}, "errors": {}})  # fmt: skip


@router.post("/certificates/mine")
def mine_submit(
    request: Request, session: DbSession, settings: AppSettings, _: Public,
    who: OptionalPrincipal, form: SubmittedForm,
) -> Response:  # fmt: skip
    """The holder's certificates, given his number and one certificate he holds. Look-ups are
    limited per client address; a wrong pair is answered as "none found"."""
    holder_id, one = str(form.get("holder_id", ""))[:18], str(form.get("certificate", ""))[:80]
    try:
        limiter_for(request).hit(f"certificates.mine:{_client(request)}", LOOKUPS_PER_HOUR, HOUR,
                    translate(request.state.lang, "Too many requests from here: please try "
                              "again later, or call 12345."))  # fmt: skip
        found = service.holder_certificates(session, holder_id, one, settings.masking_key)
    except CitybaseError as exc:
        undo(session)
        response = console.render(request, "certificates/mine.html",
                                  {"found": None, "errors": form_errors(exc), "labels": LABELS,
                                   "form": {"holder_id": holder_id, "certificate": one}},
                                  exc.status_code)  # fmt: skip
        if isinstance(exc, TooMany):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    base = base_url(request, settings.web.public_url)
    return console.render(request, "certificates/mine.html", {
        "found": [(c, service.verification_url(base, c.token)) for c in found],
        "form": {"holder_id": holder_id, "certificate": one}, "errors": {},
        "id_types": HOLDER_ID_TYPE_NAME,
    })  # fmt: skip


# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"the signing key of (.+?) was sealed under another masking key: rotate the unit's key": "{0} 的签名密钥由另一把脱敏密钥加密保存：请轮换该单位的密钥",
})  # fmt: skip
add_translations("zh", {
    "the path's code and the body's differ": "地址中的编码与提交内容中的编码不一致",
})  # fmt: skip
