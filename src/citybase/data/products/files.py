"""Deliveries of a data product as signed files (文件交付).

A customer holding a contract for a ``dataset`` or a ``report`` asks for a file of one of the
product's sources: CSV (UTF-8 with a byte-order mark, so that Excel reads the Chinese) or JSON
Lines. The delivery is decided, traced, metered and priced exactly as the API's
(``delivery.open_delivery`` and ``close_delivery``): a refused file reads nothing. The file's
first line names the contract, the product, the delivery and the moment; the file is signed
with the providing unit's SM2 key (the certificates domain's key machinery, ``sign_as_unit``)
and the detached signature (``FileSignature``) is kept with the delivery and served beside it.

Verification needs only the file, its signature and the published key it names
(``verify_file``): online against this platform's published keys, offline with the keys file
``GET /api/v1/certificates/keys`` answers (``citybase products verify-file``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.settings import ProductsSettings
from citybase.data.certificates import service as certificates
from citybase.data.certificates import signing
from citybase.data.datastore.schemas import RowQuery
from citybase.data.products import repository
from citybase.data.products.contracts import accessible_contract
from citybase.data.products.delivery import (
    DeliveryRefused,
    close_delivery,
    open_delivery,
    refuse_opened,
)
from citybase.data.products.schemas import (
    DeliveryMode,
    FileAsk,
    FileFormat,
    FileSignature,
    FileVerification,
)
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import ReadContext

if TYPE_CHECKING:
    from citybase.data.masking.operators import Keys

# what the signature covers is this prefix and the file: a file's signature can never be taken
# for a certificate's (or anything else the unit's key signs), nor the reverse
SIGNED_PREFIX = b"citybase product file v1\0"
BOM = "\ufeff"
CSV_MARK = "# citybase"
MEDIA_TYPES = {FileFormat.csv: "text/csv; charset=utf-8",
               FileFormat.jsonl: "application/jsonl; charset=utf-8"}  # fmt: skip
READ_PAGE = 10_000


@dataclass(frozen=True)
class DeliveredFile:
    delivery_id: int
    filename: str
    media_type: str
    content: bytes
    signature: FileSignature


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render(fmt: FileFormat, header: dict[str, Any], columns: list[str],
           rows: list[dict[str, Any]]) -> bytes:  # fmt: skip
    """The file's bytes: its first line the header (a ``# citybase`` comment line of CSV, a
    ``{"citybase_delivery": …}`` object of JSON Lines), then the rows."""
    if fmt is FileFormat.jsonl:
        lines = [json.dumps({"citybase_delivery": header}, ensure_ascii=False)]
        lines += [json.dumps(r, ensure_ascii=False, default=str) for r in rows]
        return ("\n".join(lines) + "\n").encode()
    out = io.StringIO()
    out.write(BOM + CSV_MARK + " " + json.dumps(header, ensure_ascii=False) + "\r\n")
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def header_of(content: bytes) -> dict[str, Any] | None:
    """The header a delivered file carries on its first line, or None."""
    first = content.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    first = first.removeprefix(BOM)
    try:
        if first.startswith(CSV_MARK + " "):
            found = json.loads(first[len(CSV_MARK) + 1 :])
        else:
            found = json.loads(first).get("citybase_delivery")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, dict) else None


def deliver_file(
    session: Session, principal: Principal, keys: Keys, masking_key: str, contract_id: int,
    ctx: ReadContext, ask: FileAsk, *, signed_in: bool = False,
) -> DeliveredFile | DeliveryRefused:  # fmt: skip
    """A signed file of the product's rows under the contract, or a refusal naming the rule
    (nothing read, traced and kept). The caller commits either way."""
    opened = open_delivery(session, principal, contract_id, ctx, mode=DeliveryMode.file,
                           resource=ask.resource, rows_asked=ask.limit, region=ask.region,
                           signed_in=signed_in)  # fmt: skip
    if isinstance(opened, DeliveryRefused):
        return opened
    query = RowQuery(limit=min(ask.limit, READ_PAGE))
    served = sharing.read_rows_under(session, principal, opened.code, opened.ctx, query, keys,
                                     opened.basis, operation="export", up_to=ask.limit)  # fmt: skip
    if isinstance(served, sharing.Refused):
        return refuse_opened(session, opened, f"read.{served.refusal.value}", served.message,
                             served.access_id, served.refusal.status)  # fmt: skip
    page = served.page
    record = close_delivery(session, opened, len(page.rows), 0, page.access_id)
    contract, product = opened.contract, opened.product
    at = datetime.now(UTC)
    header = {
        "contract": contract.number, "product": product.number, "product_name": product.name,
        "resource": opened.code, "delivery": record.id, "customer": contract.customer_unit_code,
        "provider": contract.provider_unit_code, "purpose": opened.ctx.purpose,
        "rows": len(page.rows), "level": page.level, "at": at.isoformat(),
        "duties": opened.duties,
    }  # fmt: skip
    columns = list(dict.fromkeys(k for r in page.rows for k in r))
    content = render(ask.format, header, columns, page.rows)
    signed = certificates.sign_as_unit(session, contract.provider_unit_code,
                                       SIGNED_PREFIX + content, masking_key,
                                       actor_of(principal))  # fmt: skip
    filename = f"{contract.number}-{record.id}.{ask.format.value}"
    signature = FileSignature(
        file=filename, sm3=signing.sm3_hex(content), contract=contract.number,
        delivery=record.id, signer=signed.unit_code, key_id=signed.key_id,
        signature=signed.signature.hex(),
    )  # fmt: skip
    # metered by the file's size: what left is the file
    record.bytes = len(content)
    contract.bytes += len(content)
    record.file_format, record.file_sm3 = ask.format.value, signature.sm3
    record.signature = signature.model_dump_json()
    session.flush()
    return DeliveredFile(record.id, filename, MEDIA_TYPES[ask.format], content, signature)


def read_signature(text: str | bytes) -> FileSignature | None:
    try:
        return FileSignature.model_validate_json(text)
    except ValidationError:
        return None


def verify_file(
    content: bytes, signature: FileSignature | None, public_key: Callable[[str], str | None]
) -> FileVerification:
    """Whether ``content`` is the file the signature was made over, by the published key it
    names (``public_key`` finds one by its id: the platform's register, or a keys file)."""
    if signature is None:
        return FileVerification(valid=False, reason="the signature is not a citybase file "
                                "signature (a JSON document as the delivery's .sig)")  # fmt: skip
    said = {"key_id": signature.key_id, "signer": signature.signer}
    try:
        raw = bytes.fromhex(signature.signature)
    except ValueError:
        return FileVerification(valid=False, reason="the signature is not hex", **said)
    public = public_key(signature.key_id)
    if public is None:
        return FileVerification(valid=False, reason=f"no published key {signature.key_id}",
                                **said)  # fmt: skip
    if not signing.verify(signing.normal_public_key(public), SIGNED_PREFIX + content, raw):
        return FileVerification(valid=False, reason="the signature does not verify: the file "
                                "was altered, or it is not the file signed", **said)  # fmt: skip
    header = header_of(content) or {}
    delivery = header.get("delivery")
    return FileVerification(
        valid=True, reason="the signature verifies with the published key",
        contract=str(header.get("contract", "")),
        delivery=delivery if isinstance(delivery, int) else None, **said,
    )  # fmt: skip


def keys_lookup(published: Mapping[str, str]) -> Callable[[str], str | None]:
    return published.get


def verify_file_online(session: Session, content: bytes, signature_text: str | bytes
                       ) -> FileVerification:  # fmt: skip
    """Check a file against this platform's published keys (retired keys included)."""

    def lookup(key_id: str) -> str | None:
        found = certificates.published_key(session, key_id)
        return found.public_key if found else None

    return verify_file(content, read_signature(signature_text), lookup)


def get_file_signature(
    session: Session, principal: Principal, settings: ProductsSettings, delivery_id: int
) -> FileSignature:
    """A delivered file's detached signature, for the contract's parties and the bureau."""
    record = repository.delivery(session, delivery_id)
    if record is None or not record.signature:
        raise NotFound(f"no signed file {delivery_id}", field="delivery")
    accessible_contract(session, principal, settings, record.contract_id)  # or NotFound
    found = read_signature(record.signature)
    assert found is not None
    return found
