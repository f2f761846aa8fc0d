"""Harvesting a DCAT-AP catalog into this one: datasets become drafts of the harvesting unit,
with their data items where the source describes its columns; a second harvest updates drafts
and leaves the rest alone; nothing crosses a unit's boundary."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, Forbidden, InvalidInput
from citybase.core.ledger.models import LedgerEntry
from citybase.core.net import OutboundPolicy
from citybase.data.catalog import service as catalog
from citybase.data.catalog.models import DataResource
from citybase.data.catalog.schemas import Transition
from citybase.data.opendata import harvest
from citybase.data.opendata.schemas import HarvestSourceCreate
from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people
from tests.data.opendata.factories import ITEMS, open_datasets

FOREIGN = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .
<https://data.example.gov/catalog> a dcat:Catalog ; dct:title "某区公共数据目录"@zh ;
  dcat:dataset <https://data.example.gov/dataset/1>, <https://data.example.gov/dataset/2> .
<https://data.example.gov/dataset/1> a dcat:Dataset ;
  dct:title "Bus stops"@en, "公交站点"@zh ;
  dct:description "全区公交站点的名称、位置和途经线路。"@zh ;
  dcat:keyword "公交"@zh, "站点"@zh ;
  dcat:theme <https://data.example.gov/themes/traffic> ;
  dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/MONTHLY> ;
  dct:accessRights <http://publications.europa.eu/resource/authority/access-right/PUBLIC> ;
  dct:modified "2026-11-01T00:00:00"^^<http://www.w3.org/2001/XMLSchema#dateTime> ;
  dcat:distribution [ a dcat:Distribution ;
    dct:format <http://publications.europa.eu/resource/authority/file-type/PDF> ] .
<https://data.example.gov/themes/traffic> a skos:Concept ; skos:prefLabel "交通运输"@zh .
<https://data.example.gov/dataset/2> a dcat:Dataset ; dct:title "X"@zh .
"""


def _steward_harvests(session: Session, content: bytes, fmt: str, **kw: object):  # type: ignore[no-untyped-def]
    people = catalog_people(session)
    pages = [harvest.parse(content, fmt)]
    report = harvest.harvest(session, people["bureausteward"], pages, origin="test",
                             unit_code="fz.bigdata", classification="301001", **kw)  # type: ignore[arg-type]  # fmt: skip
    return people, report


def test_a_foreign_catalog_becomes_drafts_and_a_bad_dataset_is_reported(session: Session) -> None:
    people, report = _steward_harvests(session, FOREIGN.encode(), "turtle")
    assert report.applied
    assert report.found == 2
    assert [i.title for i in report.created] == ["公交站点"]
    assert [i.uri for i in report.refused] == ["https://data.example.gov/dataset/2"]
    assert any(p.startswith("name:") for p in report.refused[0].problems)
    draft = catalog.get_resource(session, report.created[0].code)
    assert draft.status.value == "draft"
    assert draft.provider_unit_code == "fz.bigdata"
    assert draft.update_cycle.value == "monthly"
    assert draft.open_type.value == "unconditional"
    assert draft.format.value == "document"
    assert sorted(draft.keywords) == ["公交", "站点"]
    assert draft.theme_tags == ["交通运输"]
    assert [i.name for i in draft.items] == [harvest.PLACEHOLDER_ITEM]
    assert report.created[0].placeholder
    # a draft whose items the source did not describe cannot be submitted as it is
    with pytest.raises(InvalidInput) as refused:
        catalog.transition(session, people["bureausteward"], draft.code, "submit", Transition())
    assert refused.value.field == "items"
    assert catalog.get_resource(session, draft.code).status.value == "draft"
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.action == "opendata.harvest")
    ).one()
    assert entry.details["created"] == [draft.code]


def test_this_catalogs_own_export_harvests_with_its_data_items(
    client: TestClient, session: Session
) -> None:
    people = catalog_people(session)
    made = open_datasets(session, people)
    exported = client.get("/catalog.jsonld").content  # the context is written inline
    pages = [harvest.parse(exported, "json-ld")]
    report = harvest.harvest(session, people["bureausteward"], pages, origin="catalog.jsonld",
                             unit_code="fz.bigdata", classification="301001")  # fmt: skip
    assert {i.title for i in report.created} == {made["open"].name, made["conditional"].name}
    by_title = {i.title: catalog.get_resource(session, i.code) for i in report.created}
    copy = by_title[made["open"].name]
    expected = [(str(i["name"]), str(i["data_type"])) for i in ITEMS]  # type: ignore[index]
    assert [(i.name, i.data_type.value) for i in copy.items] == expected  # in order, with types
    assert copy.abstract == made["open"].abstract
    conditional = by_title[made["conditional"].name]
    assert conditional.open_type.value == "conditional"
    assert conditional.open_condition
    assert not any(i.placeholder for i in report.created)
    # harvested again: nothing new, nothing changed
    again = harvest.harvest(session, people["bureausteward"], pages, origin="catalog.jsonld",
                            unit_code="fz.bigdata", classification="301001")  # fmt: skip
    assert not again.created
    assert not again.updated
    assert len(again.unchanged) == 2


def test_a_second_harvest_updates_drafts_and_leaves_submitted_ones_alone(session: Session) -> None:
    people, first = _steward_harvests(session, FOREIGN.encode(), "turtle")
    code = first.created[0].code
    changed = FOREIGN.replace('公交站点"@zh', '公交站点（含线路）"@zh')
    second = harvest.harvest(session, people["bureausteward"], [harvest.parse(changed.encode(), "turtle")],
                             origin="test", unit_code="fz.bigdata", classification="301001")  # fmt: skip
    assert [i.code for i in second.updated] == [code]
    assert catalog.get_resource(session, code).name == "公交站点（含线路）"
    assert catalog.get_resource(session, code).version == 2
    # once its unit has described it and submitted it, the source's changes do not reach it
    resource = session.scalars(select(DataResource).where(DataResource.code == code)).one()
    resource.status = "submitted"
    session.flush()
    third = harvest.harvest(session, people["bureausteward"],
                            [harvest.parse(FOREIGN.encode(), "turtle")], origin="test",
                            unit_code="fz.bigdata", classification="301001")  # fmt: skip
    assert [i.code for i in third.kept] == [code]
    assert catalog.get_resource(session, code).name == "公交站点（含线路）"


def test_a_dry_run_registers_nothing(session: Session) -> None:
    before = session.scalar(select(func.count()).select_from(DataResource))
    _, report = _steward_harvests(session, FOREIGN.encode(), "turtle", dry_run=True)
    assert len(report.created) == 1
    assert not report.applied
    assert session.scalar(select(func.count()).select_from(DataResource)) == before


@pytest.mark.parametrize(
    ("content", "fmt", "words"),
    [
        (b"@prefix broken", "turtle", "not a readable turtle"),
        (b'{"@context": "https://example.org/ctx.jsonld", "@id": "x"}', "json-ld", "nothing is fetched"),
        (b"<http://a> <http://b> <http://c> .", "turtle", "no dcat:Catalog"),
    ],
)  # fmt: skip
def test_a_document_that_cannot_be_read_is_refused_clearly(
    content: bytes, fmt: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        harvest.parse(content, fmt)
    assert words in refused.value.message
    assert refused.value.field == "file"


def test_no_one_harvests_into_another_units_drafts(session: Session) -> None:
    people = catalog_people(session)
    before = session.scalar(select(func.count()).select_from(DataResource))
    with pytest.raises(Forbidden):
        harvest.harvest(session, people["urbansteward"], [harvest.parse(FOREIGN.encode(), "turtle")],
                        origin="t", unit_code="fz.bigdata", classification="301001")  # fmt: skip
    with pytest.raises(Forbidden):
        harvest.add_source(session, people["urbansteward"], HarvestSourceCreate(
            name="某区目录", url="https://data.example.gov/catalog.ttl", unit_code="fz.bigdata",
            classification="301001"))  # fmt: skip
    assert session.scalar(select(func.count()).select_from(DataResource)) == before


def test_the_api_takes_a_file_and_refuses_those_without_the_permission(
    client: TestClient, session: Session
) -> None:
    catalog_people(session)
    form = {"unit_code": "fz.bigdata", "classification": "301001"}
    files = {"file": ("district.ttl", FOREIGN.encode(), "text/turtle")}
    assert client.post("/api/v1/open/harvest", data=form, files=files).status_code == 401
    csrf = sign_in(client, "reader")  # a viewer of the same unit
    refused = client.post(
        "/api/v1/open/harvest", data=form, files=files, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 403
    assert session.scalar(select(func.count()).select_from(DataResource)) == 0
    csrf = sign_in(client, "bureausteward")
    h = {"X-CSRF-Token": csrf}
    done = client.post("/api/v1/open/harvest", data=form, files=files, headers=h)
    assert done.status_code == 200, done.text
    assert len(done.json()["created"]) == 1
    assert len(done.json()["refused"]) == 1
    bad = client.post("/api/v1/open/harvest", data=form, headers=h,
                      files={"file": ("x.ttl", b"@prefix broken", "text/turtle")})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "file"
    runs = client.get("/api/v1/open/harvest/runs").json()
    assert [r["origin"] for r in runs] == ["district.ttl"]


@pytest.fixture
def district_catalog() -> Iterator[str]:
    """A district's catalog served on this machine in two hydra pages."""
    first = FOREIGN.replace(
        "<https://data.example.gov/catalog> a dcat:Catalog",
        '<https://data.example.gov/view> a hydra:PartialCollectionView ; hydra:next "/page2.ttl" .\n'
        "<https://data.example.gov/catalog> a dcat:Catalog",
    )
    second = FOREIGN.replace("dataset/1>", "dataset/3>").replace("公交站点", "公共自行车站点")
    pages = {"/catalog.ttl": first.encode(), "/page2.ttl": second.encode()}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/turtle")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_source_is_harvested_from_its_address_page_by_page(
    session: Session, district_catalog: str
) -> None:
    people = catalog_people(session)
    source = harvest.add_source(session, people["bureausteward"], HarvestSourceCreate(
        name="某区公共数据目录", url=f"{district_catalog}/catalog.ttl", unit_code="fz.bigdata",
        classification="301001"))  # fmt: skip
    # the address is on this machine: refused unless the operator allows it
    with pytest.raises(CitybaseError):
        harvest.run_source(session, people["bureausteward"], source.id, OutboundPolicy())
    allowed = OutboundPolicy.parse("127.0.0.1")
    report = harvest.run_source(session, people["bureausteward"], source.id, allowed)
    assert report.pages == 2
    assert sorted(i.title for i in report.created) == ["公交站点", "公共自行车站点"]
    assert harvest.get_source(session, source.id).last_run_at is not None
    missing = harvest.add_source(session, people["bureausteward"], HarvestSourceCreate(
        name="另一目录", url=f"{district_catalog}/nothing.ttl", unit_code="fz.bigdata",
        classification="301001"))  # fmt: skip
    with pytest.raises(InvalidInput, match="HTTP 404"):
        harvest.run_source(session, people["bureausteward"], missing.id, allowed)


def test_the_console_page_harvests_a_file_for_a_steward_only(
    client: TestClient, session: Session, form_token: Callable[[], str]
) -> None:
    catalog_people(session)
    files = {"file": ("district.ttl", FOREIGN.encode(), "text/turtle")}
    csrf = sign_in(client, "reader")
    assert client.get("/console/open/harvest").status_code == 403
    csrf = sign_in(client, "bureausteward")
    page = client.get("/console/open/harvest", headers={"Accept-Language": "zh"})
    assert page.status_code == 200
    assert "外部目录采集" in page.text
    token = form_token()
    done = client.post(
        "/console/open/harvest", files=files,
        data={"csrf_token": csrf, "unit_code": "fz.bigdata", "classification": "301001",
              "form_token": token},
    )  # fmt: skip
    assert done.status_code == 200, done.text
    assert "公交站点" in done.text
    assert "信息项待补充" in done.text
    assert session.scalar(select(func.count()).select_from(DataResource)) == 1
    again = client.post(  # the same form sent twice: harvested once
        "/console/open/harvest", files=files, follow_redirects=False,
        data={"csrf_token": csrf, "unit_code": "fz.bigdata", "classification": "301001",
              "form_token": token},
    )  # fmt: skip
    assert again.status_code == 303
    assert session.scalar(select(func.count()).select_from(DataResource)) == 1
    other = client.post(
        "/console/open/harvest", files=files,
        data={"csrf_token": csrf, "unit_code": "fz.urban", "classification": "301001",
              "form_token": form_token()},
    )  # fmt: skip
    assert other.status_code == 403
    assert session.scalar(select(func.count()).select_from(DataResource)) == 1
