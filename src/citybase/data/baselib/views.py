"""Console pages of the base libraries: look a file up (traced), and for the stewards the last
run with the model's match weights and the review queue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, InvalidInput
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.ledger import names
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.values import INT64_MAX
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.forms import SubmittedForm, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id, Page
from citybase.core.web.templating import NavEntry, console
from citybase.data.baselib import lineage, runs, service, theme_builds, themes
from citybase.data.baselib.auth import (
    BASELIB_READ,
    BASELIB_THEMES,
    BaselibReader,
    BaselibSteward,
    BaselibThemes,
)
from citybase.data.baselib.schemas import (
    FileRead,
    GradeReview,
    Kind,
    ReviewDecide,
    ThemeCreate,
    ThemeUpdate,
)
from citybase.data.catalog import service as catalog
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.sharing import access
from citybase.data.sharing.schemas import ReadContext

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Base libraries", "/console/baselib", BASELIB_READ, order=18))
LIBRARIES = {"persons": Kind.person, "enterprises": Kind.enterprise}
add_translations(
    "zh",
    {
        "Base libraries": "基础库",
        "Persons (one file per person)": "一人一档",
        "Enterprises (one file per enterprise)": "一企一档",
        "Look a file up": "查询档案",
        "Citizen ID or credit code": "公民身份号码或统一社会信用代码",
        "Purpose of this read": "查询目的",
        "Case or document number": "案件编号或文号",
        "Read the file": "查看档案",
        "Every read of a file is on the ledger and in the access log.": "每次查看档案都记入账本和调用日志。",
        "Files kept": "档案数",
        "Last linkage run": "最近一次关联比对",
        "Run the linkage now": "立即运行关联比对",
        "Not linked yet.": "尚未进行关联比对。",
        "Records": "记录数",
        "Pairs scored": "比对记录对",
        "To review": "待复核",
        "Conflicting values": "冲突值",
        "Match weights of the model": "模型各比对项的匹配权重",
        "Comparison": "比对项",
        "Level": "级别",
        "Match weight": "匹配权重",
        "Blocking rules": "分块规则",
        "Review queue": "复核队列",
        "Probability": "匹配概率",
        "Record": "记录",
        "Weights": "权重",
        "Same": "确认同一",
        "Not the same": "拆分",
        "Nothing to review.": "没有待复核的记录对。",
        "Field": "字段",
        "Value": "数值",
        "Source resource": "来源资源",
        "Source unit": "来源单位",
        "As of": "时间",
        "Authoritative": "权威来源",
        "Dispute": "异议",
        "Withheld (no grant of your unit covers them)": "未展示（本单位无相应授权）",
        "Legal basis": "依据",
        "Source rows": "来源记录",
        "The file was not read": "未能查看档案",
        "field.name": "姓名/名称",
        "field.citizen_id": "公民身份号码",
        "field.mobile": "手机号码",
        "field.birth": "出生日期",
        "field.sex": "性别",
        "field.address": "地址",
        "field.credit_code": "统一社会信用代码",
        "field.legal_rep": "法定代表人",
        "field.legal_rep_id": "法定代表人证件号码",
        "field.founded": "成立日期",
    },
)
add_translations("en", {f"field.{f}": f.replace("_", " ") for f in (
    "name", "citizen_id", "mobile", "birth", "sex", "address", "credit_code", "legal_rep",
    "legal_rep_id", "founded")})  # fmt: skip


def _library(params: Any) -> str:
    value = str(params.get("library", "persons"))
    value = {"person": "persons", "enterprise": "enterprises"}.get(value, value)
    return value if value in LIBRARIES else "persons"


def _page(
    request: Request, session: Session, settings: Settings, principal: Principal, *,
    file: FileRead | None = None, refusal: str = "", errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    library = _library(request.query_params)
    kind = LIBRARIES[library]
    steward = service.is_steward(principal, settings.baselib)
    context: dict[str, Any] = {
        "library": library, "libraries": list(LIBRARIES), "steward": steward,
        "files": service.count_files(session, kind), "file": file, "refusal": refusal,
        "errors": errors or {}, "run": None, "reviews": [],
        "params": request.query_params,
    }  # fmt: skip
    if steward:
        context["run"] = service.last_run(session, principal, kind, settings.baselib)
        context["reviews"] = service.list_reviews(session, principal, kind, settings.baselib)[:100]
    return console.render(request, "baselib/index.html", context, status)


@router.get("/console/baselib")
@traced_read  # a look-up with its purpose is a read of a file, traced
def index(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibReader
) -> Response:
    params = request.query_params
    number = params.get("number", "").strip()[:40]
    # a file named by its number in the library (from a run's page): read once a purpose is given
    file_id = params.get("file", "").strip()[:19]
    if not number and not (file_id and params.get("purpose")):
        return _page(request, session, settings, principal)
    ctx = ReadContext(purpose=params.get("purpose", "")[:500],
                      case_number=params.get("issue", "").strip()[:80])  # fmt: skip
    kind, keys = LIBRARIES[_library(params)], ops.keys_for(settings.masking_key)
    try:
        if number:
            result = service.find_file(session, principal, kind, number, ctx, keys,
                                       settings.baselib)  # fmt: skip
        elif file_id.isdigit() and 0 < int(file_id) <= INT64_MAX:
            result = service.read_file(session, principal, kind, int(file_id), ctx, keys,
                                       settings.baselib)  # fmt: skip
        else:
            raise InvalidInput(f"no file {file_id}", field="file")
    except CitybaseError as exc:
        return _page(request, session, settings, principal, errors=form_errors(exc), status=422)
    if isinstance(result, access.Refused):
        return _page(request, session, settings, principal, refusal=result.message,
                     status=result.refusal.status)  # fmt: skip
    return _page(request, session, settings, principal, file=result)


@router.post("/console/baselib/runs")
def run(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibSteward,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    library = _library(values)
    try:
        once = claim(request, session, token)
        with runs.failure_kept(session, LIBRARIES[library], settings.baselib,
                               principal=principal):  # fmt: skip
            service.link_base_library(
                session, principal, LIBRARIES[library], settings.baselib,
                ops.keys_for(settings.masking_key), dispute_days=settings.quality.dispute_days,
            )  # fmt: skip
    except CitybaseError as exc:
        undo(session)
        return _page(request, session, settings, principal, errors=form_errors(exc), status=403)
    return once.redirect(session, f"/console/baselib?library={library}&saved=1")


@router.post("/console/baselib/reviews/{review_id}")
def decide(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibSteward,
    review_id: Id, once: FormOnce, values: SubmittedForm,
) -> Response:  # fmt: skip
    library = _library(values)
    try:
        service.decide_review(session, principal, review_id, ReviewDecide.model_validate(values),
                              settings.baselib)  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _page(request, session, settings, principal, errors=form_errors(exc), status=422)
    return once.redirect(session, f"/console/baselib?library={library}&saved=1")


# --- the run history (full and incremental runs) ---------------------------------------------------

RUN_KINDS = {"full": False, "incremental": True}
add_translations(
    "zh",
    {
        "Linkage runs": "关联运行记录",
        "Linkage run": "关联运行",
        "All runs": "全部",
        "Full": "全量关联",
        "Incremental": "增量关联",
        "Kind of run": "运行类型",
        "Resource read": "读取资源",
        "Any resource": "全部资源",
        "Started": "开始时间",
        "Took": "耗时",
        "Started by": "发起",
        "Rows read": "读取行数",
        "Rows linked": "关联行数",
        "Files made": "新建档案",
        "Files changed": "变更档案",
        "Files merged": "合并档案",
        "Review items queued": "新增复核项",
        "Disputes raised": "发起异议",
        "Model": "模型",
        "Outcome": "结果",
        "Finished": "已完成",
        "Failed": "失败",
        "Running": "运行中",
        "Any outcome": "全部结果",
        "Why it failed": "失败原因",
        "Its work was rolled back: it changed no file, link or review item.": "本次运行的工作已全部回滚：未改动任何档案、关联或复核项。",
        "its own (trained)": "本次训练",
        "of run": "沿用运行",
        "a load of": "数据入库：",
        "for": "代",
        "No run matches.": "没有符合条件的运行记录。",
        "Filter": "筛选",
        "Previous": "上一页",
        "Next": "下一页",
        "Runs found": "符合条件的运行",
        "seconds": "秒",
        "Resources read": "读取的资源",
        "Access log entry": "调用日志编号",
        "Read rows": "读取行数",
        "Not traced (a run made before its reads were traced).": "未留痕（该运行早于读取留痕功能）。",
        "Case of its reads": "读取所用案件编号",
        "Files it touched": "涉及的档案",
        "Made": "新建",
        "Changed": "变更",
        "Merged": "合并",
        "merged into": "并入",
        "file retired": "已注销",
        "Open a file: its read is traced, with a purpose.": "查看档案须说明目的，并记入账本和调用日志。",
        "A full run keeps every file of the library; it does not keep which it changed or merged.": "全量关联重建全库档案，不记录变更或合并了哪些档案。",
        "Review items it queued": "本次新增的复核项",
        "Items still open are replaced by the next full run: fewer are listed than were queued.": "未处理的复核项会被下一次全量关联替换，因此列出的可能少于新增数。",
        "Decision by": "处理人",
        "review.open": "待复核",
        "review.confirmed": "确认同一",
        "review.split": "已拆分",
        "Its ledger entry": "账本记录",
        "Not kept on the run (a run made before it was).": "该运行未保存（早于此功能）。",
        "Training notes": "训练说明",
        "Prior (probability two records are the same)": "先验概率（两条记录为同一主体）",
        "The model used": "所用模型",
        "No new file.": "无新建档案。",
        "Nothing queued.": "没有新增复核项。",
        "None raised.": "未发起异议。",
        "Bus event": "总线事件",
        "Run by": "执行人",
        "Base file": "档案",
    },
)  # fmt: skip
add_translations("en", {"review.open": "open", "review.confirmed": "confirmed",
                        "review.split": "split"})  # fmt: skip
add_patterns("zh", {
    r"no linkage run (\S+)": "未找到关联运行 {0}",
    r"a run is full or incremental, not (.+)": "运行类型只能是全量或增量，不能是 {0}",
    r"a run is finished, failed or running, not (.+)": "运行结果只能是已完成、失败或运行中，不能是 {0}",
})  # fmt: skip


def _library_names(session: Session, codes: set[str], people: set[str]) -> dict[str, Any]:
    return {
        "resource_names": catalog.resource_names(session, codes),
        "people": identity.display_names(session, people),
    }


@router.get("/console/baselib/runs")
def runs_page(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibSteward,
    kind: Annotated[str, Query(max_length=20)] = "",
    resource: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=20)] = "", page: Page = 1,
) -> Response:  # fmt: skip
    library = _library(request.query_params)
    if kind and kind not in RUN_KINDS:
        raise InvalidInput(f"a run is full or incremental, not {kind}", field="kind")
    if status and status not in runs.STATUSES:
        raise InvalidInput(f"a run is finished, failed or running, not {status}", field="status")
    found = runs.list_runs(
        session, principal, LIBRARIES[library], settings.baselib,
        incremental=RUN_KINDS.get(kind), resource=resource, status=status, page=page,
    )  # fmt: skip
    codes = set(found.resources) | {c for r in found.runs for c in r.run.resources}
    query = {"library": library, "kind": kind, "resource": resource, "status": status}
    context: dict[str, Any] = {
        "library": library, "found": found, "query": query,
        "qs": urlencode({k: v for k, v in query.items() if v}),
        **_library_names(session, codes, {r.run.run_by for r in found.runs}),
    }  # fmt: skip
    return console.render(request, "baselib/runs.html", context)


@router.get("/console/baselib/runs/{run_id}")
def run_page(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibSteward,
    run_id: Id,
) -> Response:  # fmt: skip
    detail = runs.get_run(session, principal, run_id, settings.baselib)
    run = detail.summary.run
    codes = {str(r.get("resource_code", "")) for r in detail.reads} | set(run.resources)
    units = {str(r.get("unit_code", "")) for r in detail.reads} - {""}
    people = {run.run_by} | {r.decided_by for r in detail.reviews} - {""}
    context: dict[str, Any] = {
        "library": "persons" if run.kind is Kind.person else "enterprises", "d": detail,
        "run": run, "unit_names": orgs.unit_names(session, units),
        **_library_names(session, codes, people),
        **names.template_globals(getattr(request.state, "lang", "zh")),
    }  # fmt: skip
    return console.render(request, "baselib/run.html", context)


# --- theme libraries (主题库) ----------------------------------------------------------------------

console.add_page(NavEntry("Data", "Theme libraries", "/console/baselib/themes", BASELIB_READ,
                          order=19))  # fmt: skip
add_translations(
    "zh",
    {
        "Theme libraries": "主题库",
        "Theme library": "主题库",
        "Owner unit": "所属单位",
        "Catalog entry": "目录资源",
        "Grade": "分级",
        "Graded from its sources": "来源最高级别",
        "Reviewed grade": "复核级别",
        "Quality score": "质量评分",
        "Rows": "行数",
        "Last built": "最近构建",
        "Next refresh": "下次更新",
        "Refresh every (hours)": "更新周期（小时）",
        "No theme library yet.": "尚无主题库。",
        "Define a theme library": "定义主题库",
        "Code (letters, digits, hyphens)": "代码（小写字母、数字、连字符）",
        "Definition (YAML or JSON)": "定义（YAML 或 JSON）",
        "Save the definition": "保存定义",
        "Build now": "立即构建",
        "Build history": "构建记录",
        "Built by": "构建人",
        "Scheduled": "定时",
        "Status": "状态",
        "Sources read": "读取来源",
        "Message": "说明",
        "Lineage": "数据血缘",
        "Definition": "定义",
        "Review the grade down": "复核降级",
        "Level (empty: withdraw the review)": "级别（留空即撤销复核）",
        "Save the grade": "保存分级",
        "Not built yet.": "尚未构建。",
        "build.ok": "成功",
        "build.failed": "失败",
    },
)
add_translations("en", {"build.ok": "ok", "build.failed": "failed"})


def _themes_page(
    request: Request, session: Session, settings: Settings, principal: Principal, *,
    errors: dict[str, str] | None = None, status: int = 200, draft: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    context: dict[str, Any] = {
        "themes": themes.list_themes(session, principal), "errors": errors or {},
        "may_define": principal.can(BASELIB_THEMES), "draft": draft or {},
    }  # fmt: skip
    return console.render(request, "baselib/themes.html", context, status)


@router.get("/console/baselib/themes")
def theme_list(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibReader
) -> Response:
    return _themes_page(request, session, settings, principal)


@router.post("/console/baselib/themes")
def theme_define(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibThemes,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    draft = {"code": str(values.get("code", "")), "spec": str(values.get("spec", ""))}
    try:
        once = claim(request, session, token)
        made = themes.define_theme(session, principal, ThemeCreate.model_validate(draft))
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _themes_page(request, session, settings, principal, errors=form_errors(exc),
                            status=422, draft=draft)  # fmt: skip
    return once.redirect(session, f"/console/baselib/themes/{made.code}?saved=1")


def _theme_page(
    request: Request, session: Session, settings: Settings, principal: Principal, code: str, *,
    errors: dict[str, str] | None = None, status: int = 200, text: str | None = None,
) -> Response:  # fmt: skip
    theme = themes.get_theme(session, principal, code)
    context: dict[str, Any] = {
        "theme": theme, "builds": themes.builds_of(session, principal, code),
        "graph": lineage.svg(theme.lineage), "errors": errors or {},
        "spec_text": text if text is not None else themes.spec_text(theme.spec),
        "may_edit": themes.may_edit(principal, theme.owner_unit_code),
        "steward": service.is_steward(principal, settings.baselib), "levels": list(Level),
    }  # fmt: skip
    return console.render(request, "baselib/theme.html", context, status)


@router.get("/console/baselib/themes/{code}")
def theme_detail(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibReader,
    code: str,
) -> Response:  # fmt: skip
    return _theme_page(request, session, settings, principal, code)


@router.post("/console/baselib/themes/{code}")
def theme_update(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibThemes,
    code: str, once: FormOnce, values: SubmittedForm,
) -> Response:  # fmt: skip
    text = str(values.get("spec", ""))
    try:
        themes.update_theme(session, principal, code, ThemeUpdate(spec=text))
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _theme_page(request, session, settings, principal, code,
                           errors=form_errors(exc), status=422, text=text)  # fmt: skip
    return once.redirect(session, f"/console/baselib/themes/{code}?saved=1")


@router.post("/console/baselib/themes/{code}/builds")
def theme_build(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibThemes,
    code: str, token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        theme_builds.build_theme(session, principal, code, ops.keys_for(settings.masking_key),
                           settings.baselib)  # fmt: skip
    except CitybaseError as exc:
        undo(session)
        return _theme_page(request, session, settings, principal, code,
                           errors=form_errors(exc), status=403)  # fmt: skip
    return once.redirect(session, f"/console/baselib/themes/{code}?saved=1")


@router.post("/console/baselib/themes/{code}/grade")
def theme_grade(
    request: Request, session: DbSession, settings: AppSettings, principal: BaselibSteward,
    code: str, once: FormOnce, values: SubmittedForm,
) -> Response:  # fmt: skip
    try:
        themes.review_grade(session, principal, code, GradeReview.model_validate(values),
                            settings.baselib)  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _theme_page(request, session, settings, principal, code,
                           errors=form_errors(exc), status=422)  # fmt: skip
    return once.redirect(session, f"/console/baselib/themes/{code}?saved=1")


add_patterns("zh", {r"no theme library (\S+)": "未找到主题库 {0}"})

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"the catalog entry (.+?) is under review \((.+?)\): change the definition once it is decided": "目录条目 {0} 正在审核（{1}）：请在审核结束后再修改定义",
    r"a theme library is defined and built by its owner unit \((.+?)\)'s data stewards": "主题库由其所属单位（{0}）的数据管理员定义和构建",
    r"(.+?) holds no grant in force for (.+?): request it before building from it": "{0} 没有 {1} 的有效授权：请先申请，再据此构建",
    r"(.+?) is (.+?): a theme library is built from registered resources": "{0} 当前为「{1}」：主题库只能由已登记的数据资源构建",
    r"(.+?) is provided by another unit: (.+?) cannot link its rows": "{0} 由其他单位提供：{1} 不能关联其数据行",
    r"the base libraries are run by the data stewards of (.+?)": "基础库由 {0} 的数据管理员管理",
    r"not a valid (.+): check its length and check character": "{0}无效：请检查位数和校验码",
    r"no base library (.+?): persons or enterprises": "没有基础库 {0}：请选择人口库或法人库",
    r"(.+?) is not the alias of an earlier source": "{0} 不是前面某个来源的别名",
    r"no data element (.+?) in the registry \((.+?)\)": "数据元注册库中没有数据元 {0}（{1}）",
    r"(.+?) is not a field of the (.+?) library \((.+?)\)": "{0} 不是 {1} 库的字段（{2}）",
    r"the (.+?) library joins through a (.+?) file": "{0} 库须通过 {1} 关联文件关联",
    r"the grant for (.+?) does not cover (.+?)": "{0} 的授权不包括 {1}",
    r"a review grades down: below (.+?)": "复核只能降级：应低于 {0}",
    r"(.+?): no source with alias (.+?) \(write alias\.column\)": "{0}：没有别名为 {1} 的来源（请写作“别名.列名”）",
    r"(.+?) has not been linked yet": "{0} 尚未关联",
    r"review item (.+?) is already (.+?)": "复核项 {0} 已处理（{1}）",
    r"theme library (.+?) exists": "主题库 {0} 已存在",
    r"the owner unit stays (.+?)": "所属单位不能更改，仍为 {0}",
    r"column (.+?) appears twice": "列 {0} 出现了两次",
    r"alias (.+?) is used twice": "别名 {0} 重复使用",
    r"(.+?) is not a level \((.+?)\)": "{0} 不是有效的级别（{1}）",
    r"not JSON or YAML: (.+?)": "不是有效的 JSON 或 YAML：{0}",
    r"(.+?): (.+?) has no column (.+?)": "{0}：{1} 没有列 {2}",
    r"no review item (.+?)": "未找到复核项 {0}",
    r"(.+?) has no column (.+?)": "{0} 没有列 {1}",
})  # fmt: skip
add_translations("zh", {
    "citizen ID (GB 11643)": "公民身份号码（GB 11643）",
    "credit code (GB 32100)": "统一社会信用代码（GB 32100）",
    "base-library fields are put in a theme library by the base libraries' stewards or the platform admins": "只有基础库数据管理员或平台管理员才能把基础库字段加入主题库",
    "a theme library's grade is reviewed by the base libraries' stewards": "主题库的分级由基础库数据管理员复核",
    "the definition is a mapping of its fields": "定义应为各字段的键值映射",
    "name a resource or a library (one of them)": "请指定一个数据资源或一个基础库（二选一）",
    "say how this source joins an earlier one": "请说明该来源如何与前面的来源关联",
    "a library joins through the file (entity: person|enterprise)": "基础库须通过关联文件关联（entity: person 或 enterprise）",
    "give a list of values": "请给出取值列表",
    "give the value to compare with": "请给出用于比较的值",
    "name the library's fields used": "请列出所用的基础库字段",
    "the first source is a resource, joined to nothing: its rows are the library's rows": "第一个来源应为数据资源，且不与其他来源关联：它的数据行就是主题库的数据行",
    "a file is joined to a resource's rows (the links name rows)": "关联文件只能与数据资源的数据行关联（关联记录指向数据行）",
    "join by the file or by columns, not both": "请按关联文件或按列关联，二者只能选一",
    "name the columns to join on (earlier → this)": "请列出关联所用的列（前一来源 → 本来源）",
})  # fmt: skip
