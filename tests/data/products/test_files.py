"""Deliveries as signed files: decided, traced, metered and priced as the API's; the contract
named on the file's first line; signed by the providing unit with SM2 and verified online, by
the API and offline by the CLI; a tampered file, another company or a contract no longer in
force gets nothing (and the refusal is traced)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from citybase.cli import app as citybase_cli
from citybase.core.errors import NotFound
from citybase.core.identity import service as identity
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.certificates import service as certificates
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.models import ProductContract, ProductDelivery
from citybase.data.products.schemas import ContractAction, FileAsk, FileFormat
from citybase.data.sharing.models import ShareAccess
from citybase.data.sharing.schemas import ReadContext
from tests.core.identity.factories import sign_in
from tests.data.products.factories import (
    add_customers,
    contract_for,
    listed_product,
    products_city,
)

MASTER = "00" * 32
KEYS = ops.keys_for(MASTER)


def _setup(session: Session, settings: Settings, kind: str = "dataset", **terms: Any):  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    add_customers(session, city)
    product_id = listed_product(session, city, kind=kind, name="井盖巡查数据集")
    contract_id = contract_for(session, city, product_id, **terms)
    key = service.issue_contract_key(session, city.people["cua"], settings, contract_id)
    holder = identity.principal_from_api_key(session, key.secret)
    assert holder is not None
    return city, contract_id, holder, key.secret


def _file(session: Session, who: Any, contract_id: int, **ask: Any) -> Any:
    return service.deliver_file(session, who, KEYS, MASTER, contract_id, ReadContext(),
                                FileAsk(**ask))  # fmt: skip


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _published(session: Session) -> dict[str, str]:
    return {k.key_id: k.public_key for k in certificates.list_public_keys(session)}


def test_a_customer_downloads_a_signed_csv_that_names_its_contract_and_verifies(
    session: Session, settings: Settings
) -> None:
    _city, contract_id, holder, _ = _setup(session, settings)
    got = _file(session, holder, contract_id)
    assert isinstance(got, service.DeliveredFile)
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    text = got.content.decode("utf-8")
    assert text.startswith("\ufeff# citybase ")  # a BOM: Excel reads the Chinese
    lines = text.lstrip("\ufeff").splitlines()
    header = json.loads(lines[0].removeprefix("# citybase "))
    assert header["contract"] == contract.number
    assert header["delivery"] == got.delivery_id
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))
    assert len(rows) == 8
    assert rows[0]["井盖编号"] == "JG00000"
    # metered and priced as a delivery: one call, its rows, the file's bytes, per call
    record = session.get(ProductDelivery, got.delivery_id)
    assert record is not None
    assert (record.mode, record.outcome, record.file_format) == ("file", "allowed", "csv")
    assert (record.rows, record.bytes, record.price_fen) == (8, len(got.content), 50)
    assert (contract.calls, contract.rows, contract.bytes) == (1, 8, len(got.content))
    access = session.get(ShareAccess, record.access_id)
    assert access is not None
    assert access.query["basis"] == {"kind": "contract", "ref": contract.number}
    # signed by the provider, verified online and with the published key only
    assert got.signature.signer == contract.provider_unit_code == "op.alpha"
    online = service.verify_file_online(session, got.content, got.signature.model_dump_json())
    assert online.valid, online.reason
    assert (online.contract, online.delivery) == (contract.number, got.delivery_id)
    offline = service.verify_file(got.content, got.signature, _published(session).get)
    assert offline.valid


def test_a_json_lines_file_carries_the_contract_on_its_first_line(
    session: Session, settings: Settings
) -> None:
    _city, contract_id, holder, _ = _setup(session, settings)
    got = _file(session, holder, contract_id, format=FileFormat.jsonl, limit=3)
    assert isinstance(got, service.DeliveredFile)
    lines = got.content.decode().splitlines()
    assert json.loads(lines[0])["citybase_delivery"]["rows"] == 3
    assert [json.loads(x)["井盖编号"] for x in lines[1:]] == ["JG00000", "JG00001", "JG00002"]
    assert service.verify_file_online(session, got.content, got.signature.model_dump_json()).valid


def test_a_tampered_file_or_a_signature_of_another_file_fails(
    session: Session, settings: Settings
) -> None:
    _city, contract_id, holder, _ = _setup(session, settings)
    first = _file(session, holder, contract_id, limit=2)
    second = _file(session, holder, contract_id, limit=3)
    assert isinstance(first, service.DeliveredFile)
    assert isinstance(second, service.DeliveredFile)
    tampered = first.content.replace(b"JG00001", b"JG00009")
    assert tampered != first.content
    sig = first.signature.model_dump_json()
    assert not service.verify_file_online(session, tampered, sig).valid
    assert not service.verify_file_online(session, second.content, sig).valid
    assert not service.verify_file_online(session, first.content, b"not a signature").valid
    # a signature naming a key nobody published
    unknown = first.signature.model_copy(update={"key_id": "0" * 16})
    assert not service.verify_file_online(session, first.content, unknown.model_dump_json()).valid


def test_another_company_or_another_credential_downloads_nothing(
    session: Session, settings: Settings
) -> None:
    city, contract_id, _, _ = _setup(session, settings)
    other_id = contract_for(session, city, listed_product(session, city, kind="dataset",
                                                          name="井盖数据集二"), customer="cud")  # fmt: skip
    other_key = service.issue_contract_key(session, city.people["cud"], settings, other_id)
    stranger = identity.principal_from_api_key(session, other_key.secret)
    before = (_count(session, ShareAccess), _count(session, ProductDelivery))
    with pytest.raises(NotFound):  # another company's key does not even find the contract
        _file(session, stranger, contract_id)
    with pytest.raises(NotFound):
        _file(
            session,
            city.people["cud"],
            contract_id,
        )
    assert (_count(session, ShareAccess), _count(session, ProductDelivery)) == before
    # the customer's own user, through the API without the contract's key: refused and traced
    refused = _file(session, city.people["cua"], contract_id)
    assert isinstance(refused, service.DeliveryRefused)
    assert refused.rule == "contract.key"
    access = session.get(ShareAccess, refused.access_id)
    assert access is not None
    assert (access.outcome, access.rows) == ("refused", 0)
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.seq == access.ledger_seq))
    assert entry is not None
    assert entry.action == "products.delivery.refused"
    record = session.get(ProductDelivery, refused.delivery_id)
    assert record is not None
    assert (record.mode, record.outcome, record.signature) == ("file", "refused", "")
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    assert (contract.calls, contract.rows, contract.bytes) == (0, 0, 0)


def test_a_revoked_or_expired_contract_gets_no_file(session: Session, settings: Settings) -> None:
    city, contract_id, holder, _ = _setup(session, settings)
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    contract.ends_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    expired = _file(session, holder, contract_id)
    assert isinstance(expired, service.DeliveryRefused)
    assert expired.rule == "contract.expired"
    contract.ends_at = datetime.now(UTC) + timedelta(days=5)
    service.revoke_contract(session, city.people["opa"], settings.products, contract_id,
                            ContractAction(reason="违约"))  # fmt: skip
    revoked = _file(session, holder, contract_id)
    assert isinstance(revoked, service.DeliveryRefused)
    assert revoked.rule == "contract.revoked"
    assert session.get(ShareAccess, revoked.access_id) is not None  # traced
    assert contract.calls == 0


def test_the_policy_limits_a_file_as_it_limits_the_api(
    session: Session, settings: Settings
) -> None:
    _city, contract_id, holder, _ = _setup(session, settings, max_rows=5)
    over = _file(session, holder, contract_id, limit=6)  # asks more rows than the contract
    assert isinstance(over, service.DeliveryRefused)
    assert "citybase:rows lteq 5" in over.rule
    assert isinstance(_file(session, holder, contract_id, limit=5), service.DeliveredFile)


def test_an_api_product_is_not_delivered_as_a_file(session: Session, settings: Settings) -> None:
    _city, contract_id, holder, _ = _setup(session, settings, kind="api")
    refused = _file(session, holder, contract_id)
    assert isinstance(refused, service.DeliveryRefused)
    assert refused.rule == "delivery.mode"
    assert session.get(ShareAccess, refused.access_id) is not None


def test_files_through_the_api_and_their_verification(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract_id, _, secret = _setup(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    path = f"/api/v1/products/contracts/{contract_id}/file"
    assert client.get(path).status_code == 401
    auth = {"Authorization": f"Bearer {secret}"}
    got = client.get(path, params={"format": "csv", "limit": 4}, headers=auth)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    bad = client.get(path, params={"format": "xlsx"}, headers=auth)
    assert bad.status_code == 422
    assert "error" in bad.json()
    sig_path = got.headers["x-citybase-signature"]
    assert client.get(sig_path, headers=auth).status_code == 403  # the key's scope is delivery
    csrf = sign_in(client, "cua")
    signature = client.get(sig_path)
    assert signature.status_code == 200
    files = {"file": ("f.csv", got.content), "signature": ("f.csv.sig", signature.content)}
    checked = client.post("/api/v1/products/files/verify", files=files,
                          headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert checked.status_code == 200, checked.text
    assert checked.json()["valid"] is True
    files["file"] = ("f.csv", got.content + b"JG99999,x,y\r\n")
    checked = client.post("/api/v1/products/files/verify", files=files,
                          headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert checked.json()["valid"] is False
    # another company's user sees neither the signature nor the contract
    sign_in(client, "cud")
    assert client.get(sig_path).status_code == 404
    del city


def test_the_cli_verifies_a_file_offline_with_the_published_key(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    _city, contract_id, holder, _ = _setup(session, settings)
    got = _file(session, holder, contract_id)
    assert isinstance(got, service.DeliveredFile)
    (tmp_path / "f.csv").write_bytes(got.content)
    (tmp_path / "f.sig").write_text(got.signature.model_dump_json())
    (tmp_path / "keys.json").write_text(json.dumps(
        [k.model_dump(mode="json") for k in certificates.list_public_keys(session)]))  # fmt: skip
    runner = CliRunner()
    args = [str(tmp_path / "f.csv"), str(tmp_path / "f.sig")]
    ok = runner.invoke(
        citybase_cli, ["products", "verify-file", *args, "--keys", str(tmp_path / "keys.json")]
    )
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    key = _published(session)[got.signature.key_id]
    assert (
        runner.invoke(citybase_cli, ["products", "verify-file", *args, "--key", key]).exit_code == 0
    )
    (tmp_path / "f.csv").write_bytes(got.content[:-3])
    bad = runner.invoke(citybase_cli, ["products", "verify-file", *args, "--key", key])
    assert bad.exit_code == 1
    assert "invalid" in bad.output


def test_the_customer_downloads_from_the_contract_page(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    _city, contract_id, _, _ = _setup(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    csrf = sign_in(client, "cua")
    page = client.get(f"/console/products/contracts/{contract_id}")
    assert "下载签名文件" in page.text
    got = client.post(f"/console/products/contracts/{contract_id}/file",
                      data={"csrf_token": csrf, "format": "csv", "limit": "3"})  # fmt: skip
    assert got.status_code == 200, got.text
    assert got.content.startswith("\ufeff# citybase".encode())
    page = client.get(f"/console/products/contracts/{contract_id}")
    assert "/console/products/deliveries/" in page.text  # the file's signature, among deliveries
    assert "<td>文件 <span" in page.text  # the delivery's mode
    # the provider's operator sees the deliveries but is offered no download, and cannot take one
    csrf = sign_in(client, "opa")
    assert "下载签名文件" not in client.get(f"/console/products/contracts/{contract_id}").text
    taken = client.post(f"/console/products/contracts/{contract_id}/file",
                        data={"csrf_token": csrf, "format": "csv"}, follow_redirects=False)  # fmt: skip
    assert taken.status_code in (403, 404)
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    assert contract.calls == 1
