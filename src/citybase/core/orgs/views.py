"""Console pages: the region tree and outlines, units, and import from CSV/YAML/GeoJSON."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from citybase.core.bus import service as bus
from citybase.core.errors import CitybaseError, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.service import actor_of
from citybase.core.orgs import boundaries, service
from citybase.core.orgs.auth import OrgsReader, OrgsWriter
from citybase.core.orgs.schemas import (
    RegionCreate,
    RegionLevel,
    RegionUpdate,
    UnitCreate,
    UnitKind,
    UnitUpdate,
)
from citybase.core.web.access import Public
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import RawForm, SubmittedForm, blank_to_none, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.maps import MapView, Outlines
from citybase.core.web.once import FIELD, FormOnce, FormToken, claim
from citybase.core.web.templating import NavEntry, console

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Kernel", "Regions", "/console/regions", identity.ORGS_READ, order=10))
console.add_page(NavEntry("Kernel", "Units", "/console/units", identity.ORGS_READ, order=11))
console.add_page(
    NavEntry("Kernel", "Import regions and units", "/console/orgs/import", identity.ORGS_WRITE, 12)
)

add_translations(
    "zh",
    {
        "Regions": "行政区划",
        "Region": "行政区划",
        "Units": "单位",
        "New unit": "新建单位",
        "New region below": "新建下级区划",
        "Import regions and units": "导入区划与单位",
        "Level": "级别",
        "Kind": "类型",
        "Parent": "上级",
        "Official code": "正式区划代码",
        "Local code (not an official division code)": "本地代码（非正式区划代码）",
        "Short name": "简称",
        "Unified social credit code": "统一社会信用代码",
        "Counterpart above": "上级对口单位",
        "Sort order": "排序",
        "Units in this region": "本区划内单位",
        "Sub-regions": "下级区划",
        "No units.": "暂无单位。",
        "Include units of sub-regions": "包含下级区划单位",
        "File (CSV or YAML)": "文件（CSV 或 YAML）",
        "Check only, import nothing": "仅检查，不导入",
        "Import": "导入",
        "Nothing was imported: fix these rows and try again.": "未导入任何数据：请修正以下行后重试。",
        "Checked: the file is good and would import as shown.": "检查通过：文件无误，导入结果如下。",
        "Imported.": "导入完成。",
        "created": "新增",
        "updated": "更新",
        "unchanged": "未变",
        "rows": "行数",
        "regions": "行政区划",
        "units": "单位",
        "Import format": "导入格式",
        "city": "市",
        "district": "区县",
        "street": "街道乡镇",
        "community": "社区村",
        "grid": "网格",
        "department": "政府工作部门",
        "agency": "直属机构/事业单位",
        "center": "中心",
        "party": "党委部门",
        "district_government": "区县政府",
        "enterprise": "国有企业",
        "boundaries": "边界",
        "Feature": "要素",
        "Worth a look": "请留意",
        "Outline": "边界",
        "No outline: import one as GeoJSON.": "暂无边界：可导入 GeoJSON。",
        "Area": "面积",
        "Source": "来源",
        "Updated": "更新时间",
        "Bounding box": "外包框",
        "Outlines (GeoJSON)": "区划边界（GeoJSON）",
        "File (CSV, YAML or GeoJSON)": "文件（CSV、YAML 或 GeoJSON）",
        "GeoJSON property naming the region (default: code, adcode or region_code)": "GeoJSON 中表示区划代码的属性（默认 code、adcode 或 region_code）",
        "Where the outlines come from": "边界来源",
    },
)


@router.get("/regions/children")
def region_children(
    session: DbSession, _: Public, parent: str = "", level: RegionLevel = RegionLevel.district
) -> JSONResponse:
    """The regions right under ``parent`` (those of ``level``, the districts by default, when it
    is empty), for the region picker's next list: ``[{"code", "name", "level"}]``. Public: the
    portal's citizens choose where with it, and region names are no secret."""
    if parent:
        service.get_region(session, parent[:40])  # 404 for an unknown region
    found = service.region_children(session, parent[:40], level)
    return JSONResponse([o.model_dump(mode="json") for o in found],
                        headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/regions/outlines")
def region_outlines(
    session: DbSession, _: Public, level: RegionLevel | None = None, parent: str = "",
    code: str = "",
) -> Response:  # fmt: skip
    """Outlines for the console's maps, simplified (``boundaries.map_collection``): a level's
    regions, a region's children (``parent``) or one region (``code``). Public, like the
    region names: administrative boundaries are published by the civil affairs bureau."""
    found = boundaries.map_collection(
        session, level=level, parent_code=parent[:40] or None,
        codes=[code[:40]] if code else None,
    )  # fmt: skip
    return Response(orjson.dumps(found), media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/console/regions")
def regions_page(request: Request, session: DbSession, _: OrgsReader) -> Response:
    return console.render(request, "orgs/regions.html", {"tree": service.region_tree(session)})


@router.get("/console/regions/{code}")
def region_page(request: Request, session: DbSession, principal: OrgsReader, code: str) -> Response:
    return _region_page(request, session, principal, code)


def _region_page(
    request: Request,
    session: DbSession,
    principal: OrgsReader,
    code: str,
    *,
    errors: dict[str, str] | None = None,
    child: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    region = service.region_detail(session, code)
    outlines = boundaries.outlines(session, [code])
    drawing = _drawing(session, code) if outlines else None
    next_levels = [lvl for lvl in RegionLevel if lvl.depth == region.level.depth + 1]
    return console.render(
        request,
        "orgs/region.html",
        {
            "region": region,
            "units": service.list_units(session, region_code=code),
            "can_edit": principal.can(identity.ORGS_WRITE),
            "next_level": next_levels[0].value if next_levels else None,
            "errors": errors or {},
            "child": child or {},
            "outline": outlines.get(code),
            "drawing": drawing,
            "map": _map(code, bool(drawing and len(drawing.shapes) > 1)) if drawing else None,
        },
        status,
    )


def _drawing(session: DbSession, code: str) -> boundaries.Drawing | None:
    """The region's outline with its outlined sub-regions inside it (simplified as the map
    draws them: a city's stored outlines are megabytes)."""
    children = boundaries.map_collection(session, parent_code=code)["features"]
    this = boundaries.map_collection(session, codes=[code])["features"]
    return boundaries.drawing([*this, *children], width=420)


def _map(code: str, has_children: bool) -> MapView:
    layers = [Outlines("region", "Outline", f"code={code}", focus=True)]
    if has_children:
        layers.insert(0, Outlines("children", "Sub-regions", f"parent={code}",
                                  link="/console/regions/"))  # fmt: skip
    return MapView("region-map", "Outline", layers)


@router.post("/console/regions/{code}")
def update_region(
    request: Request, session: DbSession, principal: OrgsWriter, code: str, once: FormOnce,
    values: SubmittedForm,
) -> Response:  # fmt: skip
    try:
        service.update_region(
            session, actor_of(principal), code, RegionUpdate.model_validate(values)
        )
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _region_page(request, session, principal, code, errors=form_errors(exc), status=422)
    return once.redirect(session, f"/console/regions/{code}?saved=1")


@router.post("/console/regions/{code}/children")
def create_child_region(
    request: Request, session: DbSession, principal: OrgsWriter, code: str, values: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    values["parent_code"] = code
    values["official"] = values.get("official") == "on"
    try:
        once = claim(request, session, token)
        created = service.create_region(
            session, actor_of(principal), RegionCreate.model_validate(values)
        )
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _region_page(
            request, session, principal, code, errors=form_errors(exc), child=values, status=422
        )
    return once.redirect(session, f"/console/regions/{created.code}?saved=1")


@router.get("/console/units")
def units_page(
    request: Request,
    session: DbSession,
    principal: OrgsReader,
    region: str = "",
    q: str = "",
    subregions: bool = False,
    status: str = "",
    kind: str = "",
) -> Response:
    """The units, found by name or code, by kind, by region (a cascade, with the sub-regions'
    units if asked) and by whether they are active."""
    active = {"active": True, "inactive": False}.get(status)
    # a kind typed into the address that is none of ours filters nothing, as the select shows
    chosen = UnitKind(kind) if kind in {k.value for k in UnitKind} else None
    try:
        units = service.list_units(session, region_code=region or None,
                                   include_subregions=subregions, search=q, active=active,
                                   kind=chosen)  # fmt: skip
    except NotFound:  # a region typed into the address that does not exist finds no unit
        units = []
    return console.render(
        request,
        "orgs/units.html",
        {
            "units": units,
            "q": q,
            "region": region,
            "subregions": subregions,
            "status": status if active is not None else "",
            "kind": chosen.value if chosen is not None else "",
            "kinds": [k.value for k in UnitKind],
            "region_picker": service.region_picker(session, region, top=RegionLevel.city),
            "can_edit": principal.can(identity.ORGS_WRITE),
        },
    )


def _unit_form(
    request: Request,
    session: DbSession,
    *,
    unit: object,
    values: dict[str, object],
    errors: dict[str, str],
    can_edit: bool,
    status: int = 200,
) -> Response:
    return console.render(
        request,
        "orgs/unit_form.html",
        {
            "unit": unit,
            "values": values,
            "errors": errors,
            "region_picker": service.region_picker(
                session, str(values.get("region_code") or ""), top=RegionLevel.city
            ),
            "units": service.list_units(session),
            "kinds": [k.value for k in UnitKind],
            "can_edit": can_edit,
        },
        status,
    )


@router.get("/console/units/new")
def new_unit_page(
    request: Request, session: DbSession, _: OrgsWriter, region: str = ""
) -> Response:
    return _unit_form(
        request, session, unit=None, values={"region_code": region}, errors={}, can_edit=True
    )


@router.post("/console/units/new")
def create_unit(
    request: Request, session: DbSession, principal: OrgsWriter, values: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        data = UnitCreate.model_validate(blank_to_none(values, "credit_code", "counterpart_code"))
        unit = service.create_unit(session, actor_of(principal), data)
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _unit_form(
            request, session, unit=None, values=values, errors=form_errors(exc), can_edit=True,
            status=422,
        )  # fmt: skip
    return once.redirect(session, f"/console/units/{unit.code}?saved=1")


@router.get("/console/units/{code}")
def unit_page(request: Request, session: DbSession, principal: OrgsReader, code: str) -> Response:
    unit = service.get_unit(session, code)
    return _unit_form(
        request, session, unit=unit, values=unit.model_dump(), errors={},
        can_edit=principal.can(identity.ORGS_WRITE),
    )  # fmt: skip


@router.post("/console/units/{code}")
def update_unit(
    request: Request, session: DbSession, principal: OrgsWriter, code: str, once: FormOnce,
    values: SubmittedForm,
) -> Response:  # fmt: skip
    unit = service.get_unit(session, code)
    values["active"] = values.get("active") == "on"
    try:
        data = UnitUpdate.model_validate(values)
        service.update_unit(session, actor_of(principal), code, data)
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _unit_form(
            request, session, unit=unit, values=values, errors=form_errors(exc), can_edit=True,
            status=422,
        )  # fmt: skip
    return once.redirect(session, f"/console/units/{code}?saved=1")


@router.get("/console/orgs/import")
def import_page(request: Request, _: OrgsWriter) -> Response:
    return console.render(request, "orgs/import.html", {"reports": None})


@router.post("/console/orgs/import")
def import_upload(
    request: Request, session: DbSession, principal: OrgsWriter, form: RawForm, token: FormToken
) -> Response:
    upload = form.get("file")
    dry_run = form.get("dry_run") == "on"
    reports = None
    errors: dict[str, str] = {}
    if upload is None or isinstance(upload, str) or not upload.filename:
        errors["file"] = "choose a .csv, .yaml, .yml or .geojson file"
    elif upload.filename.lower().endswith((".geojson", ".json")):
        try:
            if not dry_run:
                claim(request, session, token).done(session, "/console/regions")
            reports = [boundaries.import_boundaries(
                session, actor_of(principal), upload.file.read(),
                code_property=str(form.get("code_property") or "").strip(),
                source=str(form.get("source") or "").strip()[:200], dry_run=dry_run,
            )]  # fmt: skip
        except CitybaseError as exc:
            undo(session)
            errors = form_errors(exc)
    else:
        try:
            if not dry_run:
                claim(request, session, token).done(session, "/console/regions")
            follow = bus.form_reporter(request.app.state.shared, str(form.get(FIELD, "")),
                                       principal.username)  # fmt: skip
            reports = service.import_orgs(session, actor_of(principal), upload.filename,
                                          upload.file.read(), dry_run=dry_run, progress=follow)  # fmt: skip
        except CitybaseError as exc:
            undo(session)
            errors = form_errors(exc)
    failed = bool(errors) or any(r.problems for r in reports or [])
    if failed and not errors:
        undo(session)  # nothing was imported: the form's token is given back with the rest
    return console.render(
        request,
        "orgs/import.html",
        {"reports": reports, "errors": errors, "dry_run": dry_run, "failed": failed},
        422 if failed else 200,
    )


add_translations("zh", {
    "Name or code": "名称或编码", "All": "全部",
    service.IMPORT_CHECK: "正在检查各行", service.IMPORT_APPLY: "正在导入行政区划与单位",
    "a city has no parent region": "市级区划没有上级", "a unit cannot be its own counterpart": "单位不能是自身的对口单位",
    "the file is not UTF-8 text": "文件不是 UTF-8 文本",
    "the YAML must hold a 'regions' and/or a 'units' list": "YAML 文件须包含 regions 或 units 列表",
    "only .csv, .yaml and .yml files can be imported": "只能导入 .csv、.yaml 或 .yml 文件",
    "the CSV header must name 'level' (regions) or 'region_code' (units)": "CSV 首行须含 level 列（行政区划）或 region_code 列（单位）",
    "an existing region's level and parent cannot be changed by import": "已有区划的级别和上级不能通过导入修改",
    "a boundary is a GeoJSON Polygon or MultiPolygon": "边界须为 GeoJSON 多边形",
    "the geometry is empty": "几何图形为空",
    "a GeoJSON FeatureCollection (or one Feature) is expected": "须为 GeoJSON 要素集合（或单个要素）",
    "2–20 letters, digits, _ or -": "2–20 位字母、数字、_ 或 -",
    "2–40 letters, digits, _ . or -": "2–40 位字母、数字、_、. 或 -",
    "not a valid unified social credit code (GB 32100 check failed)": "统一社会信用代码无效（GB 32100 校验未通过）",
})  # fmt: skip
add_patterns("zh", {
    r"no region with code (\S+)": "没有编码为 {0} 的行政区划",
    r"no unit with code (\S+)": "没有编码为 {0} 的单位",
    r"region (\S+) already exists": "行政区划 {0} 已存在", r"unit (\S+) already exists": "单位 {0} 已存在",
})  # fmt: skip

add_translations(
    "zh",
    {"choose a .csv, .yaml, .yml or .geojson file": "请选择 .csv、.yaml、.yml 或 .geojson 文件"},
)

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"coordinates must be longitude, latitude in WGS84 degrees \(found (.+?)…(.+?), (.+?)…(.+?)\)": "坐标应为 WGS84 经度、纬度（单位为度；实际为 {0}…{1}，{2}…{3}）",
    r"feature (.+?), (?P<field>.+?): (.+?) \((.+?) problem\(s\); nothing was imported\)": "第 {0} 个要素，{1}：{2}（共 {3} 处问题，未导入任何数据）",
    r"code (.+?) does not start with its parent's code (.+?)": "编码 {0} 应以上级编码 {1} 开头",
    r"row (.+?), (?P<field>.+?): (.+?) \((.+?) problem\(s\); nothing was imported\)": "第 {0} 行，{1}：{2}（共 {3} 处问题，未导入任何数据）",
    r"a (.+?) must sit directly under a (.+?), not a (.+?)": "{0}应直接隶属于{1}，不能隶属于{2}",
    r"the outline is not a valid polygon: (.+?)": "边界不是有效的多边形：{0}",
    r"counterpart unit (.+?) does not exist": "上级对口单位 {0} 不存在",
    r"credit code (.+?) already belongs to (.+?)": "统一社会信用代码 {0} 已属于 {1}",
    r"the geometry cannot be read: (.+?)": "无法读取几何图形：{0}",
    r"parent region (.+?) does not exist": "上级行政区划 {0} 不存在",
    r"an official (.+?) code has (.+?) digits": "{0}的统一区划代码为 {1} 位",
    r"'(.+?)' must be a list of mappings": "{0} 应为条目列表（每项为键值对）",
    r"the GeoJSON cannot be read: (.+?)": "无法读取 GeoJSON：{0}",
    r"the YAML cannot be read: (.+?)": "无法读取 YAML：{0}",
    r"region (.+?) has no boundary": "行政区划 {0} 没有边界",
    r"region (.+?) does not exist": "行政区划 {0} 不存在",
    r"code (.+?) is not in city (.+?)": "编码 {0} 不属于城市 {1}",
    r"no unit with id (.+?)": "未找到 ID 为 {0} 的单位",
})  # fmt: skip
add_translations("zh", {
    "the FeatureCollection has no features list": "要素集合中没有要素列表（features）",
})  # fmt: skip
