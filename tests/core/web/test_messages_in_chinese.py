"""Every error message a person can meet in a page has its Chinese: the sources are walked, and
each message raised with a fixed text or an f-string (its values sampled with a few kinds of
value) must be translated by the catalogues the app loads, exactly or by a pattern."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import citybase
from citybase.app import create_app
from citybase.core import errors
from citybase.core.settings import Settings
from citybase.core.web import i18n

ROOT = Path(citybase.__file__).parent
CHINESE = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
# the kinds of value a message carries: a number, a code, a word, a date, Chinese text
VALUES = ("1", "x1", "abc", "2024-01-01", "中文")

# modules whose messages only machine clients read, in their standard's own format
MACHINE_ONLY = (
    "perception/context/",  # the NGSI-LD broker: ProblemDetails, in English by the standard
    "services/hotline/open311.py",  # Open311 GeoReport v2: the spec's errors, JSON or XML
)
# code run only from the command line (an operator's shell, never a page): (module, function)
CLI_ONLY = {
    # read_series and score_series: `citybase perception score` reads a CSV file
    ("perception/rules/series.py", "read_series"),
    ("perception/rules/series.py", "_open"),
    ("perception/rules/series.py", "score_series"),
    # the examples of `citybase dispatch train|evaluate`, read from a CSV file
    ("hub/dispatch/classifier.py", "read_csv"),
    ("hub/dispatch/classifier.py", "_rows"),
    # `citybase federation push …` and the bridge's start, both from the settings
    ("hub/federation/service.py", "_push"),
    ("hub/federation/service.py", "push_calendar"),
    ("hub/federation/service.py", "configure"),
    # the demo city's seed (`citybase demo`)
    ("demo/onething.py", "_code"),
}
ERRORS = {
    name
    for name in dir(errors)
    if isinstance(getattr(errors, name), type)
    and issubclass(getattr(errors, name), errors.CitybaseError)
}


def sample(node: ast.expr, value: str) -> str | None:
    """The message a raise builds, with ``value`` in each of its places; None if not a text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            p.value if isinstance(p, ast.Constant) else value for p in node.values
        )  # fmt: skip
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = sample(node.left, value), sample(node.right, value)
        if left is not None and right is not None:
            return left + right
    return None


def raised(tree: ast.AST) -> Iterator[tuple[str, int, ast.expr]]:
    """(enclosing function, line, message) of every ``raise SomeError(message, …)``."""

    def walk(node: ast.AST, function: str) -> Iterator[tuple[str, int, ast.expr]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(child, child.name)
                continue
            if isinstance(child, ast.Raise) and isinstance(child.exc, ast.Call):
                func = child.exc.func
                name = func.id if isinstance(func, ast.Name) else \
                    func.attr if isinstance(func, ast.Attribute) else None  # fmt: skip
                if name in ERRORS and child.exc.args:
                    yield function, child.lineno, child.exc.args[0]
            yield from walk(child, function)

    yield from walk(tree, "")


def in_chinese(message: ast.expr) -> bool:
    for value in VALUES:
        text = sample(message, value)
        assert text is not None
        if CHINESE.search(text) and not LATIN_WORD.search(text):
            return True  # written in Chinese already
        shown = i18n.translate_message("zh", text)
        if shown != text.strip() and CHINESE.search(shown):
            return True
    return False


def untranslated(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(MACHINE_ONLY):
            continue
        for function, line, message in raised(ast.parse(path.read_text(), str(path))):
            if (rel, function) in CLI_ONLY or sample(message, "1") is None:
                continue
            if not in_chinese(message):
                found.append(f"{rel}:{line}: {sample(message, '{}')}")
    return found


@pytest.fixture(scope="module", autouse=True)
def _catalogues(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every domain's catalogue, as the running app has them."""
    create_app(Settings(home=tmp_path_factory.mktemp("home")))


def test_every_raised_message_has_its_chinese() -> None:
    assert untranslated(ROOT) == []


def test_the_walk_reaches_the_messages() -> None:
    """Hundreds of messages are raised across the domains; the walk sees them, and those of the
    command line are left out only in the functions named."""
    total = 0
    for path in ROOT.rglob("*.py"):
        total += sum(1 for _ in raised(ast.parse(path.read_text())))
    assert total > 500
    functions = set()
    for module, _ in CLI_ONLY:
        tree = ast.parse((ROOT / module).read_text())
        functions |= {(module, f) for f, _, _ in raised(tree)}
    assert functions >= CLI_ONLY  # each exemption still names a function that raises


def test_a_message_without_chinese_is_reported(tmp_path: Path) -> None:
    (tmp_path / "made_up.py").write_text(
        "from citybase.core.errors import InvalidInput, NotFound\n"
        "def f(x):\n"
        "    raise InvalidInput('the frobnicator is out of sprockets', field='x')\n"
        "def g(x):\n"
        "    raise NotFound(f'no frobnicator {x} in the sprocket bay')\n"
        "def h(x):\n"
        "    raise NotFound(f'no case {x}')\n"  # translated by the cases' pattern
        "def k(x):\n"
        "    raise InvalidInput('请选择文件')\n"  # written in Chinese
    )
    assert untranslated(tmp_path) == [
        "made_up.py:3: the frobnicator is out of sprockets",
        "made_up.py:5: no frobnicator {} in the sprocket bay",
    ]


def test_a_value_that_names_a_field_shows_its_label() -> None:
    """An import's first problem names the row's field: the page shows the field's label, never
    its name in the code, and the problem itself in Chinese."""
    shown = i18n.translate_message(
        "zh", "row 3, region_code: no region with code x9 (2 problem(s); nothing was imported)"
    )
    assert shown == "第 3 行，行政区划：没有编码为 x9 的行政区划（共 2 处问题，未导入任何数据）"
    assert "region_code" not in shown
