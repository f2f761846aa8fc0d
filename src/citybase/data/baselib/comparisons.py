"""Comparisons made for Chinese records: pure functions, no database, no linkage library.

Each identifier or value is first *normalised* (the form two records are compared in), then two
normalised values are *related* (which level of agreement they reach). The linkage model turns
the same relations into comparison levels; this module is where they are defined and tested.

- 公民身份号码 (GB 11643-1999): full-width characters and case folded, the 15-digit form of before
  1999 upgraded to 18 digits (century ``19`` inserted, check character computed), and two numbers
  related as equal, transposed (two adjacent digits swapped), one digit off, or different.
- 统一社会信用代码 (GB 32100-2015): folded, checked, and the 9-character organisation code
  (组织机构代码, GB 11714) inside it, which a company keeps when its credit code is re-issued.
- 姓名: by characters, by sound (pinyin without tones: 同音字 typos such as 张伟/张玮), by shape
  (形近字 such as 王/玉, 己/已), and one character off (siblings 张伟/张杰 share everything else).
- 地址: parsed against the region register (district ▸ street ▸ community), with the road, lane
  and number (路/街/巷/号) taken apart, so that 鼓楼区鼓东街道五四路12号 and 福州市鼓楼五四路12号
  compare equal at the level they agree.
- 企业名称: region prefix (福州, 福州市鼓楼区, （福州）) and organisational suffix (有限公司, 分公司 …)
  stripped, so that 福州闽江科技有限公司 and 闽江科技(福州)有限责任公司 share their core 闽江科技.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from citybase.core.codes import (
    CREDIT_CODE_CHARS,
    citizen_id_check_char,
    credit_code_check_char,
)

# --- text ------------------------------------------------------------------------------------


def fold(value: object) -> str:
    """Full-width letters, digits and brackets to half-width (NFKC), spaces removed."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"\s+", "", text)


# --- 公民身份号码 ------------------------------------------------------------------------------


class IdRelation(StrEnum):
    exact = "exact"  # the same number (after the 15 → 18 upgrade)
    transposed = "transposed"  # two adjacent digits swapped
    one_off = "one_off"  # one character differs
    different = "different"
    missing = "missing"


def citizen_id(value: object) -> str:
    """The 18-character form of a citizen ID as recorded: folded, ``x`` upper-cased, a 15-digit
    number upgraded. A value that is no ID at all gives ``""``; a mistyped 18-character one is
    kept as it is (it may still be related to the right one)."""
    text = fold(value).upper()
    if len(text) == 15 and text.isdigit():
        return upgrade_citizen_id(text)
    if len(text) == 18 and text[:17].isdigit() and (text[17].isdigit() or text[17] == "X"):
        return text
    return ""


def upgrade_citizen_id(old: str) -> str:
    """A 15-digit citizen ID (before 1999: two-digit year, no check character) in its 18-digit
    form: ``19`` inserted before the year, the GB 11643 check character appended."""
    if len(old) != 15 or not old.isdigit():
        raise ValueError(f"{old!r} is not a 15-digit citizen ID")
    first17 = old[:6] + "19" + old[6:]
    return first17 + citizen_id_check_char(first17)


def citizen_id_valid(value: str) -> bool:
    """The check character agrees with the first 17 digits (GB 11643, ISO 7064 MOD 11-2)."""
    return (
        len(value) == 18 and value[:17].isdigit() and citizen_id_check_char(value[:17]) == value[17]
    )


def birth_date_of(citizen_id_18: str) -> str:
    """The birth date (YYYY-MM-DD) written in an 18-digit ID, ``""`` when it is no date."""
    if len(citizen_id_18) != 18:
        return ""
    y, m, d = citizen_id_18[6:10], citizen_id_18[10:12], citizen_id_18[12:14]
    if not (y.isdigit() and m.isdigit() and d.isdigit()):
        return ""
    if not (1 <= int(m) <= 12 and 1 <= int(d) <= 31):
        return ""
    return f"{y}-{m}-{d}"


def sex_of(citizen_id_18: str) -> str:
    """男 or 女 from the 17th digit (odd for men), ``""`` when unreadable."""
    if len(citizen_id_18) != 18 or not citizen_id_18[16].isdigit():
        return ""
    return "男" if int(citizen_id_18[16]) % 2 else "女"


def is_transposition(a: str, b: str) -> bool:
    """``b`` is ``a`` with two adjacent characters swapped (and nothing else changed)."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and (a[diff[1]] == b[diff[0]])
    )


def _one_substitution(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def relate_citizen_ids(a: object, b: object) -> IdRelation:
    x, y = citizen_id(a), citizen_id(b)
    if not x or not y:
        return IdRelation.missing
    if x == y:
        return IdRelation.exact
    # a check character recomputed after a swap may differ too: compare the 17 digits
    if is_transposition(x, y) or is_transposition(x[:17], y[:17]):
        return IdRelation.transposed
    if _one_substitution(x, y) or _one_substitution(x[:17], y[:17]):
        return IdRelation.one_off
    return IdRelation.different


# --- 统一社会信用代码 --------------------------------------------------------------------------


class CreditRelation(StrEnum):
    exact = "exact"
    same_organisation = "same_organisation"  # the organisation code inside agrees
    one_off = "one_off"
    different = "different"
    missing = "missing"


def credit_code(value: object) -> str:
    """The credit code folded to upper case; ``""`` when it cannot be one (length, alphabet)."""
    text = fold(value).upper()
    if len(text) == 18 and all(c in CREDIT_CODE_CHARS for c in text):
        return text
    return ""


def credit_code_valid(value: str) -> bool:
    return len(value) == 18 and credit_code_check_char(value[:17]) == value[17]


def organisation_code(code: str) -> str:
    """The organisation code (组织机构代码, GB 11714: 8 characters and a check character) in
    positions 9–17 of a credit code; ``""`` for anything else."""
    return code[8:17] if len(code) == 18 else ""


def relate_credit_codes(a: object, b: object) -> CreditRelation:
    x, y = credit_code(a), credit_code(b)
    if not x or not y:
        return CreditRelation.missing
    if x == y:
        return CreditRelation.exact
    if organisation_code(x) == organisation_code(y):
        return CreditRelation.same_organisation
    if _one_substitution(x, y) or is_transposition(x, y):
        return CreditRelation.one_off
    return CreditRelation.different


# --- 姓名 --------------------------------------------------------------------------------------

# 形近字: characters written alike that are mistyped for one another, in groups. Written for
# the characters common in names; a character outside every group is its own shape.
SHAPE_GROUPS = (
    "王玉主",
    "己已巳",
    "未末",
    "土士",
    "日曰",
    "人入八",
    "大太犬",
    "天夭",
    "干千于",
    "白自",
    "田由甲申",
    "贝见",
    "刀力",
    "今令",
    "戊戌戍",
    "斤斥",
    "苹萍平",
    "晴睛",
    "清青请情",
    "佳桂往",
    "淑椒",
    "娟涓鹃",
    "婷亭",
    "芳方",
    "琳林淋",
    "俊峻竣骏",
    "浩皓洁",
    "玲铃伶",
    "丽俪",
    "斌彬",
    "杰傑",
    "辉晖",
    "鹏朋明",
    "瑶遥摇",
    "瑛英",
    "梅海",
    "楠南",
    "燕艳",
    "红江",
    "宏弘",
    "东冬",
    "秀季",
    "军车",
    "霞瑕",
    "敏繁",
    "华毕",
    "伟纬韦",
    "晶昌",
    "颖颍",
    "莹萤营",
    "锋峰蜂",
    "涛祷",
    "钰珏",
    "琪棋祺",
    "睿叡",
    "旭旮",
    "晨辰",
)
_SHAPE = {ch: group[0] for group in SHAPE_GROUPS for ch in group}
_NAME_DROP = re.compile(r"[·•．.\-_()（）\[\]0-9A-Za-z]")


class NameRelation(StrEnum):
    exact = "exact"
    same_sound = "same_sound"  # 同音字: pinyin (without tones) agrees
    same_shape = "same_shape"  # 形近字: every differing character is of the same shape group
    one_char = "one_char"  # one character differs, otherwise the same (siblings; or a typo)
    same_surname = "same_surname"
    different = "different"
    missing = "missing"


def person_name(value: object) -> str:
    """A name as compared: folded, spaces and the middle dot of minority names removed."""
    return _NAME_DROP.sub("", fold(value))


@lru_cache(maxsize=50_000)
def _char_pinyin(char: str) -> str:
    from pypinyin import Style, lazy_pinyin  # imported when first used: its tables are large

    return "".join(lazy_pinyin(char, style=Style.NORMAL, errors="ignore"))


def name_pinyin(name: str) -> str:
    """The name's pinyin without tones, syllables joined by spaces. Each character is read on
    its own (its commonest reading), the same in every record: what matters is that two
    records of one name sound alike, and a character-by-character cache is twenty times faster
    than reading whole names."""
    return " ".join(p for p in map(_char_pinyin, name) if p)


def name_shape(name: str) -> str:
    """The name with each character replaced by its shape group's first character."""
    return "".join(_SHAPE.get(ch, ch) for ch in name)


def same_shape(a: str, b: str) -> bool:
    return len(a) == len(b) and a != b and name_shape(a) == name_shape(b)


def surname_of(name: str) -> str:
    """The surname: the two-character compound surnames (欧阳, 司马 …) or the first character."""
    if name[:2] in COMPOUND_SURNAMES:
        return name[:2]
    return name[:1]


COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "令狐",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "端木",
        "独孤",
        "南宫",
        "西门",
    ]
)


def relate_names(a: object, b: object) -> NameRelation:
    x, y = person_name(a), person_name(b)
    if not x or not y:
        return NameRelation.missing
    if x == y:
        return NameRelation.exact
    if name_pinyin(x) == name_pinyin(y):
        return NameRelation.same_sound
    if same_shape(x, y):
        return NameRelation.same_shape
    if _one_substitution(x, y):
        return NameRelation.one_char
    if surname_of(x) == surname_of(y):
        return NameRelation.same_surname
    return NameRelation.different


# --- 地址 --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """A region of the register as addresses are matched against it."""

    code: str
    name: str
    level: str  # province, city, district, street, community, grid
    parent: str = ""


REGION_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "街道办事处", "街道", "社区居委会",
                   "居委会", "社区", "省", "市", "区", "县", "镇", "乡", "村")  # fmt: skip
_LEVEL_ORDER = ("province", "city", "district", "street", "community")


def _short(name: str) -> str:
    for suffix in REGION_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


class RegionIndex:
    """The region register arranged for reading addresses: every name and its short form (鼓楼区
    and 鼓楼), longest first, so that 鼓东街道 is read before 鼓东."""

    def __init__(self, regions: Iterable[Region]):
        self.regions = {r.code: r for r in regions}
        names: dict[str, list[Region]] = {}
        for region in self.regions.values():
            for form in {region.name, _short(region.name)}:
                names.setdefault(form, []).append(region)
        self.names = names
        self.pattern = (
            re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
            if names
            else None
        )

    def ancestors(self, code: str) -> list[Region]:
        out, seen = [], set()
        while code and code in self.regions and code not in seen:
            seen.add(code)
            out.append(self.regions[code])
            code = self.regions[code].parent
        return out


@dataclass(frozen=True)
class Address:
    """An address read against the register: the deepest region codes found, then the rest."""

    district: str = ""  # region codes
    street: str = ""
    community: str = ""
    road: str = ""  # 五四路, 东街
    number: str = ""  # 12 (the 号)
    rest: str = ""  # what follows: building, unit, room

    def key(self) -> str:
        """The address as one comparable string: place codes, road and number."""
        return "|".join((self.district, self.street, self.road, self.number, self.rest))


class AddressRelation(StrEnum):
    exact = "exact"  # same place, road, number and rest
    same_number = "same_number"  # same road and number (building or room differs or is absent)
    same_road = "same_road"
    same_street = "same_street"  # same 街道/镇
    same_district = "same_district"
    different = "different"
    missing = "missing"


_ROAD = re.compile(r"(?P<road>[\u4e00-\u9fa5A-Za-z0-9]{1,12}?(?:大道|路|街|巷|弄|里|道|坊))"
                   r"(?P<number>\d+)(?:-\d+)?号?")  # fmt: skip
_CN_DIGITS = str.maketrans("〇一二三四五六七八九", "0123456789")


def parse_address(text: object, index: RegionIndex) -> Address:
    """Read an address: every region name in it (deepest wins, the levels above filled in from
    the register), then the road and number and whatever follows."""
    folded = fold(text)
    if not folded:
        return Address()
    found: dict[str, str] = {}
    end = 0
    if index.pattern is not None:
        for match in index.pattern.finditer(folded):
            candidates = index.names[match.group()]
            # of regions of the same name, the one under a region already found
            pick = next(
                (r for r in candidates if r.parent and r.parent in found.values()), candidates[0]
            )
            if pick.level in _LEVEL_ORDER:
                found[pick.level] = pick.code
                end = max(end, match.end())
        deepest = next((found[lv] for lv in reversed(_LEVEL_ORDER) if lv in found), "")
        for region in index.ancestors(deepest):
            found.setdefault(region.level, region.code)
    rest = folded[end:]
    road = number = ""
    if found_road := _ROAD.search(rest):
        road = found_road["road"]
        number = found_road["number"].translate(_CN_DIGITS).lstrip("0")
        rest = rest[found_road.end() :]
    rest = re.sub(r"[,，。;；]", "", rest)
    return Address(
        district=found.get("district", ""), street=found.get("street", ""),
        community=found.get("community", ""), road=road, number=number, rest=rest,
    )  # fmt: skip


def relate_addresses(a: Address, b: Address) -> AddressRelation:
    if a == Address() or b == Address():
        return AddressRelation.missing
    if a.key() == b.key():
        return AddressRelation.exact
    if a.road and a.road == b.road and a.number == b.number and a.district == b.district:
        return AddressRelation.same_number
    if a.road and a.road == b.road and a.district == b.district:
        return AddressRelation.same_road
    if a.street and a.street == b.street:
        return AddressRelation.same_street
    if a.district and a.district == b.district:
        return AddressRelation.same_district
    return AddressRelation.different


# --- 企业名称 ----------------------------------------------------------------------------------

# longest first: 股份有限公司 before 有限公司 before 公司
ORG_SUFFIXES = (
    "股份有限公司", "有限责任公司", "股份合作公司", "有限公司", "集团公司", "分公司", "公司",
    "合伙企业", "个人独资企业", "专业合作社", "合作社", "集团", "经营部", "营业部", "事务所",
    "门市部", "商行", "工作室", "中心", "厂", "店", "部",
)  # fmt: skip
_BRACKETED = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")


class EnterpriseNameRelation(StrEnum):
    exact = "exact"  # the registered names agree
    same_core = "same_core"  # the same once region and suffix are stripped
    similar_core = "similar_core"  # one character of the core differs
    different = "different"
    missing = "missing"


def enterprise_core(name: object, region_names: Iterable[str] = ()) -> str:
    """The distinctive part of an enterprise name (字号 + 行业): region prefixes (the register's
    names and their short forms, 中国, 省/市/区), bracketed places and branch notes, and the
    organisational suffix removed — repeatedly, since 福建省福州市 stacks two."""
    text = fold(name)
    if not text:
        return ""
    text = _BRACKETED.sub("", text)
    if text.endswith("分公司") and 0 <= (head := text.find("公司")) < len(text) - 3:
        text = text[: head + 2]  # a branch (…有限公司鼓楼分公司): its company's name
    prefixes = sorted(
        {p for n in region_names for p in (n, _short(n))} | {"中国", "中华"}, key=len, reverse=True
    )
    changed = True
    while changed and text:
        changed = False
        for prefix in prefixes:
            if prefix and text.startswith(prefix) and len(text) > len(prefix):
                text, changed = text[len(prefix) :], True
                break
        for suffix in ORG_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, changed = text[: -len(suffix)], True
                break
    return text


def relate_enterprise_names(
    a: object, b: object, region_names: Iterable[str] = ()
) -> EnterpriseNameRelation:
    x, y = fold(a), fold(b)
    if not x or not y:
        return EnterpriseNameRelation.missing
    if x == y:
        return EnterpriseNameRelation.exact
    names = list(region_names)
    cx, cy = enterprise_core(x, names), enterprise_core(y, names)
    if cx == cy:
        return EnterpriseNameRelation.same_core
    if _one_substitution(cx, cy) or is_transposition(cx, cy):
        return EnterpriseNameRelation.similar_core
    return EnterpriseNameRelation.different


# --- 手机号码 and dates --------------------------------------------------------------------------


def mobile(value: object) -> str:
    """A mainland mobile number: 11 digits from 1, a leading +86 / 0086 removed."""
    text = re.sub(r"[^0-9]", "", fold(value))
    if text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text if len(text) == 11 and text.startswith("1") else ""


def iso_date(value: object) -> str:
    """A date as YYYY-MM-DD from the common ways it is written (2026-01-02, 2026/1/2,
    20260102, 2026年1月2日); ``""`` when it cannot be read."""
    text = fold(value)
    match = re.match(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?", text)
    if not match:
        return ""
    y, m, d = int(match[1]), int(match[2]), int(match[3])
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return ""
    return f"{y:04d}-{m:02d}-{d:02d}"


def sex(value: object) -> str:
    text = fold(value)
    if text in ("男", "1", "M", "m", "male"):
        return "男"
    if text in ("女", "2", "F", "f", "female"):
        return "女"
    return ""
