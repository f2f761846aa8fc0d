"""The read side of the CKAN Action API (``/api/3/action/…``), so that CKAN clients (ckanapi)
and harvesters (ckanext-harvest's CKAN harvester) read the open catalog unchanged.

``package_search`` takes Solr's query syntax (``solr.py``) in ``q`` and ``fq`` and matches it
against each open dataset as CKAN's index would hold it; free text goes to the catalog's own
search, so that Chinese partial words are found.

A citybase open dataset is a CKAN package named by its resource code; its providing unit is the
package's organization (named by the unit code with dots as hyphens); its theme libraries are
groups and its keywords tags; its rows are three CKAN resources (CSV, JSON, XLSX) that share one
datastore table. Actions take their parameters from the query string (GET) or a JSON or form
body (POST), and answer in CKAN's envelope: ``{"help", "success", "result"}`` or
``{"help", "success": false, "error": {"__type", "message"}}``.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase import __version__
from citybase.core.errors import CitybaseError, NotFound
from citybase.core.settings import Settings
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession, reads_only
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowQuery
from citybase.data.opendata import service, solr
from citybase.data.opendata.schemas import OpenDataset
from citybase.data.search import service as search
from citybase.data.search.schemas import SearchQuery, Sort

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["open data (CKAN API)"])
CKAN_TYPES = {"string": "text", "integer": "int", "decimal": "numeric", "date": "date",
              "datetime": "timestamp", "boolean": "bool", "binary": "text"}  # fmt: skip
READ_ONLY = frozenset({
    "package_create", "package_update", "package_patch", "package_delete", "resource_create",
    "resource_update", "resource_patch", "resource_delete", "organization_create",
    "organization_update", "organization_delete", "datastore_create", "datastore_upsert",
    "datastore_delete", "group_create", "group_update", "group_delete", "package_revise",
    "package_owner_org_update", "package_relationship_create", "member_create", "member_delete",
    "package_collaborator_create", "resource_view_create", "tag_create", "tag_delete",
    "user_create", "dataset_purge", "group_purge", "organization_purge",
})  # fmt: skip

WRITES = re.compile(r"_(create|update|patch|delete|purge|revise)$")


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


ROWS_MAX = 1000  # CKAN's ckan.search.rows_max
STRING_FIELDS = ("id", "name", "organization", "owner_org", "groups", "tags", "res_format",
                 "license_id", "state", "type", "dataset_type", "capacity", "version", "url",
                 "res_url", "site_id")  # fmt: skip
TEXT_FIELDS = ("title", "notes", "author", "maintainer", "res_name", "res_description",
               "title_string")  # fmt: skip
DATE_FIELDS = ("metadata_modified", "metadata_created")
NUMBER_FIELDS = ("num_resources", "num_tags")
SEARCH_FIELDS = (*STRING_FIELDS, *TEXT_FIELDS, *DATE_FIELDS, *NUMBER_FIELDS, "text")
SORTS = {"id": "id", "name": "name", "title": "title", "title_string": "title",
         "metadata_modified": "metadata_modified", "metadata_created": "metadata_created",
         "score": "score"}  # fmt: skip


def _values(package: dict[str, Any], field: str) -> list[str]:
    """What a package holds in a search field, as CKAN's Solr index has it."""
    if field in ("organization",):
        return [package["organization"]["name"]]
    if field == "groups":
        return [g["name"] for g in package["groups"]] + [g["title"] for g in package["groups"]]
    if field == "tags":
        return [t["name"] for t in package["tags"]]
    if field.startswith("res_"):
        key = {"res_format": "format", "res_name": "name", "res_description": "description",
               "res_url": "url"}[field]  # fmt: skip
        return [str(r[key]) for r in package["resources"] if r.get(key)]
    if field == "dataset_type":
        return [package["type"]]
    if field == "capacity":
        return ["public"]
    if field == "site_id":
        return ["citybase"]
    if field == "title_string":
        return [package["title"]]
    if field.startswith("extras_"):
        return [e["value"] for e in package["extras"] if e["key"] == field[7:]]
    value = package.get(field)
    return [] if value is None else [str(value)]


def _facet_values(package: dict[str, Any], field: str) -> list[tuple[str, str]]:
    if field == "organization":
        return [(package["organization"]["name"], package["organization"]["title"])]
    if field == "groups":
        return [(g["name"], g["title"]) for g in package["groups"]]
    return [(v, v) for v in dict.fromkeys(_values(package, field))]


def _when(value: str) -> datetime:
    """A Solr date: ISO 8601 (``Z`` or not), ``NOW``, ``NOW-7DAYS``, ``NOW/DAY``."""
    text = value.strip().upper()
    if text.startswith("NOW"):
        moment = datetime.now(UTC).replace(tzinfo=None)
        for sign, n, unit in re.findall(r"([+-])(\d+)(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)S?", text):
            days = {"YEAR": 365, "MONTH": 30, "DAY": 1}.get(unit)
            step = timedelta(days=days) if days else timedelta(
                seconds={"HOUR": 3600, "MINUTE": 60, "SECOND": 1}[unit])  # fmt: skip
            moment += step * int(n) * (1 if sign == "+" else -1)
        if text.endswith("/DAY"):
            moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return moment
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


class _Doc:
    """One package as Solr's index would match it."""

    def __init__(self, package: dict[str, Any], texts: dict[str, dict[str, float]]) -> None:
        self.package, self.texts = package, texts

    def term(self, field: str, value: str, phrase: bool) -> bool:
        if field == "text":
            return self.text(value) is not None
        values = _values(self.package, field)
        if field in DATE_FIELDS:
            if value == "*":
                return bool(values)
            try:
                wanted = _when(value)
            except ValueError as exc:
                raise CkanError(409, "Search Query Error",
                                f"Search Query is invalid: {field}: not a date: {value}") from exc  # fmt: skip
            return any(_when(v) == wanted for v in values)
        if field in TEXT_FIELDS:
            needle = value.lower().replace("*", "")
            return any(needle in v.lower() for v in values)
        if "*" in value or "?" in value:
            return any(fnmatch.fnmatchcase(v, value) for v in values)
        return value in values

    def range(
        self, field: str, low: str | None, high: str | None, lo_in: bool, hi_in: bool
    ) -> bool:
        values: list[Any] = _values(self.package, field)
        convert: Callable[[str], Any] = str
        if field in DATE_FIELDS:
            convert = _when
        elif field in NUMBER_FIELDS:
            convert = int
        try:
            lo = None if low is None else convert(low)
            hi = None if high is None else convert(high)
            values = [convert(v) for v in values]
        except ValueError as exc:
            raise CkanError(409, "Search Query Error",
                            f"Search Query is invalid: {field}: [{low} TO {high}]") from exc  # fmt: skip
        return any(
            (lo is None or v > lo or (lo_in and v == lo)) and
            (hi is None or v < hi or (hi_in and v == hi))
            for v in values
        )  # fmt: skip

    def text(self, value: str) -> float | None:
        if value == "*":
            return 1.0
        found = self.texts.get(value, {}).get(self.package["id"])
        if found is None and value.lower() in (self.package["name"], self.package["id"].lower()):
            return 1.0
        return found


def _listed(value: Any) -> list[Any]:
    """A parameter that may be one value or a list of them (``fq_list``)."""
    if isinstance(value, list):
        return value
    return [value] if value not in (None, "") else []


def _sort_keys(sort: str) -> list[tuple[str, bool]]:
    keys = []
    for part in sort.split(","):
        words = part.split()
        if not words:
            continue
        field = words[0]
        order = words[1].lower() if len(words) > 1 else "asc"
        if field not in SORTS or order not in ("asc", "desc") or len(words) > 2:
            raise CkanError(409, "Search Query Error",
                            f"Search Query is invalid: cannot sort on {part.strip()}")  # fmt: skip
        keys.append((SORTS[field], order == "desc"))
    return keys


def _sort_value(scored: tuple[dict[str, Any], float], key: str) -> Any:
    package, score = scored
    if key == "score":
        return score
    if key == "title":
        return package["title"].lower()
    return package[key]


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
                "mimetype": d.media_type, "mimetype_inner": None, "url": d.url, "url_type": None,
                "resource_type": None, "hash": "", "cache_url": None, "cache_last_updated": None,
                "position": n, "state": "active", "datastore_active": True, "size": None,
                "created": _stamp(ds.created_at), "last_modified": _stamp(ds.updated_at),
                "metadata_modified": _stamp(ds.updated_at), "restricted": not d.downloadable,
            }
            for n, d in enumerate(ds.distributions)
        ]  # fmt: skip

    def group(self, theme: str, count: int | None = None) -> dict[str, Any]:
        name = service.theme_name(theme)
        group: dict[str, Any] = {
            "id": name, "name": name, "title": theme, "display_name": theme,
            "description": f"{theme}主题库", "type": "group", "state": "active",
            "is_organization": False, "approval_status": "approved", "image_url": "",
            "image_display_url": "",
        }  # fmt: skip
        if count is not None:
            group["package_count"] = count
        return group

    def tag(self, name: str) -> dict[str, Any]:
        return {"id": name, "name": name, "display_name": name, "state": "active",
                "vocabulary_id": None}  # fmt: skip

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
            "tags": [self.tag(k) for k in ds.keywords], "num_tags": len(ds.keywords),
            "groups": [self.group(t) for t in ds.themes],
            "isopen": ds.open_type == "unconditional", "creator_user_id": None,
            "relationships_as_object": [], "relationships_as_subject": [],
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
        rows = min(_int(self.params, "rows", 10, 10**9), ROWS_MAX)  # CKAN caps, silently
        start = _int(self.params, "start", 0, 10**9)
        q = str(self.params.get("q") or "").strip()
        filters = [str(f) for key in ("fq", "fq_list") for f in _listed(self.params.get(key))]
        try:
            # a plain question is asked of the catalog's own search whole (Chinese partial words)
            plain = q and not re.search(r'[:"()\[\]{}]|(^|\s)[-+!]|\b(AND|OR|NOT)\b', q)
            tree = solr.Term(None, q) if plain else solr.parse(q)
            trees = [tree, *(solr.parse(f) for f in filters if f.strip())]
        except solr.QueryError as exc:
            raise CkanError(409, "Search Query Error", f"Search Query is invalid: {exc}") from exc
        unknown = set().union(*(solr.fields_of(t) for t in trees)) - set(SEARCH_FIELDS)
        unknown = {f for f in unknown if not f.startswith("extras_")}
        if unknown:
            raise CkanError(409, "Search Query Error",
                            f"Search Query is invalid: undefined field {sorted(unknown)[0]}")  # fmt: skip
        texts = {t: self._text_hits(t) for tree in trees for t in solr.texts_of(tree)}
        packages = [self.package(d) for d in service.datasets(self.session, self.base)]
        scored = []
        for package in packages:
            doc = _Doc(package, texts)
            found = [solr.score(t, doc) for t in trees]
            if all(f is not None for f in found):
                scored.append((package, float(found[0] or 0)))
        sort = str(self.params.get("sort") or "score desc, metadata_modified desc").strip()
        for key, descending in reversed(_sort_keys(sort)):
            scored.sort(key=lambda ps, k=key: _sort_value(ps, k), reverse=descending)  # type: ignore[misc]
        matched = [p for p, _ in scored]
        facets, search_facets = self._facets(matched)
        return {
            "count": len(matched), "sort": sort, "results": matched[start : start + rows],
            "facets": facets, "search_facets": search_facets,
        }  # fmt: skip

    def _text_hits(self, text: str) -> dict[str, float]:
        """The open datasets the catalog's own search finds for a free-text term, with scores."""
        hits: dict[str, float] = {}
        offset = 0
        while True:
            page = search.search_open(
                self.session, SearchQuery(q=text, sort=Sort.relevance, limit=1000, offset=offset)
            )
            hits.update({h.code: h.score or 1.0 for h in page.hits})
            offset += 1000
            if not page.hits or offset >= page.total:
                return hits

    def _facets(
        self, packages: list[dict[str, Any]]
    ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, Any]]]:
        wanted = self.params.get("facet.field") or []
        if isinstance(wanted, str):
            try:
                wanted = json.loads(wanted) if wanted.strip().startswith("[") else [wanted]
            except json.JSONDecodeError as exc:
                raise _invalid("facet.field", "Cannot parse JSON") from exc
        if not isinstance(wanted, list) or not all(isinstance(f, str) for f in wanted):
            raise _invalid("facet.field", "Not a list of field names")
        unlimited = str(self.params.get("facet.limit", "")).strip() == "-1"  # Solr's "all"
        limit = 10**6 if unlimited else _int(self.params, "facet.limit", 50, 10**6)
        mincount = _int(self.params, "facet.mincount", 1, 10**6)
        facets: dict[str, dict[str, int]] = {}
        search_facets: dict[str, dict[str, Any]] = {}
        for name in wanted:
            if name not in SEARCH_FIELDS:
                raise CkanError(409, "Search Query Error",
                                f"Search Query is invalid: undefined field {name}")  # fmt: skip
            counts: dict[str, int] = {}
            labels: dict[str, str] = {}
            for package in packages:
                for value, label in _facet_values(package, name):
                    counts[value] = counts.get(value, 0) + 1
                    labels[value] = label
            ordered = sorted(((v, n) for v, n in counts.items() if n >= mincount),
                             key=lambda vn: (-vn[1], vn[0]))[:limit]  # fmt: skip
            facets[name] = dict(ordered)
            search_facets[name] = {
                "title": name,
                "items": [{"name": v, "display_name": labels[v], "count": n} for v, n in ordered],
            }
        return facets, search_facets

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

    def _themes(self) -> dict[str, tuple[str, list[OpenDataset]]]:
        """Every theme library of the open catalog, by group name: its title and datasets."""
        found: dict[str, tuple[str, list[OpenDataset]]] = {}
        for d in service.datasets(self.session, self.base):
            for theme in d.themes:
                found.setdefault(service.theme_name(theme), (theme, []))[1].append(d)
        return found

    def group_list(self) -> list[Any]:
        themes = self._themes()
        limit = _int(self.params, "limit", 1000, 1000)
        offset = _int(self.params, "offset", 0, 10**9)
        sort = str(self.params.get("sort") or "name").split()
        if sort[0] not in ("name", "title", "package_count"):
            raise _invalid("sort", f"Cannot sort by field `{sort[0]}`")
        keys: dict[str, Callable[[str], Any]] = {
            "name": lambda n: n, "title": lambda n: themes[n][0],
            "package_count": lambda n: len(themes[n][1]),
        }  # fmt: skip
        names = sorted(themes, key=keys[sort[0]],
                       reverse=len(sort) > 1 and sort[1].lower() == "desc")  # fmt: skip
        chosen = self.params.get("groups")
        if chosen:
            wanted = (
                chosen
                if isinstance(chosen, list)
                else str(chosen).strip("[]").replace('"', "").split(",")
            )
            names = [n for n in names if n in wanted]
        names = names[offset : offset + limit]
        if _flag(self.params, "all_fields"):
            return [self.group(themes[n][0], len(themes[n][1])) for n in names]
        return names

    def group_show(self) -> dict[str, Any]:
        ident = self._id()
        themes = self._themes()
        name = next((n for n, (title, _) in themes.items() if ident in (n, title)), None)
        if name is None:
            raise _not_found("group")
        title, found = themes[name]
        group = self.group(title, len(found))
        if _flag(self.params, "include_datasets"):
            group["packages"] = [self.package(d) for d in found]
        return group

    def _tags(self) -> dict[str, list[OpenDataset]]:
        found: dict[str, list[OpenDataset]] = {}
        for d in service.datasets(self.session, self.base):
            for keyword in d.keywords:
                found.setdefault(keyword, []).append(d)
        return found

    def tag_list(self) -> list[Any]:
        if self.params.get("vocabulary_id"):
            raise _not_found("vocabulary")
        query = str(self.params.get("query") or self.params.get("q") or "").lower()
        names = sorted(t for t in self._tags() if query in t.lower())
        if _flag(self.params, "all_fields"):
            return [self.tag(t) for t in names]
        return names

    def tag_show(self) -> dict[str, Any]:
        ident = self._id()
        tags = self._tags()
        if ident not in tags:
            raise _not_found("tag")
        tag = self.tag(ident)
        if _flag(self.params, "include_datasets"):
            tag["packages"] = [self.package(d) for d in tags[ident]]
        return tag

    def current_package_list_with_resources(self) -> list[dict[str, Any]]:
        limit = _int(self.params, "limit", 10**6, 10**6)
        page = _int(self.params, "page", 1, 10**9)
        offset = _int(self.params, "offset", 0, 10**9)
        if page < 1:
            raise _invalid("page", "Must be a positive integer")
        if "page" in self.params and "limit" in self.params:
            offset = (page - 1) * limit
        found = sorted(service.datasets(self.session, self.base),
                       key=lambda d: d.updated_at, reverse=True)  # fmt: skip
        return [self.package(d) for d in found[offset : offset + limit]]

    def resource_view_list(self) -> list[dict[str, Any]]:
        self._resource(self._id())
        return []

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
                "site_description": "", "ckan_version": "2.11.0", "citybase_version": __version__,
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
                 "help_show", "group_list", "group_show", "tag_list", "tag_show",
                 "current_package_list_with_resources", "resource_view_list")
}  # fmt: skip


def base_url(request: Request, public_url: str | None) -> str:
    return (public_url or str(request.base_url)).rstrip("/")


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Sent:
    """What a POST carried, read on the event loop before the action runs in a thread: its
    body, or its form's text fields when it is a form; or what reading it raised, raised again
    where the action answers in CKAN's envelope (as when the action read it itself)."""

    body: bytes = b""
    form: dict[str, str] | None = None
    error: Exception | None = None


async def _read_sent(request: Request) -> Sent:
    if request.method != "POST":
        return Sent()
    kind = request.headers.get("content-type", "")
    try:
        if "json" not in kind and kind.startswith(FORM_TYPES):
            form = await request.form()
            return Sent(form={k: v for k, v in form.items() if isinstance(v, str)})
        return Sent(body=await request.body())
    except Exception as exc:  # answered by the action, in CKAN's envelope
        return Sent(error=exc)


SentBody = Annotated[Sent, Depends(_read_sent)]


def _params(request: Request, sent: Sent) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        if sent.error is not None:
            raise sent.error
        kind = request.headers.get("content-type", "")
        if "json" in kind:
            body = sent.body
            if body.strip():
                try:
                    data = json.loads(body)
                except json.JSONDecodeError as exc:
                    raise CkanError(400, "Bad request", f"JSON Error: {exc.msg}") from exc
                if not isinstance(data, dict):
                    raise CkanError(400, "Bad request", "JSON Error: not an object")
                params.update(data)
        elif kind.startswith(FORM_TYPES):
            params.update(sent.form or {})
        elif sent.body.strip():
            raise CkanError(415, "Bad request", "Unsupported media type: parameters are sent as "
                            f"JSON or a form, not {kind.split(';')[0] or 'a body of no type'}")  # fmt: skip
    return params


def _accepts_json(accept: str) -> bool:
    """Whether a request's ``Accept`` admits the JSON every action answers in (no header, or
    ``*/*``, ``application/*``, ``application/json``, with a non-zero quality)."""
    if not accept.strip():
        return True
    for part in accept.split(","):
        kind, *options = (p.strip().lower() for p in part.split(";"))
        if kind in ("*/*", "application/*", "application/json") and "q=0" not in options:
            return True
    return False


@router.get("/3/action/{name}")
@router.get("/action/{name}", include_in_schema=False)  # CKAN answers on both (ckanapi uses this)
def action_get(
    request: Request, session: DbSession, settings: AppSettings, name: str, _: Public
) -> JSONResponse:
    """Call a CKAN action with its parameters in the query string."""
    return _action(request, session, settings, name, Sent())


@router.post("/3/action/{name}")
@router.post("/action/{name}", include_in_schema=False)
@reads_only  # only the read side is served: every action answers from a read-only transaction
def action_post(
    request: Request, session: DbSession, settings: AppSettings, name: str, _: Public,
    sent: SentBody,
) -> JSONResponse:  # fmt: skip
    """Call a CKAN action with its parameters in a JSON or form body (as ckanapi does)."""
    return _action(request, session, settings, name, sent)


def _action(
    request: Request, session: Session, settings: Settings, name: str, sent: Sent
) -> JSONResponse:
    base = base_url(request, settings.web.public_url)
    help_url = f"{base}/api/3/action/help_show?name={name}"
    try:
        if not _accepts_json(request.headers.get("accept", "")):
            raise CkanError(
                406, "Bad request", "Not acceptable: actions answer in application/json"
            )
        if name in READ_ONLY or WRITES.search(name):
            raise CkanError(403, "Authorization Error",
                            "Access denied: citybase serves the read side of the CKAN API; "
                            "resources are registered in its catalog")  # fmt: skip
        handler = ACTIONS.get(name)
        if handler is None:
            raise CkanError(400, "Bad request", f"Bad request - Action name not known: {name}")
        try:
            result = handler(Ckan(session, base, _params(request, sent)))
        except ValidationError as exc:  # a parameter the schemas behind an action refuse
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "params"
            raise _invalid(field, f"{field}: {first['msg']}") from exc
        except NotFound as exc:
            raise _not_found(exc.field or "resource") from exc
        except CitybaseError as exc:  # refused below the action (text the database cannot take)
            raise _invalid(exc.field or "params", exc.message) from exc
        except CkanError:
            raise
        except Exception as exc:  # a fault of ours, still in CKAN's envelope for its clients
            log.exception("CKAN action %s failed", name)
            raise CkanError(500, "Internal Server Error", "Internal server error") from exc
    except CkanError as exc:
        error = {"__type": exc.kind, "message": exc.message, **exc.extra}
        return JSONResponse({"help": help_url, "success": False, "error": error}, exc.status)
    return JSONResponse({"help": help_url, "success": True, "result": result})


@router.get("/3")
def api_version(_: Public) -> dict[str, int]:
    return {"version": 3}
