"""The console's languages: Simplified Chinese by default, English switchable.

Templates and views write English message ids (``_("Regions")``); each domain's ``views.py``
adds its Chinese catalogue with ``add_translations``. English is the id itself. A test fails on
any message id used in a template that has no Chinese translation.
"""

from __future__ import annotations

import re
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


# messages with values in them ("at most 3 photos"): a pattern with groups and the Chinese with
# {0}, {1}… in their place; tried in order when the message itself is not in the catalogue
_patterns: dict[str, list[tuple[re.Pattern[str], str]]] = {"zh": []}
# a form field's name → its English label (a message id), for errors shown without their field
_labels: dict[str, str] = {}


def add_patterns(lang: str, patterns: dict[str, str]) -> None:
    """Translations of messages that carry values: ``{r"at most (\\d+) photos": "最多 {0} 张"}``;
    a group named ``field`` (``(?P<field>\\S+)``) is a form field's name, shown by its label."""
    found = _patterns.setdefault(lang, [])
    for pattern, text in patterns.items():
        found.append((re.compile(pattern + r"\Z", re.S), text))


def add_field_labels(labels: dict[str, str]) -> None:
    """The labels of form fields (English message ids), so that an error names the field as the
    form does and never by its name in the code."""
    for field, label in labels.items():
        if _labels.get(field, label) != label:
            conflicts.append(("label", field, _labels[field], label))
        _labels[field] = label


def translate_message(lang: str, message: str) -> str:
    """A message meant for a person (an error's reason) in ``lang``: from the catalogue, else by
    the first pattern that matches it, else as it came."""
    message = message.strip()
    catalog = _catalogs.get(lang, {})
    if message in catalog:
        return catalog[message]
    for pattern, text in _patterns.get(lang, []):
        found = pattern.match(message)
        if found:
            named = {i: name for name, i in pattern.groupindex.items()}
            return text.format(*(
                _value(lang, g or "", named.get(i) == "field") for i, g in enumerate(found.groups(), 1)
            ))  # fmt: skip
    return message


def _value(lang: str, value: str, is_field: bool) -> str:
    """A value a pattern found: a field's name (a group named ``field``) becomes its label,
    anything else is translated in its turn."""
    if is_field:
        return field_label(lang, value) or translate_message(lang, value)
    return translate_message(lang, value)


def field_label(lang: str, field: str, labels: dict[str, str] | None = None) -> str:
    """The label a form shows for ``field`` (a dotted path of a nested field takes its first
    part's label, and an item's number: ``items.2.name`` → 数据项 3); "" when none is known."""
    labels = labels or {}
    head, _, rest = field.partition(".")
    label = labels.get(field) or _labels.get(field) or labels.get(head) or _labels.get(head)
    if not label:
        return ""
    text = translate(lang, label)
    number = rest.split(".", 1)[0]
    return f"{text} {int(number) + 1}" if number.isdigit() else text


def error_text(lang: str, field: str | None, message: str,
               labels: dict[str, str] | None = None) -> str:  # fmt: skip
    """One error as a page shows it: the field's label and the reason, in ``lang``."""
    reason = translate_message(lang, str(message))
    label = field_label(lang, field, labels) if field and field not in {"form", "body"} else ""
    if label:
        return f"{label}：{reason}" if lang == "zh" else f"{label}: {reason}"
    return reason


def error_line(lang: str, text: str, labels: dict[str, str] | None = None) -> str:
    """An error carried in a link (``?error=field: reason; field: reason``), as a page shows it."""
    parts = []
    for part in (p.strip() for p in text.split("; ") if p.strip()):
        field, sep, reason = part.partition(": ")
        known = sep and re.fullmatch(r"[a-z_][a-z0-9_.]*", field)
        parts.append(error_text(lang, field, reason, labels) if known else
                     translate_message(lang, part))  # fmt: skip
    return "；".join(parts) if lang == "zh" else "; ".join(parts)


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
        "Menu": "菜单",
        "Total": "共计",
        "Error": "错误",
        "Row": "行",
        "Field": "字段",
        "Reason": "原因",
        "Status": "状态",
        "Created": "创建时间",
        "Demo city": "演示城市",
        "API documentation": "接口文档",
        "this form has expired or was not issued here: reload the page and send it again": "表单已过期或并非本站签发：请刷新页面后重新提交",
        "this form has already been sent: it was taken once": "该表单已提交过，只受理一次",
        "the record of actions is busy: nothing was changed; send it again": "操作记录正忙，本次未作任何更改，请重新提交",
    },
)

# pydantic's own reasons (the ones a console form meets), and the kernel's form messages
add_patterns(
    "zh",
    {
        r"String should have at least (\d+) characters?": "至少应有 {0} 个字符",
        r"String should have at most (\d+) characters?": "最多 {0} 个字符",
        r"List should have at least (\d+) items? after validation, not \d+": "至少应有 {0} 项",
        r"List should have at most (\d+) items? after validation, not \d+": "最多 {0} 项",
        r"Input should be greater than or equal to (\S+)": "应不小于 {0}",
        r"Input should be less than or equal to (\S+)": "应不大于 {0}",
        r"Input should be greater than (\S+)": "应大于 {0}",
        r"Input should be less than (\S+)": "应小于 {0}",
        r"Input should be a valid integer.*": "应为整数",
        r"Input should be a valid number.*": "应为数字",
        r"Input should be a valid decimal.*": "应为数字",
        r"Decimal input should have no more than (\d+) decimal places?": "最多 {0} 位小数",
        r"Input should be a valid date.*": "应为有效日期（年-月-日）",
        r"Input should be a valid datetime.*": "应为有效时间",
        r"Input should be a valid boolean.*": "应为是或否",
        r"Input should be a valid (?:string|list|dictionary).*": "格式不正确",
        r"Input should be '.*": "请从所列选项中选择",
        r"Input should be (.+)": "应为以下之一：{0}",
        r"String should match pattern .*": "格式不正确",
        r"Value error, (.+)": "{0}",
        r"value is not a valid email address.*": "不是有效的电子邮箱地址",
    },
)
add_translations(
    "zh",
    {
        "Field required": "必填",
        "Extra inputs are not permitted": "不接受此项",
        "invalid": "无效",
        "a number is out of range: integers are taken up to 64 bits": "数值超出范围：整数最多64位",
        "internal error; it has been logged": "内部错误，已记录",
        "Not Found": "页面不存在",
        "Method Not Allowed": "不支持该请求方式",
        "Request Entity Too Large": "提交的内容过大",
        "Content Too Large": "提交的内容过大",
    },
)

# the labels of fields many forms share; a domain adds its own with add_field_labels, and a page
# may pass ``labels`` of its own to name a field otherwise
add_field_labels({
    "reason": "Reason", "kind": "Kind", "note": "Note", "file": "File", "number": "Number",
    "name": "Name", "unit": "Unit", "source": "Source", "level": "Level",
    "category_code": "Category", "unit_code": "Unit", "title": "Title", "status": "Status",
    "resource_code": "Resource", "phone": "Phone", "legal_basis": "Legal basis",
    "fields": "Fields", "year": "Year", "value": "Value", "username": "Username",
    "satisfaction": "Satisfaction", "reporter_phone": "Phone", "reporter_name": "Reporter",
    "region": "Region", "provider_unit_code": "Provider unit", "password": "Password",
    "params": "Parameters", "month": "Month", "keywords": "Keywords", "item": "Data item",
    "credit_code": "Unified social credit code", "code": "Code", "address": "Address",
    "urgency": "Urgency", "update_cycle": "Update cycle", "support_units": "Support units",
    "lead_unit": "Lead unit", "region_code": "Region", "email": "E-mail",
    "display_name": "Display name", "current_password": "Current password",
    "new_password": "New password", "counterpart_code": "Counterpart above",
    "classification": "Classification", "channel": "Channel", "category": "Category",
    "captcha": "Picture code", "roles": "Roles", "scopes": "Scopes",
    "expires_in_days": "Expires in days", "items": "Data items", "abstract": "Abstract",
    "answer": "Answer", "question": "Question", "reply": "Reply", "milestones": "Milestones",
    "due": "Due", "lead": "Lead units", "support": "Support units", "direction": "Direction",
    "nature": "Nature", "baseline_year": "Baseline year", "baseline_value": "Baseline value",
    "minimum": "Minimum", "maximum": "Maximum", "proposed_value": "Proposed value", "row": "Row",
    "applicant": "Applicant", "organisation": "Organisation", "scenario": "Scenario",
    "elements": "Data elements", "short_name": "Short name", "sort_order": "Sort order",
    "parent_code": "Parent", "official": "Official code", "active": "Active", "photos": "Photos",
    "form_token": "Form", "lon": "Longitude", "lat": "Latitude", "attr": "Attribute",
    "device_id": "Device", "type_code": "Type", "evidence": "Evidence", "files": "Files",
    "issued_on": "Issued on", "document_number": "Document number", "city": "City",
    "share_condition": "Share condition", "share_method": "Share method",
    "open_condition": "Open condition", "format": "Format", "target": "Merge into",
    "days": "Days", "purpose": "Purpose", "text": "What the citizen says", "token": "Token",
    "action": "Actions", "case_number": "Case number",
})  # fmt: skip
add_translations("zh", {
    "the file is empty": "文件为空", "sign in or send an API key": "请先登录",
    "a unit admin manages only the users of their own unit": "单位管理员只能管理本单位的用户",
    "API keys are created from a signed-in session, not with a key": "API 密钥须在登录后创建，不能用密钥创建",
})  # fmt: skip
add_patterns("zh", {
    r"this needs the permission (\S+)": "此操作需要权限 {0}",
    r"you do not hold (\S+) yourself": "您本人不具有 {0}",
    r"only a platform admin can grant (.+?): .*": "只有平台管理员才能授予 {0}",
    r"(.+) needs the permission (\S+)": "{0}需要权限 {1}",
})  # fmt: skip
add_patterns("zh", {
    r"the file is ([\d.]+) MB: at most ([\d.]+) MB are kept": "文件大小为 {0} MB，最多只能保存 {1} MB",
    r"(.+) is not of a kind kept here: .*": "{0} 的文件类型不受支持（照片、录音、视频或 PDF）",
    r"the picture is (\S+): at most .*": "图片尺寸 {0} 过大",
    r"the picture cannot be read: .*": "图片无法读取",
    r"the request body is not valid JSON.*": "请求内容不是有效的 JSON",
})  # fmt: skip
# the states a service names when it refuses a step ("application OA1 is already approved"):
# a domain's pattern puts the state in its place, and it reads here
add_translations("zh", {
    "answered": "已答复", "approved": "已批准", "acknowledged": "已确认", "closed": "已关闭",
    "confirmed": "已确认", "corrected": "已更正", "delisted": "已下架", "done": "已完成",
    "draft": "草稿", "ended": "已结束", "expired": "已过期", "failed": "失败",
    "granted": "已授权", "in_force": "生效中", "in_progress": "进行中", "listed": "已上架",
    "open": "待处理", "pending": "待处理", "planned": "已计划", "prepared": "已准备",
    "published": "已发布", "refused": "已拒绝", "registered": "已登记", "rejected": "已驳回",
    "released": "已放行", "retired": "已停用", "reviewed": "已审核", "revoked": "已撤销",
    "running": "运行中", "signed": "已签署", "submitted": "已提交", "superseded": "已被取代",
    "suspended": "已暂停", "withdrawn": "已撤回", "not_started": "未开始",
})  # fmt: skip
add_translations("zh", {"File": "文件", "Parameters": "参数", "Classification": "资源分类",
                        "Form": "表单", "Longitude": "经度", "Latitude": "纬度"})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"the bytes of file (.+?) are missing from the store": "文件 {0} 的内容在存储中缺失",
    r"file (.+?) is not a picture: it has no preview": "文件 {0} 不是图片，无法预览",
    r"(.+?) holds 'holidays' and 'workdays' lists": "{0} 应包含节假日（holidays）和调休工作日（workdays）两个列表",
    r"the XLSX file cannot be read: (.+?)": "无法读取该 XLSX 文件：{0}",
    r"(.+?): '(.+?)' must be a list of dates \(YYYY-MM-DD\)": "{0}：{1} 应为日期列表（年-月-日）",
    r"no API documentation in (.+?): (.+?)": "{0} 中没有接口文档：{1}",
    r"group by one of (.+)": "请按以下之一分组：{0}",
    r"(.+?) is not YAML: (.+?)": "{0} 不是有效的 YAML 文件：{1}",
    r"no file (.+?)": "未找到文件 {0}",
})  # fmt: skip
add_translations("zh", {
    "text may not hold the NUL character (\\0)": "文本不能包含空字符（\\0）",
    "the CSV is neither UTF-8 nor GB 18030 text": "CSV 文件既不是 UTF-8 编码也不是 GB 18030 编码的文本",
    "tables are read from .xlsx or .csv files": "表格只能从 .xlsx 或 .csv 文件读取",
    "/metrics wants the scrape token (Authorization: Bearer …)": "/metrics 需要采集令牌（Authorization: Bearer …）",
    "the format is csv or xlsx": "格式只能是 csv 或 xlsx",
})  # fmt: skip
