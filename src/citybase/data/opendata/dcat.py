"""The open catalog in DCAT-AP 3 (RDF), as Turtle, JSON-LD or RDF/XML, built with rdflib.

Each open dataset is a ``dcat:Dataset`` with its distributions (the CSV, JSON and XLSX files of
its rows; for conditionally open data, the page to apply from). Controlled values use the EU
vocabularies DCAT-AP names — frequency, file type, access right, language, data theme — by URI;
the catalog's own classification (its theme libraries) is kept beside the EU data themes as a
second SKOS concept scheme of its own, served at its URI. Publishers are typed agents (with the
ADMS publisher type), contact points vCard organisations, places ``dct:Location`` nodes. Every
URI minted here dereferences (``routes.py``): HTML for a browser, RDF by content negotiation.
Nothing is fetched; the JSON-LD context is written inline. A large catalog is paged (hydra).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD, Namespace

from citybase.data.opendata.schemas import OpenDataset
from citybase.data.opendata.service import theme_name

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
CSVW = Namespace("http://www.w3.org/ns/csvw#")

EU = "http://publications.europa.eu/resource/authority/"
DATA_THEME = URIRef(f"{EU}data-theme")
PUBLISHER_TYPE = "http://purl.org/adms/publishertype/"
FREQUENCY = {
    "realtime": "CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
    "quarterly": "QUARTERLY", "yearly": "ANNUAL", "irregular": "IRREG",
}  # fmt: skip
# the EU data themes a theme library belongs to, by the words of its name (any that match)
EU_THEMES: tuple[tuple[str, str], ...] = (
    ("交通|运输|出行|道路|公交|地铁|停车", "TRAN"),
    ("医疗|卫生|健康|医保|药品|疾控", "HEAL"),
    ("教育|学校|文化|旅游|体育", "EDUC"),
    ("养老|社保|就业|人口|民政|社区|住房|社会|婚姻", "SOCI"),
    ("环境|生态|气象|水利|污染|自然资源", "ENVI"),
    ("经济|市场|企业|财政|金融|商务|统计|税务", "ECON"),
    ("农业|农村|林业|渔业|粮食", "AGRI"),
    ("能源|电力|燃气", "ENER"),
    ("政务|政府|机构|行政", "GOVE"),
    ("应急|公安|司法|法律|安全|消防", "JUST"),
    ("城乡|城市|规划|区划|地理|地名|建设", "REGI"),
    ("科技|科学|技术|信息化", "TECH"),
    ("国际|外事|港澳台", "INTR"),
)
CONTEXT = {
    "dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "vcard": str(VCARD),
    "xsd": str(XSD), "skos": str(SKOS), "hydra": str(HYDRA), "locn": str(LOCN),
    "dcatap": str(DCATAP), "csvw": str(CSVW),
}  # fmt: skip
MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
# serialization name (rdflib) and media type, by the suffix of the address
FORMATS = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
    "xml": ("xml", "application/rdf+xml"),
}
DATASETS_PER_PAGE = 100  # as ckanext-dcat pages its catalog endpoint


def eu_themes(theme: str) -> list[str]:
    """The codes of the EU data themes a theme library's name falls under."""
    return [code for words, code in EU_THEMES if re.search(words, theme)]


def _zh(text: str) -> Literal:
    return Literal(text, lang="zh")


def _typed(graph: Graph, node: URIRef, *classes: URIRef) -> URIRef:
    """A value node with the classes DCAT-AP's range shapes expect of it (stated, so that a
    validator needs no inference from the vocabularies' own definitions)."""
    for cls in classes:
        graph.add((node, RDF.type, cls))
    return node


def _eu(graph: Graph, scheme: str, code: str, *classes: URIRef) -> URIRef:
    """A concept of an EU authority table, typed as DCAT-AP expects."""
    return _typed(graph, URIRef(f"{EU}{scheme}/{code}"), SKOS.Concept, *classes)


@dataclass
class Uris:
    """The URIs the catalog mints, under the platform's public address."""

    base: str
    places: dict[str, str] = field(default_factory=dict)  # region code -> name

    @property
    def catalog(self) -> URIRef:
        return URIRef(f"{self.base}/catalog")

    @property
    def themes(self) -> URIRef:
        return URIRef(f"{self.base}/open/themes")

    def theme(self, theme: str) -> URIRef:
        return URIRef(f"{self.base}/open/themes/{theme_name(theme)}")

    def agent(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/open/units/{quote(code)}")

    def contact(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/open/units/{quote(code)}#contact")

    def place(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/open/regions/{quote(code)}")

    def dataset(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/open/{quote(code)}")

    @property
    def licence(self) -> URIRef:
        return URIRef(f"{self.base}/open/licence")


def add_agent(
    graph: Graph, uris: Uris, code: str, name: str, kind: str = "LocalAuthority"
) -> URIRef:
    agent = uris.agent(code)
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, _zh(name)))
    graph.add((agent, DCTERMS.type, _typed(graph, URIRef(PUBLISHER_TYPE + kind), SKOS.Concept)))
    return agent


def add_contact(graph: Graph, uris: Uris, code: str, name: str) -> URIRef:
    contact = uris.contact(code)
    _typed(graph, contact, VCARD.Organization, VCARD.Kind)
    graph.add((contact, VCARD.fn, _zh(name)))
    graph.add((contact, VCARD.hasURL, URIRef(f"{uris.base}/open?unit={quote(code)}")))
    return contact


def add_place(graph: Graph, uris: Uris, code: str) -> URIRef:
    place = uris.place(code)
    graph.add((place, RDF.type, DCTERMS.Location))
    graph.add((place, DCTERMS.identifier, Literal(code)))
    name = uris.places.get(code)
    if name:
        graph.add((place, SKOS.prefLabel, _zh(name)))
        graph.add((place, LOCN.geographicName, _zh(name)))
    return place


def add_theme(graph: Graph, uris: Uris, theme: str) -> URIRef:
    """A theme library as a concept of the catalog's own scheme, matched to EU data themes."""
    concept = uris.theme(theme)
    graph.add((concept, RDF.type, SKOS.Concept))
    graph.add((concept, SKOS.prefLabel, _zh(theme)))
    graph.add((concept, SKOS.notation, Literal(theme_name(theme))))
    graph.add((concept, SKOS.inScheme, uris.themes))
    for code in eu_themes(theme):
        graph.add((concept, SKOS.closeMatch, URIRef(f"{EU}data-theme/{code}")))
    return concept


def add_scheme(graph: Graph, uris: Uris, themes: list[str]) -> URIRef:
    scheme = uris.themes
    graph.add((scheme, RDF.type, SKOS.ConceptScheme))
    graph.add((scheme, DCTERMS.title, _zh("主题库分类")))
    graph.add((scheme, SKOS.prefLabel, _zh("主题库分类")))
    for theme in themes:
        graph.add((scheme, SKOS.hasTopConcept, add_theme(graph, uris, theme)))
    return scheme


def _licence(graph: Graph, uris: Uris) -> URIRef:
    licence = uris.licence
    _typed(graph, licence, DCTERMS.LicenseDocument)
    graph.add((licence, DCTERMS.title, _zh("公共数据开放利用协议")))
    # the licence asks users to cite the providing unit and the portal
    attribution = URIRef("http://purl.org/adms/licencetype/Attribution")
    graph.add((licence, DCTERMS.type, _typed(graph, attribution, SKOS.Concept)))
    return licence


def add_dataset(graph: Graph, ds: OpenDataset, uris: Uris) -> URIRef:
    node = uris.dataset(ds.code)
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.identifier, Literal(ds.code)))
    graph.add((node, DCTERMS.title, _zh(ds.name)))
    graph.add((node, DCTERMS.description, _zh(ds.abstract)))
    graph.add((node, DCTERMS.publisher, add_agent(graph, uris, ds.unit_code, ds.unit_name)))
    graph.add((node, DCAT.contactPoint, add_contact(graph, uris, ds.unit_code, ds.unit_name)))
    for keyword in ds.keywords:
        graph.add((node, DCAT.keyword, _zh(keyword)))
    for theme in ds.themes:
        graph.add((node, DCAT.theme, add_theme(graph, uris, theme)))
        for code in eu_themes(theme):
            graph.add((node, DCAT.theme, _eu(graph, "data-theme", code)))
    graph.add((node, DCAT.landingPage, _typed(graph, node, FOAF.Document)))
    if ds.region_code:
        graph.add((node, DCTERMS.spatial, add_place(graph, uris, ds.region_code)))
    graph.add((node, DCTERMS.language, _eu(graph, "language", "ZHO", DCTERMS.LinguisticSystem)))
    frequency = FREQUENCY.get(ds.update_cycle, "UNKNOWN")
    graph.add((node, DCTERMS.accrualPeriodicity,
               _eu(graph, "frequency", frequency, DCTERMS.Frequency)))  # fmt: skip
    access = "PUBLIC" if ds.open_type == "unconditional" else "RESTRICTED"
    graph.add((node, DCTERMS.accessRights,
               _eu(graph, "access-right", access, DCTERMS.RightsStatement)))  # fmt: skip
    if ds.publish_date:
        graph.add((node, DCTERMS.issued, Literal(ds.publish_date, datatype=XSD.date)))
    graph.add((node, DCTERMS.modified, Literal(ds.updated_at.replace(microsecond=0),
                                               datatype=XSD.dateTime)))  # fmt: skip
    licence = _licence(graph, uris)
    for d in ds.distributions:
        dist = URIRef(f"{node}#{d.format.lower()}")
        graph.add((node, DCAT.distribution, dist))
        graph.add((dist, RDF.type, DCAT.Distribution))
        graph.add((dist, DCTERMS.title, _zh(f"{ds.name}（{d.format}）")))
        description = f"{ds.name}的全部数据行，{d.format} 格式。" + (
            "" if d.downloadable else f"有条件开放：{ds.open_condition}，经申请批准后下载。"
        )
        graph.add((dist, DCTERMS.description, _zh(description)))
        graph.add((dist, DCAT.accessURL, URIRef(d.url)))
        if d.downloadable:
            graph.add((dist, DCAT.downloadURL, URIRef(d.url)))
        graph.add((dist, DCTERMS.format,
                   _eu(graph, "file-type", d.format, DCTERMS.MediaTypeOrExtent)))  # fmt: skip
        media_type = URIRef(MEDIA_TYPES + d.media_type)
        graph.add((dist, DCAT.mediaType, _typed(graph, media_type, DCTERMS.MediaType)))
        graph.add((dist, DCTERMS.license, licence))
        graph.add((dist, DCATAP.availability, _eu(graph, "planned-availability", "STABLE")))
        graph.add((dist, DCTERMS.modified, Literal(ds.updated_at.replace(microsecond=0),
                                                   datatype=XSD.dateTime)))  # fmt: skip
        if d.format == "CSV" and ds.items:
            graph.add((dist, CSVW.tableSchema, _table_schema(graph, ds, node)))
    return node


# the catalog's data types as XML Schema's, for the columns of a CSV distribution
XSD_TYPES = {"string": XSD.string, "integer": XSD.integer, "decimal": XSD.decimal,
             "date": XSD.date, "datetime": XSD.dateTime, "boolean": XSD.boolean,
             "binary": XSD.base64Binary}  # fmt: skip


def _table_schema(graph: Graph, ds: OpenDataset, node: URIRef) -> URIRef:
    """The CSV file's columns (CSV on the Web): a harvester reading this catalog learns the
    data items, not only the dataset's title."""
    schema = URIRef(f"{node}#columns")
    graph.add((schema, RDF.type, CSVW.Schema))
    columns: list[URIRef] = []
    for number, (name, data_type, meaning) in enumerate(ds.items, start=1):
        column = URIRef(f"{node}#column-{number}")
        columns.append(column)
        graph.add((column, RDF.type, CSVW.Column))
        graph.add((column, CSVW.name, Literal(name)))
        graph.add((column, CSVW.datatype, XSD_TYPES.get(data_type, XSD.string)))
        if meaning:
            graph.add((column, DCTERMS.description, _zh(meaning)))
    head = BNode()  # the columns in their order, as CSV on the Web lists them
    Collection(graph, head, list(columns))
    graph.add((schema, CSVW.column, head))
    return schema


@dataclass
class Page:
    """Which slice of a large catalog this document holds."""

    number: int
    total: int
    size: int = DATASETS_PER_PAGE

    @property
    def last(self) -> int:
        return max((self.total + self.size - 1) // self.size, 1)


def catalog_graph(
    datasets: list[OpenDataset],
    uris: Uris,
    *,
    title: str,
    publisher: tuple[str, str],
    themes: list[str] | None = None,
    page: Page | None = None,
    suffix: str = "ttl",
    modified: datetime | None = None,
) -> Graph:
    """The catalog with the given datasets (one page of them, when paged)."""
    graph = _graph()
    node = uris.catalog
    graph.add((node, RDF.type, DCAT.Catalog))
    graph.add((node, DCTERMS.title, _zh(title)))
    graph.add(
        (node, DCTERMS.description, _zh(f"{title}：已发布的无条件开放和有条件开放公共数据资源。"))
    )
    graph.add((node, DCTERMS.publisher, add_agent(graph, uris, *publisher)))
    graph.add((node, DCAT.contactPoint, add_contact(graph, uris, *publisher)))
    graph.add((node, FOAF.homepage, _typed(graph, URIRef(f"{uris.base}/open"), FOAF.Document)))
    graph.add((node, DCTERMS.language, _eu(graph, "language", "ZHO", DCTERMS.LinguisticSystem)))
    graph.add((node, DCTERMS.license, _licence(graph, uris)))
    graph.add((node, DCTERMS.spatial, add_place(graph, uris, publisher[0])))
    graph.add((node, DCAT.themeTaxonomy, DATA_THEME))
    graph.add((DATA_THEME, RDF.type, SKOS.ConceptScheme))
    graph.add((DATA_THEME, DCTERMS.title, Literal("Data theme", lang="en")))
    graph.add((node, DCAT.themeTaxonomy, add_scheme(graph, uris, themes or [])))
    # the whole catalog's last change, the same on every page of it
    latest = modified or max((d.updated_at for d in datasets), default=datetime.now(UTC))
    graph.add((node, DCTERMS.modified, Literal(latest.replace(microsecond=0),
                                               datatype=XSD.dateTime)))  # fmt: skip
    for ds in datasets:
        graph.add((node, DCAT.dataset, add_dataset(graph, ds, uris)))
    if page is not None and page.total > page.size:
        _paging(graph, uris, page, suffix)
    return graph


def _paging(graph: Graph, uris: Uris, page: Page, suffix: str) -> None:
    """Hydra's partial-collection view, as ckanext-dcat writes it: first, last, previous and
    next pages of the catalog document, and how many datasets there are in all."""
    address = f"{uris.base}/catalog.{suffix}"
    view = URIRef(f"{address}?page={page.number}")
    graph.add((view, RDF.type, HYDRA.PartialCollectionView))
    graph.add((view, HYDRA.totalItems, Literal(page.total, datatype=XSD.integer)))
    graph.add((view, HYDRA.itemsPerPage, Literal(page.size, datatype=XSD.integer)))
    graph.add((view, HYDRA.first, Literal(f"{address}?page=1")))
    graph.add((view, HYDRA.last, Literal(f"{address}?page={page.last}")))
    if page.number > 1:
        graph.add((view, HYDRA.previous, Literal(f"{address}?page={page.number - 1}")))
    if page.number < page.last:
        graph.add((view, HYDRA.next, Literal(f"{address}?page={page.number + 1}")))


def dataset_graph(ds: OpenDataset, uris: Uris) -> Graph:
    graph = _graph()
    add_dataset(graph, ds, uris)
    return graph


def scheme_graph(uris: Uris, themes: list[str]) -> Graph:
    """The catalog's own theme scheme with every concept in it."""
    graph = _graph()
    add_scheme(graph, uris, themes)
    return graph


def theme_graph(uris: Uris, theme: str) -> Graph:
    graph = _graph()
    add_theme(graph, uris, theme)
    graph.add((uris.themes, RDF.type, SKOS.ConceptScheme))
    graph.add((uris.themes, SKOS.prefLabel, _zh("主题库分类")))
    return graph


def agent_graph(uris: Uris, code: str, name: str, kind: str = "LocalAuthority") -> Graph:
    graph = _graph()
    add_agent(graph, uris, code, name, kind)
    add_contact(graph, uris, code, name)
    return graph


def place_graph(uris: Uris, code: str) -> Graph:
    graph = _graph()
    add_place(graph, uris, code)
    return graph


def licence_graph(uris: Uris) -> Graph:
    graph = _graph()
    _licence(graph, uris)
    return graph


def _graph() -> Graph:
    graph = Graph()
    for prefix, namespace in CONTEXT.items():
        graph.bind(prefix, namespace)
    return graph


def serialize(graph: Graph, fmt: str) -> bytes:
    """``turtle``, ``json-ld`` (with the context inline) or ``xml`` (RDF/XML). RDF/XML is
    written flat, a description per subject: rdflib's nesting writer (``pretty-xml``) drops a
    list item's own statements when the list is met before the item (the columns of a table
    schema), depending on the graph's order."""
    if fmt == "json-ld":
        return graph.serialize(format="json-ld", context=CONTEXT, auto_compact=True).encode()
    if fmt == "xml":
        return graph.serialize(format="xml", encoding="utf-8")
    return graph.serialize(format="turtle").encode()


RDF_MEDIA = {
    "text/turtle": "ttl", "application/x-turtle": "ttl", "application/ld+json": "jsonld",
    "application/rdf+xml": "rdf", "application/xml": "rdf", "text/xml": "rdf",
}  # fmt: skip


def negotiate(accept: str) -> str | None:
    """The RDF suffix a request's ``Accept`` asks for, by preference; ``None`` when it prefers
    HTML (a browser) or names no RDF type."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        kind = pieces[0].lower()
        quality = 1.0
        for p in pieces[1:]:
            if p.startswith("q="):
                try:
                    quality = float(p[2:])
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, n, kind))
    for _, _, kind in sorted(ranked):
        if kind in ("text/html", "application/xhtml+xml"):
            return None
        if kind in RDF_MEDIA:
            return RDF_MEDIA[kind]
    return None
