"""Console pages of perception: devices (a list and where they stand), a device's page with its
curves of the last day, alarms, and the rules with a form to write one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.orgs import service as orgs
from citybase.core.web.charts import CITY_TZ, Chart, TimeBand, TimeSeries, time_chart
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import SubmittedForm, failure
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.maps import MapView, Outlines, Points, point
from citybase.core.web.once import FormToken, claim
from citybase.core.web.templating import NavEntry, Waiting, console
from citybase.perception.devices import service
from citybase.perception.devices.auth import DEVICES_MANAGE, PERCEPTION_READ, Manager, Reader
from citybase.perception.rules import service as rules
from citybase.perception.rules.schemas import RuleIn, RuleKind
from citybase.perception.telemetry import service as telemetry
from citybase.perception.telemetry.schemas import Agg

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Perception", "Devices", "/console/perception/devices", PERCEPTION_READ,
                          order=10))  # fmt: skip
console.add_page(NavEntry("Perception", "Alarms", "/console/perception/alarms", PERCEPTION_READ,
                          order=11))  # fmt: skip
console.add_page(NavEntry("Perception", "Rules", "/console/perception/rules", PERCEPTION_READ,
                          order=12))  # fmt: skip
console.add_page(NavEntry("Perception", "Dead letters", "/console/perception/dead-letters",
                          DEVICES_MANAGE, order=13))  # fmt: skip
add_translations("zh", {
    "Devices": "感知设备", "Alarms": "告警", "Rules": "规则", "Device": "设备",
    "Type": "类型", "Owner": "权属单位", "Online": "在线", "Offline": "离线", "Latest": "最新值",
    "Where the devices stand": "设备分布", "Last 24 hours": "近24小时",
    "GCJ-02 (for Chinese web maps)": "GCJ-02（国内网络地图坐标）", "Protocol": "接入协议",
    "Last seen": "最近上报", "Open alarms": "未解除告警", "Opened": "发生时间", "Closed": "解除时间",
    "Level": "级别", "level.warning": "一般", "level.critical": "严重", "Alarm message": "内容",
    "New rule": "新建规则", "Rule kind": "规则类型", "rule.threshold": "阈值持续",
    "rule.rate": "变化速率", "rule.silence": "离线静默", "rule.geofence": "电子围栏",
    "rule.anomaly": "异常检测", "Attribute": "属性", "Parameters (JSON)": "参数（JSON）",
    "Device type": "设备类型", "Alarm kind": "告警类别", "Name": "名称",
    "Devices with open alarms": "有未解除告警的设备", "Devices online": "在线设备",
    "Devices offline": "离线设备", "No readings yet.": "尚无数据。", "Still open": "未解除",
    "Perception": "感知层", "Next hour, 80% band": "未来一小时预测（80% 区间）",
    "Expected band (80%), forecast an hour before": "预期区间（80%，提前一小时预测）",
    "Alarm": "告警", "Red dots: alarms.": "红点：告警。",
    "Grey band: what was expected of the readings an hour before (80%).":
    "灰色带：提前一小时对读数的预期（80% 区间）。",
    "Blue band: the next hour (80%).": "蓝色带：未来一小时预测（80% 区间）。",
    "Dead letters": "异常消息", "Received": "接收时间", "Topic": "主题", "Reason": "原因",
    "Payload": "消息内容",
    "Messages from devices that could not be stored, with the reason; the broker was answered "
    "and will not send them again.": "设备上报但未能入库的消息及原因；已向消息服务器确认，不会重发。",
    "dead.malformed": "格式错误", "dead.parse_error": "解析失败", "dead.store_failed": "入库失败",
    "dead.topic_mismatch": "主题与设备不符", "dead.device_id_too_long": "设备编号过长",
    "dead.time_out_of_range": "时间超出范围", "dead.unknown_device": "未知设备",
    "dead.retired": "设备已停用", "dead.not_an_attribute": "非该类设备属性",
    "dead.expected": "数值类型不符", "dead.outside": "超出有效范围", "dead.no_values": "无数值",
    "dead.not_yours": "非本单位设备", "dead.text_too_long": "文本过长", "dead.time": "时间有误",
    "dead.other": "其他",
})  # fmt: skip


def _map(found: list[Any], alarmed: set[str]) -> MapView:
    """Where the devices stand over the districts' outlines: alarmed, online and offline."""
    layers = {
        "alarmed": Points("alarmed", "Devices with open alarms", "alarmed"),
        "online": Points("online", "Devices online", "online"),
        "offline": Points("offline", "Devices offline", "offline"),
    }
    for d in found:
        if d.lon is None or d.lat is None:
            continue
        state = "alarmed" if d.device_id in alarmed else ("online" if d.online else "offline")
        layers[state].items.append(point(d.lat, d.lon, d.name or d.device_id,
                                         f"/console/perception/devices/{d.device_id}", ""))  # fmt: skip
    return MapView(
        "devices-map", "Where the devices stand",
        [Outlines("districts", "District outlines", "level=district", pick=True)],
        [layer for layer in layers.values() if layer.items],
    )  # fmt: skip


@router.get("/console/perception/devices")
def devices_page(request: Request, session: DbSession, principal: Reader) -> Response:
    region = request.query_params.get("region", "")[:64]
    found = service.devices(session, within=region)
    latest = telemetry.latest_all(session)
    open_alarms = {a.device_id for a in rules.alarms(session, open_only=True)}
    return console.render(request, "perception/devices.html", {
        "devices": found, "latest": latest, "alarmed": open_alarms,
        "map": _map(found, open_alarms),
        "types": {t.code: t for t in service.types(session)},
        "region_picker": orgs.region_picker(session, region),
    })  # fmt: skip


def _chart(
    label: str, points: list[Any], ahead: Any = None, alarms: list[Any] | None = None,
    thresholds: list[tuple[float, str]] | None = None,
) -> Chart | None:  # fmt: skip
    """The last day's curve inside the band the forecast expected of it, the thresholds of
    the rules watching it, the alarms marked on it, and the next hour's forecast with its
    80 % band after it; time and value axes, a legend."""
    readings = [(p.start, p.value) for p in points if p.value is not None]
    if not readings:
        return None
    t0 = readings[0][0]
    steps = ahead.steps if ahead is not None else []
    expected = [s for s in (ahead.expected if ahead is not None else []) if s.ts >= t0]
    series = [TimeSeries("Readings", "actual", readings)]
    bands = [TimeBand("Expected band (80%)", "expected-band",
                      [(s.ts, s.lo80, s.hi80) for s in expected])]  # fmt: skip
    if steps:
        bands.append(TimeBand("Next hour (80%)", "forecast-band",
                              [(s.ts, s.lo80, s.hi80) for s in steps]))  # fmt: skip
        series.append(TimeSeries("Forecast", "trend", [(s.ts, s.value) for s in steps]))
    top = max(v for _, v in readings)
    marks = [(a.opened_at, a.value if a.value is not None else top,
              f"{a.opened_at.astimezone(CITY_TZ):%m-%d %H:%M} {a.message}")
             for a in alarms or [] if a.opened_at >= t0]  # fmt: skip
    return time_chart(label, series, bands=bands, thresholds=thresholds, marks=marks,
                      y_label=label)  # fmt: skip


def _thresholds(watching: list[Any], attr: str) -> list[tuple[float, str]]:
    """The limits of the threshold rules watching this attribute, as lines on its chart."""
    out = []
    for rule in watching:
        limit = rule.params.get("limit")
        if rule.kind == RuleKind.threshold and rule.attr == attr and isinstance(limit, int | float):
            out.append((float(limit), f"{rule.params.get('op', '')}"))
    return out


@router.get("/console/perception/devices/{device_id}")
def device_page(
    request: Request, session: DbSession, principal: Reader, device_id: str
) -> Response:
    device = service.get_device(session, device_id)
    kind = service.get_type(session, device.type_code)
    now = datetime.now(UTC)
    charts = []
    alarms = rules.alarms(session, device_id=device_id, limit=20)
    watching = [r for r in rules.rules(session) if r.active
                and (r.device_id == device_id or r.type_code == device.type_code)]  # fmt: skip
    for attr in kind.attributes:
        if attr.type != "number":
            continue
        try:
            points = telemetry.aggregate(session, device_id, attr.name, now - timedelta(hours=24),
                                         now, timedelta(minutes=10), Agg.avg)  # fmt: skip
        except CitybaseError:
            points = []
        try:
            ahead = rules.forecast_series(session, device_id, attr.name, now=now,
                                          expected_hours=24)  # fmt: skip
        except CitybaseError:
            ahead = None
        mine = [a for a in alarms if a.attr == attr.name]
        label = f"{attr.label or attr.name}" + (f" ({attr.unit})" if attr.unit else "")
        charts.append({"attr": attr, "chart": _chart(label, points, ahead, mine,
                                                     _thresholds(watching, attr.name))})  # fmt: skip
    return console.render(request, "perception/device.html", {
        "device": device, "kind": kind, "latest": telemetry.latest(session, device_id),
        "charts": charts, "alarms": alarms,
    })  # fmt: skip


@router.get("/console/perception/dead-letters")
def dead_letters_page(
    request: Request, session: DbSession, principal: Manager, page: int = 1
) -> Response:
    unit = None if "*" in principal.permissions else principal.unit_code
    letters = telemetry.dead_letters(session, unit, max(page, 1), 50)
    return console.render(request, "perception/dead_letters.html", {"letters": letters})


@router.get("/console/perception/alarms")
def alarms_page(request: Request, session: DbSession, principal: Reader) -> Response:
    return console.render(request, "perception/alarms.html",
                          {"alarms": rules.alarms(session, limit=300)})  # fmt: skip


def _rules_page(request: Request, session: DbSession, may: bool, form: dict[str, Any],
                errors: dict[str, str], status: int = 200) -> Response:  # fmt: skip
    return console.render(request, "perception/rules.html", {
        "rules": rules.rules(session), "kinds": list(RuleKind), "may_keep": may,
        "types": service.types(session), "form": form, "errors": errors,
    }, status)  # fmt: skip


@router.get("/console/perception/rules")
def rules_page(request: Request, session: DbSession, principal: Reader) -> Response:
    return _rules_page(request, session, principal.can(DEVICES_MANAGE),
                       {"params": '{"op": ">", "limit": 3.0, "for_minutes": 10}'}, {})  # fmt: skip


@router.post("/console/perception/rules")
def rule_create(
    request: Request, session: DbSession, principal: Manager, form: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        try:
            params = json.loads(str(form.get("params") or "{}"))
        except ValueError as exc:
            raise CitybaseError(NOT_JSON, field="params", reason=str(exc)) from None
        data = RuleIn.model_validate({**{k: v for k, v in form.items() if k != "params"},
                                      "params": params, "active": True})  # fmt: skip
        rules.put_rule(session, actor_of(principal), data)
    except (CitybaseError, ValidationError) as exc:
        return _rules_page(request, session, True, form, failure(session, exc), 422)
    return once.redirect(session, "/console/perception/rules?saved=1")


NOT_JSON = 'the parameters are not JSON: write them as {"name": value, …}'
add_translations("zh", {NOT_JSON: '参数不是 JSON：请写成 {"名称": 值, …}'})


def _waiting_alarms(session: Session, principal: Principal) -> list[Waiting]:
    """The alarms still open, for those who keep devices and their rules."""
    if not principal.can(DEVICES_MANAGE):
        return []
    open_ = rules.alarms(session, open_only=True, limit=500)
    oldest = min((a.opened_at for a in open_), default=None)
    return [Waiting("Open alarms", len(open_), oldest, "/console/perception/alarms")]


console.add_waiting(_waiting_alarms)
add_translations("zh", {"Open alarms": "未解除告警"})

# refusals a page may show, in Chinese (values kept in their place); the devices' pages also
# carry the rules' and the telemetry's
add_patterns("zh", {
    r"a device sends its own readings only \((.+?)\)": "设备只能发送自己的读数（{0}）",
    r"devices of (.+?) are registered by that unit": "{0} 的设备由该单位登记",
    r"at most (.+?) readings in one batch": "每批最多 {0} 条读数",
    r"device (.+?) has no readings of (.+?)": "设备 {0} 没有 {1} 的读数",
    r"cannot forecast (.+?) (.+?): (.+?)": "无法预测 {0} {1}：{2}",
    r"no device type (.+?)": "未找到设备类型 {0}",
    r"no device (.+?)": "未找到设备 {0}",
    r"no rule (.+?)": "未找到规则 {0}",
})  # fmt: skip
add_translations("zh", {
    "unknown device or wrong credential": "设备不存在或凭证错误",
    "silence minutes must be above 0": "静默分钟数应大于 0",
    "the body is a list of readings": "请求内容应为读数列表",
    "send the device's credential in X-Device-Secret": "请在 X-Device-Secret 请求头中发送设备凭证",
    "last is 1 to 100,000": "最近条数应为 1 到 100,000",
    "end must be after start": "结束时间应晚于开始时间",
    "the interval is at least one second": "间隔至少为一秒",
    "at most 100,000 intervals": "最多 100,000 个间隔",
    "pages are numbered from 1": "页码从 1 开始",
    "per_page is 1 to 500": "每页条数应为 1 到 500",
})  # fmt: skip
