"""The ledger's actions by name: their own, else named from their parts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import citybase
from citybase.core.ledger.names import action_name, object_name


def test_an_action_is_named_by_its_name_or_its_parts() -> None:
    assert action_name("zh", "sharing.read") == "读取共享数据"
    assert action_name("zh", "hub.case.sign") == "中枢 · 工单 · 签收"
    assert action_name("zh", "hub.case.frobnicate") == "中枢 · 工单 · frobnicate"  # kept
    assert action_name("en", "sharing.read") == "sharing.read"
    assert object_name("zh", "data_resource") == "数据资源"
    assert object_name("en", "data_resource") == "data resource"


def _recorded(root: Path) -> tuple[set[str], set[str]]:
    """The actions and object types written to the ledger with a fixed code anywhere in the
    code (``ledger.record(session, actor, "x.y", object_type="z")``, a traced read's
    ``action=``)."""
    actions: set[str] = set()
    objects: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in ("record", "record_read"):
                continue
            values = [*node.args[:4], *(k.value for k in node.keywords if k.arg == "action")]
            for arg in values:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    if re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", arg.value):
                        actions.add(arg.value)
            for k in node.keywords:
                if k.arg == "object_type" and isinstance(k.value, ast.Constant):
                    objects.add(str(k.value.value))
    return actions, objects


def test_every_recorded_action_and_object_reads_in_chinese() -> None:
    """The auditor's ledger shows no code where a name belongs: every action and object type
    the code records has Chinese, its own or from its parts."""
    actions, objects = _recorded(Path(citybase.__file__).parent)
    assert len(actions) > 100  # the walk sees the code's actions
    latin = re.compile(r"[A-Za-z]")
    assert [a for a in sorted(actions) if latin.search(action_name("zh", a))] == []
    assert [o for o in sorted(objects) if latin.search(object_name("zh", o))] == []
