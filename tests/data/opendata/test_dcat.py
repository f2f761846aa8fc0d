"""The DCAT-AP 3 catalog: its serializations, its paging, its URIs dereferenced, and the
official DCAT-AP 3 SHACL shapes (when a copy of them is on the machine)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pyshacl
import pytest
from fastapi.testclient import TestClient
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCAT, DCTERMS, RDF, SKOS, XSD
from sqlalchemy.orm import Session

from citybase.data.opendata import dcat
from tests.data.catalog.factories import catalog_people, make_published
from tests.data.opendata.factories import ITEMS, open_datasets

SH = Namespace("http://www.w3.org/ns/shacl#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
VOCABULARIES = Path(__file__).with_name("eu_vocabularies.ttl")
# the official DCAT-AP 3.0.0 shapes, shipped as test data with their licence (CC BY 4.0, see the
# folder's README); CITYBASE_DCAT_AP_SHAPES may point at another copy of SEMICeu/DCAT-AP's
# releases/<version>/html/shacl/
OFFICIAL = os.environ.get("CITYBASE_DCAT_AP_SHAPES") or str(
    Path(__file__).with_name("dcat-ap-3.0.0")
)
EU_THEME = "http://publications.europa.eu/resource/authority/data-theme/"


def test_every_serialization_holds_the_same_graph(client: TestClient, session: Session) -> None:
    open_datasets(session, catalog_people(session))
    graphs = {}
    for suffix, (parse_as, media_type) in {"ttl": ("turtle", "text/turtle"),
                                            "jsonld": ("json-ld", "application/ld+json"),
                                            "rdf": ("xml", "application/rdf+xml"),
                                            "xml": ("xml", "application/rdf+xml")}.items():  # fmt: skip
        answer = client.get(f"/catalog.{suffix}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(media_type)
        graphs[suffix] = Graph().parse(data=answer.content, format=parse_as)
    sizes = {len(g) for g in graphs.values()}
    assert len(sizes) == 1, sizes
    assert client.get("/catalog.csv").status_code == 404


def test_themes_are_eu_data_themes_and_the_catalogs_own_scheme(
    client: TestClient, session: Session
) -> None:
    made = open_datasets(session, catalog_people(session))
    graph = Graph().parse(data=client.get("/catalog.ttl").content, format="turtle")
    dataset = URIRef(f"http://testserver/open/{made['open'].code}")
    themes = set(graph.objects(dataset, DCAT.theme))
    local = URIRef("http://testserver/open/themes/jiaotongyunshu")
    assert themes == {URIRef(EU_THEME + "TRAN"), local}
    assert (local, RDF.type, SKOS.Concept) in graph
    assert (local, SKOS.inScheme, URIRef("http://testserver/open/themes")) in graph
    assert (local, SKOS.closeMatch, URIRef(EU_THEME + "TRAN")) in graph
    taxonomies = set(graph.objects(URIRef("http://testserver/catalog"), DCAT.themeTaxonomy))
    assert taxonomies == {URIRef(EU_THEME[:-1]), URIRef("http://testserver/open/themes")}
    assert (URIRef("http://testserver/open/themes"), RDF.type, SKOS.ConceptScheme) in graph
    for node in graph.objects(dataset, DCTERMS.publisher):
        assert (node, DCTERMS.type, None) in graph
    for node in graph.objects(dataset, DCTERMS.spatial):
        assert (node, RDF.type, DCTERMS.Location) in graph
    assert dcat.eu_themes("医疗健康") == ["HEAL"]
    assert dcat.eu_themes("教育养老") == ["EDUC", "SOCI"]
    assert dcat.eu_themes("其他") == []


def test_every_minted_uri_dereferences(client: TestClient, session: Session) -> None:
    made = open_datasets(session, catalog_people(session))
    graph = Graph().parse(data=client.get("/catalog.ttl").content, format="turtle")
    minted = {str(n).split("#")[0] for n in set(graph.subjects()) | set(graph.objects())
              if isinstance(n, URIRef) and str(n).startswith("http://testserver/")}  # fmt: skip
    # resources, not the pages and files they point to (downloads, forms, search pages)
    minted = {u for u in minted
              if "/download." not in u and not u.endswith("/apply") and "?" not in u}  # fmt: skip
    assert {f"http://testserver/open/{made['open'].code}", "http://testserver/catalog",
            "http://testserver/open/themes", "http://testserver/open/licence"} <= minted  # fmt: skip
    for uri in sorted(minted):
        path = uri.removeprefix("http://testserver")
        rdf = client.get(path, headers={"Accept": "text/turtle"})
        assert rdf.status_code == 200, (path, rdf.text[:200])
        assert rdf.headers["content-type"].startswith("text/turtle"), path
        described = Graph().parse(data=rdf.content, format="turtle")
        assert (URIRef(uri), None, None) in described, path
        page = client.get(path, headers={"Accept": "text/html"}, follow_redirects=True)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
    as_jsonld = client.get(f"/open/{made['open'].code}", headers={"Accept": "application/ld+json"})
    assert as_jsonld.headers["content-type"].startswith("application/ld+json")
    refused = client.get("/catalog", headers={"Accept": "application/pdf"})
    assert refused.status_code == 406
    assert refused.json()["error"]["field"] == "accept"
    for missing in ("/open/themes/nothing", "/open/units/nobody", "/open/regions/999999"):
        assert client.get(missing, headers={"Accept": "text/turtle"}).status_code == 404
    # a unit that publishes nothing open is not described
    assert client.get("/open/units/fz.health", headers={"Accept": "text/turtle"}).status_code == 404


def test_a_large_catalog_is_paged(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = catalog_people(session)
    open_datasets(session, people)
    make_published(session, people, name="公厕分布", items=ITEMS, open_type="unconditional")
    monkeypatch.setattr(dcat, "DATASETS_PER_PAGE", 2)
    seen: set[str] = set()
    page, pages = 1, 0
    while True:
        graph = Graph().parse(data=client.get(f"/catalog.ttl?page={page}").content, format="turtle")
        seen |= {str(d) for d in graph.subjects(RDF.type, DCAT.Dataset)}
        pages += 1
        view = URIRef(f"http://testserver/catalog.ttl?page={page}")
        assert int(graph.value(view, HYDRA.totalItems)) == 3
        following = graph.value(view, HYDRA.next)
        if following is None:
            break
        page += 1
    assert (pages, len(seen)) == (2, 3)
    assert client.get("/catalog.ttl?page=3").status_code == 404
    assert client.get("/catalog.ttl?page=0").status_code == 422


def _official_shapes() -> Graph:
    folder = Path(OFFICIAL)
    shapes = Graph()
    for name in ("shapes.ttl", "range.ttl", "shapes_recommended.ttl", "mdr-vocabularies.shape.ttl"):
        shapes.parse(folder / name, format="turtle")
    return shapes


@pytest.mark.skipif(not OFFICIAL, reason="CITYBASE_DCAT_AP_SHAPES names no copy of the shapes")
def test_the_official_dcat_ap_3_shapes_find_no_violation(
    client: TestClient, session: Session
) -> None:
    """The official DCAT-AP 3.0.0 shapes (mandatory, recommended, ranges, controlled
    vocabularies) with the EU vocabulary concepts the export uses: no violation (warnings
    remain where the catalog does not hold the fact: docs/conformance.md)."""
    open_datasets(session, catalog_people(session))
    shapes = _official_shapes()
    for suffix, parse_as in (("ttl", "turtle"), ("jsonld", "json-ld"), ("rdf", "xml")):
        data = Graph().parse(data=client.get(f"/catalog.{suffix}").content, format=parse_as)
        data.parse(VOCABULARIES, format="turtle")
        conforms, report, text = pyshacl.validate(data, shacl_graph=shapes, inference="none",
                                                  allow_warnings=True)  # fmt: skip
        violations = [r for r in report.objects(None, SH.result)
                      if report.value(r, SH.resultSeverity) == SH.Violation]  # fmt: skip
        assert conforms, text
        assert violations == []
    # and the shapes do bite: a dataset without its description is a violation
    broken = Graph().parse(data=client.get("/catalog.ttl").content, format="turtle")
    broken.remove((None, DCTERMS.description, None))
    assert not pyshacl.validate(broken, shacl_graph=shapes, inference="none",
                                allow_warnings=True)[0]  # fmt: skip


def test_rdf_xml_keeps_every_statement_of_a_listed_column_whatever_the_order() -> None:
    """A table schema's columns are a list whose items have statements of their own; RDF/XML
    must keep them all, in whatever order the graph holds its statements."""
    csvw = Namespace("http://www.w3.org/ns/csvw#")
    for seed in range(40):
        rng = random.Random(seed)
        graph, statements = Graph(), []
        for d in range(3):
            schema = URIRef(f"https://example.org/dataset/{d}#columns")
            columns = [URIRef(f"{schema}-{n}") for n in range(4)]
            statements += [(schema, RDF.type, csvw.Schema)]
            for n, column in enumerate(columns):
                statements += [(column, RDF.type, csvw.Column), (column, csvw.name, Literal(f"项{n}")),
                               (column, csvw.datatype, XSD.string)]  # fmt: skip
            rng.shuffle(statements)
            for statement in statements:
                graph.add(statement)
            head = BNode()
            Collection(graph, head, columns)
            graph.add((schema, csvw.column, head))
        back = Graph().parse(data=dcat.serialize(graph, "xml"), format="xml")
        assert len(back) == len(graph), seed
