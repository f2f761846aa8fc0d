"""The demo city's 12345 traffic: citizen requests written here across the categories and the
districts, taken in over the last weeks and carried through the workflow by the units with
realistic delays — most on time, some signed or answered late, some returned, some reopened when
the citizen was unsatisfied, the newest still open and some of those overdue. Not real data."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.clock import CITY_TZ
from citybase.core.errors import CitybaseError
from citybase.core.files import service as files
from citybase.core.identity import service as identity
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel
from citybase.core.settings import HubSettings, Settings
from citybase.core.workdays import DEFAULT
from citybase.hub.brains import service as brains
from citybase.hub.cases import service as cases
from citybase.hub.cases.auth import CASES_HANDLE, CASES_READ
from citybase.hub.cases.schemas import (
    Action,
    ActionIn,
    Attachment,
    CaseCreate,
    CaseFilter,
    CaseRead,
    CaseState,
    Channel,
    Source,
)
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.schemas import Urgency, VersionStatus

CATALOG_FILE = Path(__file__).parent / "dispatch.yaml"
KNOWLEDGE_FILE = Path(__file__).parent / "knowledge.yaml"

# 细类/小类 → what citizens say about it ({p}: a place)
SAYINGS: dict[str, list[str]] = {
    "010101": ["{p}有商贩占道经营，人行道被堵死了", "{p}夜市摊位占用机动车道，晚上很乱"],
    "010102": ["{p}楼顶有人违章搭建彩钢房", "{p}一楼住户私自扩建围墙占用公共通道"],
    "010103": ["{p}垃圾桶满了好几天没人清运，气味很大", "{p}垃圾堆在路边没人收"],
    "010201": ["{p}路面坑洼破损，电动车经过很危险", "{p}人行道地砖松动翘起，老人容易绊倒"],
    "010202": ["{p}井盖缺失，晚上路过很危险", "{p}井盖松动破损，车辆经过响声很大"],
    "010203": ["{p}路灯不亮已经一个星期了", "{p}一排路灯晚上全部熄灭，黑漆漆的"],
    "010204": ["{p}一下雨就积水，车辆无法通行", "{p}下水道堵塞，路面积水很深"],
    "0103": ["{p}行道树枝干断裂快倒了，请尽快修剪", "{p}绿地被人毁坏种菜"],
    "020101": ["{p}工地夜间施工噪音扰民，晚上十一点还在打桩", "{p}工地凌晨还在施工，吵得睡不着"],
    "020102": ["{p}广场舞音响声音太大，影响老人休息", "{p}楼下烧烤店每晚喧哗到凌晨"],
    "0202": ["{p}工地扬尘严重，渣土没有覆盖", "{p}有人露天焚烧垃圾，烟味很大"],
    "0203": ["{p}附近内河水发黑发臭", "{p}有餐馆往内河直排污水"],
    "0301": ["{p}的公交站点撤了，出行很不方便，希望恢复", "{p}公交车发车间隔太长，等半小时"],
    "0302": ["在{p}打车，出租车司机拒载", "网约车司机绕路多收费，从{p}出发"],
    "0303": ["{p}路口红绿灯时间太短，行人过不去", "{p}长期有车辆违停占道，堵塞交通"],
    "0401": ["孩子明年上小学，想咨询{p}的学区划片", "外地户籍孩子在{p}入学需要什么材料"],
    "0402": ["{p}的校外培训机构收费后关门，无法退费", "{p}有无证培训机构招生"],
    "0403": ["{p}篮球场灯光坏了，晚上无法使用", "{p}的社区文化活动室长期锁门"],
    "050101": ["在{p}的工地干活，老板拖欠工资三个月", "{p}一家餐馆拖欠员工工资不发"],
    "050102": ["公司不和我签劳动合同，还要求无偿加班", "单位辞退我不给经济补偿"],
    "0502": ["社保卡丢失了怎么补办", "养老保险转移接续手续怎么办理"],
    "0601": ["{p}的健身房预付卡关门不退款", "在{p}买的家电坏了，商家不给售后"],
    "0602": ["{p}景区门票价格与公示不符", "跟旅行社出游被强制购物"],
    "0701": ["{p}医院挂号难，排队时间太长", "在{p}医院看病，医生态度很差"],
    "0703": ["异地就医医保报销怎么办理", "门诊医保报销比例是多少"],
    "0801": ["{p}晚上经常有人聚集喝酒闹事", "{p}有人在小区里偷电动车电瓶"],
    "0802": ["{p}楼道里有人给电动车充电，消防通道被堵", "{p}小区消防栓没有水"],
    "0803": ["{p}一家小作坊存放大量液化气罐，很不安全", "{p}工地工人高空作业不系安全带"],
    "1001": ["家里困难，想申请低保需要什么材料", "{p}有一位独居老人生活困难，希望帮助"],
    "1002": ["{p}社区养老服务站什么时候开放", "想给老人申请居家养老服务补贴"],
    "1101": ["{p}的超市在卖过期食品", "{p}一家餐馆后厨卫生条件很差"],
    "1102": ["{p}停车场收费不按公示标准", "{p}菜市场摊贩缺斤短两"],
    "120101": ["{p}小区电梯经常故障，昨天又困人了", "{p}电梯年检过期还在使用"],
    "120102": ["{p}小区物业不作为，物业费还涨价", "{p}物业乱收停车费"],
    "1202": ["公租房申请进度怎么查询", "保障房租金补贴怎么申请"],
    "1301": ["居住证怎么办理", "公积金提取需要什么材料", "新生儿落户需要带什么"],
    "1302": ["{p}的办事窗口工作人员态度很差", "在{p}办事被要求反复提交材料"],
}
# answered on the spot by the operator (咨询类), with the standard answer given
ON_THE_SPOT = {
    "0502": "社保卡补办可携带身份证到社保卡服务网点办理，也可在“e福州”线上申请。",
    "0703": "异地就医请先在医保平台办理备案，备案后就医可直接结算。",
    "1202": "公租房申请进度可在市住房保障服务平台或“e福州”查询。",
    "1301": "可通过“e福州”或市民服务中心窗口办理，所需材料以办事指南为准。",
}
ROADS = ["五一路", "八一七路", "东街", "杨桥路", "工业路", "江滨大道", "六一路", "华林路", "湖东路",
         "温泉路", "鼓屏路", "白马路", "西二环", "福飞路"]  # fmt: skip


def _places(session: Session) -> list[tuple[str, str]]:
    """(address, region code) pairs: communities where the register has them, else districts."""
    regions = {r.code: r for r in orgs.list_regions(session)}
    out = []
    for r in regions.values():
        if r.level is RegionLevel.community:
            street = regions[r.parent_code or ""]
            district = regions[street.parent_code or ""]
            out.append((f"{district.name}{street.name}{r.name}", r.code))
        elif r.level is RegionLevel.district:
            out.append((r.name, r.code))
    return out


# the centre's model learns as the weeks go by: its first version once the first cases are
# closed, then again (days before now); and once more at the end of the stream
ROUNDS = (20, 10)
# the demo's learning periods: a short holdout, for a stream of a few weeks
DEMO_LEARNING = HubSettings(holdout_days=4)


def seed_cases(
    session: Session, operator: cases.Mover, supervisor: cases.Mover, *, count: int = 320,
    days: int = 40, now: datetime | None = None, seed: int = 12345, home: Path | None = None,
    phones: dict[str, str] | None = None,
) -> int:  # fmt: skip
    """Take in ``count`` requests spread over the last ``days`` days, in the order they came,
    and carry each as far as its simulated handling has got by ``now``. Returns how many cases
    were made. ``phones`` is given each case's number and the phone it was taken in with.

    With ``home``, the centre learns as it goes (学习): a classifier is trained at each of
    ``ROUNDS`` from the cases closed and corrected so far, judged against the one before it
    (champion and challenger), and its suggestions are what the operators see from then on.
    They leave half of the requests to it — dispatched at once when it is sure, or read at the
    desk and now and then taken when wrong — so its mistakes reach the units, who return them
    (退单), and the corrections teach the next round."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    places = _places(session)
    codes = sorted(SAYINGS)
    requests: list[tuple[datetime, str, CaseCreate, float]] = []
    for _ in range(count):
        code = rng.choice(codes)
        address, region = rng.choice(places)
        place = f"{address}{rng.choice(ROADS)}{rng.randint(1, 300)}号"
        text = rng.choice(SAYINGS[code]).format(p=place)
        at = now - timedelta(days=rng.uniform(0, days))
        at = at.replace(hour=rng.randint(0, 13), minute=rng.randint(0, 59))  # 08:00–21:59 city
        if at > now:
            at -= timedelta(days=1)
        data = CaseCreate(
            source=rng.choice([Source.hotline] * 6 + [Source.app, Source.portal]),
            channel=Channel.phone, reporter_name=rng.choice("陈林黄张李王吴刘蔡杨郑") + "先生",
            reporter_phone=f"13{rng.randint(5, 9)}{rng.randint(10_000_000, 99_999_999)}",
            text=text, address=place, region_code=region,
            category_code="" if code in ON_THE_SPOT else code,
            urgency=rng.choice(["normal"] * 8 + ["pressing", "urgent"]),
        )  # fmt: skip
        # the case's fate in its handling (returned, reassigned…), drawn apart from the model's
        # doing so that the stream's shares do not drift with what the model gets right
        requests.append((at, code, data, rng.random()))
    rounds = sorted(now - timedelta(days=d) for d in ROUNDS) if home is not None else []
    learned = False
    made = 0
    for at, code, data, fate in sorted(requests, key=lambda r: r[0]):
        while rounds and at >= rounds[0]:
            learned = _learn(session, home, rounds.pop(0)) or learned
        if learned and code not in ON_THE_SPOT and rng.random() < 0.5:
            data = data.model_copy(update={"category_code": ""})  # left to the model
        # a question answered on the spot (咨询) is not put to the model
        taken = cases.intake(session, operator, data, now=at,
                             home=None if code in ON_THE_SPOT else home)  # fmt: skip
        made += 1
        if phones is not None:
            phones[taken.case.number] = data.reporter_phone
        _carry(session, rng, taken.case.number, code, operator, supervisor, at, now,
               [d.number for d in taken.duplicates], fate)  # fmt: skip
    return made


def _learn(session: Session, home: Path | None, at: datetime) -> bool:
    """One round of the centre's learning as of ``at``; whether a model now suggests."""
    if home is None:
        return False
    from citybase.hub.dispatch import learning  # scikit-learn: loaded when the demo learns

    learning.retrain(session, home, DEMO_LEARNING, Actor.system("demo"), now=at)
    return any(v.status is VersionStatus.champion for v in learning.versions(session, "cases"))


def _lead_for(session: Session, case: CaseRead, code: str) -> str:
    """The unit the dispatch catalog gives a matter of ``code`` at the case's place."""
    path = [r.code for r in orgs.region_path(session, case.region_code)] if case.region_code else []
    found = dispatch.route(session, code, path, Urgency(case.urgency))
    return found.lead_unit if found is not None else ""


def _handler(unit: str) -> cases.Mover:
    return cases.Mover(Actor(name=f"{unit} 承办人", unit=unit), unit,
                       frozenset({CASES_HANDLE, CASES_READ}))  # fmt: skip


def _carry(
    session: Session, rng: random.Random, number: str, code: str, operator: cases.Mover,
    supervisor: cases.Mover, at: datetime, now: datetime, duplicates: list[str],
    fate: float | None = None,
) -> None:  # fmt: skip
    """Play a case's handling forward from ``at``, stopping at ``now``; ``fate`` (uniform in
    [0, 1), drawn when omitted) decides whether it is returned or reassigned."""
    fate = rng.random() if fate is None else fate
    t = at

    def step(who: cases.Mover, action: Action, after_hours: float, **fields: object) -> bool:
        nonlocal t
        when = DEFAULT.add(t, after_hours)
        if when > now:
            return False
        cases.act(session, who, number, action, ActionIn.model_validate(fields), now=when)
        t = when
        return True

    if duplicates:
        step(operator, Action.merge, 0.1, target=duplicates[0], note="同一事项，合并办理")
        return
    if code in ON_THE_SPOT:
        step(operator, Action.close, 0.05, reply=ON_THE_SPOT[code], category_code=code)
        return
    case = cases.get_for_system(session, number)
    if case.state is CaseState.accepted:
        # left to the model, which was not sure: the operator reads its suggestion and mostly
        # puts it right, but takes a wrong one now and then
        suggested = str(case.suggestion.get("label") or "")
        chosen = suggested if suggested and rng.random() < 0.15 else code
        if not step(operator, Action.dispatch, rng.uniform(0.05, 0.5), category_code=chosen):
            return
        case = cases.get_for_system(session, number)
    if case.state is not CaseState.dispatched:
        return
    lead = case.lead_unit
    if case.category_code != code:
        # sent as the wrong matter: the unit returns it unless the right one is its own too
        right = _lead_for(session, case, code)
        if right and right != lead:
            if not step(_handler(lead), Action.return_, rng.uniform(0.5, 6),
                        note=f"不属于本单位职责，应由{orgs.get_unit(session, right).name}办理"):  # fmt: skip
                return
            if not step(operator, Action.dispatch, rng.uniform(0.2, 2), category_code=code):
                return
            lead = cases.get_for_system(session, number).lead_unit
    elif fate < 0.1 and lead.startswith(("gl.", "tj.")):
        # a district unit returns it: the city unit is named in the catalog's city line
        if not step(_handler(lead), Action.return_, rng.uniform(0.5, 6), note="不属于本单位职责"):
            return
        city = "fz." + lead.split(".", 1)[1]
        if not step(operator, Action.dispatch, rng.uniform(0.2, 2), lead_unit=city):
            return
        lead = city
    elif fate < 0.15 and lead.startswith(("gl.", "tj.")):
        # the centre's supervisor sees it is the city's to do and reassigns it (改派)
        city = "fz." + lead.split(".", 1)[1]
        if not step(supervisor, Action.reassign, rng.uniform(0.5, 4), lead_unit=city,
                    note="涉及全市统筹，改派市级部门办理"):  # fmt: skip
            return
        lead = city
    elif 0.15 <= fate < 0.17:
        # returned for want of detail; the centre completes it and sends it back to the same
        # unit (退单不成立): a return the next model does not learn from
        if not step(_handler(lead), Action.return_, rng.uniform(0.5, 6),
                    note="地址不详，无法现场核实"):  # fmt: skip
            return
        if not step(operator, Action.dispatch, rng.uniform(0.5, 3), lead_unit=lead,
                    note="已回访市民补充详细地址，请继续办理"):  # fmt: skip
            return
    elif 0.17 <= fate < 0.19:
        # a unit disputes the matter is its own; the centre overrules it (退单不成立)
        if not step(_handler(lead), Action.return_, rng.uniform(0.5, 6),
                    note="该事项不属于本单位职责范围"):  # fmt: skip
            return
        if not step(operator, Action.dispatch, rng.uniform(0.5, 3), lead_unit=lead,
                    note="经核实属于贵单位职责，请继续办理"):  # fmt: skip
            return
    case = cases.get_for_system(session, number)
    if case.sign_due is None or case.handle_due is None:
        return
    sign_hours = DEFAULT.hours_between(t, case.sign_due)
    handle_hours = DEFAULT.hours_between(t, case.handle_due)
    if rng.random() < 0.02:  # left unsigned: it goes red and up to the unit's counterpart
        return
    share = rng.uniform(1.1, 1.6) if rng.random() < 0.04 else rng.uniform(0.02, 0.6)
    if not step(_handler(lead), Action.sign, share * sign_hours):
        return
    if rng.random() < 0.03:  # signed for and then left lying
        return
    if rng.random() < 0.05:
        if not step(_handler(lead), Action.extend, rng.uniform(24, 100), days=rng.randint(2, 5),
                    note="需协调相关单位现场处置"):  # fmt: skip
            return
        if not step(supervisor, Action.approve_extension, rng.uniform(1, 8)):
            return
    for round_ in range(2):
        share = rng.uniform(1.05, 1.4) if rng.random() < 0.07 else rng.uniform(0.1, 0.9)
        hours = share * handle_hours / 2
        if rng.random() < 0.5 and not step(_handler(lead), Action.note, hours,
                                           note="已安排人员现场核查"):  # fmt: skip
            return
        if not step(_handler(lead), Action.reply, hours,
                    reply="经核查，已按规定处理完毕，感谢您的监督。"):  # fmt: skip
            return
        verdict = rng.choices(["satisfied", "basic", "unsatisfied"], [75, 15, 10])[0]
        if round_ == 1 and verdict == "unsatisfied":
            verdict = "basic"
        if not step(operator, Action.follow_up, rng.uniform(2, 20), satisfaction=verdict):
            return
        if verdict != "unsatisfied":
            step(operator, Action.close, rng.uniform(0.1, 2))
            return
        if not step(supervisor, Action.reopen, rng.uniform(1, 8), note="市民反映问题仍未解决"):
            return
        if not step(_handler(lead), Action.sign, rng.expovariate(1 / 3)):
            return


def seed_hub(
    session: Session,
    home: Path,
    now: datetime | None = None,
    settings: Settings | None = None,
    phones: dict[str, str] | None = None,
) -> None:
    """The dispatch catalog, the request stream, the warnings as of now and a classifier
    learned from the closed demo cases; with ``settings``, the grid inspectors' reports carry a
    picture (drawn for the demo) whose EXIF says where it was taken."""
    actor = Actor.system("demo")
    report = dispatch.import_catalog(session, actor, CATALOG_FILE.read_text(encoding="utf-8"))
    if not report.ok:
        raise RuntimeError(f"the demo dispatch catalog does not load: {report.problems[:3]}")
    operator = cases.Mover.of(session, identity.principal_for(session, "operator"))
    supervisor = cases.Mover.of(session, identity.principal_for(session, "supervisor"))
    now = now or datetime.now(UTC)
    try:
        seed_cases(session, operator, supervisor, now=now, home=home, phones=phones)
    except CitybaseError as exc:
        raise RuntimeError(f"the demo requests do not go through: {exc.message}") from exc
    _spike(session, operator, now)
    _waiting(session, operator, now)
    _inspections(session, operator, supervisor, now, settings=settings)
    cases.sweep(session, DEFAULT, 0.25, now)
    brains.detect(session, HubSettings(), now)
    _learn(session, home, now)


SPIKE = ["楼下广场舞音响太吵，每晚到十点", "小区门口烧烤摊喧哗到凌晨", "隔壁装修电钻声一整天",
         "商铺门口大喇叭循环叫卖", "夜里有人在江边放音响唱歌", "酒吧音乐声震得窗户响",
         "改装车深夜轰油门扰民"]  # fmt: skip


def _spike(session: Session, operator: cases.Mover, now: datetime) -> None:
    """A burst of noise complaints in 台江区 over the last day: the hot spot of the dashboard."""
    for n, text in enumerate(SPIKE):
        data = CaseCreate(text=text, address=f"台江区{ROADS[n]}{n * 7 + 3}号", region_code="350103",
                          category_code="020102", reporter_phone=f"1380591{n:04d}")  # fmt: skip
        cases.intake(session, operator, data, now=now - timedelta(hours=2 + n * 2.5))


def _waiting(session: Session, operator: cases.Mover, now: datetime) -> None:
    """A request dispatched to 鼓楼区城管局 within the hour and not yet signed, when the stream
    left none at the time the demo is built: what the demo's case handler finds waiting."""
    found, _ = cases.find_all(session, CaseFilter(state=[CaseState.dispatched],
                                                  lead_unit="gl.urban"))  # fmt: skip
    if found:
        return
    data = CaseCreate(text="鼓东路口的井盖缺失了，晚上很危险，请尽快处理", address="鼓楼区鼓东路12号",
                      region_code="350102", category_code="010202", reporter_name="林先生",
                      reporter_phone="13805910012")  # fmt: skip
    number = cases.intake(session, operator, data, now=now - timedelta(minutes=40)).case.number
    if cases.get_for_system(session, number).state is CaseState.accepted:
        cases.act(session, operator, number, Action.dispatch,
                  ActionIn(lead_unit="gl.urban", category_code="010202"),
                  now=now - timedelta(minutes=35))  # fmt: skip


# what a grid inspector reports on the street (鼓东街道) whose communities and grids the demo
# outlines: placed by the phone's GPS point alone, which lands in a grid
INSPECTED = ["010101", "010102", "010103", "010201", "010202", "010203", "0202", "0802"]
INSPECTED_AREA = (119.2965, 26.0825, 119.3115, 26.0955)  # west, south, east, north


def _inspections(
    session: Session, operator: cases.Mover, supervisor: cases.Mover, now: datetime,
    count: int = 16, settings: Settings | None = None,
) -> None:  # fmt: skip
    rng = random.Random(350102001)
    west, south, east, north = INSPECTED_AREA
    for n in range(count):
        code = rng.choice(INSPECTED)
        at = now - timedelta(days=rng.uniform(0, 20))
        at = at.replace(hour=rng.randint(0, 9), minute=rng.randint(0, 59))
        lon, lat = round(rng.uniform(west, east), 6), round(rng.uniform(south, north), 6)
        point: dict[str, Any] = {"lon": lon, "lat": lat}
        attachments: list[Attachment] = []
        if settings is not None:  # the picture says where: the report gives no point of its own
            picture = files.keep(session, settings, f"网格员{n % 4 + 1}号",
                                 f"巡查照片-{n + 1:02d}.jpg", _picture(rng, lon, lat, at))  # fmt: skip
            attachments, point = [Attachment(file_id=picture.id)], {}
        data = CaseCreate(
            source=Source.grid, channel=Channel.inspection, reporter_name=f"网格员{n % 4 + 1}号",
            reporter_phone=f"1370591{n:04d}", text=rng.choice(SAYINGS[code]).format(p="现场"),
            category_code=code, attachments=attachments, **point,
        )  # fmt: skip
        taken = cases.intake(session, operator, data, now=at)
        _carry(session, rng, taken.case.number, code, operator, supervisor, at, now,
               [d.number for d in taken.duplicates])  # fmt: skip


def _picture(rng: random.Random, lon: float, lat: float, at: datetime) -> bytes:
    """A street drawn for the demo (not a photograph: it says so on it), with the EXIF a phone
    writes: where (GPS) and when."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (rng.randint(150, 190),) * 3)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 640, 170], fill=(rng.randint(150, 200), rng.randint(190, 220), 235))
    for x in range(0, 640, 90):  # buildings
        top = rng.randint(40, 120)
        draw.rectangle([x + 5, top, x + 80, 175], fill=(rng.randint(120, 200),) * 3)
    draw.polygon([(0, 480), (640, 480), (380, 175), (260, 175)], fill=(90, 90, 95))  # the road
    for y in range(200, 480, 50):
        draw.line([(320, y), (320, y + 25)], fill=(235, 200, 60), width=4)
    draw.ellipse([rng.randint(200, 380), 330, rng.randint(420, 470), 390], outline=(30, 30, 30),
                 width=6)  # fmt: skip
    draw.rectangle([0, 440, 640, 480], fill=(255, 255, 255))
    draw.text((12, 450), "citybase demo - drawn, not a photograph", fill=(180, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: _dms(lat), 3: "E", 4: _dms(lon)}
    exif[0x8769] = {0x9003: at.astimezone(CITY_TZ).strftime("%Y:%m:%d %H:%M:%S"),
                    0x9011: "+08:00"}  # fmt: skip
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def _dms(degrees: float) -> tuple[float, float, float]:
    d = int(degrees)
    m = int((degrees - d) * 60)
    return float(d), float(m), round((degrees - d - m / 60) * 3600, 3)
