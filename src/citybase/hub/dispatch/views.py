"""Console pages of the dispatch classifier's learning: the model page (分类模型: its versions,
their figures beside the champion's, figures by category and the confusion matrix drawn on the
server, a challenger trained on demand, going back to an earlier version) and the corrections it
learns from (纠错样本), with their export."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from citybase.core.bus import service as bus
from citybase.core.bus.lines import progress_text
from citybase.core.errors import CitybaseError, InvalidInput
from citybase.core.identity.service import actor_of
from citybase.core.orgs import service as orgs
from citybase.core.values import INT64_MAX
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure_text, undo
from citybase.core.web.i18n import add_field_labels, add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id, QueryDate
from citybase.core.web.templating import NavEntry, console
from citybase.hub.dispatch import corrections, learning
from citybase.hub.dispatch.auth import MODELS_READ, MODELS_TRAIN, ModelReader, ModelTrainer
from citybase.hub.dispatch.routes import KindParam, kind_of, period
from citybase.hub.dispatch.schemas import (
    CORRECTION_NAMES,
    STATUS_NAMES,
    CorrectionKind,
    MarginsIn,
    VersionStatus,
)
from citybase.hub.events import service as events

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("City brain", "Dispatch models", "/console/hub/models", MODELS_READ,
                          order=22))  # fmt: skip
console.add_page(NavEntry("City brain", "Corrections", "/console/hub/corrections", MODELS_READ,
                          order=23))  # fmt: skip
add_translations("zh", {
    "Dispatch models": "分类模型", "Corrections": "纠错样本", "Version": "版本",
    "Trained": "训练时间", "Learned from": "训练窗口", "Training examples": "训练样本",
    "Judged on": "评估期", "Holdout cases": "评估工单", "Macro-F1": "宏平均F1",
    "Routed without correction": "免纠错派单率", "Champion then": "当时在用模型",
    "Promotion decision": "结论", "Train a challenger now": "立即训练挑战模型",
    "Go back to this version": "回滚到此版本", "Why": "原因",
    "Figures by category": "分类指标", "Precision": "精确率", "Recall": "召回率",
    "Confusion matrix (rows: final category, columns: predicted)": "混淆矩阵（行：最终分类，列：预测分类）",
    "No version has been trained yet.": "尚未训练任何版本。",
    "A challenger is being trained; this page shows it once the worker is done.": "挑战模型已排队训练，完成后在此显示。",
    "Kind": "类型", "Label before": "纠错前", "Label after": "纠错后", "Corrected by": "纠错人", "When": "时间",
    "Undone": "已撤销", "Download CSV": "下载CSV", "No corrections in this period.": "此期间无纠错。",
    "From": "起", "To": "止", "Show": "查看", "Case": "工单",
    "Support": "样本数", "character n-grams": "字符n元组",
    "Chosen by cross-validation within the training window": "训练窗口内交叉验证所选参数",
    "class weights": "类别权重", "Saved.": "已保存。",
    "Routing under each champion": "历任在用模型的派单情况", "Champion": "在用模型",
    "Until": "至", "Now": "至今", "Cases taken in": "受理工单", "Dispatched": "派单数",
    "Dispatched without a person": "无人值守派单",
    "at confidence {threshold} or more, chosen out of fold in the training window for a target accuracy of {target}% (it covered {estimated}% of the cases there)": "置信度不低于 {threshold}（在训练窗口内以交叉验证为目标准确率 {target}% 选定，覆盖其中 {estimated}% 的工单）",
    "In the holdout period {share}% of the cases reached it": "评估期内 {share}% 的工单达到该置信度",
    "routed right {accuracy}% of the time": "其中 {accuracy}% 派单正确",
    "no confidence reached a target accuracy of {target}%: every case goes to a person": "没有置信度能达到目标准确率 {target}%：所有工单由人工派单",
})  # fmt: skip
add_translations("zh", {f"status.{s.value}": n for s, n in STATUS_NAMES.items()})
add_translations("zh", {
    learning.STEP_LABELS["read"]: "正在读取已办结工单与纠正记录",
    learning.STEP_LABELS["category.select"]: "正在以嵌套交叉验证选择分类模型的特征",
    learning.STEP_LABELS["category.train"]: "正在训练分类模型",
    learning.STEP_LABELS["category.judge"]: "正在将分类模型与现任模型比较",
    learning.STEP_LABELS["unit.select"]: "正在以嵌套交叉验证选择承办单位模型的特征",
    learning.STEP_LABELS["unit.train"]: "正在训练承办单位模型",
    learning.STEP_LABELS["unit.judge"]: "正在将承办单位模型与现任模型比较",
    "Training a challenger": "挑战者模型训练进度",
})  # fmt: skip
add_translations("zh", {f"correction.{k.value}": n for k, n in CORRECTION_NAMES.items()})

CELL = 26  # the confusion matrix's cell, in pixels


def confusion_svg(confusion: dict[str, Any]) -> dict[str, Any]:
    """The confusion matrix as cells to draw: each shaded by its share of its row (what became
    of the cases of that final category), the diagonal apart."""
    labels, matrix = confusion.get("labels") or [], confusion.get("matrix") or []
    cells = []
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, n in enumerate(row):
            if n:
                cells.append({"x": j * CELL, "y": i * CELL, "n": n, "hit": i == j,
                              "shade": round(0.15 + 0.85 * n / total, 2)})  # fmt: skip
    return {"labels": labels, "cells": cells, "size": len(labels) * CELL, "cell": CELL}


def _names(session: DbSession) -> dict[str, str]:
    return {c.code: c.name for c in events.categories(session, active_only=False)}


ModelParam = Annotated[str, Query(max_length=64, description="The model shown")]


@router.get("/console/hub/models")
def models_page(
    request: Request, session: DbSession, principal: ModelReader, settings: AppSettings,
    version: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None, model: ModelParam = "",
) -> Response:  # fmt: skip
    models = learning.models_of(settings.hub)
    name = model if model in models else models[0]
    versions = learning.versions(session, name)
    chosen = next((v for v in versions if v.id == version), None) or next(
        (v for v in versions if v.status is VersionStatus.champion), versions[0] if versions else None
    )  # fmt: skip
    if name == models[0]:
        names = _names(session)
    else:  # the unit model's labels are units
        codes = {c for v in versions for c in (v.confusion.get("labels") or [])}
        names = orgs.unit_names(session, codes)
    q = request.query_params
    job = bus.find_job(session, f"{learning.RETRAIN_NOW}:{settings.hub.dispatch_model}")
    training = (
        bus.job_progress(session, request.app.state.shared, job.id)
        if job is not None and job.status in ("pending", "running") else None
    )  # fmt: skip
    return console.render(request, "hub/models.html", {
        "training": training,
        "training_text": progress_text(request, training) if training else "",
        "name": name, "models": models, "units": name != models[0], "versions": versions,
        "chosen": chosen, "reigns": learning.reigns(session, name) if name == models[0] else [],
        "matrix": confusion_svg(chosen.confusion) if chosen else None,
        "names": names, "may_train": principal.can(MODELS_TRAIN),
        "margins": learning.margins(session, settings.hub, name),
        "error": q.get("error", ""), "asked": q.get("asked") == "1", "saved": q.get("saved") == "1",
    })  # fmt: skip


@router.post("/console/hub/models/margins")
def models_margins(
    request: Request,
    session: DbSession,
    principal: ModelTrainer,
    settings: AppSettings,
    once: FormOnce,
    form: SubmittedForm,
) -> Response:
    name = str(form.get("model") or settings.hub.dispatch_model)
    back = f"/console/hub/models?{urlencode({'model': name})}"
    try:
        data = MarginsIn.model_validate({k: form.get(k, "") for k in
                                         ("margin_f1", "margin_routed", "note")})  # fmt: skip
        learning.set_margins(session, settings.hub, actor_of(principal), name, data,
                             learning.centre_of(session, principal))  # fmt: skip
    except (ValidationError, InvalidInput) as exc:
        return once.redirect(session, f"{back}&error={quote(failure_text(session, exc))}")  # fmt: skip
    return once.redirect(session, f"{back}&saved=1")


@router.post("/console/hub/models/retrain")
def models_retrain(
    request: Request, session: DbSession, principal: ModelTrainer, settings: AppSettings,
    token: FormToken,
) -> Response:  # fmt: skip
    once = claim(request, session, token)
    try:
        learning.ask_retrain(session, actor_of(principal), settings.hub.dispatch_model,
                             learning.centre_of(session, principal))  # fmt: skip
    except CitybaseError as exc:
        undo(session)
        return RedirectResponse(f"/console/hub/models?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    return once.redirect(session, "/console/hub/models?asked=1")


@router.post("/console/hub/models/{version_id}/rollback")
def models_rollback(
    request: Request, session: DbSession, principal: ModelTrainer, settings: AppSettings,
    version_id: Id, once: FormOnce, form: SubmittedForm) -> Response:  # fmt: skip
    model = urlencode({"model": str(form.get("model") or "")[:64]})
    try:
        learning.rollback(session, settings.home, actor_of(principal), version_id,
                          str(form.get("note") or ""), learning.centre_of(session, principal))  # fmt: skip
    except CitybaseError as exc:
        return once.redirect(session, f"/console/hub/models?{model}&version={version_id}&error="
                                f"{quote(failure_text(session, exc))}")  # fmt: skip
    return once.redirect(session, f"/console/hub/models?{model}&saved=1")


@router.get("/console/hub/corrections")
def corrections_page(
    request: Request, session: DbSession, principal: ModelReader, since: QueryDate = None,
    until: QueryDate = None, kind: KindParam = "",
) -> Response:  # fmt: skip
    start, end = period(since, until)
    chosen = kind_of(kind)
    found = corrections.find(session, start, end, kind=chosen, limit=2000)
    units = orgs.unit_names(session, {u for c in found if c.field == "unit"
                                      for u in (c.before, c.after) if u})  # fmt: skip
    names = _names(session)
    query = urlencode(list(request.query_params.items()))
    return console.render(request, "hub/corrections.html", {
        "found": found[:500], "total": len(found), "units": units, "names": names,
        "kinds": list(CorrectionKind), "kind": chosen, "since": start.date(),
        "until": (end - timedelta(days=1)).date(), "query": query,
    })  # fmt: skip


add_patterns(
    "zh",
    {
        r"no model version (\S+)": "未找到模型版本 {0}",
        r"no dispatch model (\S+) \(there are: (.*)\)": "没有分类模型 {0}（现有：{1}）",
    },
)
add_translations(
    "zh",
    {
        "Promotion margins": "晋级门槛",
        "Macro-F1 margin": "宏平均F1门槛",
        "Routed-without-correction margin": "免纠错派单率门槛",
        "Input should be a finite number": "应为有限数值",
        "A challenger replaces the champion only when, on the same holdout cases, its macro-F1 and its share routed without a later correction are higher by at least these (0.01 is one point, or one percent of the cases).": "挑战模型须在同一评估期工单上，宏平均F1和免纠错派单率均比在用模型高出至少以下数值，才会替换在用模型（0.01 即 1 个百分点）。",
        "Set by {by} at {at}": "由 {by} 于 {at} 设定",
        "Not set by the quality team: the platform's settings apply.": "质控团队尚未设定：沿用平台配置。",
        "Category model": "分类模型",
        "Unit model": "承办单位模型",
        "Set the margins": "设定门槛",
        "Figures by unit": "分单位指标",
        "Confusion matrix (rows: final unit, columns: predicted)": "混淆矩阵（行：最终承办单位，列：预测单位）",
        "the dispatch models learn from the whole city's cases: their margins are set by the city's centre": "分类模型基于全市工单训练，其晋级门槛由市级中心设定",
        "the dispatch models learn from the whole city's cases: they are retrained by the city's centre": "分类模型基于全市工单训练，由市级中心重新训练",
        "the dispatch models learn from the whole city's cases: they are rolled back by the city's centre": "分类模型基于全市工单训练，由市级中心回退版本",
    },
)
add_field_labels(
    {"margin_f1": "Macro-F1 margin", "margin_routed": "Routed-without-correction margin"}
)

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"the dispatch models learn from the whole city's cases: (.+?) by the city's centre": "派单模型从全市工单中学习：{0}须由市级中心进行",
    r"(.+?) distinct characters are too many for (.+?)-grams": "不同字符有 {0} 个，用于 {1} 元组过多",
    r"the files of (.+?) version (.+?) are gone \((.+?)\)": "{0} 第 {1} 版的文件已不存在（{2}）",
    r"(.+?) version (.+?) is already the champion": "{0} 第 {1} 版已是在用模型",
    r"no kind of correction '(.+?)' \(there are: (.+?)\)": "没有更正类型 {0}（现有：{1}）",
    r"no model (.+?) in (.+?) \(there are: (.+?)\)": "{1} 中没有模型 {0}（现有：{2}）",
    r"no dispatch rule (.+?)": "未找到派单规则 {0}",
})  # fmt: skip
add_translations("zh", {
    "no examples to learn from": "没有可供学习的样本",
    "a classifier needs at least two labels": "分类模型至少需要两个类别",
    "the model's features are not lower-cased character n-grams": "模型的特征不是小写字符 n 元组",
    "the reason for going back to this version is needed": "请说明回退到此版本的原因",
    "since comes after until": "开始时间晚于结束时间",
})  # fmt: skip
