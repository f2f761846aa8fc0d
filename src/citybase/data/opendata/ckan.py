"""The read side of the CKAN Action API (``/api/3/action/…``), so that CKAN clients (ckanapi)
and harvesters read the open catalog unchanged.

A citybase open dataset is a CKAN package named by its resource code; its providing unit is the
package's organization (named by the unit code with dots as hyphens); its theme libraries are
groups and its keywords tags; its rows are three CKAN resources (CSV, JSON, XLSX) that share one
datastore table. Actions take their parameters from the query string (GET) or a JSON or form
body (POST), and answer in CKAN's envelope: ``{"help", "success", "result"}`` or
``{"help", "success": false, "error": {"__type", "message"}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase import __version__
from citybase.core.errors import CitybaseError, NotFound
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession, reads_only
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowQuery
from citybase.data.opendata import service
from citybase.data.opendata.schemas import OpenDataset
from citybase.data.search import service as search
from citybase.data.search.schemas import SearchQuery, Sort

router = APIRouter(prefix="/api", tags=["open data (CKAN API)"])
CKAN_TYPES = {"string": "text", "integer": "int", "decimal": "numeric", "date": "date",
              "datetime": "timestamp", "boolean": "bool", "binary": "text"}  # fmt: skip
READ_ONLY = frozenset({
    "package_create", "package_update", "package_patch", "package_delete", "resource_create",
    "resource_update", "resource_patch", "resource_delete", "organization_create",
    "organization_update", "organization_delete", "datastore_create", "datastore_upsert",
    "datastore_delete", "group_create", "group_update", "group_delete",
})  # fmt: skip


class CkanError(Exception):
    def __init__(self, status: int, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.extra = status, kind, message, extra


def _not_found(what: str) -> CkanError:
    return CkanError(404, "Not Found Error", f"Not found: {what}")


def _invalid(field: str, message: str) -> CkanError:
    return CkanError(409, "Validation Error", message, **{field: [message]})


def _int(params: dict[str, Any], name: str, default: int, top: int) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise _invalid(name, f"Invalid integer: {value}") from exc
    if number < 0 or number > top:
        raise _invalid(name, f"Must be between 0 and {top}")
    return number


def _flag(params: dict[str, Any], name: str) -> bool:
    return str(params.get(name, "")).lower() in {"true", "1", "yes", "on"}


def _org_name(unit_code: str) -> str:
    return unit_code.replace(".", "-").lower()


def _stamp(value: datetime) -> str:
    """CKAN's timestamps: UTC, without a zone."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


class Ckan:
    """One action call: its session, its base address and its parameters."""

    def __init__(self, session: Session, base_url: str, params: dict[str, Any]) -> None:
        self.session, self.base, self.params = session, base_url, params

    # --- shapes --------------------------------------------------------------------------------

    def organization(self, unit_code: str, name: str, count: int | None = None) -> dict[str, Any]:
        org: dict[str, Any] = {
            "id": unit_code, "name": _org_name(unit_code), "title": name, "display_name": name,
            "type": "organization", "state": "active", "is_organization": True,
            "approval_status": "approved", "description": "", "image_url": "",
        }  # fmt: skip
        if count is not None:
            org["package_count"] = count
        return org

    def resources(self, ds: OpenDataset) -> list[dict[str, Any]]:
        return [
            {
                "id": d.id, "package_id": ds.code, "name": f"{ds.name}（{d.format}）",
                "description": "" if d.downloadable else ds.open_condition, "format": d.format,
                "mimetype": d.media_type, "url": d.url, "url_type": None, "position": n,
                "state": "active", "datastore_active": True, "size": None,
                "created": _stamp(ds.created_at), "last_modified": _stamp(ds.updated_at),
                "restricted": not d.downloadable,
            }
            for n, d in enumerate(ds.distributions)
        ]  # fmt: skip

    def package(self, ds: OpenDataset) -> dict[str, Any]:
        resources = self.resources(ds)
        extras = {
            "open_type": ds.open_type, "open_condition": ds.open_condition,
            "update_cycle": ds.update_cycle, "region_code": ds.region_code,
            "security_level": ds.level, "base_libraries": ",".join(ds.bases),
            "data_items": json.dumps([{"name": n, "type": t, "meaning": m} for n, t, m in ds.items],
                                     ensure_ascii=False),
            "row_count": "" if ds.row_count is None else str(ds.row_count),
        }  # fmt: skip
        return {
            "id": ds.code, "name": ds.code.lower(), "title": ds.name, "notes": ds.abstract,
            "type": "dataset", "state": "active", "private": False,
            "owner_org": ds.unit_code, "organization": self.organization(ds.unit_code, ds.unit_name),
            "maintainer": ds.unit_name, "author": ds.unit_name, "author_email": None,
            "maintainer_email": None, "version": None,
            "license_id": "citybase-open" if ds.open_type == "unconditional" else "citybase-conditional",
            "license_title": "公共数据开放利用协议" if ds.open_type == "unconditional" else "有条件开放（须申请）",
            "license_url": f"{self.base}/open/licence",
            "metadata_created": _stamp(ds.created_at), "metadata_modified": _stamp(ds.updated_at),
            "url": f"{self.base}/open/{ds.code}",
            "tags": [{"name": k, "display_name": k, "state": "active", "vocabulary_id": None}
                     for k in ds.keywords],
            "num_tags": len(ds.keywords),
            "groups": [{"name": t, "title": t, "display_name": t} for t in ds.themes],
            "resources": resources, "num_resources": len(resources),
            "extras": [{"key": k, "value": v} for k, v in extras.items()],
        }  # fmt: skip

    def dataset(self, ident: str) -> OpenDataset:
        try:
            return service.dataset(self.session, ident.upper(), self.base)
        except NotFound as exc:
            raise _not_found("dataset") from exc

    def _id(self) -> str:
        ident = str(self.params.get("id") or self.params.get("name_or_id") or "")
        if not ident:
            raise _invalid("id", "Missing value")
        return ident

    # --- actions -------------------------------------------------------------------------------

    def package_list(self) -> list[str]:
        limit = _int(self.params, "limit", 100_000, 100_000)
        offset = _int(self.params, "offset", 0, 10**9)
        names = sorted(d.code.lower() for d in service.datasets(self.session, self.base))
        return names[offset : offset + limit]

    def package_show(self) -> dict[str, Any]:
        return self.package(self.dataset(self._id()))

    def package_search(self) -> dict[str, Any]:
        rows = _int(self.params, "rows", 10, 1000)
        start = _int(self.params, "start", 0, 10**9)
        query = {"q": str(self.params.get("q") or "").strip()}
        if query["q"] in ("*:*", "*"):
            query["q"] = ""
        query.update(self._filters(str(self.params.get("fq") or "")))
        sort = str(self.params.get("sort") or "score desc, metadata_modified desc").strip().lower()
        orders = {"score desc, metadata_modified desc": Sort.relevance, "score desc": Sort.relevance,
                  "metadata_modified desc": Sort.updated, "name asc": Sort.name,
                  "title_string asc": Sort.name}  # fmt: skip
        if sort not in orders:
            raise CkanError(409, "Search Query Error", f"Search Query is invalid: sort {sort}")
        result = search.search_open(
            self.session,
            SearchQuery(**query, sort=orders[sort], limit=max(rows, 1), offset=start),
        )
        packages = [self.package(self.dataset(h.code)) for h in result.hits][:rows]
        facets = {"organization": "unit", "groups": "theme"}
        search_facets: dict[str, dict[str, Any]] = {
            name: {
                "title": name,
                "items": [
                    {
                        "name": _org_name(v.value) if name == "organization" else v.value,
                        "display_name": v.label or v.value,
                        "count": v.count,
                    }
                    for v in result.facets[facet]
                ],
            }
            for name, facet in facets.items()
        }
        return {
            "count": result.total, "sort": sort, "results": packages,
            "facets": {n: {i["name"]: i["count"] for i in f["items"]} for n, f in search_facets.items()},
            "search_facets": search_facets,
        }  # fmt: skip

    _FQ = re.compile(r'\+?(\w+):(?:"([^"]*)"|(\S+))')

    def _filters(self, fq: str) -> dict[str, str]:
        found: dict[str, str] = {}
        rest = self._FQ.sub("", fq).strip()
        if rest:
            raise CkanError(409, "Search Query Error", f"Search Query is invalid: {rest}")
        for field, quoted, bare in self._FQ.findall(fq):
            value = quoted or bare
            if field == "organization":
                units = {_org_name(u.code): u.code for u in orgs.list_units(self.session)}
                found["unit"] = units.get(value.lower(), value)
            elif field == "groups":
                found["theme"] = value
            elif field == "tags":
                found["keyword"] = value
            elif field in ("open_type", "level", "region", "format"):
                found[field] = value
            else:
                raise CkanError(409, "Search Query Error",
                                f"Search Query is invalid: unknown field {field}")  # fmt: skip
        return found

    def _counts(self) -> dict[str, tuple[str, int]]:
        counts: dict[str, tuple[str, int]] = {}
        for d in service.datasets(self.session, self.base):
            name, n = counts.get(d.unit_code, (d.unit_name, 0))
            counts[d.unit_code] = (name, n + 1)
        return counts

    def organization_list(self) -> list[Any]:
        counts = self._counts()
        limit = _int(self.params, "limit", 1000, 1000)
        offset = _int(self.params, "offset", 0, 10**9)
        codes = sorted(counts, key=_org_name)[offset : offset + limit]
        if _flag(self.params, "all_fields"):
            return [self.organization(c, *counts[c]) for c in codes]
        return [_org_name(c) for c in codes]

    def organization_show(self) -> dict[str, Any]:
        ident = self._id()
        counts = self._counts()
        code = next((c for c in counts if ident in (c, _org_name(c))), None)
        if code is None:
            raise _not_found("organization")
        org = self.organization(code, *counts[code])
        if _flag(self.params, "include_datasets"):
            found = [d for d in service.datasets(self.session, self.base) if d.unit_code == code]
            org["packages"] = [self.package(d) for d in found]
        return org

    def _resource(self, ident: str) -> tuple[OpenDataset, dict[str, Any]]:
        code = (
            ident.rsplit("-", 1)[0] if ident.lower().endswith(("-csv", "-json", "-xlsx")) else ident
        )
        ds = self.dataset(code)
        for resource in self.resources(ds):
            if resource["id"].lower() == ident.lower() or code == ident:
                return ds, resource
        raise _not_found("resource")

    def resource_show(self) -> dict[str, Any]:
        return self._resource(self._id())[1]

    def datastore_search(self) -> dict[str, Any]:
        ident = str(self.params.get("resource_id") or self.params.get("id") or "")
        if not ident:
            raise _invalid("resource_id", "Missing value")
        ds, resource = self._resource(ident)
        if resource["restricted"]:
            raise CkanError(403, "Authorization Error",
                            "Access denied: conditionally open data is downloaded after an "
                            f"approved application ({self.base}/open/{ds.code}/apply)")  # fmt: skip
        filters = self.params.get("filters") or {}
        if isinstance(filters, str):
            try:
                filters = json.loads(filters)
            except json.JSONDecodeError as exc:
                raise _invalid("filters", "Cannot parse JSON") from exc
        if not isinstance(filters, dict):
            raise _invalid("filters", "Not a JSON object")
        fields = self.params.get("fields") or []
        if isinstance(fields, str):
            fields = [f.strip() for f in fields.split(",") if f.strip()]
        sort, direction = None, "asc"
        if self.params.get("sort"):
            first = str(self.params["sort"]).split(",")[0].split()
            sort, direction = first[0].strip('"'), (first[1].lower() if len(first) > 1 else "asc")
        limit = _int(self.params, "limit", 100, 32_000)
        offset = _int(self.params, "offset", 0, 10**9)
        try:
            page = datastore.query(
                self.session, ds.code,
                RowQuery(filters=filters, q=str(self.params.get("q") or ""), fields=fields,
                         sort=sort, direction=direction, limit=min(limit, 10_000), offset=offset),
            )  # fmt: skip
        except NotFound as exc:
            raise _not_found("resource has no datastore table") from exc
        except CitybaseError as exc:
            raise _invalid(exc.field or "q", exc.message) from exc
        link = f"/api/3/action/datastore_search?resource_id={resource['id']}"
        return {
            "resource_id": resource["id"], "include_total": True, "limit": limit,
            "offset": offset, "total": page.total, "records_format": "objects",
            "fields": [{"id": c.name, "type": CKAN_TYPES.get(c.type, "text")} for c in page.columns],
            "records": page.rows,
            "_links": {"start": link, "next": f"{link}&offset={offset + limit}"},
        }  # fmt: skip

    def status_show(self) -> dict[str, Any]:
        return {"site_title": "citybase 公共数据开放", "site_url": self.base,
                "site_description": "", "ckan_version": "2.10.0", "citybase_version": __version__,
                "error_emails_to": None, "locale_default": "zh_Hans_CN",
                "extensions": ["datastore"]}  # fmt: skip

    def help_show(self) -> str:
        name = str(self.params.get("name") or "")
        action = ACTIONS.get(name)
        if action is None:
            raise _not_found("action")
        return action.__doc__ or f"{name}: as CKAN's action of that name (read side)."


ACTIONS: dict[str, Callable[[Ckan], Any]] = {
    name: getattr(Ckan, name)
    for name in ("package_list", "package_show", "package_search", "organization_list",
                 "organization_show", "resource_show", "datastore_search", "status_show",
                 "help_show")
}  # fmt: skip


def base_url(request: Request, public_url: str | None) -> str:
    return (public_url or str(request.base_url)).rstrip("/")


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "")
        if "json" in kind:
            body = await request.body()
            if body.strip():
                try:
                    data = json.loads(body)
                except json.JSONDecodeError as exc:
                    raise CkanError(400, "Bad request", f"JSON Error: {exc.msg}") from exc
                if not isinstance(data, dict):
                    raise CkanError(400, "Bad request", "JSON Error: not an object")
                params.update(data)
        elif kind:
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
    return params


@router.get("/3/action/{name}")
@router.get("/action/{name}", include_in_schema=False)  # CKAN answers on both (ckanapi uses this)
async def action_get(
    request: Request, session: DbSession, settings: AppSettings, name: str, _: Public
) -> JSONResponse:
    """Call a CKAN action with its parameters in the query string."""
    return await _action(request, session, settings, name)


@router.post("/3/action/{name}")
@router.post("/action/{name}", include_in_schema=False)
@reads_only  # only the read side is served: every action answers from a read-only transaction
async def action_post(
    request: Request, session: DbSession, settings: AppSettings, name: str, _: Public
) -> JSONResponse:
    """Call a CKAN action with its parameters in a JSON or form body (as ckanapi does)."""
    return await _action(request, session, settings, name)


async def _action(
    request: Request, session: Session, settings: Settings, name: str
) -> JSONResponse:
    base = base_url(request, settings.web.public_url)
    help_url = f"{base}/api/3/action/help_show?name={name}"
    try:
        if name in READ_ONLY:
            raise CkanError(403, "Authorization Error",
                            "Access denied: citybase serves the read side of the CKAN API; "
                            "resources are registered in its catalog")  # fmt: skip
        handler = ACTIONS.get(name)
        if handler is None:
            raise CkanError(400, "Bad request", f"Bad request - Action name not known: {name}")
        try:
            result = handler(Ckan(session, base, await _params(request)))
        except ValidationError as exc:  # a parameter the schemas behind an action refuse
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "params"
            raise _invalid(field, f"{field}: {first['msg']}") from exc
        except NotFound as exc:
            raise _not_found(exc.field or "resource") from exc
        except CitybaseError as exc:  # refused below the action (text the database cannot take)
            raise _invalid(exc.field or "params", exc.message) from exc
    except CkanError as exc:
        error = {"__type": exc.kind, "message": exc.message, **exc.extra}
        return JSONResponse({"help": help_url, "success": False, "error": error}, exc.status)
    return JSONResponse({"help": help_url, "success": True, "result": result})


@router.get("/3")
def api_version(_: Public) -> dict[str, int]:
    return {"version": 3}
