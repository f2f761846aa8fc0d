"""The Dataspace Protocol's catalog binding: the catalog lists exactly the listed products on
offer (what the product catalog lists), with their offers and distributions; its filter finds
by words and facets; a product not listed is not found; refusals in ``dspace:CatalogError``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate, Role
from citybase.core.settings import Settings
from citybase.data.products import service
from citybase.data.products.schemas import CatalogQuery, ProductAction
from tests.core.identity.factories import make_user, principal_of
from tests.data.products.factories import (
    add_customers,
    listed_product,
    product_data,
    products_city,
)

CTX = "https://w3id.org/dspace/2024/1/context.json"


def _setup(session: Session, settings: Settings, app):  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    add_customers(session, city)
    api = listed_product(session, city)
    dataset = listed_product(session, city, kind="dataset", name="井盖巡查数据集",
                             price_model="free", price_yuan="0")  # fmt: skip
    delisted = listed_product(session, city, kind="dataset", name="井盖历史台账")
    service.delist_product(session, city.bureau, settings.products, delisted,
                           ProductAction(reason="暂停供应"))  # fmt: skip
    waiting = service.register_product(session, city.people["opa"],
                                       product_data(city, name="井盖待审数据"))  # fmt: skip
    numbers = {
        name: service.get_accessible_product(session, city.bureau, settings.products, pid).number
        for name, pid in (("api", api), ("dataset", dataset), ("delisted", delisted),
                          ("waiting", waiting.id))
    }  # fmt: skip
    return city, numbers


def _auth(session: Session, settings: Settings, city, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    made = identity.create_api_key(session, settings, city.people[who],
                                   ApiKeyCreate(name="连接器", scopes=["products:contract"]))  # fmt: skip
    return {"Authorization": f"Bearer {made.secret}"}


def _ask(*filters: Any) -> dict[str, Any]:
    return {"@context": CTX, "@type": "dspace:CatalogRequestMessage",
            "dspace:filter": list(filters)}  # fmt: skip


def _ids(answer: dict[str, Any]) -> set[str]:
    return {d["@id"] for d in answer["dcat:dataset"]}


def test_the_catalog_lists_exactly_the_products_on_offer(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, numbers = _setup(session, settings, app)
    auth = _auth(session, settings, city, "cua")
    got = client.post("/dsp/catalog/request", json=_ask(), headers=auth)
    assert got.status_code == 200, got.text
    catalog = got.json()
    assert catalog["@context"] == CTX
    assert catalog["@type"] == "dcat:Catalog"
    listed = {f"urn:citybase:product:{numbers[k]}" for k in ("api", "dataset")}
    assert _ids(catalog) == listed
    # the same as the product catalog every browser sees
    page = service.search_catalog(session, CatalogQuery(limit=100))
    assert _ids(catalog) == {f"urn:citybase:product:{p.number}" for p in page.products}
    dataset = next(d for d in catalog["dcat:dataset"] if numbers["dataset"] in d["@id"])
    offer = dataset["odrl:hasPolicy"][0]
    assert offer["@id"] == f"urn:citybase:offer:{numbers['dataset']}"
    assert offer["@type"] == "odrl:Offer"
    # a dataset is pulled as a signed file or as rows; an API only as rows
    services = [d["dcat:accessService"]["@id"] for d in dataset["dcat:distribution"]]
    assert services == ["urn:citybase:service:file", "urn:citybase:service:api"]
    assert all(d["dct:format"] == "HttpData-PULL" for d in dataset["dcat:distribution"])
    api = next(d for d in catalog["dcat:dataset"] if numbers["api"] in d["@id"])
    assert [d["dcat:accessService"]["@id"] for d in api["dcat:distribution"]] == [
        "urn:citybase:service:api"
    ]
    assert api["dcat:distribution"][0]["dcat:accessService"]["dcat:endpointURL"].endswith(
        "/api/v1/products/contracts/{contract}/rows"
    )


def test_the_filter_finds_by_words_and_facets_and_refuses_what_it_does_not_know(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, numbers = _setup(session, settings, app)
    auth = _auth(session, settings, city, "cua")

    def found(*filters: Any) -> set[str]:
        got = client.post("/dsp/catalog/request", json=_ask(*filters), headers=auth)
        assert got.status_code == 200, got.text
        return {i.removeprefix("urn:citybase:product:") for i in _ids(got.json())}

    assert found("数据集") == {numbers["dataset"]}
    assert found({"@value": "数据接口"}) == {numbers["api"]}
    assert found({"kind": "api"}) == {numbers["api"]}
    assert found({"dcat:keyword": ["井盖", "巡查"], "price_model": "free"}) == {numbers["dataset"]}
    assert found("台账") == set()  # the delisted product's name: not in the catalog
    for bad, field in (({"colour": "red"}, "dspace:filter[0].colour"),
                       ({"kind": "film"}, "dspace:filter.kind"), ([1, 2], "dspace:filter[0]")):  # fmt: skip
        refused = client.post("/dsp/catalog/request", json=_ask(bad), headers=auth)
        assert refused.status_code == 422, refused.text
        assert refused.json()["@type"] == "dspace:CatalogError"
        assert refused.json()["dspace:code"] == "invalid_message"
        assert any(field in r for r in refused.json()["dspace:reason"]), refused.json()


def test_a_dataset_not_listed_is_not_found_in_the_protocol_s_shape(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, numbers = _setup(session, settings, app)
    auth = _auth(session, settings, city, "cua")
    one = client.get(f"/dsp/catalog/datasets/urn:citybase:product:{numbers['dataset']}",
                     headers=auth)  # fmt: skip
    assert one.status_code == 200, one.text
    assert one.json()["@context"] == CTX
    assert one.json()["@type"] == "dcat:Dataset"
    assert client.get(f"/dsp/catalog/datasets/{numbers['api']}", headers=auth).status_code == 200
    for hidden in (numbers["delisted"], numbers["waiting"], "CP-1999-0001"):
        missing = client.get(f"/dsp/catalog/datasets/urn:citybase:product:{hidden}", headers=auth)
        assert missing.status_code == 404, (hidden, missing.text)
        assert missing.json()["@type"] == "dspace:CatalogError"
        assert missing.json()["dspace:code"] == "not_found"


def test_an_anonymous_caller_or_one_who_may_not_contract_gets_the_protocol_s_error(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, numbers = _setup(session, settings, app)
    anonymous = client.post("/dsp/catalog/request", json=_ask())
    assert anonymous.status_code == 401
    assert anonymous.json()["@type"] == "dspace:CatalogError"
    assert client.get(f"/dsp/catalog/datasets/{numbers['api']}").status_code == 401
    make_user(session, "urbanadmin", Role.unit_admin, unit="fz.urban")
    city.people["urbanadmin"] = principal_of(session, "urbanadmin")
    made = identity.create_api_key(session, settings, city.people["urbanadmin"],
                                   ApiKeyCreate(name="k"))  # fmt: skip
    refused = client.post("/dsp/catalog/request", json=_ask(),
                          headers={"Authorization": f"Bearer {made.secret}"})  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["@type"] == "dspace:CatalogError"
    not_json = client.post("/dsp/catalog/request", content="nope",
                           headers=_auth(session, settings, city, "cua"))  # fmt: skip
    assert not_json.status_code == 422
    assert not_json.json()["@type"] == "dspace:CatalogError"
