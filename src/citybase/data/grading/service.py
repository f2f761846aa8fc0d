"""Classification and grading (分类分级): find personal and sensitive information, propose a level
with reasons, check what the level allows, and record the steward's decision.

Recognizers look at each data item's name and data element and at sample values. Numbers are
found with digit look-arounds, not ``\\b``: in Chinese text a number sits right against
characters (``卡号6222…``), where ``\\b`` sees no boundary. Every number is confirmed by its check
character (GB 11643, GB 32100, Luhn) before it counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.codes import is_citizen_id, is_credit_code
from citybase.core.errors import Conflict, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import DataItemRead, OpenType, ResourceRead, ShareType
from citybase.data.grading import repository
from citybase.data.grading.models import Grading
from citybase.data.grading.schemas import (
    Decision,
    Domain,
    Finding,
    GradingChanged,
    GradingRead,
    Level,
    ScanRequest,
    Violation,
)

# --- recognizers -------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_birth_date(value: str) -> bool:
    try:
        born = datetime.strptime(value[6:14], "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return False
    return born <= datetime.now(UTC)


CREDIT_CHAR = "0-9A-HJ-NPQRTUWXY"
PATTERNS: dict[str, re.Pattern[str]] = {
    "citizen_id": re.compile(r"(?<![0-9])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])"),
    "credit_code": re.compile(
        rf"(?<![0-9A-Z])[{CREDIT_CHAR}]{{2}}\d{{6}}[{CREDIT_CHAR}]{{10}}(?![0-9A-Z])"
    ),
    "bank_card": re.compile(r"(?<![0-9])[3-6]\d{15,18}(?![0-9])"),
    "mobile": re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])"),
}
CHECKS: dict[str, Callable[[str], bool]] = {
    "citizen_id": lambda v: is_citizen_id(v) and _valid_birth_date(v),
    "credit_code": is_credit_code,
    "bank_card": luhn_ok,
    "mobile": lambda v: True,
}
# the order matters: a span taken by one kind is not offered to the next (an 18-digit citizen ID
# can pass a Luhn check by chance; its date and check character say what it is)
ORDER = ("citizen_id", "credit_code", "bank_card", "mobile")

SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
) | {"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "令狐"}
NAME_VALUE = re.compile(r"^[\u4e00-\u9fa5]{2,4}$")
PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南",
    "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
)  # fmt: skip
DIVISION = re.compile(
    rf"(?:{'|'.join(PROVINCES)})(?:省|市|自治区)?|[\u4e00-\u9fa5]{{1,6}}?(?:市|区|县|旗|镇|乡|街道)"
)
STREET = re.compile(r"[\u4e00-\u9fa5\d]{1,12}(?:路|街|巷|大道|弄|村|小区|社区)|\d+号")

NAME_HINTS = ("姓名", "名字", "联系人", "法定代表人", "负责人", "户主", "申请人")
ADDRESS_HINTS = ("地址", "住址", "住所", "户籍地")
ELEMENT_KINDS = {
    "公民身份号码": "citizen_id", "统一社会信用代码": "credit_code", "手机号码": "mobile",
    "银行卡号": "bank_card", "姓名": "name", "地址": "address",
}  # fmt: skip
SENSITIVE = {"citizen_id", "bank_card"}  # 敏感个人信息 (GB/T 43697-2024 附录 B)
PERSONAL = {"mobile", "name", "address"}
LABELS = {
    "citizen_id": "公民身份号码", "bank_card": "银行卡号", "mobile": "手机号码",
    "credit_code": "统一社会信用代码", "name": "姓名", "address": "地址",
}  # fmt: skip


def find_numbers(text: str) -> list[tuple[str, str]]:
    """Every identifier in ``text`` whose check character holds: ``[(kind, value), …]``."""
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for kind in ORDER:
        for match in PATTERNS[kind].finditer(text):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            if CHECKS[kind](match.group()):
                found.append((kind, match.group()))
                taken.append(span)
    return found


def is_person_name(value: str) -> bool:
    value = value.strip()
    return bool(NAME_VALUE.match(value)) and (value[0] in SURNAMES or value[:2] in SURNAMES)


def address_divisions(value: str) -> list[str]:
    """The administrative divisions named in an address, if it reads as one (division + street)."""
    if not STREET.search(value):
        return []
    return [m.group() for m in DIVISION.finditer(value)]


@dataclass(frozen=True, slots=True)
class Span:
    """Personal data found inside a longer text: its kind and where it sits."""

    kind: str
    start: int
    end: int
    value: str


_SURNAME = (
    "(?:"
    + "|".join(sorted(s for s in SURNAMES if len(s) > 1))
    + "|["
    + "".join(sorted(s for s in SURNAMES if len(s) == 1))
    + "])"
)
_AFTER_NAME = r"(?=[，。,；;、\s（(）)在于因的等]|电话|手机|身份|住|家住|反映|来电|投诉|称|表示|$)"
# a name in running text is only trusted after a cue (反映人：张三) or before a title (张先生)
NAME_IN_TEXT = re.compile(
    r"(?:姓名|联系人|申请人|反映人|来电人|投诉人|当事人|户主|市民|居民|业主)[：:\s]*"
    rf"(?P<cued>{_SURNAME}[\u4e00-\u9fa5]{{1,2}}?){_AFTER_NAME}"
    rf"|(?P<titled>{_SURNAME}[\u4e00-\u9fa5]?)(?=先生|女士|老师|师傅|阿姨)"
)
ADDRESS_IN_TEXT = re.compile(
    rf"(?:(?:{DIVISION.pattern})+)"
    r"[\u4e00-\u9fa5\d]{0,12}?(?:路|街|巷|大道|弄|村|小区|社区)"
    r"(?:\d+(?:-\d+)*(?:号|栋|幢|座|单元|室|楼|层))*"
)
_SIX_DIGITS = re.compile(r"\d{6}")
_LONG_CODE = re.compile(r"[0-9A-Za-z]{16}")  # every identifier but a mobile number is this long
# Necessary conditions, cheap to test (each starts with a literal the engine skips to): a cued
# name needs its cue or title; an address ends a division (a suffix, or a bare province name)
# within twelve characters of a street word.
_NAME_CUE = re.compile(
    r"姓名|联系人|申请人|反映人|来电人|投诉人|当事人|户主|市民|居民|业主|先生|女士|老师|师傅|阿姨"
)
_ADDRESS_GATE = re.compile(
    r"(?:[省市区县旗镇乡]|街道)[\u4e00-\u9fa5\d]{0,12}?(?:路|街|巷|大道|弄|村|小区|社区)"
)
_PROVINCE = re.compile("|".join(PROVINCES))
_LONGEST_PROVINCE = max(map(len, PROVINCES))
_ADDRESS_LEAD = ("家住", "住在", "住址", "位于", "住", "在", "于", "：", ":")


_ADDRESS_REACH = 64  # the farthest an address's first division starts before the gate's suffix


def _next_address_from(text: str, pos: int) -> int | None:
    """Where the next address at or after ``pos`` can start at the earliest, or None when none
    can: the same matches as scanning from ``pos``, without trying every character."""
    gate = _ADDRESS_GATE.search(text, pos)
    if gate is not None and gate.start() - _ADDRESS_REACH <= pos:
        return pos
    # an address whose last division is a bare province name ("福建福州五四路") has no gate
    before = len(text) if gate is None else gate.start() - _ADDRESS_REACH
    province = _PROVINCE.search(text, pos, before + _LONGEST_PROVINCE)
    if province is not None and province.start() < before:
        return province.start()
    return None if gate is None else before


def _addresses(text: str, start: int | None) -> Iterator[re.Match[str]]:
    """``ADDRESS_IN_TEXT.finditer(text)``, skipping what cannot hold an address."""
    while start is not None:
        match = ADDRESS_IN_TEXT.search(text, start)
        if match is None:
            return
        yield match
        start = _next_address_from(text, match.end())


# Bumped whenever ``find_spans`` finds differently, so that spans stored with rows by an earlier
# version are found again rather than trusted.
RECOGNIZER_VERSION = 2
FREE_TEXT_LENGTH = 40  # a string item longer than this (or of no stated length) is free text


def is_free_text(item: DataItemRead) -> bool:
    """A long string item that is not, by its data element or its name, one kind of personal
    data as a whole (a name, an address): its personal data is found span by span."""
    long = item.length is None or item.length > FREE_TEXT_LENGTH
    return item.data_type.value == "string" and long and not _named(item)


def _named(item: DataItemRead) -> bool:
    return (item.element or "") in ELEMENT_KINDS or any(
        h in item.name for h in NAME_HINTS + ADDRESS_HINTS
    )


def spans_of(text: str) -> list[list[Any]]:
    """``find_spans`` as it is stored beside a row: ``[[kind, start, end], …]``."""
    return [[s.kind, s.start, s.end] for s in find_spans(text)]


def find_spans(text: str) -> list[Span]:
    """Personal data in free text, in order: identifiers whose check character holds, names
    after a cue or before a title, and addresses that name a division and a street.

    Cheap gates come first (six digits in a row, a street word), since most free text holds
    none of it and this runs on every cell of every shared free-text column."""
    numbers = _SIX_DIGITS.search(text) is not None  # every identifier has six digits in a row
    names = list(NAME_IN_TEXT.finditer(text)) if _NAME_CUE.search(text) else []
    streets = _next_address_from(text, 0)
    if not (numbers or names or streets is not None):
        return []
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int) -> None:
        if start < end and not any(start < e and s < end for s, e in taken):
            taken.append((start, end))
            spans.append(Span(kind, start, end, text[start:end]))

    if numbers:
        for kind in ORDER if _LONG_CODE.search(text) else ("mobile",):
            for match in PATTERNS[kind].finditer(text):
                if CHECKS[kind](match.group()):
                    add(kind, *match.span())
    for match in names:
        group = "cued" if match.group("cued") else "titled"
        add("name", *match.span(group))
    for match in _addresses(text, streets):
        start, end = match.span()
        # a division is matched from the left: "人张伟在鼓楼区" starts where the name ends
        for s, e in list(taken):
            if s < end and start < e:
                start = max(start, e)
        lead = next((w for w in _ADDRESS_LEAD if text.startswith(w, start)), "")
        start += len(lead)
        if start == match.start() or ADDRESS_IN_TEXT.fullmatch(text, start, end):
            add("address", start, end)
    return sorted(spans, key=lambda s: s.start)


def mask(value: str) -> str:
    value = str(value)
    if len(value) <= 2:
        return value[0] + "*" * (len(value) - 1)
    keep = max(1, len(value) // 4)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


@dataclass
class _Tally:
    matches: int = 0
    examples: list[str] | None = None

    def add(self, example: str) -> None:
        self.matches += 1
        if self.examples is None:
            self.examples = []
        if len(self.examples) < 3:
            self.examples.append(mask(example))


def scan_items(items: Iterable[tuple[str, str]], rows: list[dict[str, Any]]) -> list[Finding]:
    """Findings per data item, from its name and data element and from the sample values."""
    findings: list[Finding] = []
    for name, element in items:
        values = [str(r[name]) for r in rows if r.get(name) not in (None, "")]
        tallies: dict[str, _Tally] = {}
        for value in values:
            for kind, number in find_numbers(value):
                tallies.setdefault(kind, _Tally()).add(number)
            if is_person_name(value):
                tallies.setdefault("name", _Tally()).add(value)
            if address_divisions(value):
                tallies.setdefault("address", _Tally()).add(value)
        hinted = {ELEMENT_KINDS[element]} if element in ELEMENT_KINDS else set()
        if any(h in name for h in NAME_HINTS):
            hinted.add("name")
        if any(h in name for h in ADDRESS_HINTS):
            hinted.add("address")
        for kind in sorted(set(tallies) | hinted):
            tally = tallies.get(kind, _Tally())
            # names and addresses from values alone need most of the column to agree
            if kind in {"name", "address"} and kind not in hinted:
                if not values or tally.matches < 0.6 * len(values):
                    continue
            findings.append(
                Finding(
                    item=name, kind=kind, by_name=kind in hinted, matches=tally.matches,
                    checked=len(values), examples=tally.examples or [],
                )
            )  # fmt: skip
    return findings


# --- levels ------------------------------------------------------------------------------------


RESIDENCE_HINTS = ("住址", "住所", "户籍", "家庭", "居住", "现住")
PERSON_KINDS = {"name", "citizen_id", "mobile", "bank_card"}


def _personal_address(findings: list[Finding]) -> bool:
    """Whether the addresses found are personal information: a residence by the item's name, or
    kept beside something that identifies a person (a name, an ID, a mobile, a bank card). A
    directory's 地址 column beside institutions' names and credit codes is not."""
    if any(f.kind in PERSON_KINDS for f in findings):
        return True
    return any(f.kind == "address" and any(h in f.item for h in RESIDENCE_HINTS)
               for f in findings)  # fmt: skip


def propose(resource: ResourceRead, findings: list[Finding]) -> tuple[Level, list[str]]:
    """A level and the reasons for it. Core data is designated by the competent authority, never
    proposed here; a steward sets it."""
    kinds = {f.kind for f in findings}
    items_of = {k: sorted({f.item for f in findings if f.kind == k}) for k in kinds}
    reasons: list[str] = []
    if "address" in kinds and not _personal_address(findings):
        kinds.discard("address")  # an institution's address identifies no one
        reasons.append(f"地址：{'、'.join(items_of['address'])}（未与自然人信息同现、非住址，"
                       f"按机构地址不计为个人信息）")  # fmt: skip
    for kind in sorted(kinds, key=lambda k: (k not in SENSITIVE, k not in PERSONAL, k)):
        reasons.append(f"{LABELS[kind]}：{'、'.join(items_of[kind])}")
    sensitive = kinds & SENSITIVE
    base = {b.value for b in resource.base_tags}
    if sensitive and base & {"population", "legal_person"}:
        return Level.important, [
            "基础库中覆盖全市人口或法人的敏感个人信息，一旦泄露可能影响公共利益（重要数据）",
            *reasons,
        ]
    if sensitive:
        return Level.general_4, ["含敏感个人信息（一般数据 4 级）", *reasons]
    if kinds & PERSONAL:
        return Level.general_3, ["含个人信息（一般数据 3 级）", *reasons]
    if "credit_code" in kinds:
        return Level.general_2, ["含法人登记信息（一般数据 2 级）", *reasons]
    return Level.general_1, ["未发现个人信息或法人登记信息（一般数据 1 级）"]


def violations(level: Level, findings: list[Finding], resource: ResourceRead) -> list[Violation]:
    """What the level forbids in the resource's share and open types."""
    problems: list[Violation] = []
    if level in (Level.core, Level.important):
        if resource.share_type is ShareType.unconditional:
            problems.append(
                Violation(
                    field="share_type",
                    message=f"{level.value} data cannot be shared without approval (无条件共享)",
                )
            )
        if resource.open_type is not OpenType.none:
            problems.append(
                Violation(
                    field="open_type",
                    message=f"{level.value} data cannot be opened (must be 不予开放)",
                )
            )
    if {f.kind for f in findings} & SENSITIVE and resource.open_type is OpenType.unconditional:
        problems.append(
            Violation(
                field="open_type",
                message="sensitive personal information cannot be opened unconditionally (无条件开放)",
            )
        )
    return problems  # fmt: skip


# --- verbs -------------------------------------------------------------------------------------


def _read(grading: Grading, resource: ResourceRead) -> GradingRead:
    read = GradingRead.model_validate(grading)
    effective = read.level or read.proposed_level
    read.violations = violations(effective, read.findings, resource)
    return read


def scan_resource(
    session: Session, principal: Principal, code: str, data: ScanRequest
) -> GradingRead:
    """Scan a resource's items and sample rows and store the proposed level with its reasons.
    A new scan replaces the proposal; a decision already taken stays until it is taken again."""
    resource = catalog.get_accessible_resource(session, principal, code)
    item_names = {i.name for i in resource.items}
    unknown = sorted({k for row in data.rows for k in row} - item_names)
    if unknown:
        raise InvalidInput(
            f"the sample rows have columns that are not data items of {code}: {', '.join(unknown)}",
            field="rows",
        )
    findings = scan_items([(i.name, i.element) for i in resource.items], data.rows)
    level, reasons = propose(resource, findings)
    grading = repository.get(session, code)
    now = datetime.now(UTC)
    values = {
        "domain": data.domain.value, "business": data.business, "proposed_level": level.value,
        "reasons": reasons, "findings": [f.model_dump() for f in findings],
        "sample_rows": len(data.rows), "scanned_by": principal.username, "scanned_at": now,
    }  # fmt: skip
    if grading is None:
        grading = Grading(resource_code=code, **values)
        repository.add(session, grading)
    else:
        for key, value in values.items():
            setattr(grading, key, value)
        session.flush()
    ledger.record(
        session, actor_of(principal), "grading.scan", object_type="data_resource", object_id=code,
        details={"proposed_level": level.value, "findings": sorted({f.kind for f in findings}),
                 "sample_rows": len(data.rows)},
    )  # fmt: skip
    bus.publish(session, GradingChanged(code=code, level=grading.level or level.value))
    return _read(grading, resource)


def decide(session: Session, principal: Principal, code: str, data: Decision) -> GradingRead:
    """The steward's decision: confirm the proposal, or override it with a reason."""
    resource = catalog.get_accessible_resource(session, principal, code)
    grading = repository.get(session, code)
    if grading is None:
        raise NotFound(f"{code} has not been scanned yet", field="code")
    override = data.level.value != grading.proposed_level
    if override and not data.reason.strip():
        raise InvalidInput("say why the level differs from the proposal", field="reason")
    findings = [Finding.model_validate(f) for f in grading.findings]
    problems = violations(data.level, findings, resource)
    if problems:
        raise Conflict(
            "; ".join(p.message for p in problems) + " — change the resource first",
            field=problems[0].field,
            violations=[p.model_dump() for p in problems],
        )
    grading.level = data.level.value
    grading.decided_by = principal.username
    grading.decision_reason = data.reason
    grading.decided_at = datetime.now(UTC)
    session.flush()
    ledger.record(
        session, actor_of(principal), "grading.override" if override else "grading.confirm",
        object_type="data_resource", object_id=code, reason=data.reason,
        details={"level": data.level.value, "proposed_level": grading.proposed_level},
    )  # fmt: skip
    bus.publish(session, GradingChanged(code=code, level=data.level.value))
    return _read(grading, resource)


def level_of(session: Session, code: str) -> str:
    """The level in force for a resource (the decision, else the proposal; "" if never
    scanned), with no access check: for the platform's own work, as ``catalog.get_resource``."""
    grading = repository.get(session, code)
    return "" if grading is None else grading.level or grading.proposed_level


def findings_of(session: Session, code: str) -> list[Finding]:
    """What the last scan found in a resource, with no access check (as ``level_of``)."""
    return graded(session, code)[1]


def graded(session: Session, code: str) -> tuple[str, list[Finding]]:
    """``level_of`` and ``findings_of`` in one look-up."""
    grading = repository.get(session, code)
    if grading is None:
        return "", []
    findings = [Finding.model_validate(f) for f in grading.findings]
    return grading.level or grading.proposed_level, findings


def get_grading(session: Session, principal: Principal, code: str) -> GradingRead | None:
    resource = catalog.get_accessible_resource(session, principal, code)
    grading = repository.get(session, code)
    return None if grading is None else _read(grading, resource)


def queue(session: Session, principal: Principal) -> list[GradingRead]:
    """Proposals waiting for a steward's decision, among the resources the principal may see."""
    result = []
    for grading in repository.undecided(session):
        try:
            resource = catalog.get_accessible_resource(session, principal, grading.resource_code)
        except NotFound:
            continue
        result.append(_read(grading, resource))
    return result


DOMAINS = [d.value for d in Domain]
