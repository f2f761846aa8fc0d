"""De-identified micro-data releases: prepared to a declared k and l through the traced read,
counted again on the released file, reviewed by another steward, published to the units
named, downloaded by them only."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import service as baselib
from citybase.data.baselib.schemas import Kind
from citybase.data.sandbox import release as service
from citybase.data.sandbox.release_schemas import ReleaseStatus, Review
from tests.data.sandbox.release_factories import KEYS, SETTINGS, release, release_city


def _file(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _k_and_l(rows: list[dict[str, str]], quasi: list[str], sensitive: str) -> tuple[int, int]:
    """k and distinct l of a file, counted here from its rows alone."""
    sizes = Counter(tuple(r[q] for q in quasi) for r in rows)
    values: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for r in rows:
        values[tuple(r[q] for q in quasi)].add(r[sensitive])
    return min(sizes.values()), min(len(v) for v in values.values())


def test_the_released_file_holds_the_declared_k_and_l(session: Session) -> None:
    rc = release_city(session)
    prepared, refused = service.prepare_release(session, rc.steward, release(rc.code), KEYS)
    assert refused is None, refused
    assert prepared.status is ReleaseStatus.prepared
    report = prepared.report
    assert report is not None
    text, _ = service.download_release(session, rc.steward, SETTINGS, prepared.id)
    frame = _file(text)
    quasi = ["出生日期", "性别", "所在街道"]
    # counted again on the downloaded file itself
    k, l = _k_and_l(frame, quasi, "违法类型")  # noqa: E741
    assert k >= 5
    assert l >= 2
    assert (report.achieved_k, report.achieved_l) == (k, l)
    assert len(frame) == report.rows_released == 60 - report.rows_suppressed
    # no direct identifier is in it: names and phones removed, citizen IDs pseudonymised
    assert list(frame[0]) == [
        "公民身份号码",
        "出生日期",
        "性别",
        "所在街道",
        "违法类型",
        "罚款金额",
    ]
    assert all(r["公民身份号码"].startswith("R-") for r in frame)
    assert report.identifiers == {
        "公民身份号码": "pseudonym",
        "姓名": "remove",
        "手机号码": "remove",
    }
    # the rows came through the traced read, under the release's basis
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.release.read"))
    assert entries[0].details["basis"] == {"kind": "release", "ref": str(prepared.id)}
    prepares, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.release.prepare"))
    assert prepares[0].details["report"]["achieved_k"] == report.achieved_k


def test_a_release_short_of_its_k_is_refused_and_goes_no_further(session: Session) -> None:
    rc = release_city(session, rows=4)
    prepared, refused = service.prepare_release(session, rc.steward, release(rc.code), KEYS)
    assert refused is not None
    assert refused.rule == "release.k_not_reached"
    assert prepared.status is ReleaseStatus.refused
    assert prepared.rows == 0
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.release.refuse"))
    assert entries[0].details["rule"] == "release.k_not_reached"
    with pytest.raises(InvalidInput):
        service.review_release(session, rc.second, SETTINGS, prepared.id, Review(approve=True))
    with pytest.raises(InvalidInput):
        service.download_release(session, rc.steward, SETTINGS, prepared.id)


def test_the_preparer_cannot_approve_their_own_release(session: Session) -> None:
    rc = release_city(session)
    prepared, _ = service.prepare_release(session, rc.steward, release(rc.code), KEYS)
    with pytest.raises(Forbidden) as caught:
        service.review_release(session, rc.steward, SETTINGS, prepared.id, Review(approve=True))
    assert caught.value.details["rule"] == "release.own_review"
    assert service.get_accessible_release(session, rc.steward, SETTINGS,
                                          prepared.id).status is ReleaseStatus.prepared  # fmt: skip
    with pytest.raises(InvalidInput):  # nor publish it unreviewed
        service.publish_release(session, rc.steward, SETTINGS, prepared.id)
    # a second steward of the unit may; then it is published
    approved = service.review_release(session, rc.second, SETTINGS, prepared.id,
                                      Review(approve=True, note="已核验"))  # fmt: skip
    assert (approved.status, approved.reviewed_by) == (ReleaseStatus.approved, "urbansteward2")
    published = service.publish_release(session, rc.steward, SETTINGS, prepared.id)
    assert published.status is ReleaseStatus.published
    actions = {e.action for e in ledger.find_entries(session, LedgerFilter())[0]}
    assert {"sandbox.release.approve", "sandbox.release.publish"} <= actions


def test_the_bureau_reviews_but_another_units_steward_does_not(session: Session) -> None:
    rc = release_city(session)
    prepared, _ = service.prepare_release(session, rc.steward, release(rc.code), KEYS)
    with pytest.raises(NotFound):
        service.review_release(session, rc.other_steward, SETTINGS, prepared.id,
                               Review(approve=True))  # fmt: skip
    rejected = service.review_release(session, rc.bureau, SETTINGS, prepared.id,
                                      Review(approve=False, note="抑制过多"))  # fmt: skip
    assert rejected.status is ReleaseStatus.rejected


def test_another_units_steward_cannot_prepare_a_release_of_a_resource_not_theirs(
    session: Session,
) -> None:
    rc = release_city(session)
    before = len(ledger.find_entries(session, LedgerFilter())[0])
    for outsider in (rc.other_steward, rc.bureau, rc.consumer):
        with pytest.raises(Forbidden):
            service.prepare_release(session, outsider, release(rc.code), KEYS)
    assert len(ledger.find_entries(session, LedgerFilter())[0]) == before
    assert service.get_accessible_releases(session, rc.bureau, SETTINGS) == []


def test_only_the_units_it_was_published_to_download_it(session: Session) -> None:
    rc = release_city(session)
    prepared, _ = service.prepare_release(session, rc.steward, release(rc.code), KEYS)
    # before publication the recipient sees nothing of it
    with pytest.raises(NotFound):
        service.download_release(session, rc.consumer, SETTINGS, prepared.id)
    service.review_release(session, rc.second, SETTINGS, prepared.id, Review(approve=True))
    service.publish_release(session, rc.second, SETTINGS, prepared.id)
    text, name = service.download_release(session, rc.consumer, SETTINGS, prepared.id)
    assert name.endswith(".csv")
    assert len(_file(text)) == prepared.report.rows_released  # type: ignore[union-attr]
    downloads = len(ledger.find_entries(session, LedgerFilter(
        action="sandbox.release.download"))[0])  # fmt: skip
    for outsider in (rc.stranger, rc.other_steward):
        with pytest.raises(NotFound):
            service.download_release(session, outsider, SETTINGS, prepared.id)
        assert service.get_accessible_releases(session, outsider, SETTINGS) == []
    after = ledger.find_entries(session, LedgerFilter(action="sandbox.release.download"))[0]
    assert len(after) == downloads


def test_an_open_release_reaches_every_unit(session: Session) -> None:
    rc = release_city(session)
    prepared, _ = service.prepare_release(
        session, rc.steward, release(rc.code, recipients=[], open_to_all=True), KEYS
    )
    service.review_release(session, rc.bureau, SETTINGS, prepared.id, Review(approve=True))
    service.publish_release(session, rc.bureau, SETTINGS, prepared.id)
    text, _ = service.download_release(session, rc.stranger, SETTINGS, prepared.id)
    assert len(_file(text)) > 0


@pytest.mark.parametrize(("changes", "field"), [
    ({"出生日期": {"kind": "date", "levels": ["year", "month"]}}, "quasi_identifiers.出生日期.levels"),
    ({"出生日期": {"kind": "date", "levels": ["week"]}}, "quasi_identifiers.出生日期.levels"),
    ({"所在街道": {"kind": "region", "levels": ["province"]}}, "quasi_identifiers.所在街道.levels"),
    ({"性别": {"kind": "value", "levels": ["month"]}}, "quasi_identifiers.性别.levels"),
    ({"罚款金额": {"kind": "age", "levels": [10, 15]}}, "quasi_identifiers.罚款金额.levels"),
    ({"罚款金额": {"kind": "prefix", "levels": [1, 3]}}, "quasi_identifiers.罚款金额.levels"),
    ({"住址": {"kind": "value"}}, "quasi_identifiers.住址"),
    ({"姓名": {"kind": "prefix", "levels": [1]}}, "quasi_identifiers.姓名"),
])  # fmt: skip
def test_a_bad_hierarchy_is_refused_naming_its_field(
    session: Session,
    changes: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    rc = release_city(session)
    spec = release(rc.code)
    quasi = {k: v.model_dump(mode="json") for k, v in spec.quasi_identifiers.items()} | changes
    if "罚款金额" in changes:
        spec = release(rc.code, keep=[])
    with pytest.raises(InvalidInput) as caught:
        service.prepare_release(session, rc.steward, release(
            rc.code, quasi_identifiers=quasi, keep=spec.keep), KEYS)  # fmt: skip
    assert caught.value.field == field
    assert service.get_accessible_releases(session, rc.steward, SETTINGS) == []


def test_values_a_hierarchy_cannot_lift_are_refused_naming_the_column(session: Session) -> None:
    rc = release_city(session)
    quasi = {"违法类型": {"kind": "date", "levels": ["year"]}}
    prepared, refused = service.prepare_release(session, rc.steward, release(
        rc.code, quasi_identifiers=quasi, sensitive=None, l=1), KEYS)  # fmt: skip
    assert refused is not None
    assert refused.field == "quasi_identifiers.违法类型"
    assert "违法类型" in refused.message
    assert prepared.status is ReleaseStatus.refused


def test_the_risk_is_measured_against_the_base_librarys_person_files(session: Session) -> None:
    rc = release_city(session)
    settings = BaselibSettings(steward_unit="fz.bigdata")
    baselib.link_base_library(session, rc.bureau, Kind.person, settings, KEYS)
    spec = release(rc.code, quasi_identifiers={
        "出生日期": {"kind": "date", "levels": ["month", "year"]}, "性别": {"kind": "value"},
    }, k=2, l=1, sensitive=None, max_suppression=0)  # fmt: skip
    prepared, refused = service.prepare_release(session, rc.steward, spec, KEYS)
    assert refused is None, refused
    report = prepared.report
    assert report is not None
    assert report.levels == {"出生日期": "year", "性别": "value"}
    risk = report.risk
    assert risk.matched_on == {"出生日期": "birth", "性别": "sex"}
    assert risk.persons == 60
    # every (year, sex) is two people of the sixty: each record matches two files
    assert (risk.unique, risk.absent, risk.prosecutor_risk) == (0, 0, 0.0)
    assert (risk.highest, risk.average) == (0.5, 0.5)
