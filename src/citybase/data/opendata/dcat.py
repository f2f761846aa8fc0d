"""The open catalog in DCAT-AP (RDF), as Turtle or JSON-LD, built with rdflib.

Each open dataset is a ``dcat:Dataset`` with its distributions (the CSV, JSON and XLSX files of
its rows; for conditionally open data, the page to apply from). Controlled values use the EU
vocabularies DCAT-AP names — frequency, file type, access right, language — by URI; nothing is
fetched, and the JSON-LD context is written inline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD, Namespace

from citybase.data.opendata.schemas import OpenDataset

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")

EU = "http://publications.europa.eu/resource/authority/"
FREQUENCY = {
    "realtime": "CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
    "quarterly": "QUARTERLY", "yearly": "ANNUAL", "irregular": "IRREG",
}  # fmt: skip
CONTEXT = {
    "dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "vcard": str(VCARD),
    "xsd": str(XSD),
}  # fmt: skip
MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"


def _zh(text: str) -> Literal:
    return Literal(text, lang="zh")


def _agent(graph: Graph, base_url: str, code: str, name: str) -> URIRef:
    agent = URIRef(f"{base_url}/open/units/{quote(code)}")
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, _zh(name)))
    return agent


def _licence(graph: Graph, base_url: str) -> URIRef:
    licence = URIRef(f"{base_url}/open/licence")
    graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
    graph.add((licence, DCTERMS.title, _zh("公共数据开放利用协议")))
    return licence


def add_dataset(graph: Graph, ds: OpenDataset, base_url: str) -> URIRef:
    node = URIRef(f"{base_url}/open/{ds.code}")
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.identifier, Literal(ds.code)))
    graph.add((node, DCTERMS.title, _zh(ds.name)))
    graph.add((node, DCTERMS.description, _zh(ds.abstract)))
    graph.add((node, DCTERMS.publisher, _agent(graph, base_url, ds.unit_code, ds.unit_name)))
    contact = URIRef(f"{base_url}/open/units/{quote(ds.unit_code)}#contact")
    graph.add((contact, RDF.type, VCARD.Organization))
    graph.add((contact, VCARD.fn, _zh(ds.unit_name)))
    graph.add((node, DCAT.contactPoint, contact))
    for keyword in ds.keywords:
        graph.add((node, DCAT.keyword, _zh(keyword)))
    for theme in ds.themes:
        graph.add((node, DCAT.theme, URIRef(f"{base_url}/open/themes/{quote(theme)}")))
    graph.add((node, DCAT.landingPage, node))
    graph.add((node, DCTERMS.spatial, URIRef(f"{base_url}/open/regions/{ds.region_code}")))
    graph.add((node, DCTERMS.language, URIRef(f"{EU}language/ZHO")))
    graph.add((node, DCTERMS.accrualPeriodicity,
               URIRef(f"{EU}frequency/{FREQUENCY.get(ds.update_cycle, 'UNKNOWN')}")))  # fmt: skip
    access = "PUBLIC" if ds.open_type == "unconditional" else "RESTRICTED"
    graph.add((node, DCTERMS.accessRights, URIRef(f"{EU}access-right/{access}")))
    if ds.publish_date:
        graph.add((node, DCTERMS.issued, Literal(ds.publish_date, datatype=XSD.date)))
    graph.add((node, DCTERMS.modified, Literal(ds.updated_at.replace(microsecond=0),
                                               datatype=XSD.dateTime)))  # fmt: skip
    licence = _licence(graph, base_url)
    for d in ds.distributions:
        dist = URIRef(f"{base_url}/open/{ds.code}#{d.format.lower()}")
        graph.add((node, DCAT.distribution, dist))
        graph.add((dist, RDF.type, DCAT.Distribution))
        graph.add((dist, DCTERMS.title, _zh(f"{ds.name}（{d.format}）")))
        graph.add((dist, DCAT.accessURL, URIRef(d.url)))
        if d.downloadable:
            graph.add((dist, DCAT.downloadURL, URIRef(d.url)))
        graph.add((dist, DCTERMS.format, URIRef(f"{EU}file-type/{d.format}")))
        graph.add((dist, DCAT.mediaType, URIRef(MEDIA_TYPES + d.media_type)))
        graph.add((dist, DCTERMS.license, licence))
    return node


def catalog_graph(
    datasets: list[OpenDataset], base_url: str, *, title: str, publisher: tuple[str, str]
) -> Graph:
    graph = _graph()
    node = URIRef(f"{base_url}/catalog")
    graph.add((node, RDF.type, DCAT.Catalog))
    graph.add((node, DCTERMS.title, _zh(title)))
    graph.add(
        (node, DCTERMS.description, _zh(f"{title}：已发布的无条件开放和有条件开放公共数据资源。"))
    )
    graph.add((node, DCTERMS.publisher, _agent(graph, base_url, *publisher)))
    graph.add((node, FOAF.homepage, URIRef(f"{base_url}/open")))
    graph.add((node, DCTERMS.language, URIRef(f"{EU}language/ZHO")))
    graph.add((node, DCTERMS.modified, Literal(
        max((d.updated_at for d in datasets), default=datetime.now(UTC)).replace(microsecond=0),
        datatype=XSD.dateTime)))  # fmt: skip
    for ds in datasets:
        graph.add((node, DCAT.dataset, add_dataset(graph, ds, base_url)))
    return graph


def dataset_graph(ds: OpenDataset, base_url: str) -> Graph:
    graph = _graph()
    add_dataset(graph, ds, base_url)
    return graph


def _graph() -> Graph:
    graph = Graph()
    for prefix, namespace in CONTEXT.items():
        graph.bind(prefix, namespace)
    return graph


def serialize(graph: Graph, fmt: str) -> bytes:
    """``turtle`` or ``json-ld`` (with the context inline)."""
    if fmt == "json-ld":
        return graph.serialize(format="json-ld", context=CONTEXT, auto_compact=True).encode()
    return graph.serialize(format="turtle").encode()
