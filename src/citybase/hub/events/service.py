"""The event taxonomy: loaded from YAML (nested) or CSV (flat), whole or not at all, and read as
a list, a tree or one category's path (大类 ▸ 小类 ▸ 细类)."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.tables import csv_records
from citybase.hub.events import repository
from citybase.hub.events.models import EventCategory
from citybase.hub.events.schemas import CategoryIn, CategoryRead, Problem, TaxonomyReport

# CSV headers in English or in Chinese
HEADERS = {
    "code": "code", "编码": "code", "代码": "code", "name": "name", "名称": "name",
    "parent": "parent_code", "parent_code": "parent_code", "上级编码": "parent_code",
    "上级": "parent_code", "description": "description", "说明": "description",
    "keywords": "keywords", "关键词": "keywords", "active": "active", "启用": "active",
}  # fmt: skip


def _from_yaml(text: str) -> tuple[list[tuple[int | None, dict[str, Any]]], list[Problem]]:
    """Nested ``categories:`` (each with ``children:``) → flat rows with their lines."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [Problem(row=mark.line + 1 if mark else None, field="",
                            message=f"not YAML: {getattr(exc, 'problem', None) or exc}")]  # fmt: skip
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        return [], [Problem(row=1, field="", message="a taxonomy file holds a 'categories' list")]
    rows: list[tuple[int | None, dict[str, Any]]] = []

    def walk(items: list[Any], nodes: Any, parent: str | None) -> None:
        for n, item in enumerate(items):
            node = nodes.value[n] if isinstance(nodes, yaml.SequenceNode) else None
            line = node.start_mark.line + 1 if node is not None else None
            if not isinstance(item, dict):
                rows.append((line, {"__bad__": True}))
                continue
            children = item.get("children") or []
            row = {k: v for k, v in item.items() if k != "children"}
            if parent is not None:
                row.setdefault("parent_code", parent)
            rows.append((line, row))
            child_nodes = None
            if isinstance(node, yaml.MappingNode):
                child_nodes = next((v for k, v in node.value if k.value == "children"), None)
            if isinstance(children, list):
                walk(children, child_nodes, str(item.get("code", "")))

    categories = (
        next(
            (v for k, v in root.value if k.value == "categories"),
            None,
        )
        if isinstance(root, yaml.MappingNode)
        else None
    )
    walk(data["categories"], categories, None)
    return rows, []


def _from_csv(text: str) -> tuple[list[tuple[int | None, dict[str, Any]]], list[Problem]]:
    fieldnames, records = csv_records(text)
    unknown = [h for h in fieldnames if h.strip() not in HEADERS]
    if unknown or not fieldnames:
        return [], [Problem(row=1, field=", ".join(unknown), message="unknown columns; use code, "
                            "name, parent, description, keywords (or 编码, 名称, 上级编码, 说明, 关键词)")]  # fmt: skip
    rows: list[tuple[int | None, dict[str, Any]]] = []
    for n, raw in enumerate(records, start=2):
        row = {HEADERS[k.strip()]: v.strip() for k, v in raw.items() if k and v and v.strip()}
        rows.append((n, row))
    return rows, []


def import_taxonomy(
    session: Session, actor: Actor, filename: str, content: bytes, *, dry_run: bool = False
) -> TaxonomyReport:
    """Load a taxonomy file: every category in it created or updated by code, or — with any
    problem — nothing, each problem named by line (YAML) or row (CSV) and field."""
    report = TaxonomyReport(file=filename)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.problems = [Problem(row=None, field="", message="the file is not UTF-8 text")]
        return report
    lower = filename.lower()
    if lower.endswith((".yaml", ".yml")):
        rows, problems = _from_yaml(text)
    elif lower.endswith(".csv"):
        rows, problems = _from_csv(text)
    else:
        problems, rows = [Problem(row=None, field="", message="a .yaml, .yml or .csv file")], []
    report.rows = len(rows)
    existing = {c.code: c for c in repository.all_categories(session)}
    checked: list[CategoryIn] = []
    seen: dict[str, int | None] = {}
    for line, row in rows:
        if row.get("__bad__"):
            problems.append(Problem(row=line, field="", message="a category is a mapping"))
            continue
        row = {k: str(v) if k in ("code", "parent_code") and v is not None else v
               for k, v in row.items()}  # fmt: skip
        try:
            item = CategoryIn.model_validate(row)
        except ValidationError as exc:
            problems += [Problem(row=line, field=".".join(str(p) for p in e["loc"]),
                                 message=e["msg"].removeprefix("Value error, "))
                         for e in exc.errors()]  # fmt: skip
            continue
        level = len(item.code) // 2
        expected_parent = item.code[:-2] or None
        if (item.parent_code or None) != expected_parent:
            problems.append(Problem(row=line, field="parent_code", message=(
                f"{item.code} is a {'大类' if level == 1 else '小类' if level == 2 else '细类'}: "
                f"its parent is {expected_parent or 'none'}, not {item.parent_code or 'none'}"
            )))  # fmt: skip
            continue
        if item.code in seen:
            problems.append(Problem(row=line, field="code",
                                    message=f"{item.code} is given twice (also row {seen[item.code]})"))  # fmt: skip
            continue
        seen[item.code] = line
        checked.append(item)
    known = set(existing) | set(seen)
    for item in checked:
        if item.parent_code and item.parent_code not in known:
            problems.append(Problem(row=seen[item.code], field="parent_code",
                                    message=f"no category {item.parent_code}"))  # fmt: skip
    report.problems = problems
    if problems or dry_run:
        return report
    for order, item in enumerate(checked):
        row_obj = existing.get(item.code)
        values = {"name": item.name, "level": len(item.code) // 2, "parent_code": item.parent_code,
                  "description": item.description, "keywords": item.keywords,
                  "active": item.active, "sort_order": order}  # fmt: skip
        if row_obj is None:
            repository.add(session, EventCategory(code=item.code, **values))
            report.created += 1
        elif any(getattr(row_obj, k) != v for k, v in values.items() if k != "sort_order"):
            for k, v in values.items():
                setattr(row_obj, k, v)
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    ledger.record(session, actor, "hub.taxonomy.import", object_type="event_taxonomy",
                  object_id=filename[:100], details=report.model_dump(
                      include={"rows", "created", "updated", "unchanged"}))  # fmt: skip
    report.applied = True
    return report


def categories(session: Session, *, active_only: bool = True) -> list[CategoryRead]:
    return [CategoryRead.model_validate(c) for c in repository.all_categories(session)
            if c.active or not active_only]  # fmt: skip


def get_category(session: Session, code: str) -> CategoryRead:
    found = repository.by_code(session, code)
    if found is None:
        raise NotFound(f"no event category {code}", field="category")
    return CategoryRead.model_validate(found)


def path_of(session: Session, code: str) -> list[CategoryRead]:
    """The category and those above it, 大类 first."""
    return [get_category(session, code[:n]) for n in range(2, len(code) + 1, 2)]


def tree(session: Session) -> list[dict[str, Any]]:
    """大类 with their 小类 with their 细类."""
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for c in categories(session):
        node = {"category": c, "children": []}
        nodes[c.code] = node
        parent = nodes.get(c.parent_code or "")
        (parent["children"] if parent else roots).append(node)
    return roots
