"""The demo's published plans hold their texts whole: every plan file loads against the demo
register, and — when the published texts are at hand — the number of table rows and numbered
tasks counted from each text is the number of records in its file, and every quoted sentence is
found in the text it cites. A row dropped from a file fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session

from citybase.cockpit.plans import service as plans
from citybase.core.orgs import service as orgs
from citybase.demo.seed import DEMO_ACTOR, DEMO_FILE, PLANS_DIR

TEXTS = Path(__file__).parents[2] / ".." / "shared" / "plans"

needs_texts = pytest.mark.skipif(not TEXTS.is_dir(), reason="the published texts are not here")


def _plan(code: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PLANS_DIR / f"{code}.yaml").read_text("utf-8"))
    return data


def _text(name: str) -> str:
    [path] = TEXTS.glob(f"{name}_*.txt")
    return path.read_text("utf-8")


def _records(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from plan.get("indicators", [])
    yield from plan.get("tasks", [])


# the published plans entered from their texts, every record with its source
ENTERED = [
    "fz-work-points-2021",
    "fz-digital-14th",
    "fz-new-infrastructure-2023",
    "fz-digital-empowerment-2025",
    "xm-digital-empowerment-2025",
]


# the plans whose published texts name no responsible unit for their tasks
UNNAMED = {"fz-digital-14th", "fz-digital-empowerment-2025", "xm-digital-empowerment-2025"}


def _published_plans() -> list[str]:
    return [p.stem for p in sorted(PLANS_DIR.glob("*.yaml")) if p.stem in ENTERED]


# --- the files load ------------------------------------------------------------------------------


def test_every_plan_file_loads_against_the_demo_register(session: Session) -> None:
    reports = orgs.import_orgs(session, DEMO_ACTOR, DEMO_FILE.name, DEMO_FILE.read_bytes())
    assert not [p for r in reports for p in r.problems]
    files = sorted(PLANS_DIR.glob("*.yaml"))
    results = plans.import_plans(
        session, DEMO_ACTOR, [(f.name, f.read_text("utf-8")) for f in files]
    )
    assert [(r.file, p) for r in results for p in r.problems] == []
    for found in plans.overview(session, _published_plans()):
        for task in found.tasks:
            if found.plan.code not in UNNAMED:
                assert task.lead_units, f"{found.plan.code} task {task.number} has no lead unit"
            assert task.source is not None, f"{found.plan.code} task {task.number}"
        for progress in found.indicators:
            assert progress.indicator.source is not None, progress.indicator.code


@pytest.mark.parametrize("code", _published_plans())
def test_every_record_names_its_source(code: str) -> None:
    """Each indicator and task of a published plan cites the file, section and sentence."""
    for record in _records(_plan(code)):
        source = record.get("source") or {}
        name = record.get("code", record.get("number"))
        assert source.get("file"), name
        assert source.get("quote"), name


# --- against the texts ---------------------------------------------------------------------------


def _quoted_parts(quote: str) -> list[str]:
    """A quote as published, with "…" where the record leaves words out."""
    return [part for part in quote.split("…") if part.strip()]


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


@needs_texts
@pytest.mark.parametrize("code", _published_plans())
def test_every_quote_is_in_the_text_it_cites(code: str) -> None:
    for record in _records(_plan(code)):
        source = record["source"]
        text = _flat((TEXTS / source["file"]).read_text("utf-8"))
        for part in _quoted_parts(source["quote"]):
            assert _flat(part) in text, (record.get("code", record.get("number")), part)
        for part in source.get("section", "").split(" / "):
            assert _flat(part) in text, part


@needs_texts
def test_the_2021_work_points_are_all_there() -> None:
    """002: every numbered point (1. … 30.) is a task with as many units as its 〔责任单位〕."""
    text = _text("002")
    points = re.findall(r"^\s*(\d+)\.(.+)$", text, re.MULTILINE)
    units = {n: re.search(r"〔责任单位:(.+)〕", line) for n, line in points}
    tasks = {t["number"]: t for t in _plan("fz-work-points-2021")["tasks"]}
    assert len(points) >= 30
    assert sorted(tasks, key=int) == [n for n, _ in points]
    for number, found in units.items():
        assert found is not None, number
        named = {n.strip() for n in re.split(r"[、,，]", found.group(1)) if n.strip()}
        task = tasks[number]
        entered = task["lead"] + task["support"] + task.get("others", [])
        # 市商务局(投促局) and 市商务局 are one unit; otherwise one name, one entry
        assert len(entered) == len(named), (number, named, entered)


def _table_rows(cells: list[str]) -> list[tuple[str, ...]]:
    """Rows of a table flattened one cell a line: a name, a short unit, then the baseline and
    the target, each a number, "/" or words around a number (">70", "提高3个百分点")."""
    rows = []
    for i in range(len(cells) - 3):
        name, unit, base, target = cells[i : i + 4]
        if (len(name) > 4 and len(unit) <= 4 and re.match(r"^(/|\d)", base)
                and re.match(r"^(/|\d|>|<|提高)", target)):  # fmt: skip
            rows.append((name, unit, base, target))
    return rows


@needs_texts
def test_the_14th_plan_has_every_row_of_its_indicator_table() -> None:
    """001: the 主要指标 table of 第三章第三节, one indicator per row, with its figures."""
    lines = _text("001").splitlines()
    start = lines.index("第三节 战略目标和主要指标")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("第四节"))
    cells = [line.strip() for line in lines[start:end] if line.startswith("\t") and line.strip()]
    rows = _table_rows(cells)
    indicators = {i["name"]: i for i in _plan("fz-digital-14th")["indicators"]}
    assert len(rows) >= 15
    assert sorted(indicators) == sorted(name for name, *_ in rows)
    for name, unit, base, target in rows:
        entered = indicators[name]
        figures = {"baseline": base, "2025": target}
        for key, cell in figures.items():
            number = re.search(r"[\d.]+", cell)
            if key == "baseline":
                value = entered.get("baseline", {}).get("value")
            else:
                value = entered["targets"][2025]
            assert (value is None) == (number is None), (name, key)
            if number is not None:
                assert value == float(number.group()), (name, key)
            if not re.fullmatch(r"[\d.]+", cell):  # "/", ">70", "3.0左右": the text's words kept
                assert entered["wording"][key] == cell, (name, key)
        assert entered["unit"] == unit or entered["wording"]["2025"].startswith("提高")


def _number(cell: str) -> float | None:
    return None if cell.strip() == "/" else float(cell)


@needs_texts
def test_the_new_infrastructure_plan_has_every_row_of_its_target_table() -> None:
    """003: 重点指标分年度工作目标表, one indicator per numbered row: the 2022 figure, the
    2023–2025 targets and the province's 2025 target."""
    rows = re.findall(r"^(\d+)\t(.+)$", _text("003"), re.MULTILINE)
    indicators = _plan("fz-new-infrastructure-2023")["indicators"]
    assert len(rows) >= 10
    assert len(indicators) == len(rows)
    for (_, row), entered in zip(rows, indicators, strict=True):
        name, base, *targets, province = row.split("\t")
        assert _flat(entered["name"]) in _flat(name.replace("(", "（").replace(")", "）"))
        assert entered["baseline"] == {"year": 2022, "value": float(base)}
        assert entered["targets"] == dict(zip((2023, 2024, 2025), map(float, targets), strict=True))
        assert entered.get("province_targets", {}).get(2025) == _number(province)


def _numbered(text: str, pattern: str) -> list[tuple[str, str]]:
    """The numbered tasks of a text: (number, heading) for each line the pattern opens."""
    return [(m.group(1), m.group(2)) for m in re.finditer(pattern, text, re.MULTILINE)]


@needs_texts
def test_the_fuzhou_empowerment_plan_has_every_numbered_task() -> None:
    """000: the tasks 1.–30. under 二、主要任务, each with the figures its text sets for 2026."""
    text = _text("000")
    numbered = _numbered(text, r"^\s*(\d+)\.([^。]+)。")
    plan = _plan("fz-digital-empowerment-2025")
    assert len(numbered) >= 30
    assert [(t["number"], t["title"]) for t in plan["tasks"]] == numbered
    # every "到2026年…" sentence with a figure has an indicator for 2026 quoting it
    quoted = _flat(" ".join(i["source"]["quote"] for i in plan["indicators"]))
    for sentence in re.findall(r"到2026年[,，]([^。]+)。", text):
        first = re.split(r"[,，]", sentence)[0]
        if re.search(r"\d", first):
            assert _flat(first) in quoted, first
    yearly = re.findall(r"每年[^,，。]*?\d+个", text)
    assert len(yearly) == sum(1 for i in plan["indicators"] if "yearly" in i["code"])
    for number, *_ in numbered:
        assert plan["tasks"][int(number) - 1].get("lead", []) == []  # the text names none


@needs_texts
def test_the_xiamen_empowerment_plan_has_every_numbered_task() -> None:
    """004: the tasks (一)… under each chapter 二–六, numbered by chapter, with the figures its
    text sets for 2026 and every year."""
    text = _text("004")
    numbered = []
    chapter = ""
    for line in text.splitlines():
        line = line.strip()
        if re.match(r"^[一二三四五六七八九十]+、", line):
            chapter = line.split("、")[0]
        found = re.match(r"^\(([一二三四五六七八九十]+)\)([^。]+)。", line)
        if found and chapter:
            numbered.append((f"{chapter}({found.group(1)})", found.group(2)))
    plan = _plan("xm-digital-empowerment-2025")
    assert len(numbered) >= 21
    assert [(t["number"], t["title"]) for t in plan["tasks"]] == numbered
    quoted = _flat(" ".join(i["source"]["quote"] for i in plan["indicators"]))
    for clause in re.findall(r"到2026年(?![)）])([^,，。;；]+)", text):
        if re.search(r"\d", clause):
            assert _flat(clause) in quoted, clause
    yearly = re.findall(r"每年[^,，。]*?\d+个", text)
    assert len(yearly) == sum(1 for i in plan["indicators"] if "yearly" in i["code"])


@needs_texts
def test_the_14th_plan_has_every_task_and_key_project_of_chapters_4_to_9() -> None:
    """001: in chapters 第四章–第九章, each paragraph of a section that opens with a heading
    sentence is a task, and each 标志性工程N a key project (the paragraphs inside a project's
    box, which ends at two blank lines, are the project's own)."""
    chapters = "四五六七八九"
    tasks: list[str] = []
    projects: list[str] = []
    chapter, in_section, in_project, blanks = "", False, False, 0
    for raw in _text("001").splitlines():
        line = raw.strip()
        if found := re.match(r"^第([一二三四五六七八九十]+)章 ", line):
            chapter, in_section, in_project = found.group(1), False, False
            continue
        if chapter not in chapters:
            continue
        if re.match(r"^第[一二三四五六七八九十]+节 ", line):
            in_section, in_project = True, False
            continue
        blanks = blanks + 1 if not line else 0
        if blanks >= 2:
            in_project = False
        if found := re.match(r"^标志性工程(\d+)：", line):
            projects.append(found.group(1))
            in_project = True
            continue
        head, stop, _ = line.partition("。")
        if in_section and not in_project and stop and 0 < len(head) <= 25:
            tasks.append(head)
    entered = _plan("fz-digital-14th")["tasks"]
    assert len(projects) >= 15
    assert [t["number"] for t in entered if t["category"] == "标志性工程"] == [
        f"工程{n}" for n in projects
    ]
    assert len(tasks) > 60
    assert [t["title"] for t in entered if t["category"] != "标志性工程"] == tasks


UNITS_BRACKET = re.compile(
    r"[〔（]责任单位[:：](.*?)〕|（责任单位[:：]([^（）]*(?:（[^（）]*）[^（）]*)*)）", re.S
)


@needs_texts
def test_the_new_infrastructure_plan_has_every_task_with_its_units() -> None:
    """003: the numbered tasks (1., 2., …) of each action (（一）…) in chapters 二–六 and the
    five 保障措施 of chapter 七, each with the units of its 〔责任单位〕."""
    found: list[tuple[str, str]] = []  # (number, the task's text)
    chapter = action = ""
    for raw in _text("003").splitlines():
        line = raw.strip()
        heading = re.sub(r"[#*]", "", line).strip() if line.startswith("#") else ""
        if heading and re.match(r"^[一二三四五六七]、", heading):
            chapter, action = heading[0], ""
        elif heading and (act := re.match(r"^[（(]([一二三四五六七八九十]+)[）)]", heading)):
            action = act.group(1)
            if chapter == "七":
                found.append((f"七({action})", ""))
        elif heading and (task := re.match(r"^(\d+)\.", heading)) and chapter in "二三四五六":
            found.append((f"({action}){task.group(1)}", ""))
        elif line and found and not heading:
            number, text = found[-1]
            found[-1] = (number, text + line)
    tasks = _plan("fz-new-infrastructure-2023")["tasks"]
    assert len(found) >= 45
    assert [t["number"] for t in tasks] == [n for n, _ in found]
    for task, (_, text) in zip(tasks, found, strict=True):
        bracket = UNITS_BRACKET.search(text)
        assert bracket is not None, task["number"]
        assert _flat(task["source"]["quote"]).endswith(_flat(bracket.group(0)))
        named = [n for n in re.split(r"[、,，]", bracket.group(1) or bracket.group(2)) if n.strip()]
        others = task.get("others", [])
        # a company named before "等市属国企" is both a unit and, with its words, a collective
        entered = len(task["lead"]) + len(task["support"]) + len(others)
        assert entered - sum("等" in o for o in others) == len(named), (task["number"], named)
