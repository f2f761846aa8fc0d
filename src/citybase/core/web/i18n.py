"""The console's languages: Simplified Chinese by default, English switchable.

Templates and views write English message ids (``_("Regions")``); each domain's ``views.py``
adds its Chinese catalogue with ``add_translations``. English is the id itself. A test fails on
any message id used in a template that has no Chinese translation.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = {"zh": "简体中文", "en": "English"}
LANG_COOKIE = "citybase_lang"
_catalogs: dict[str, dict[str, str]] = {"zh": {}, "en": {}}


# message ids given two different translations (one catalogue for all pages: the later would
# silently win on every page); a test keeps this empty
conflicts: list[tuple[str, str, str, str]] = []


def add_translations(lang: str, mapping: dict[str, str]) -> None:
    catalog = _catalogs.setdefault(lang, {})
    for message, text in mapping.items():
        if catalog.get(message, text) != text:
            conflicts.append((lang, message, catalog[message], text))
    catalog.update(mapping)


def translate(lang: str, message: str, **values: Any) -> str:
    text = _catalogs.get(lang, {}).get(message, message)
    return text.format(**values) if values else text


def has_translation(lang: str, message: str) -> bool:
    return message in _catalogs.get(lang, {})


def choose(requested: str | None, default: str) -> str:
    if requested in LANGUAGES:
        return requested
    return default if default in LANGUAGES else "zh"


add_translations(
    "zh",
    {
        "citybase": "城市数字底座",
        "City digital base": "城市数字底座",
        "Open data": "公共数据开放",
        "12345 hotline": "12345 诉求",
        "Sign in": "登录",
        "Sign out": "退出",
        "Username": "用户名",
        "Password": "密码",
        "Wrong username or password.": "用户名或密码错误。",
        "This account is locked until {until} after repeated failed logins.": "因多次登录失败，该账号已锁定至 {until}。",
        "This account is disabled.": "该账号已停用。",
        "Home": "首页",
        "Kernel": "内核",
        "Perception": "感知层",
        "Data": "数据层",
        "City brain": "城市大脑（中枢）",
        "Applications": "应用层",
        "Plan supervision": "规划督导",
        "Not built yet": "尚未建成",
        "This layer is not built yet. When it is, it will hold:": "这一层尚未建成。建成后将包括：",
        "Save": "保存",
        "Create": "新建",
        "Cancel": "取消",
        "Search": "搜索",
        "Filter": "筛选",
        "Edit": "编辑",
        "Name": "名称",
        "Code": "编码",
        "Actions": "操作",
        "Yes": "是",
        "No": "否",
        "None": "无",
        "Previous": "上一页",
        "Next": "下一页",
        "Page not found": "页面不存在",
        "Forbidden": "无权访问",
        "Something went wrong": "出错了",
        "Back to the home page": "返回首页",
        "Saved.": "已保存。",
        "Language": "语言",
        "Signed in as": "当前用户",
        "Skip to content": "跳到正文",
        "Total": "共计",
        "Error": "错误",
        "Row": "行",
        "Field": "字段",
        "Reason": "原因",
        "Status": "状态",
        "Created": "创建时间",
        "Demo city": "演示城市",
        "API documentation": "接口文档",
    },
)
