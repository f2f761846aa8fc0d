from __future__ import annotations

import re
from pathlib import Path

from citybase.app import LAYERS
from citybase.core.web import i18n
from citybase.core.web.templating import console

# a literal message id: _("…") or _("…", value=…); dynamic ids (_("share." ~ x)) are not matched
MESSAGE = re.compile(r"""_\(\s*(["'])((?:(?!\1).)+)\1\s*[,)]""")


def _template_messages() -> set[str]:
    found: set[str] = set()
    for directory in console.template_dirs():
        for path in Path(directory).rglob("*.html"):
            found.update(m.group(2) for m in MESSAGE.finditer(path.read_text()))
    return found


def test_every_console_message_has_a_chinese_translation() -> None:
    messages = _template_messages()
    messages |= {e.title for e in console.nav} | {e.layer for e in console.nav}
    for layer in LAYERS:
        messages |= {layer.title, *layer.plans}
    assert len(messages) > 50  # the scan itself works
    missing = sorted(m for m in messages if not i18n.has_translation("zh", m))
    assert missing == []


def test_translation_with_values() -> None:
    assert "09:30" in i18n.translate(
        "zh", "This account is locked until {until} after repeated failed logins.", until="09:30"
    )
    assert i18n.translate("en", "Regions") == "Regions"
    assert i18n.choose("fr", "zh") == "zh"


def test_no_message_is_given_two_translations() -> None:
    """One catalogue serves every page: a message id translated two ways would show whichever
    was added last, on every page that uses it."""
    assert i18n.conflicts == []


def test_every_field_label_has_a_chinese_translation() -> None:
    assert len(i18n._labels) > 50
    missing = sorted(f"{f}: {label}" for f, label in i18n._labels.items()
                     if not i18n.has_translation("zh", label))  # fmt: skip
    assert missing == []


def test_an_error_names_its_field_by_label_in_chinese() -> None:
    assert i18n.error_text("zh", "reporter_phone", "Field required") == "联系电话：必填"
    assert i18n.error_text("zh", "items.2.name", "String should have at least 2 characters") \
        == "信息项 3：至少应有 2 个字符"  # fmt: skip
    assert i18n.error_text("zh", "form", "the code does not match the picture") == "验证码不正确"
    assert i18n.error_text("zh", "no_such_field", "Field required") == "必填"  # never the name
    assert i18n.error_line("zh", "title: Field required; days: Input should be a valid integer, "
                           "unable to parse string as an integer") == "标题：必填；期限（天）：应为整数"  # fmt: skip
    assert i18n.error_text("en", "reporter_phone", "Field required") == "Phone: Field required"
