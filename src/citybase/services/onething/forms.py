"""The one form (一表申请): the applicants tied to their real-name identity, and the form of an
item assembled from its matters' fields and materials, pre-filled under the applicant's consent
(申请人授权) through the one traced read (``data/sharing``) — the base-library file through
baselib's service, shared catalog resources through sharing's — and materials proven by
e-certificates (免证明)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.codes import is_citizen_id, is_credit_code
from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import Settings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.catalog import service as catalog
from citybase.data.certificates import service as certificates
from citybase.data.datastore.schemas import RowQuery
from citybase.data.masking import operators as ops
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import CONSENT, Basis, ReadContext
from citybase.services.onething import repository
from citybase.services.onething.catalog_items import WORK, get_item
from citybase.services.onething.models import Applicant
from citybase.services.onething.schemas import (
    ApplicantKind,
    ApplicantRegister,
    FieldSource,
    FormField,
    FormMaterial,
    FormRead,
    ItemSpec,
)

PREFILL_ACTION = "onething.prefill"


# --- applicants ----------------------------------------------------------------------------------


def register_applicant(
    session: Session, principal: Principal | None, data: ApplicantRegister, keys: ops.Keys,
    *, actor: Actor | None = None,
) -> None:  # fmt: skip
    """Tie a user of role applicant to its real-name identity (as a real-name service would),
    kept as the keyed hash only."""
    if principal is not None and not principal.has_role(Role.platform_admin):
        raise Forbidden("只有平台管理员可以登记申请人身份", field="permission")
    user = identity.get_user_by_username(session, data.username)
    if Role.applicant not in user.roles:
        raise InvalidInput(f"{data.username} 不是申请人账号", field="username")
    tag = baselib.subject_tag(Kind(data.kind.value), data.number, keys)
    row = repository.applicant(session, user.id) or Applicant(user_id=user.id)
    row.kind, row.subject_tag, row.display_name = data.kind.value, tag, user.display_name
    repository.add(session, row)
    ledger.record(session, actor or (actor_of(principal) if principal else Actor.system(WORK)),
                  "onething.applicant.registered", object_type="user", object_id=user.id,
                  details={"kind": data.kind.value})  # fmt: skip


def applicant_user_of(session: Session, kind: ApplicantKind, subject_tag: str) -> int | None:
    """The user id of the applicant account tied to this real-name identity (its keyed hash)."""
    row = repository.applicant_by_subject(session, kind.value, subject_tag)
    return row.user_id if row is not None else None


def tie_applicant(
    session: Session, user_id: int, kind: ApplicantKind, subject_tag: str, *, actor: Actor,
) -> None:  # fmt: skip
    """Tie an applicant account to the real-name identity a real-name check (实名核验) has
    proven, given as its keyed hash (the number itself never reaches this service)."""
    user = identity.get_user(session, user_id)
    if Role.applicant not in user.roles:
        raise InvalidInput(f"{user.username} 不是申请人账号", field="username")
    row = repository.applicant(session, user.id) or Applicant(user_id=user.id)
    row.kind, row.subject_tag, row.display_name = kind.value, subject_tag, user.display_name
    repository.add(session, row)
    ledger.record(session, actor, "onething.applicant.registered", object_type="user",
                  object_id=user.id, details={"kind": kind.value, "subject": subject_tag})  # fmt: skip


def applicant_identity(session: Session, principal: Principal) -> tuple[ApplicantKind, str] | None:
    """The signed-in applicant's real-name identity: its kind and keyed hash; None when the
    account is tied to none."""
    row = repository.applicant(session, principal.user_id)
    return (ApplicantKind(row.kind), row.subject_tag) if row is not None else None


def applicant_of(session: Session, principal: Principal) -> Applicant:
    row = repository.applicant(session, principal.user_id)
    if row is None:
        raise Forbidden("该账号尚未完成实名身份登记，不能申请一件事", field="applicant")
    return row


# --- the one form --------------------------------------------------------------------------------


def consent_basis(spec: ItemSpec, principal: Principal, action: str = PREFILL_ACTION) -> Basis:
    return Basis(
        kind=CONSENT, ref=f"{spec.code}:{principal.username}",
        legal_basis=f"申请人授权（一件事：{spec.name}；{spec.legal_basis or '依申请'}）",
        fields=(), purpose=f"一件事「{spec.name}」一表申请预填", consumer=spec.lead_unit,
        action=action, in_clear=True,
    )  # fmt: skip


def _fields_of(spec: ItemSpec) -> dict[str, FormField]:
    out: dict[str, FormField] = {}
    for m in spec.matters:
        for f in m.fields:
            field = out.get(f.element)
            if field is None:
                out[f.element] = FormField(element=f.element, label=f.label or f.element,
                                           required=f.required, matters=[m.code])  # fmt: skip
            else:
                field.required = field.required or f.required
                field.matters.append(m.code)
    return out


def _materials_of(spec: ItemSpec) -> dict[str, FormMaterial]:
    out: dict[str, FormMaterial] = {}
    for m in spec.matters:
        for x in m.materials:
            got = out.get(x.code)
            if got is None:
                out[x.code] = FormMaterial(code=x.code, name=x.name, matters=[m.code],
                                           required=x.required, certificate=x.certificate,
                                           holder=x.holder)  # fmt: skip
            else:
                got.matters.append(m.code)
                got.required = got.required or x.required
    return out


def _holder_of(
    applicant: Applicant, material: FormMaterial, fields: dict[str, FormField], keys: ops.Keys,
) -> tuple[str, str] | None:  # fmt: skip
    """Whose certificate proves ``material`` — the keyed hash the certificate library knows its
    holder by, and how the form names that person — or None, with the material's seam said.

    The applicant's own, unless the material names a holder field: then the person that field
    names, but only when the city's registers filled it in from the applicant's own record (the
    hospital's death record naming the applicant as the family, the marriage register naming
    the spouse). A number the applicant types never unlocks another's certificate."""
    if not material.holder:
        return applicant.subject_tag, ""
    field = fields.get(material.holder)
    label = field.label if field is not None else material.holder
    number = str(field.value or "").strip() if field is not None else ""
    if field is None or field.source is not FieldSource.resource or not number:
        material.seam = f"未能从登记信息中确认「{label}」，不能调取其电子证照，请上传材料"
        return None
    kind = Kind.enterprise if is_credit_code(number) else Kind.person
    if kind is Kind.person and not is_citizen_id(number):
        material.seam = f"「{label}」不是有效的身份证号码，不能调取其电子证照，请上传材料"
        return None
    return baselib.subject_tag(kind, number, keys), label


def _prove(
    session: Session, applicant: Applicant, material: FormMaterial,
    fields: dict[str, FormField], keys: ops.Keys,
) -> None:  # fmt: skip
    """免证明: a material an issued e-certificate proves is not asked for; the holder's valid
    certificate of the type (found by the same keyed hash the base libraries use) is checked
    instead — its SM2 signature, holder, type and term (``require_valid``). The holder is the
    applicant, or the person a register ties to the applicant (``_holder_of``)."""
    if not material.certificate:
        return
    holder = _holder_of(applicant, material, fields, keys)
    if holder is None:
        return
    holder_key, whose = holder
    found = certificates.valid_certificates_for(
        session, holder_key=holder_key, type_codes=[material.certificate]
    )
    for cert in found:
        try:
            certificates.require_valid(session, cert.identifier, holder_key=holder_key,
                                       type_codes=[material.certificate])  # fmt: skip
        except certificates.CertificateNotValid as exc:
            material.seam = f"电子证照 {exc.identifier} 不能采信（{_NOT_VALID.get(exc.status, exc.status)}），请上传材料"
            continue
        material.proven = f"{cert.name} {cert.number}（{cert.issuer_name}）"
        if whose:
            material.proven += f"，持证人：{whose} {cert.holder_name}"
        material.certificate_id = cert.identifier
        material.seam = ""
        return
    if not material.seam:
        material.seam = (f"未找到「{whose}」有效的该类电子证照，请上传材料" if whose
                         else "未找到您有效的该类电子证照，请上传材料")  # fmt: skip


_NOT_VALID = {
    "forged": "签名验证不通过", "wrong_holder": "不属于申请人", "wrong_type": "证照类型不符",
    "revoked": "已注销", "expired": "已过期", "not_yet_valid": "尚未生效",
}  # fmt: skip


def build_form(
    session: Session, principal: Principal, item_code: str, settings: Settings, keys: ops.Keys,
) -> FormRead:  # fmt: skip
    """The one form of an item for the signed-in applicant, pre-filled under its consent: the
    fields the base libraries or shared resources hold, each with its source, read through the
    traced read; a field the sharing rules refuse says why; the rest is the applicant's."""
    spec = get_item(session, item_code).spec
    applicant = applicant_of(session, principal)
    kind = Kind(applicant.kind)
    if applicant.kind != spec.applicant.value:
        raise InvalidInput(f"「{spec.name}」由{'企业' if spec.applicant is ApplicantKind.enterprise else '个人'}申请",
                           field="item_code")  # fmt: skip
    fields = _fields_of(spec)
    basis = consent_basis(spec, principal)
    ctx = ReadContext(purpose=basis.purpose)
    access_ids: list[int] = []
    from_library: dict[str, str] = {}  # element → file field
    from_resource: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (code, key) → (el, item)
    for element in fields:
        source = spec.sources.get(element)
        if source is not None and source.resource:
            from_resource.setdefault((source.resource, source.key), []).append(
                (element, source.item)
            )
        elif lib := (source.library if source else baselib.field_of_element(kind, element)):
            from_library[element] = lib
    number = ""
    if from_library or from_resource:
        file = baselib.read_file_under(session, principal, kind, applicant.subject_tag, ctx, keys,
                                       settings.baselib, basis)  # fmt: skip
        if file is None:
            for element in list(from_library) + [e for v in from_resource.values() for e, _ in v]:
                fields[element].refused = "城市基础库中没有申请人的档案"
        elif isinstance(file, sharing.Refused):
            access_ids.append(file.access_id)
            for element in from_library:
                fields[element].refused = f"共享规则拒绝：{file.message}"
        else:
            access_ids.append(file.access_id)
            got = {f.field: f for f in file.fields}
            key = got.get(baselib.key_field(kind))
            number = str(key.value) if key is not None and key.value else ""
            for element, lib in from_library.items():
                if lib in got and got[lib].value not in (None, ""):
                    fields[element].value = got[lib].value
                    fields[element].source = FieldSource.library
                    fields[element].source_ref = (f"{'一人一档' if kind is Kind.person else '一企一档'}"
                                                  f"·{got[lib].resource_code}（{got[lib].unit_code}）")  # fmt: skip
                elif lib in file.withheld_why:
                    fields[element].refused = file.withheld_why[lib]
    for (code, key_item), wanted in from_resource.items():
        if not number:
            continue
        query = RowQuery(filters={key_item: number}, fields=sorted({i for _, i in wanted}), limit=1)
        served = sharing.read_rows_under(session, principal, code, ctx, query, keys, basis)
        if isinstance(served, sharing.Refused):
            access_ids.append(served.access_id)
            for element, _ in wanted:
                fields[element].refused = f"共享规则拒绝（{code}）：{served.message}"
            continue
        access_ids.append(served.page.access_id)
        if not served.page.rows:
            continue
        row = served.page.rows[0]
        provider = catalog.get_resource(session, code).provider_unit_code
        for element, item in wanted:
            if row.get(item) not in (None, ""):
                fields[element].value = str(row[item])
                fields[element].source = FieldSource.resource
                fields[element].source_ref = f"{code}（{provider}）"
    materials = _materials_of(spec)
    for material in materials.values():
        _prove(session, applicant, material, fields, keys)
    listed = list(fields.values())
    pre = sum(1 for f in listed if f.source is not FieldSource.applicant)
    return FormRead(item_code=spec.code, item_name=spec.name, fields=listed,
                    materials=list(materials.values()), prefilled=pre, total=len(listed),
                    access_ids=access_ids)  # fmt: skip
