"""Console page of the event taxonomy, and its upload form for the centre."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from citybase.core.identity.service import actor_of
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import RawForm, undo
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormToken, claim
from citybase.core.web.templating import NavEntry, console
from citybase.hub.events import service
from citybase.hub.events.auth import HUB_READ, HUB_TAXONOMY, Keeper, Reader
from citybase.hub.events.schemas import TaxonomyReport

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("City brain", "Event categories", "/console/hub/categories", HUB_READ,
                          order=20))  # fmt: skip
add_translations("zh", {
    "Event categories": "事件分类", "Code": "编码", "Keywords": "关键词",
    "Load a taxonomy (YAML or CSV)": "导入分类（YAML 或 CSV）", "Taxonomy file": "分类文件",
    "No categories yet.": "尚未导入事件分类。", "created": "新增", "updated": "更新",
    "unchanged": "未变", "Nothing was loaded:": "未导入任何内容：",
    "a taxonomy file holds a 'categories' list": "分类文件中应有一个分类列表",
    "a .yaml, .yml or .csv file": "请上传 .yaml、.yml 或 .csv 文件",
    "a category is a mapping": "每个分类应写成“键: 值”的形式",
})  # fmt: skip
# the taxonomy's checks, as the import page shows them
add_patterns("zh", {
    r"not YAML: .*": "不是有效的 YAML 文件",
    r"unknown columns; use .*": "有无法识别的列；可用的列为：编码、名称、上级编码、说明、关键词",
    r"(\S+) is a (大类|小类|细类): its parent is (\S+), not (\S+)": "{0} 是{1}：其上级应为 {2}，而不是 {3}",
    r"(\S+) is given twice \(also row (\d+)\)": "{0} 重复出现（另见第 {1} 行）",
    r"no category (\S+)": "未找到分类 {0}",
})  # fmt: skip


def _page(
    request: Request, session: DbSession, may_keep: bool, report: TaxonomyReport | None = None
) -> Response:
    status = 422 if report is not None and report.problems else 200
    return console.render(request, "hub/categories.html",
                          {"tree": service.tree(session), "may_keep": may_keep, "report": report},
                          status)  # fmt: skip


@router.get("/console/hub/categories")
def categories_page(request: Request, session: DbSession, principal: Reader) -> Response:
    return _page(request, session, principal.can(HUB_TAXONOMY))


@router.post("/console/hub/categories")
def load_taxonomy(
    request: Request, session: DbSession, principal: Keeper, form: RawForm, token: FormToken
) -> Response:
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return _page(request, session, True)
    claim(request, session, token).done(session, "/console/hub/categories")
    report = service.import_taxonomy(session, actor_of(principal), upload.filename or "file.yaml",
                                     upload.file.read())  # fmt: skip
    if report.problems:
        undo(session)
    return _page(request, session, True, report=report)


# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"no event category (.+?)": "未找到事件分类 {0}",
})  # fmt: skip
