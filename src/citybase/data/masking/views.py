"""The console's masking policy page: the operator for each level and field kind."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import SubmittedForm, form_errors, undo
from citybase.core.web.i18n import add_translations
from citybase.core.web.once import FormToken, claim
from citybase.core.web.templating import NavEntry, console
from citybase.data.grading.schemas import Level
from citybase.data.masking import service
from citybase.data.masking.auth import MASKING_POLICY, MASKING_READ, MaskingReader, PolicyEditor
from citybase.data.masking.schemas import FieldKind, Operator, PolicyChange, Rule

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Masking policy", "/console/masking", MASKING_READ, order=45))
add_translations(
    "zh",
    {
        "Masking policy": "脱敏策略", "Field kind": "字段类型", "Change": "修改",
        "Changed by the bureau": "已由大数据局调整",
        "Resources never graded are masked as 一般数据 4 级.": "未分级的资源按一般数据 4 级脱敏。",
        "kind.citizen_id": "公民身份号码", "kind.bank_card": "银行卡号", "kind.mobile": "手机号码",
        "kind.name": "姓名", "kind.address": "地址", "kind.birth_date": "出生日期",
        "kind.age": "年龄", "kind.credit_code": "统一社会信用代码", "kind.text": "自由文本",
        "kind.other": "其他",
        "op.clear": "不脱敏", "op.keep": "保留首尾", "op.hash": "密钥哈希",
        "op.pseudonym": "可逆假名", "op.year": "泛化为年份", "op.district": "泛化至区县",
        "op.age_band": "年龄段", "op.suppress": "屏蔽", "op.redact": "识别并遮盖",
        "First": "保留前", "Last": "保留后",
    },
)  # fmt: skip
add_translations("en", {
    **{f"kind.{k.value}": k.value.replace("_", " ") for k in FieldKind},
    **{f"op.{o.value}": o.value.replace("_", " ") for o in Operator},
})  # fmt: skip


def _page(request: Request, session: DbSession, status: int = 200, **extra: object) -> Response:
    rows = service.policy_rows(session)
    cells = {(r.level, r.kind.value): r for r in rows}
    return console.render(
        request, "masking/policy.html",
        {"levels": [lv.value for lv in Level], "kinds": [k.value for k in FieldKind],
         "cells": cells, "operators": [o.value for o in Operator], "errors": {}, **extra},
        status,
    )  # fmt: skip


CHOOSE = "choose a level and a kind of field from the lists, and whole numbers of characters"
add_translations("zh", {CHOOSE: "请从列表中选择级别和字段类型，保留字符数应为整数"})


@router.get("/console/masking")
def policy_page(request: Request, session: DbSession, principal: MaskingReader) -> Response:
    return _page(request, session, may_edit=principal.can(MASKING_POLICY))


@router.post("/console/masking")
def policy_submit(
    request: Request, session: DbSession, principal: PolicyEditor, form: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        level, kind = Level(form.get("level", "")), FieldKind(form.get("kind", ""))
        rule = Rule(op=form.get("op", ""), first=int(form.get("first") or 0),
                    last=int(form.get("last") or 0))  # fmt: skip
        service.set_rule(session, principal, level, kind,
                         PolicyChange(rule=rule, reason=form.get("reason", "")))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        return _page(request, session, 422, may_edit=True, errors=form_errors(exc))
    except ValueError:
        undo(session)
        # a level, kind or position outside what the form's lists offer
        return _page(request, session, 422, may_edit=True, errors={"form": CHOOSE})
    return once.redirect(session, "/console/masking?saved=1")


# refusals a page may show, in Chinese (values kept in their place)
add_translations("zh", {
    "keep: say how many characters to keep": "保留位数：请填写要保留的字符数",
})  # fmt: skip
