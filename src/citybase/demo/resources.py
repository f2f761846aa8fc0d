"""The demo city's larger catalog: resources expanded from ``resources.yaml`` (per year, per
district unit), with generated rows that look real and pass their check characters.

Every value is made up here from a seeded random generator: the same demo every time, and no
real person or company in it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from citybase.core.codes import citizen_id_check_char, credit_code_check_char

RESOURCES_FILE = Path(__file__).parent / "resources.yaml"
DISTRICTS = {"gl": "鼓楼区", "tj": "台江区"}
DISTRICT_NAMES = ("鼓楼区", "台江区", "仓山区", "晋安区", "马尾区", "长乐区", "闽侯县", "福清市")
DISTRICT_CODES = ("350102", "350103", "350104", "350111", "350105", "350112", "350121", "350181")
STREETS = ("鼓东街道", "鼓西街道", "东街街道", "南街街道", "安泰街道", "华大街道", "温泉街道",
           "水部街道", "五凤街道", "洪山镇", "瀛洲街道", "后洲街道", "上海街道", "茶亭街道")  # fmt: skip
ROADS = ("五四路", "八一七北路", "古田路", "湖东路", "杨桥中路", "工业路", "六一北路", "华林路",
         "白马北路", "江滨西大道", "福飞路", "国货西路", "群众路", "连江中路")  # fmt: skip
SURNAMES = "王李张刘陈杨黄林郑吴何高罗徐周谢叶蔡游翁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国晓东海燕玉兰志宏文斌婷雪梅"
FIRMS = ("闽江", "榕城", "三坊", "鼓山", "海峡", "东南", "左海", "新榕", "闽都", "乌山")
TRADES = ("科技", "贸易", "物流", "建设", "餐饮", "医药", "环保", "信息", "文化", "实业")
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# generator → the data element an item made by it follows
ELEMENTS = {"id": "公民身份号码", "person": "姓名", "mobile": "手机号码", "credit": "统一社会信用代码",
            "address": "地址", "date": "日期"}  # fmt: skip
FIXED_LENGTHS = {"id": 18, "credit": 18, "mobile": 11}  # what the data elements demand
STATUS_MIX = ("published",) * 8 + ("registered", "reviewed")


@dataclass(frozen=True)
class Blueprint:
    """One resource to register, with how to make its rows."""

    unit: str
    classification: str
    status: str
    metadata: dict[str, Any]
    generators: list[tuple[str, str]]  # item name → generator spec
    rows: int


def citizen_id(rng: random.Random) -> str:
    born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 80))
    first17 = f"{rng.choice(DISTRICT_CODES)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + citizen_id_check_char(first17)


def credit_code(rng: random.Random) -> str:
    first17 = (
        "91" + rng.choice(DISTRICT_CODES) + "".join(rng.choice(CREDIT_CHARS) for _ in range(9))
    )
    return first17 + credit_code_check_char(first17)


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2)))


def company(rng: random.Random) -> str:
    suffix = rng.choice(("有限公司", "股份有限公司", "有限责任公司"))
    return f"福州{rng.choice(FIRMS)}{rng.choice(FIRMS)}{rng.choice(TRADES)}{suffix}"


def address(rng: random.Random) -> str:
    return f"福建省福州市{rng.choice(DISTRICT_NAMES)}{rng.choice(ROADS)}{rng.randint(1, 399)}号"


def _range(spec: str) -> tuple[float, float]:
    found = re.fullmatch(r"(-?[\d.]+)-(-?[\d.]+)", spec)
    if not found:
        raise ValueError(f"bad range {spec}")
    return float(found.group(1)), float(found.group(2))


def generator(spec: str) -> Callable[[random.Random], Any]:
    """The value maker a spec names (see the keys at the top of ``resources.yaml``)."""
    kind, _, arg = spec.partition(":")
    simple: dict[str, Callable[[random.Random], Any]] = {
        "id": citizen_id, "credit": credit_code, "person": person, "company": company,
        "address": address,
        "sex": lambda r: r.choice(("男", "女")),
        "mobile": lambda r: f"1{r.choice('35789')}{r.randint(0, 999_999_999):09d}",
        "phone": lambda r: f"0591-{r.randint(22_000_000, 88_999_999)}",
        "district": lambda r: r.choice(DISTRICT_NAMES),
        "street": lambda r: r.choice(STREETS),
        "lng": lambda r: f"{r.uniform(119.22, 119.38):.6f}",
        "lat": lambda r: f"{r.uniform(25.99, 26.12):.6f}",
        "bool": lambda r: r.random() < 0.8,
        "datetime": lambda r: (datetime(2025, 11, 1, tzinfo=UTC) + timedelta(minutes=r.randint(0, 43_200)))
        .strftime("%Y-%m-%d %H:%M:00"),
    }  # fmt: skip
    if kind in simple:
        return simple[kind]
    if kind == "code":
        return lambda r: f"{arg}{r.randint(100_000, 999_999)}"
    if kind == "choice":
        options = arg.split("/")
        return lambda r: r.choice(options)
    if kind == "int":
        lo, hi = _range(arg)
        return lambda r: r.randint(int(lo), int(hi))
    if kind == "dec":
        lo, hi = _range(arg)
        return lambda r: f"{r.uniform(lo, hi):.2f}"
    if kind == "date":
        first, last = (int(y) for y in arg.split("-"))
        span = (date(last, 12, 31) - date(first, 1, 1)).days
        return lambda r: (date(first, 1, 1) + timedelta(days=r.randint(0, span))).isoformat()
    if kind == "place":
        words, _, suffixes = arg.partition(";")
        return lambda r: f"{r.choice(words.split('/'))}{r.choice(suffixes.split('/'))}"
    raise ValueError(f"unknown generator {spec}")


def blueprints(path: Path = RESOURCES_FILE) -> Iterator[Blueprint]:
    """Every resource the file describes, expanded per year and per district unit."""
    rng = random.Random(350100)
    for entry in yaml.safe_load(path.read_text()):
        for district in entry.get("districts") or [None]:
            for year in entry.get("years") or [None]:
                yield _blueprint(entry, district, year, rng)


def _blueprint(entry: dict[str, Any], district: str | None, year: int | None,
               rng: random.Random) -> Blueprint:  # fmt: skip
    kinds = {"u": "unconditional", "c": "conditional", "n": "none"}
    name = entry["n"]
    if district:
        name = DISTRICTS[district] + name
    if year:
        name = f"{year}年{name}"
    items, generators = [], []
    for line in entry["i"]:
        item, data_type, length, spec = line.split("|")
        generators.append((item, spec))
        length = str(FIXED_LENGTHS.get(spec, length))
        items.append({"name": item, "data_type": data_type, "length": int(length) if length else None,
                      "element": ELEMENTS.get(spec.partition(":")[0], ""),
                      "meaning": ""})  # fmt: skip
    share, opening = kinds[entry["s"]], kinds[entry["o"]]
    metadata = {
        "classification": entry["c"], "name": name, "abstract": entry["a"],
        "format": entry.get("f", "spreadsheet"), "share_type": share,
        "share_condition": "依法履职需要，经提供单位审核同意" if share == "conditional" else "",
        "share_method": "接口" if entry.get("f") in ("api", "database") else "文件",
        "open_type": opening, "open_condition": entry.get("open_condition", "")
        or ("申请人说明用途和应用场景，承诺依法使用" if opening == "conditional" else ""),
        "update_cycle": entry["y"], "keywords": entry.get("k", []),
        "theme_tags": entry.get("t", []), "base_tags": entry.get("b", []), "items": items,
    }  # fmt: skip
    return Blueprint(
        unit=entry["u"].format(d=district) if district else entry["u"],
        classification=entry["c"],
        status=entry.get("st") or rng.choice(STATUS_MIX),
        metadata=metadata,
        generators=generators,
        rows=int(entry.get("rows", 40)),
    )


# the city's residents and firms: rows about one person (one firm) draw from these, so that the
# same people recur across units' resources and the base libraries have something to link
RESIDENTS = 600
FIRMS_KEPT = 200
SOUNDS_LIKE = {"伟": "玮", "静": "靖", "丽": "莉", "明": "铭", "军": "君", "芳": "方", "华": "桦"}


@dataclass(frozen=True)
class Resident:
    id: str
    name: str
    sex: str
    mobile: str
    address: str


def residents() -> list[Resident]:
    rng = random.Random(3501)
    found = []
    for _ in range(RESIDENTS):
        cid = citizen_id(rng)
        found.append(Resident(
            cid, person(rng), "男" if int(cid[16]) % 2 else "女",
            f"1{rng.choice('35789')}{rng.randint(0, 999_999_999):09d}", address(rng),
        ))  # fmt: skip
    return found


def firms() -> list[dict[str, str]]:
    """The city's firms, each with its legal representative (法定代表人): one of the city's
    residents, by name and citizen ID, so that the market register ties the firm to a person
    the person base library knows."""
    rng = random.Random(3502)
    made = [{"credit": credit_code(rng), "company": company(rng), "person": person(rng),
             "address": address(rng)} for _ in range(FIRMS_KEPT)]  # fmt: skip
    people, pick = adults(), random.Random(3504)  # its own draw: the firms stay as they were
    for firm in made:
        rep = pick.choice(people)
        firm["person"], firm["rep_id"] = rep.name, rep.id
    return made


def adults() -> list[Resident]:
    """The residents of age (18 by 2026) to be a firm's legal representative."""
    return [r for r in residents() if int(r.id[6:10]) <= 2008]


def birth_of(citizen_id: str) -> str:
    """The birth date a citizen ID carries (GB 11643), as ISO text."""
    return f"{citizen_id[6:10]}-{citizen_id[10:12]}-{citizen_id[12:14]}"


def _resident_row(
    rng: random.Random, makers: list[tuple[str, str, Callable[[random.Random], Any]]],
    who: Resident,
) -> dict[str, Any]:  # fmt: skip
    """A row about ``who``, as a unit's register has it: now and then a name typed by its sound,
    an older phone number, another address."""
    row: dict[str, Any] = {}
    for name, kind, make in makers:
        if kind == "id":
            row[name] = who.id
        elif kind == "person":
            typo = rng.random() < 0.03 and any(c in SOUNDS_LIKE for c in who.name[1:])
            row[name] = (
                who.name[0] + "".join(SOUNDS_LIKE.get(c, c) for c in who.name[1:])
                if typo else who.name
            )  # fmt: skip
        elif kind == "sex":
            row[name] = who.sex
        elif kind == "mobile":
            row[name] = who.mobile if rng.random() < 0.85 else make(rng)
        elif kind == "address":
            row[name] = who.address if rng.random() < 0.8 else make(rng)
        elif name == "出生日期":  # his, as his ID has it (drawn all the same: the rows stay)
            make(rng)
            row[name] = birth_of(who.id)
        else:
            row[name] = make(rng)
    return row


def _firm_row(
    rng: random.Random, makers: list[tuple[str, str, Callable[[random.Random], Any]]],
    firm: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = {}
    for name, kind, make in makers:
        if kind in ("credit", "company") or (kind == "address" and rng.random() < 0.8):
            row[name] = firm[kind]
        elif kind == "person":  # the legal representative (or the operator) a register names
            row[name] = firm["person"]
        elif kind == "id":  # his citizen ID, where the register keeps it
            row[name] = firm["rep_id"]
        else:
            row[name] = make(rng)
    return row


def rows_for(blueprint: Blueprint, seed: int, also: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The rows of one resource: the same every time for the same seed. A row with one citizen
    ID and a name is about one of the city's residents; one with a credit code and a company
    name, about one of its firms. A register of residents names those whose IDs are in ``also``
    besides its drawn rows (as the household register names every firm's legal representative)."""
    rng = random.Random(seed)
    makers = [(name, spec.partition(":")[0], generator(spec))
              for name, spec in blueprint.generators]  # fmt: skip
    kinds = [kind for _, kind, _ in makers]
    if kinds.count("credit") == 1 and kinds.count("company") == 1:  # a firm's, even naming a person
        kept = firms()
        return [_firm_row(rng, makers, rng.choice(kept)) for _ in range(blueprint.rows)]
    if kinds.count("id") == 1 and kinds.count("person") == 1:
        people = residents()
        drawn = [_resident_row(rng, makers, rng.choice(people)) for _ in range(blueprint.rows)]
        named = {p.id: p for p in people}
        more = random.Random(seed + 1)  # its own draw: the drawn rows stay as they were
        return drawn + [_resident_row(more, makers, named[n]) for n in also if n in named]
    return [{name: make(rng) for name, _, make in makers} for _ in range(blueprint.rows)]


def infer_spec(name: str, data_type: str, element: str, length: int | None = None) -> str:
    """A generator for an item described only by its name, type and data element (for the demo
    resources that carry no generator of their own)."""
    by_element = {v: k for k, v in ELEMENTS.items()}
    if element in by_element:
        return by_element[element] if element != "日期" else "date:2015-2025"
    if "电话" in name:
        return "phone"
    if name == "经度":
        return "lng"
    if name == "纬度":
        return "lat"
    if data_type == "date":
        return "date:2015-2025"
    if data_type == "datetime":
        return "datetime"
    if data_type == "integer":
        return "int:1-500"
    if data_type == "decimal":
        return "dec:1-1000"
    if data_type == "boolean":
        return "bool"
    if name in ("单位名称", "企业名称"):
        return "company"
    if name.endswith("名称"):
        return "place:东街/鼓楼/台江/仓山/晋安/五一/西湖;服务点/中心/站"
    if "时间" in name:
        return "choice:06:00/06:30/07:00/08:00"
    if name == "性别":
        return "choice:1/2"
    if length is not None and length < 8:
        return "choice:A/B/C"  # a short code
    return "code:" + name[:2]
