"""Real-name sign-in on the citizen portal (实名登录, as 闽政通 and the national government
service platform do it): a citizen proves his mobile number with a one-time code sent to it by
SMS, and the number signs him in to his applicant account (办事申请人).

- **Registration with a real-name check** (实名核验): the first time, he gives his name, citizen
  ID and mobile; they must be those of the city's own file of him (一人一档, baselib's
  ``matches_file``: the file for that ID carries that name and that mobile). A mismatch is
  refused without saying which was wrong, so the portal tells nobody whose phone a number is;
  checks are limited per client address and per citizen ID. Only then is a code sent, and only
  the code entered creates the account (or ties the phone to the account the ID already has),
  tied to the ID's keyed hash as ``onething register`` does.
- **Codes**: six digits from ``secrets``, valid ``portal.code_minutes``, at most
  ``portal.code_tries`` entries (the next is refused even when right), kept only as an HMAC
  under a key derived from the masking key, in the shared store (``core/shared``) sealed with
  what the code will do — so every web process checks the same code, and a new code replaces
  the last. Codes asked for are limited per mobile number and per client address.
- Every code asked for, sign-in, registration and refusal is on the ledger with the keyed
  hashes of the number and the phone, never with either in the clear.
- **The enterprise's page** (企业空间): a citizen whose account is tied to his citizen ID sees
  the firms whose file (一企一档) names him, by that ID, as legal representative (法定代表人证件
  号码): each file read through the traced read on the basis of his being its representative,
  its certificates, its one-thing applications and what it may rate (好差评). Anyone else is
  refused, on the ledger, and sees nothing of the firm.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal, Role, UserCreate
from citybase.core.identity.service import LoginOutcome
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import Settings
from citybase.core.shared.service import SharedStore
from citybase.core.sms import service as sms
from citybase.core.web.limits import Limiter
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import FileRead, Kind
from citybase.data.certificates import service as certificates
from citybase.data.masking import operators as ops
from citybase.data.sharing.schemas import Basis, ReadContext
from citybase.services.evaluation import service as evaluation
from citybase.services.evaluation.schemas import GRADE_NAMES, Grade, SubjectKind
from citybase.services.hotline import service as hotline
from citybase.services.onething import service as onething
from citybase.services.onething.schemas import ApplicantKind, ApplicationRead
from citybase.services.portal import repository
from citybase.services.portal.models import PortalPhone
from citybase.services.portal.schemas import (
    CodeSent,
    EnterpriseField,
    EnterprisePage,
    MyCertificate,
    MyEnterprise,
    MyPage,
    RatingChoice,
    RegistrationCreate,
)

ACTOR = Actor.system("portal")
SIGN_IN, REGISTER = "signin", "register"
HOUR, DAY = 3600, 86400
CODE_KEY, TRIES_KEY = "portal.code:", "portal.code.tries:"


class CodeRefused(CitybaseError):
    """A code entered that signs nobody in: wrong, expired, used up, or for another number."""

    status_code = 401
    code = "code_refused"


class NotRepresentative(CitybaseError):
    """An enterprise's page asked for by someone who is not its legal representative (or whose
    account is tied to no verified citizen ID): the same refusal whether or not the firm
    exists."""

    status_code = 403
    code = "not_representative"


class CheckRefused(CitybaseError):
    """Name, citizen ID and mobile are not those of one file (which of them is not said)."""

    status_code = 422
    code = "realname_refused"


@dataclass(frozen=True)
class Pending:
    purpose: str
    nonce: str
    digest: str
    subject: str = ""
    name: str = ""


def _key(settings: Settings, label: bytes) -> bytes:
    return hashlib.sha256(
        b"citybase portal " + label + b"\0" + settings.masking_key.encode()
    ).digest()


def _fernet(settings: Settings) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_key(settings, b"seal")))


def _digest(settings: Settings, nonce: str, code: str) -> str:
    return hmac.new(_key(settings, b"code"), f"{nonce}:{code}".encode(), hashlib.sha256).hexdigest()


def phone_tag(settings: Settings, phone: str) -> str:
    """The keyed hash of a mobile number (the same keyed hash as every subject's)."""
    return ops.subject_tag("tel:" + sms.mobile(phone), ops.keys_for(settings.masking_key))


def _limits(store: SharedStore) -> Limiter:
    return Limiter(store)


TOO_MANY = "Too many tries: please wait and try again later."


def _issue(session: Session, store: SharedStore, settings: Settings, phone: str, pending: Pending,
           code: str, text: str) -> CodeSent:  # fmt: skip
    portal = settings.portal
    sealed = _fernet(settings).encrypt(json.dumps(pending.__dict__).encode()).decode()
    store.put(CODE_KEY + f"{pending.purpose}:{phone_tag(settings, phone)}", sealed,
              portal.code_minutes * 60)  # fmt: skip
    sms.send_sms(session, settings, phone, text, purpose=f"portal.{pending.purpose}", actor=ACTOR)
    return CodeSent(phone_masked=sms.mask(sms.mobile(phone)), minutes=portal.code_minutes)


def _limit_codes(store: SharedStore, settings: Settings, tag: str, client: str) -> None:
    portal, limits = settings.portal, _limits(store)
    limits.hit(f"portal.codes.address:{client}", portal.codes_per_address_hour, HOUR, TOO_MANY)
    limits.hit(f"portal.codes.phone:{tag}", portal.codes_per_phone_hour, HOUR, TOO_MANY)
    limits.hit(f"portal.codes.phone.day:{tag}", portal.codes_per_phone_day, DAY, TOO_MANY)


def _new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def request_sign_in_code(
    session: Session, store: SharedStore, settings: Settings, phone: str, *, client: str
) -> CodeSent:
    """Send a sign-in code to a mobile number that signs in to an account. A number that signs
    in to none is sent a message saying so instead, and the page answers the same either way:
    the portal does not tell who has an account."""
    number = sms.mobile(phone)
    tag = phone_tag(settings, number)
    _limit_codes(store, settings, tag, client)
    known = repository.by_phone(session, tag) is not None
    ledger.record(session, ACTOR, "portal.code.request", object_type="phone", object_id=tag,
                  details={"purpose": SIGN_IN, "known": known, "ip": client})  # fmt: skip
    sign, minutes = settings.sms.sign, settings.portal.code_minutes
    if not known:
        sms.send_sms(session, settings, number,
                     f"【{sign}】本手机号尚未在市民门户实名注册，请先注册后再登录。如非本人操作，请忽略。",
                     purpose="portal.signin", actor=ACTOR)  # fmt: skip
        return CodeSent(phone_masked=sms.mask(number), minutes=minutes)
    code = _new_code()
    nonce = secrets.token_hex(8)
    return _issue(session, store, settings, number,
                  Pending(SIGN_IN, nonce, _digest(settings, nonce, code)), code,
                  f"【{sign}】您的登录验证码为{code}，{minutes}分钟内有效。请勿泄露给他人。")  # fmt: skip


def _take(store: SharedStore, settings: Settings, purpose: str, phone: str, code: str) -> Pending:
    """The pending code for this number and purpose if ``code`` is it; else CodeRefused (with
    the reason for the ledger in ``details``). A code is spent when right, and void after
    ``portal.code_tries`` entries."""
    key = CODE_KEY + f"{purpose}:{phone_tag(settings, phone)}"
    kept = store.get(key)
    if kept is None:
        raise CodeRefused("the code is wrong or has expired: ask for a new one", field="code",
                          reason="none or expired")  # fmt: skip
    try:
        pending = Pending(**json.loads(_fernet(settings).decrypt(kept.encode())))
    except (InvalidToken, ValueError, TypeError):
        store.release(key)
        raise CodeRefused("the code is wrong or has expired: ask for a new one", field="code",
                          reason="unreadable") from None  # fmt: skip
    tries = store.add(TRIES_KEY + pending.nonce, settings.portal.code_minutes * 60)
    if tries.calls > settings.portal.code_tries:
        store.release(key)
        raise CodeRefused("too many wrong codes: ask for a new one", field="code",
                          reason="tries")  # fmt: skip
    given = "".join(code.split())
    if not (given.isdigit() and hmac.compare_digest(_digest(settings, pending.nonce, given),
                                                    pending.digest)):  # fmt: skip
        raise CodeRefused("the code is wrong or has expired: ask for a new one", field="code",
                          reason="wrong", attempt=tries.calls)  # fmt: skip
    store.release(key)
    return pending


def _refused(session: Session, action: str, exc: CitybaseError, tag: str, client: str) -> None:
    ledger.record(session, ACTOR, action, object_type="phone", object_id=tag,
                  details={**(exc.details or {}), "ip": client})  # fmt: skip


def sign_in_with_code(
    session: Session, store: SharedStore, settings: Settings, phone: str, code: str, *,
    client: str,
) -> LoginOutcome:  # fmt: skip
    """Sign in with the code sent to ``phone``: a console session of the account the number
    signs in to. A refusal is recorded on the ledger (the caller commits it) and raised."""
    number = sms.mobile(phone)
    tag = phone_tag(settings, number)
    try:
        _take(store, settings, SIGN_IN, number, code)
    except CodeRefused as exc:
        _refused(session, "portal.signin.refused", exc, tag, client)
        raise
    row = repository.by_phone(session, tag)
    if row is None:  # unbound since the code was sent
        gone = CodeRefused("the code is wrong or has expired: ask for a new one", field="code",
                           reason="no account")  # fmt: skip
        _refused(session, "portal.signin.refused", gone, tag, client)
        raise gone
    return identity.open_session_for(session, settings, row.user_id, ip=client, method="sms",
                                     details={"phone": tag})  # fmt: skip


def request_registration_code(
    session: Session, store: SharedStore, settings: Settings, data: RegistrationCreate, *,
    client: str,
) -> CodeSent:  # fmt: skip
    """Check name, citizen ID and mobile against the person's file (实名核验) and, when they
    are his, send a code to the mobile. A mismatch is recorded and refused, naming no field."""
    portal, limits = settings.portal, _limits(store)
    number = sms.mobile(data.phone)
    tag = phone_tag(settings, number)
    limits.hit(f"portal.checks.address:{client}", portal.checks_per_address_hour, HOUR, TOO_MANY)
    subject = baselib.subject_tag(Kind.person, data.number, ops.keys_for(settings.masking_key))
    limits.hit(f"portal.checks.number:{subject}", portal.checks_per_number_day, DAY, TOO_MANY)
    if not baselib.matches_file(session, Kind.person, subject,
                                {"name": data.name, "mobile": number}):  # fmt: skip
        ledger.record(session, ACTOR, "portal.register.refused", object_type="phone",
                      object_id=tag, details={"subject": subject, "ip": client})  # fmt: skip
        raise CheckRefused("the name, citizen ID and mobile number do not pass the real-name "
                           "check", field="form")  # fmt: skip
    _limit_codes(store, settings, tag, client)
    ledger.record(session, ACTOR, "portal.code.request", object_type="phone", object_id=tag,
                  details={"purpose": REGISTER, "subject": subject, "ip": client})  # fmt: skip
    code, nonce = _new_code(), secrets.token_hex(8)
    sign, minutes = settings.sms.sign, portal.code_minutes
    return _issue(session, store, settings, number,
                  Pending(REGISTER, nonce, _digest(settings, nonce, code), subject, data.name),
                  code, f"【{sign}】您正在市民门户实名注册，验证码为{code}，{minutes}分钟内有效。"
                  "请勿泄露给他人。")  # fmt: skip


def register_with_code(
    session: Session, store: SharedStore, settings: Settings, phone: str, code: str, *,
    client: str,
) -> LoginOutcome:  # fmt: skip
    """The code proves the phone the real-name check passed: the applicant account of that
    citizen ID is made (or, when it has one, found) and the phone tied to it; then signed in."""
    number = sms.mobile(phone)
    tag = phone_tag(settings, number)
    try:
        pending = _take(store, settings, REGISTER, number, code)
    except CodeRefused as exc:
        _refused(session, "portal.register.refused", exc, tag, client)
        raise
    user_id = onething.applicant_user_of(session, ApplicantKind.person, pending.subject)
    made = user_id is None
    if user_id is None:
        user = identity.create_user(session, None, UserCreate(
            username=f"m{secrets.token_hex(6)}", display_name=pending.name[:100],
            password=secrets.token_urlsafe(32), roles=[Role.applicant],
        ), actor=ACTOR)  # fmt: skip
        user_id = user.id
        onething.tie_applicant(session, user_id, ApplicantKind.person, pending.subject,
                               actor=ACTOR)  # fmt: skip
    for old in (repository.by_phone(session, tag), repository.of_user(session, user_id)):
        if old is not None:  # the file names this phone his now: it leaves any other account
            repository.delete(session, old)
    repository.add(session, PortalPhone(
        user_id=user_id, phone_tag=tag,
        phone_sealed=_fernet(settings).encrypt(number.encode()).decode(),
    ))  # fmt: skip
    ledger.record(session, ACTOR, "portal.register", object_type="user", object_id=user_id,
                  details={"subject": pending.subject, "phone": tag, "new_account": made,
                           "ip": client})  # fmt: skip
    return identity.open_session_for(session, settings, user_id, ip=client, method="sms",
                                     details={"phone": tag})  # fmt: skip


def my_page(session: Session, settings: Settings, principal: Principal, base_url: str) -> MyPage:
    """The signed-in applicant's own: his valid e-certificates (with their verification links),
    his one-thing applications and the 12345 requests made with his phone — his alone."""
    found = onething.applicant_identity(session, principal)
    if found is None:
        return MyPage(tied=False)
    _, subject = found
    certs = [
        MyCertificate(certificate=c, verify_url=certificates.verification_url(base_url, c.token))
        for c in certificates.valid_certificates_for(session, holder_key=subject)
    ]
    number = phone_of(session, settings, principal.user_id)
    return MyPage(
        tied=True, phone_masked=sms.mask(number) if number else "", certificates=certs,
        applications=onething.my_applications(session, principal),
        cases=hotline.cases_of_phone(session, number) if number else [],
        enterprises=my_enterprises(session, settings, principal),
    )  # fmt: skip


# --- the enterprise's page (企业空间) --------------------------------------------------------------

REPRESENTATIVE = "legal_representative"  # a Basis's kind: the firm's legal representative
NOT_REPRESENTATIVE = "you are not this enterprise's legal representative: its page is not yours"
NOT_VERIFIED = (
    "only a citizen whose real name is verified (实名认证) sees the enterprises he represents"
)


def _person_subject(session: Session, principal: Principal) -> str:
    """The keyed hash of the signed-in citizen's verified citizen ID; "" for an account tied to
    none, or to an enterprise's credit code."""
    found = onething.applicant_identity(session, principal)
    return found[1] if found is not None and found[0] is ApplicantKind.person else ""


def _basis(principal: Principal, entity_id: int) -> Basis:
    return Basis(
        kind=REPRESENTATIVE, ref=f"{entity_id}:{principal.username}",
        legal_basis="法定代表人查询本企业信息（企业空间，法定代表人证件号码与实名认证一致）",
        fields=(), purpose="企业空间：法定代表人查看本企业的档案、证照、办件与评价",
        action="portal.enterprise.read",
    )  # fmt: skip


def _read(session: Session, settings: Settings, principal: Principal, entity_id: int,
          subject: str) -> FileRead | None:  # fmt: skip
    """The firm's file through the traced read (None: nothing of it may be read)."""
    basis = _basis(principal, entity_id)
    served = baselib.read_file_as_representative(
        session, principal, entity_id, subject, ReadContext(purpose=basis.purpose,
                                                            end_user=principal.username),
        ops.keys_for(settings.masking_key), settings.baselib, basis,
    )  # fmt: skip
    return served if isinstance(served, FileRead) else None


def _value(file: FileRead | None, field: str) -> str:
    found = next((f for f in file.fields if f.field == field), None) if file else None
    return str(found.value) if found is not None and found.value is not None else ""


def my_enterprises(
    session: Session, settings: Settings, principal: Principal
) -> list[MyEnterprise]:
    """我的企业: the firms whose file names the signed-in citizen as legal representative by his
    citizen ID — each file read (traced) for its name."""
    subject = _person_subject(session, principal)
    out = []
    for entity_id, _ in baselib.enterprises_represented_by(session, subject):
        file = _read(session, settings, principal, entity_id, subject)
        out.append(MyEnterprise(id=entity_id, name=_value(file, "name") or f"企业档案 {entity_id}",
                                credit_code=_value(file, "credit_code")))  # fmt: skip
    return out


def _refuse(session: Session, principal: Principal, entity_id: int, message: str,
            why: str) -> NotRepresentative:  # fmt: skip
    ledger.record(session, identity.actor_of(principal), "portal.enterprise.refused",
                  object_type="base_file", object_id=entity_id, details={"reason": why})  # fmt: skip
    return NotRepresentative(message, field="enterprise", reason=why)


def _ratings(
    session: Session, apps: list[ApplicationRead], names: dict[str, str]
) -> list[RatingChoice]:
    wanted: list[tuple[SubjectKind, str, str]] = []
    for app in apps:
        item = names.get(app.item_code, app.item_code)
        wanted.append((SubjectKind.application, app.number, item))
        wanted.extend((SubjectKind.matter, m.case_number, f"{item}·{m.matter_name}")
                      for m in app.matters if m.case_number)  # fmt: skip
    states = evaluation.rating_states(session, [(k, i) for k, i, _ in wanted])
    return [
        RatingChoice(
            kind=k,
            subject_id=i,
            title=title,
            state=st.state,
            grade=GRADE_NAMES[Grade(st.grade)] if st.grade else "",
        )
        for (k, i, title), st in zip(wanted, states, strict=True)
    ]


def enterprise_page(
    session: Session, settings: Settings, principal: Principal, entity_id: int, base_url: str
) -> EnterprisePage:
    """企业空间: the firm's file as its legal representative may read it (traced), its valid
    certificates with their verification links, its one-thing applications and what it may
    rate. Anyone but its legal representative gets NotRepresentative (on the ledger), the same
    whether or not the firm exists."""
    subject = _person_subject(session, principal)
    if not subject:
        raise _refuse(session, principal, entity_id, NOT_VERIFIED, "not verified")
    firms = dict(baselib.enterprises_represented_by(session, subject))
    if entity_id not in firms:
        raise _refuse(session, principal, entity_id, NOT_REPRESENTATIVE, "not representative")
    file = _read(session, settings, principal, entity_id, subject)
    labels = baselib.FIELD_LABELS[Kind.enterprise]
    firm = firms[entity_id]
    apps = onething.enterprise_applications(session, firm) if firm else []
    names: dict[str, str] = {}
    for code in {a.item_code for a in apps}:
        try:
            names[code] = onething.get_item(session, code).name
        except CitybaseError:
            names[code] = code
    certs = [
        MyCertificate(certificate=c, verify_url=certificates.verification_url(base_url, c.token))
        for c in (certificates.valid_certificates_for(session, holder_key=firm) if firm else [])
    ]
    return EnterprisePage(
        id=entity_id, name=_value(file, "name") or f"企业档案 {entity_id}",
        fields=[EnterpriseField(field=f.field, label=labels.get(f.field, f.field),
                                value="" if f.value is None else str(f.value),
                                masked=bool(f.masked))
                for f in (file.fields if file else [])],
        withheld=file.withheld if file else [], access_id=file.access_id if file else None,
        certificates=certs, applications=apps, item_names=names,
        ratings=_ratings(session, apps, names),
    )  # fmt: skip


def phone_of(session: Session, settings: Settings, user_id: int) -> str:
    """The mobile number that signs in to this account ("" when none, or when it was sealed
    under another masking key: the phone must then prove itself again)."""
    row = repository.of_user(session, user_id)
    if row is None:
        return ""
    try:
        return _fernet(settings).decrypt(row.phone_sealed.encode()).decode()
    except InvalidToken:
        return ""


def tie_phone(session: Session, settings: Settings, user_id: int, phone: str) -> None:
    """Tie a mobile number to an applicant account without a code: for the platform's own
    work (the demo), never for a request."""
    number = sms.mobile(phone)
    tag = phone_tag(settings, number)
    for old in (repository.by_phone(session, tag), repository.of_user(session, user_id)):
        if old is not None:
            repository.delete(session, old)
    repository.add(session, PortalPhone(
        user_id=user_id, phone_tag=tag,
        phone_sealed=_fernet(settings).encrypt(number.encode()).decode(),
    ))  # fmt: skip
    ledger.record(session, ACTOR, "portal.phone.tie", object_type="user", object_id=user_id,
                  details={"phone": tag})  # fmt: skip
