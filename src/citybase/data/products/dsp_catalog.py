"""The product catalog as the Dataspace Protocol 2024-1 answers it (目录协议): a
``dcat:Catalog`` of the listed products on offer today, each a ``dcat:Dataset`` with its ODRL
offer (the ``@id`` a ContractRequestMessage names) and one ``dcat:Distribution`` for each
delivery mode its kind allows, with the ``dcat:DataService`` that serves it.

The datasets are found by the product catalog's own search (``registration.search_catalog``,
the catalog's index, the agreement's liveness checked on the day), so the protocol lists
exactly what the catalog page and ``GET /api/v1/products/catalog`` list. ``dspace:filter``
is read as the catalog's query: words (a keyword search in Chinese) and the facets ``kind``,
``sector`` and ``price_model``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import NotFound
from citybase.data.products import protocol, repository
from citybase.data.products.negotiation import dsp_policy
from citybase.data.products.registration import read_products, search_catalog
from citybase.data.products.schemas import (
    MODES_BY_KIND,
    CatalogQuery,
    DeliveryMode,
    ProductRead,
    ProductStatus,
)

CATALOG_ID = "urn:citybase:catalog"
PULL = "HttpData-PULL"  # the consumer pulls from the data address a started transfer gives
SANDBOX = "citybase:SandboxAnalysis"  # asked through the contract API, never transferred
MAX_DATASETS = 10_000  # a catalog answer holds at most this many (no pagination yet)
PAGE = 100
# the filter's facets, by their plain, citybase: and dcat/dct names
FACETS = {
    "q": "q", "keyword": "q", "dcat:keyword": "q", "dct:title": "q", "citybase:q": "q",
    "kind": "kind", "citybase:kind": "kind", "sector": "sector", "citybase:sector": "sector",
    "dcat:theme": "sector", "price_model": "price_model", "citybase:price_model": "price_model",
}  # fmt: skip
MODE_ORDER = (DeliveryMode.file, DeliveryMode.api, DeliveryMode.sandbox)
ENDPOINTS = {
    DeliveryMode.file: ("/api/v1/products/contracts/{contract}/file",
                        "a file of the product's rows (CSV or JSON Lines), signed by the "
                        "providing unit with SM2; with a started transfer's token"),
    DeliveryMode.api: ("/api/v1/products/contracts/{contract}/rows",
                       "the product's rows as JSON pages; with a started transfer's token"),
    DeliveryMode.sandbox: ("/api/v1/products/contracts/{contract}/analyses",
                           "a differentially private analysis in the privacy sandbox, asked "
                           "with the contract's key; only its released result leaves"),
}  # fmt: skip


def dataset_id(number: str) -> str:
    return f"urn:citybase:product:{number}"


def _text(value: Any, where: str) -> str:
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    if not isinstance(value, str | int):
        raise protocol.ProtocolError(f"{where}: a filter value is a string", field=where)
    return str(value)


def catalog_query(filters: list[Any]) -> CatalogQuery:
    """The catalog query a ``dspace:filter`` says: its strings are words to find (every word
    must occur), its objects name words (``q``, ``dcat:keyword``, ``dct:title``) or facets
    (``kind``, ``sector`` or ``dcat:theme``, ``price_model``). Anything else is refused, naming
    it, rather than ignored (a filter dropped would list more than was asked)."""
    words: list[str] = []
    facets: dict[str, str] = {}
    for i, item in enumerate(filters):
        where = f"dspace:filter[{i}]"
        if not isinstance(item, dict) or "@value" in item:
            words.append(_text(item, where))
            continue
        for key, value in item.items():
            if key == "@type":
                continue
            name = FACETS.get(key)
            if name is None:
                raise protocol.ProtocolError(
                    f"{where}.{key}: a filter names q, keyword, kind, sector or price_model",
                    field=f"{where}.{key}",
                )  # fmt: skip
            if name == "q":
                values = value if isinstance(value, list) else [value]
                words.extend(_text(v, f"{where}.{key}") for v in values)
            else:
                facets[name] = _text(value, f"{where}.{key}")
    try:
        return CatalogQuery.model_validate(
            {"q": " ".join(w.strip() for w in words if w.strip()), **facets, "limit": PAGE}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"dspace:filter.{'.'.join(str(p) for p in first['loc'])}"
        raise protocol.ProtocolError(f"{where}: {first['msg']}", field=where) from None


def _distributions(product: ProductRead, base_url: str) -> list[dict[str, Any]]:
    modes = MODES_BY_KIND.get(product.kind.value, frozenset())
    found = []
    for mode in (m for m in MODE_ORDER if m in modes):
        path, description = ENDPOINTS[mode]
        found.append({
            "@type": "dcat:Distribution",
            "dct:format": SANDBOX if mode is DeliveryMode.sandbox else PULL,
            "dcat:accessService": {
                "@id": f"urn:citybase:service:{mode.value}", "@type": "dcat:DataService",
                "dcat:endpointURL": base_url + path,
                "dcat:endpointDescription": description,
            },
        })  # fmt: skip
    return found


def dataset_of(product: ProductRead, base_url: str) -> protocol.Dataset:
    offer = dsp_policy(dict(product.offer_policy or {}))
    return protocol.Dataset.model_validate({
        "@id": dataset_id(product.number), "dct:title": product.name,
        "dct:description": product.description,
        "dcat:keyword": [k for k in (product.sector, product.kind.value) if k],
        "odrl:hasPolicy": [offer], "dcat:distribution": _distributions(product, base_url),
    })  # fmt: skip


def request_catalog(session: Session, base_url: str, body: Any) -> protocol.Catalog:
    """``POST /catalog/request``: the listed products on offer today that the filter finds,
    in the catalog's order (the best match first; the newest listed when there is no word)."""
    message = protocol.parse_message(body, protocol.CatalogRequestMessage)
    assert isinstance(message, protocol.CatalogRequestMessage)
    query = catalog_query(message.filter)
    datasets: list[protocol.Dataset] = []
    while len(datasets) < MAX_DATASETS:
        page = search_catalog(session, query.model_copy(update={"offset": len(datasets)}))
        datasets.extend(dataset_of(p, base_url) for p in page.products)
        if not page.products or len(datasets) >= page.total:
            break
    return protocol.Catalog.model_validate({
        "@id": CATALOG_ID, "dct:title": "数据产品目录",
        "dct:description": "Data products listed under authorized operation (授权运营数据产品)",
        "dspace:participantId": "urn:citybase:platform",
        "dcat:service": [{"@id": "urn:citybase:service:dsp", "@type": "dcat:DataService",
                          "dcat:endpointURL": f"{base_url}/dsp",
                          "dcat:endpointDescription": "dspace:connector"}],
        "dcat:dataset": [d.to_json() for d in datasets],
    })  # fmt: skip


def request_dataset(session: Session, base_url: str, dataset: str) -> protocol.Dataset:
    """``GET /catalog/datasets/{id}``: one listed product on offer today, by its dataset
    ``@id`` (``urn:citybase:product:CP-…``) or its number; any other is not found."""
    number = dataset.removeprefix("urn:citybase:product:")
    product = repository.product_by_number(session, number)
    if (
        product is None
        or product.status != ProductStatus.listed.value
        or not repository.is_offered(session, product.id, clock.today())
    ):
        raise NotFound(f"no dataset {dataset} in the catalog", field="id")
    return dataset_of(read_products(session, [product])[0], base_url)
