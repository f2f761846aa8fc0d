"""Harvesting another catalog into this one (采集): a district's or a province's DCAT-AP catalog
— Turtle, JSON-LD or RDF/XML, from a file or from its address, following its hydra pages — read
with rdflib, each ``dcat:Dataset`` registered as a draft resource of the unit the source names.

What DCAT-AP says is mapped to what the catalog keeps: title and description (Chinese first),
keywords, the frequency and access-right concepts of the EU vocabularies, the file types of the
distributions, themes of the source's own scheme by their labels, and the data items where a
distribution describes its columns (CSV on the Web's ``csvw:tableSchema``, as this catalog's own
export does). A dataset whose columns are not described gets one placeholder item, and the
catalog refuses to submit it until its unit has described them. A dataset harvested before is
found again by its URI: changed at the source (``dct:modified``) it updates the draft, unchanged
it is left alone; a resource past its draft is never changed by a harvest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from pydantic import ValidationError
from rdflib import Graph, Literal, Node, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCAT, DCTERMS, RDF, SKOS, Namespace
from sqlalchemy.orm import Session

from citybase.core import net
from citybase.core.errors import CitybaseError, Conflict, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceCreate, ResourceRead, ResourceUpdate
from citybase.data.opendata import repository
from citybase.data.opendata.models import HarvestedDataset, HarvestRun, HarvestSource
from citybase.data.opendata.schemas import (
    HarvestItem,
    HarvestReport,
    HarvestRunRead,
    HarvestSourceCreate,
    HarvestSourceRead,
)

CSVW = Namespace("http://www.w3.org/ns/csvw#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
EU = "http://publications.europa.eu/resource/authority/"
XSD = "http://www.w3.org/2001/XMLSchema#"

# the placeholder item of a dataset whose columns the source does not describe
PLACEHOLDER_ITEM = "待补充信息项"
PLACEHOLDER_MEANING = "采集自外部目录，来源未描述其信息项：提交前由提供单位补充。"

FREQUENCY = {
    "CONT": "realtime", "UPDATE_CONT": "realtime", "CONTINUOUS": "realtime",
    "DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly", "QUARTERLY": "quarterly",
    "ANNUAL": "yearly",
}  # fmt: skip
ACCESS = {"PUBLIC": "unconditional", "RESTRICTED": "conditional", "NON_PUBLIC": "none"}
SPREADSHEET = {"CSV", "TSV", "XLS", "XLSX", "ODS"}
DOCUMENT = {"PDF", "DOC", "DOCX", "TXT", "HTML", "ODT", "RTF"}
IMAGE = {"JPEG", "PNG", "TIFF", "GEOTIFF", "GIF", "WEBP"}
SERVICE = {"JSON", "XML", "GEOJSON", "JSON_LD", "RDF_XML", "TURTLE"}
DATA_TYPES = {
    "string": "string", "normalizedString": "string", "token": "string", "anyURI": "string",
    "integer": "integer", "int": "integer", "long": "integer", "short": "integer",
    "nonNegativeInteger": "integer", "positiveInteger": "integer",
    "decimal": "decimal", "double": "decimal", "float": "decimal", "number": "decimal",
    "date": "date", "dateTime": "datetime", "datetime": "datetime", "dateTimeStamp": "datetime",
    "boolean": "boolean", "base64Binary": "binary", "hexBinary": "binary", "binary": "binary",
}  # fmt: skip
PARSERS = {"ttl": "turtle", "turtle": "turtle", "jsonld": "json-ld", "json": "json-ld",
           "rdf": "xml", "xml": "xml", "owl": "xml"}  # fmt: skip
MEDIA = {"text/turtle": "turtle", "application/x-turtle": "turtle",
         "application/ld+json": "json-ld", "application/json": "json-ld",
         "application/rdf+xml": "xml", "application/xml": "xml", "text/xml": "xml"}  # fmt: skip
MAX_PAGES = 1000  # a catalog paged further than this is refused, not followed for ever


@dataclass
class Candidate:
    """One dataset of the harvested catalog, as the draft it would become (or why not)."""

    uri: str
    title: str
    modified: str
    data: ResourceCreate | None = None
    problems: list[str] = field(default_factory=list)
    placeholder: bool = False


@dataclass
class Parsed:
    graph: Graph
    next_page: str | None


def parser_for(name: str, content_type: str = "") -> str:
    """rdflib's parser for a file name or a content type (Turtle when neither says)."""
    media = content_type.split(";")[0].strip().lower()
    if media in MEDIA:
        return MEDIA[media]
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return PARSERS.get(suffix, "turtle")


def parse(content: bytes, fmt: str, base: str = "") -> Parsed:
    """A catalog document as a graph, with the address of its next page if it is paged. Only
    the document is read: nothing it names is fetched (no remote JSON-LD context either)."""
    graph = Graph()
    try:
        if fmt == "json-ld":
            _no_remote_context(content)
        graph.parse(data=content, format=fmt, publicID=base or None)
    except CitybaseError:
        raise
    except Exception as exc:  # rdflib raises many kinds; each means the same to the importer
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"not a readable {fmt} document: {first}", field="file") from exc
    if not any(graph.subjects(RDF.type, DCAT.Dataset)) and not any(
        graph.subjects(RDF.type, DCAT.Catalog)
    ):
        raise InvalidInput("the document holds no dcat:Catalog and no dcat:Dataset", field="file")
    next_page = None
    for view in graph.subjects(RDF.type, HYDRA.PartialCollectionView):
        value = graph.value(view, HYDRA.next) or graph.value(view, HYDRA.nextPage)
        if value is not None:
            next_page = urljoin(base, str(value))
    return Parsed(graph, next_page)


def _no_remote_context(content: bytes) -> None:
    """Refuse a JSON-LD document whose context is an address: it would be fetched."""
    try:
        document = json.loads(content)
    except ValueError as exc:
        raise InvalidInput(f"not JSON: {exc}", field="file") from exc
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            context = node.get("@context")
            for part in context if isinstance(context, list) else [context]:
                if isinstance(part, str):
                    raise InvalidInput(
                        f"the JSON-LD context {part} is an address, and nothing is fetched"
                        " here: give the document with its context inline",
                        field="file",
                    )
            stack.extend(v for k, v in node.items() if k != "@context")


def _text(graph: Graph, node: Node, predicate: URIRef) -> str:
    """A literal's text, Chinese first, then one without a language, then any."""
    values = [v for v in graph.objects(node, predicate) if isinstance(v, Literal)]
    for wanted in ("zh", "zh-cn", "zh-hans", None):
        for v in values:
            if (v.language or None) == wanted or (
                wanted and v.language and v.language.lower() == wanted
            ):
                return str(v).strip()
    return str(values[0]).strip() if values else ""


def _code(node: Node | None, scheme: str) -> str:
    """The code of an EU authority-table concept (``…/frequency/DAILY`` → ``DAILY``)."""
    text = str(node or "")
    prefix = f"{EU}{scheme}/"
    return text[len(prefix) :] if text.startswith(prefix) else ""


def _format(graph: Graph, dataset: Node) -> str:
    kinds: set[str] = set()
    service = False
    for dist in graph.objects(dataset, DCAT.distribution):
        for predicate in (DCTERMS.format, DCAT.mediaType):
            for value in graph.objects(dist, predicate):
                text = str(value).rstrip("/")
                kinds.add(text.rsplit("/", 1)[-1].upper().replace("-", "_"))
        if graph.value(dist, DCAT.accessService) is not None:
            service = True
    if kinds & SPREADSHEET:
        return "spreadsheet"
    if service or kinds & SERVICE:
        return "api"
    if kinds & IMAGE:
        return "image"
    return "document"


def _items(graph: Graph, dataset: Node) -> list[dict[str, Any]]:
    """The data items described on any of the dataset's distributions (CSV on the Web)."""
    for dist in graph.objects(dataset, DCAT.distribution):
        schema = graph.value(dist, CSVW.tableSchema)
        if schema is None:
            continue
        columns: list[Node] = []
        for value in graph.objects(schema, CSVW.column):
            if graph.value(value, RDF.first) is not None or value == RDF.nil:
                columns.extend(Collection(graph, value))  # an ordered list, as CSVW writes it
            else:
                columns.append(value)
        if columns:
            items = []
            for column in columns:
                name = _text(graph, column, CSVW.name) or _text(graph, column, CSVW.titles)
                datatype = str(graph.value(column, CSVW.datatype) or f"{XSD}string")
                local = datatype.removeprefix(XSD).rsplit("#", 1)[-1]
                items.append(
                    {
                        "name": name,
                        "data_type": DATA_TYPES.get(local, "string"),
                        "meaning": _text(graph, column, DCTERMS.description)
                        or _text(graph, column, CSVW.titles),
                    }
                )
            return items
    return []


def _themes(graph: Graph, dataset: Node) -> list[str]:
    """The dataset's themes of the source's own scheme, by their labels (the EU data themes are
    the source's mapping, not a theme library of this catalog)."""
    labels = []
    for theme in graph.objects(dataset, DCAT.theme):
        if str(theme).startswith(f"{EU}data-theme/"):
            continue
        label = _text(graph, theme, SKOS.prefLabel)
        if label and label not in labels:
            labels.append(label)
    return labels


def candidates(graph: Graph, *, unit_code: str, classification: str) -> list[Candidate]:
    """Every dataset of the graph as the draft it would become, with its problems."""
    found: list[Candidate] = []
    for dataset in sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str):
        title = _text(graph, dataset, DCTERMS.title)
        modified = str(graph.value(dataset, DCTERMS.modified) or "")[:40]
        candidate = Candidate(uri=str(dataset), title=title, modified=modified)
        found.append(candidate)
        access = ACCESS.get(_code(graph.value(dataset, DCTERMS.accessRights), "access-right"))
        frequency = _code(graph.value(dataset, DCTERMS.accrualPeriodicity), "frequency")
        items = _items(graph, dataset)
        if not items:
            candidate.placeholder = True
            items = [
                {"name": PLACEHOLDER_ITEM, "data_type": "string", "meaning": PLACEHOLDER_MEANING}
            ]
        rights = _text(graph, graph.value(dataset, DCTERMS.accessRights) or dataset, RDFS_LABEL)
        data = {
            "name": title[:200],
            "abstract": _text(graph, dataset, DCTERMS.description)[:4000],
            "format": _format(graph, dataset),
            "share_type": "unconditional",
            "open_type": access or "unconditional",
            "open_condition": (rights or "按来源目录所列条件申请")
            if access == "conditional"
            else "",
            "update_cycle": FREQUENCY.get(frequency, "irregular"),
            "keywords": sorted(
                {str(k).strip() for k in graph.objects(dataset, DCAT.keyword) if str(k).strip()}
            )[:30],
            "theme_tags": _themes(graph, dataset),
            "items": items,
            "classification": classification,
            "provider_unit_code": unit_code,
        }
        try:
            candidate.data = ResourceCreate.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"]) or "dataset"
                candidate.problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return found


RDFS_LABEL = URIRef("http://www.w3.org/2000/01/rdf-schema#label")


# --- running a harvest ------------------------------------------------------------------------

ACCEPT = "text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8"


def fetch_pages(url: str, policy: net.OutboundPolicy) -> list[Parsed]:
    """Every page of the catalog at ``url`` (its hydra ``next`` followed), through the policy
    on outbound calls."""
    pages: list[Parsed] = []
    seen: set[str] = set()
    address: str | None = url
    while address is not None:
        if address in seen or len(pages) >= MAX_PAGES:
            raise InvalidInput(f"the catalog's pages do not end (at {address})", field="url")
        seen.add(address)
        try:
            answer = net.get(address, {"Accept": ACCEPT}, policy)
        except OSError as exc:
            raise InvalidInput(f"{address} cannot be reached: {exc}", field="url") from exc
        if answer.status != 200:
            raise InvalidInput(f"{address} answered HTTP {answer.status}", field="url")
        page = parse(answer.body, parser_for(address, answer.content_type), address)
        pages.append(page)
        address = page.next_page
    return pages


def _same(current: ResourceRead, data: ResourceCreate) -> bool:
    keys = ("name", "abstract", "format", "open_type", "open_condition", "update_cycle",
            "keywords", "theme_tags")  # fmt: skip
    now = current.model_dump(mode="json")
    new = data.model_dump(mode="json")
    items = [(i["name"], i["data_type"], i["meaning"]) for i in now["items"]]
    return all(now[k] == new[k] for k in keys) and items == [
        (i["name"], i["data_type"], i["meaning"]) for i in new["items"]
    ]


def _apply(
    session: Session, principal: Principal, found: Candidate, report: HarvestReport,
    source_id: int | None,
) -> None:  # fmt: skip
    item = HarvestItem(uri=found.uri, title=found.title, placeholder=found.placeholder,
                       problems=list(found.problems))  # fmt: skip
    if found.data is None:
        report.refused.append(item)
        return
    known = repository.harvested(session, found.uri)
    savepoint = session.begin_nested()
    try:
        if known is None:
            item.code = catalog.create_resource(session, principal, found.data).code
            repository.add(session, HarvestedDataset(dataset_uri=found.uri, resource_code=item.code,
                                                     source_id=source_id, modified=found.modified))  # fmt: skip
            report.created.append(item)
        else:
            item.code = known.resource_code
            current = catalog.get_resource(session, known.resource_code)
            if _same(current, found.data):
                report.unchanged.append(item)
            elif current.status.value != "draft":
                item.problems.append(
                    f"{current.code} is {current.status.value}: its unit revises it"
                )
                report.kept.append(item)
            else:
                change = found.data.model_dump(exclude={"classification", "provider_unit_code"})
                catalog.update_resource(session, principal, known.resource_code,
                                        ResourceUpdate(**change, note="采集更新"))  # fmt: skip
                known.modified = found.modified
                report.updated.append(item)
    except CitybaseError as exc:
        savepoint.rollback()
        item.problems.append(f"{exc.field or 'dataset'}: {exc.message}")
        report.refused.append(item)
        return
    savepoint.commit()


def harvest(
    session: Session, principal: Principal, pages: list[Parsed], *, origin: str, unit_code: str,
    classification: str, source: HarvestSource | None = None, dry_run: bool = False,
) -> HarvestReport:  # fmt: skip
    """Register the datasets of the pages as drafts of ``unit_code`` (or update the drafts of
    earlier harvests). Each dataset stands alone: one that cannot be registered is reported
    with why, and the others are. ``dry_run``: report what would be done, register nothing."""
    catalog.check_own_unit(principal, unit_code)
    report = HarvestReport(origin=origin[:1000], pages=len(pages))
    found: dict[str, Candidate] = {}
    for page in pages:
        for c in candidates(page.graph, unit_code=unit_code, classification=classification):
            found.setdefault(c.uri, c)
    report.found = len(found)
    outer = session.begin_nested()
    try:
        for candidate in found.values():
            _apply(session, principal, candidate, report, source.id if source else None)
    except BaseException:
        outer.rollback()
        raise
    if dry_run:
        outer.rollback()
        return report
    outer.commit()
    report.applied = True
    if source is not None:
        source.last_run_at = datetime.now(UTC)
    run = HarvestRun(source_id=source.id if source else None, origin=report.origin,
                     unit_code=unit_code, actor=principal.username, applied=True,
                     report=report.model_dump(mode="json"))  # fmt: skip
    repository.add(session, run)
    ledger.record(
        session, actor_of(principal), "opendata.harvest", object_type="harvest_run",
        object_id=str(run.id),
        details={"origin": report.origin, "unit": unit_code, "found": report.found,
                 "created": [i.code for i in report.created],
                 "updated": [i.code for i in report.updated], "refused": len(report.refused)},
    )  # fmt: skip
    return report


def add_source(
    session: Session, principal: Principal, data: HarvestSourceCreate
) -> HarvestSourceRead:
    catalog.check_own_unit(principal, data.unit_code)
    if repository.harvest_source_named(session, data.name) is not None:
        raise Conflict(f"a source named {data.name} exists", field="name")
    source = HarvestSource(**data.model_dump(), created_by=principal.username)
    repository.add(session, source)
    ledger.record(
        session, actor_of(principal), "opendata.harvest.source", object_type="harvest_source",
        object_id=str(source.id), details=data.model_dump(),
    )  # fmt: skip
    return HarvestSourceRead.model_validate(source)


def get_source(session: Session, source_id: int) -> HarvestSource:
    source = repository.harvest_source(session, source_id)
    if source is None:
        raise NotFound(f"no harvest source {source_id}", field="source")
    return source


def sources(session: Session) -> list[HarvestSourceRead]:
    return [HarvestSourceRead.model_validate(s) for s in repository.harvest_sources(session)]


def run_source(
    session: Session, principal: Principal, source_id: int, policy: net.OutboundPolicy,
    *, dry_run: bool = False,
) -> HarvestReport:  # fmt: skip
    source = get_source(session, source_id)
    catalog.check_own_unit(principal, source.unit_code)
    pages = fetch_pages(source.url, policy)
    return harvest(session, principal, pages, origin=source.url, unit_code=source.unit_code,
                   classification=source.classification, source=source, dry_run=dry_run)  # fmt: skip


def runs(session: Session, principal: Principal) -> list[HarvestRunRead]:
    admin = catalog.audience(principal).everything
    unit = None if admin else principal.unit_code
    return [
        HarvestRunRead.model_validate(r) for r in repository.harvest_runs(session, unit_code=unit)
    ]


def check_described(session: Session, principal: Principal, resource: ResourceRead) -> None:
    """The catalog's veto on submitting a harvested draft whose data items are not described."""
    if any(i.name == PLACEHOLDER_ITEM for i in resource.items):
        raise InvalidInput(
            f"{resource.code} was harvested without its data items: describe them (replace"
            f" {PLACEHOLDER_ITEM}) before submitting",
            field="items",
        )


catalog.register_check("submit", check_described)
