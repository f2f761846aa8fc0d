"""The demo city's e-certificates: six types at least, each issuing unit with a manager and a
key, every certificate verifying, one revoked, the market regulator's key rotated with its old
certificates still valid."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.data.certificates import service as certificates
from citybase.data.certificates.schemas import CertificateStatus
from citybase.demo.certificates import DEMO_ACTOR, DEMO_PASSWORD, ISSUERS, seed_certificates
from citybase.demo.seed import DEMO_FILE


def test_the_demo_certificates(session: Session, settings: Settings) -> None:
    orgs.import_orgs(session, DEMO_ACTOR, DEMO_FILE.name, DEMO_FILE.read_bytes())
    identity.create_user(session, None, UserCreate(
        username="certmanager", display_name="证照管理员", password=DEMO_PASSWORD,
        unit_code="fz.market", roles=[Role.certificate_manager]), actor=DEMO_ACTOR)  # fmt: skip
    identity.create_user(session, None, UserCreate(
        username="demoauditor", display_name="审计员", password=DEMO_PASSWORD,
        unit_code="fz.bigdata", roles=[Role.auditor]), actor=DEMO_ACTOR)  # fmt: skip
    seed_certificates(session, settings)
    types = certificates.list_certificate_types(session)
    assert len(types) >= 6
    assert {"出生医学证明", "营业执照", "食品经营许可证", "居住证", "结婚证", "退休证"} <= {
        t.name for t in types
    }
    auditor = identity.principal_for(session, "demoauditor")
    total, issued = certificates.get_accessible_certificates(session, auditor, limit=500)
    assert total == len(issued) >= 20
    assert {c.issuer_unit_code for c in issued} == set(ISSUERS)
    revoked = [c for c in issued if c.status is CertificateStatus.revoked]
    assert len(revoked) == 1
    for made in issued:
        verdict = certificates.verify_certificate(session, made.token, check_signature=True)
        assert verdict.status.value == made.status.value, made.identifier
    market_keys = [k for k in certificates.list_public_keys(session) if k.unit_code == "fz.market"]
    assert len(market_keys) == 2
    assert sum(k.retired_at is None for k in market_keys) == 1
