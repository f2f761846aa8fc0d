"""The console page of de-identified micro-data releases (去标识化发布): the releases one may
see with their reports, a steward's form to prepare one, review, publication and download."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError, InvalidInput, NotFound
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import SubmittedForm, failure_text
from citybase.core.web.i18n import add_field_labels, add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console
from citybase.data.masking import operators as ops
from citybase.data.sandbox import release as service
from citybase.data.sandbox.auth import SANDBOX_GOVERN, SANDBOX_QUERY, SandboxAnalyst, SandboxSteward
from citybase.data.sandbox.release_schemas import ReleaseCreate, Review

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "De-identified releases", "/console/sandbox/releases",
                          SANDBOX_QUERY, order=47))  # fmt: skip
HERE = "/console/sandbox/releases"
EXAMPLE = {
    "resource_code": "", "title": "", "purpose": "", "legal_basis": "",
    "quasi_identifiers": {
        "出生日期": {"kind": "date", "levels": ["month", "year"]},
        "性别": {"kind": "value", "levels": []},
        "所在街道": {"kind": "region", "levels": ["street", "district", "city"]},
    },
    "sensitive": "违法类型", "k": 5, "l": 2, "max_suppression": 0.05,
    "identifiers": {"公民身份号码": "pseudonym"}, "keep": [], "recipients": [],
    "open_to_all": False,
}  # fmt: skip
_TEXTS = {
    "release.intro": (
        "按 GB/T 37964《个人信息去标识化指南》发布去标识化的明细数据：删除或以密钥假名替换直接标识符，"
        "对准标识符逐级泛化、对不足 k 条的等价类实施抑制，达到声明的 k-匿名与 l-多样性；"
        "报告列出实际达到的 k 与 l、抑制行数、信息损失，以及对照基础库人口档案测得的重标识风险。"
        "发布须经另一名数据管理员或数据局审核，不能由准备人本人审核。",
        "De-identified micro-data releases per GB/T 37964: direct identifiers removed or replaced "
        "by keyed pseudonyms, quasi-identifiers generalised level by level and classes smaller "
        "than k suppressed, to the declared k-anonymity and l-diversity; the report gives the k "
        "and l achieved, the rows suppressed, the information lost and the re-identification "
        "risk measured against the base library's person files. Another steward or the bureau "
        "reviews a release, never the one who prepared it.",
    ),
    "release.list": ("去标识化发布", "Releases"),
    "release.none": ("暂无可查看的发布。", "No release to see."),
    "release.title": ("发布名称", "Title"),
    "release.status.prepared": ("待审核", "Waiting for review"),
    "release.status.refused": ("未达标（已拒绝）", "Refused (k not reached)"),
    "release.status.approved": ("已审核通过", "Approved"),
    "release.status.rejected": ("审核未通过", "Rejected"),
    "release.status.published": ("已发布", "Published"),
    "release.view": ("查看报告", "View report"),
    "release.report": ("去标识化报告", "De-identification report"),
    "release.declared": ("声明", "Declared"),
    "release.achieved": ("实际达到", "Achieved"),
    "release.measured_by": (
        "k 与 l 在发布文件的各行上重新计数，独立于泛化搜索",
        "k and l counted again on the released rows, apart from the search",
    ),
    "release.rows_read": ("读取行数", "Rows read"),
    "release.rows_released": ("发布行数", "Rows released"),
    "release.rows_suppressed": ("抑制行数", "Rows suppressed"),
    "release.max_suppression": ("最大抑制比例", "Largest share suppressed"),
    "release.generalisation": ("泛化层级", "Generalisation levels"),
    "release.quasi": ("准标识符", "Quasi-identifier"),
    "release.level": ("泛化到", "Generalised to"),
    "release.level.value": ("原值", "the value"),
    "release.level.month": ("月", "month"),
    "release.level.year": ("年", "year"),
    "release.level.street": ("街道", "street"),
    "release.level.district": ("区县", "district"),
    "release.level.city": ("市", "city"),
    "release.band": (" 岁年龄段", "-year bands"),
    "release.prefix": ("保留前缀字符数：", "prefix of characters: "),
    "release.level.*": ("全部抑制（*）", "suppressed (*)"),
    "release.loss": ("信息损失", "Information loss"),
    "release.height": (
        "泛化高度（各准标识符上升层数之和）",
        "Generalisation height (levels climbed, summed)",
    ),
    "release.precision": (
        "精确度（Sweeney 精确度指标，1 为无损）",
        "Precision (Sweeney's metric, 1 is no loss)",
    ),
    "release.discernibility": (
        "可区分度指标（Σ 等价类大小²，含抑制惩罚）",
        "Discernibility metric (Σ class size², with the suppression penalty)",
    ),
    "release.classes": ("等价类个数", "Equivalence classes"),
    "release.lattice": ("尝试的泛化组合", "Generalisations tried"),
    "release.risk": (
        "重标识风险（对照基础库人口档案）",
        "Re-identification risk (against the base library's person files)",
    ),
    "release.risk.matched": ("比对字段", "Matched on"),
    "release.risk.none": (
        "基础库中无可比对的字段。",
        "The base library holds none of the quasi-identifiers.",
    ),
    "release.risk.persons": ("基础库人口档案数", "Person files in the base library"),
    "release.risk.unique": (
        "唯一匹配一人的发布记录",
        "Released records matching exactly one person",
    ),
    "release.risk.prosecutor": (
        "检察官攻击模型重标识风险（唯一匹配记录占比）",
        "Prosecutor risk (share of records matching one person)",
    ),
    "release.risk.absent": ("基础库中无匹配的发布记录", "Released records matching no person"),
    "release.risk.highest": (
        "最高单条风险（1/最少匹配人数）",
        "Highest risk of one record (1 / fewest persons matched)",
    ),
    "release.risk.average": ("平均风险", "Average risk"),
    "release.identifiers": ("直接标识符处理", "Direct identifiers"),
    "release.identifier.remove": ("删除", "removed"),
    "release.identifier.pseudonym": ("密钥假名替换", "keyed pseudonym"),
    "release.recipients": ("发布对象", "Published to"),
    "release.open": ("全部单位", "every unit"),
    "release.prepared_by": ("准备人", "Prepared by"),
    "release.reviewed_by": ("审核人", "Reviewed by"),
    "release.download": ("下载发布文件（CSV）", "Download the file (CSV)"),
    "release.review": ("审核", "Review"),
    "release.approve": ("审核通过", "Approve"),
    "release.reject": ("审核不通过", "Reject"),
    "release.note": ("审核意见", "Note"),
    "release.publish": ("发布", "Publish"),
    "release.prepare": ("准备去标识化发布", "Prepare a release"),
    "release.spec": ("发布声明（JSON）", "Declaration (JSON)"),
    "release.spec_hint": (
        "quasi_identifiers 为准标识符及其泛化层级：date（month、year）、age（年龄段宽度，如 5、10）、"
        "region（street、district、city，按行政区划树）、prefix（保留字符数，递减）、value（仅原值与 *）；"
        "sensitive 为 l-多样性的敏感属性列；identifiers 中列为 pseudonym 的直接标识符以密钥假名替换，"
        "其余直接标识符一律删除；recipients 为发布对象单位代码，或 open_to_all 为 true。",
        "quasi_identifiers with their hierarchies: date (month, year), age (band widths such "
        "as 5, 10), region (street, district, city, by the region tree), prefix (characters "
        "kept, shrinking), value (the value and * only); sensitive: the column of l-diversity; "
        "identifiers marked pseudonym are replaced by keyed pseudonyms, every other direct "
        "identifier is removed; recipients: the units' codes, or open_to_all true.",
    ),
}
add_translations("zh", {"De-identified releases": "去标识化发布"}
                 | {k: v[0] for k, v in _TEXTS.items()})  # fmt: skip
add_translations("en", {k: v[1] for k, v in _TEXTS.items()})
add_field_labels({"quasi_identifiers": "Quasi-identifier", "sensitive": "Sensitive column",
                  "recipients": "Published to", "max_suppression": "Largest share suppressed",
                  "release_id": "Release"})  # fmt: skip
add_translations("zh", {
    "Quasi-identifier": "准标识符", "Sensitive column": "敏感属性列", "Published to": "发布对象",
    "Largest share suppressed": "最大抑制比例", "Release": "发布",
    "the declaration is not valid JSON": "发布声明不是有效的 JSON",
    "only the providing unit's stewards or the bureau review a release":
        "只有提供单位的数据管理员或数据局可以审核发布",
    "only the providing unit's stewards or the bureau publish a release":
        "只有提供单位的数据管理员或数据局可以发布",
    "l-diversity is declared on a sensitive column: name it": "l-多样性须声明在敏感属性列上：请指定该列",
    "name the units it is for, or open it to every unit": "请指定发布对象单位，或向全部单位发布",
})  # fmt: skip
# the releases' reasons as the console shows them (their values kept)
add_patterns("zh", {
    r"no release (\S+)": "未找到发布 {0}",
    r"release (\S+) is \w+: only a prepared release is reviewed": "发布 {0} 不在待审核状态，不能审核",
    r"release (\S+) is \w+: only an approved release is published": "发布 {0} 尚未审核通过，不能发布",
    r"release (\S+) was refused: it has no file": "发布 {0} 未达标而被拒绝，没有发布文件",
    r"(\S+) prepared release (\S+): another steward or the bureau reviews it":
        "{0} 是发布 {1} 的准备人：须由另一名数据管理员或数据局审核",
    r"only the data stewards of (\S+) \(the providing unit\) prepare releases of (\S+) "
    r"\(rule sandbox\.steward\)": "只有提供单位 {0} 的数据管理员可以准备 {1} 的发布",
    r"quasi_identifiers\.[^:]+: (.+)": "准标识符：{0}",
    r"(.+?): (.+) is no level of a \w+ hierarchy \((.+)\)": "{0}：{1} 不是该类泛化层级的级别（可用：{2}）",
    r"(.+?): the levels go from fine to coarse, each once: (.+)": "{0}：各级须由细到粗、各出现一次：{1}",
    r"(.+?): a value hierarchy has no level but the value and \*": "{0}：value 类层级只有原值与 *",
    r"(.+?): (.+) is not a whole number": "{0}：{1} 不是整数",
    r"(.+?): age bands are 1 to 120 years wide, at least one": "{0}：年龄段宽度须为 1 至 120 岁，至少一级",
    r"(.+?): each band holds whole bands of the level below \((\d+) after (\d+)\)":
        "{0}：每级年龄段须由下一级的整数个年龄段组成（{2} 之后为 {1}）",
    r"(.+?): a prefix keeps 0 to 50 characters, at least one level": "{0}：前缀保留 0 至 50 个字符，至少一级",
    r"(.+?): each level keeps fewer characters than the one below": "{0}：每一级保留的字符须少于下一级",
    r"(.+?): (.+) and its like are not .+ this hierarchy can generalise \((.+)\)":
        "{0}：{1} 等值无法按该泛化层级泛化（{2}）",
    r"(.+) is declared twice \((.+) and (.+)\)": "{0} 被声明了两次（{1} 和 {2}）",
    r"(.+) is a direct identifier: remove or pseudonymise it": "{0} 是直接标识符：须删除或以假名替换",
    r"(.+) \(\w+\) singles people out: declare it a quasi-identifier with a hierarchy":
        "{0} 可识别个人：须声明为准标识符并给出泛化层级",
    r"(\S+) provides (\S+): it has its own rows": "{0} 是 {1} 的提供单位，已持有原始数据",
    r"k=(\d+)(.*) is not reached by any generalisation of (.+) suppressing at most (\S+) of "
    r"(\d+) rows": "在最多抑制 {3}（共 {4} 行）的条件下，{2} 的任何泛化组合都达不到 k={0}{1}",
    r"the released file measures k=(\S+), l=(\S+): below the declared k=(\S+), l=(\S+)":
        "发布文件实测 k={0}、l={1}，低于声明的 k={2}、l={3}",
    r"the file measures k=(\d+): below the declared k=(\d+)": "发布文件实测 k={0}，低于声明的 k={1}",
    r"(\d+) combinations of levels: at most (\d+); declare fewer quasi-identifiers or fewer "
    r"levels": "泛化组合共 {0} 个，最多 {1} 个：请减少准标识符或泛化层级",
    r"(\S+) has (\d+) rows: a release reads at most (\d+)": "{0} 共 {1} 行：一次发布最多读取 {2} 行",
})  # fmt: skip


def _back(session: DbSession, exc: Exception, release_id: int | None = None) -> Response:
    where = f"{HERE}?release={release_id}&" if release_id else f"{HERE}?"
    return RedirectResponse(f"{where}error={quote(failure_text(session, exc))}", status_code=303)


@router.get("/console/sandbox/releases")
def releases_page(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxAnalyst
) -> Response:
    shown = None
    wanted = request.query_params.get("release", "")
    if wanted.isdigit() and len(wanted) < 18:
        try:
            shown = service.get_accessible_release(session, principal, settings.products,
                                                   int(wanted))  # fmt: skip
        except NotFound:
            shown = None
    return console.render(
        request, "sandbox/releases.html",
        {"releases": service.get_accessible_releases(session, principal, settings.products),
         "shown": shown, "steward": principal.can(SANDBOX_GOVERN),
         "example": json.dumps(EXAMPLE, ensure_ascii=False, indent=2)},
    )  # fmt: skip


@router.post("/console/sandbox/releases")
def prepare(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward,
    values: SubmittedForm, token: FormToken,
) -> Response:  # fmt: skip
    """Prepare from the declaration's JSON; back to the page showing its report (or why it
    was refused). A form sent twice prepares once."""
    try:
        once = claim(request, session, token)
        try:
            spec = json.loads(str(values.get("spec") or ""))
        except ValueError:
            raise InvalidInput("the declaration is not valid JSON", field="spec") from None
        data = ReleaseCreate.model_validate(spec)
        prepared, _ = service.prepare_release(session, principal, data,
                                              ops.keys_for(settings.masking_key))  # fmt: skip
    except (ValidationError, CitybaseError) as exc:
        return _back(session, exc)
    location = f"{HERE}?release={prepared.id}"
    once.done(session, location)
    return RedirectResponse(location, status_code=303)


@router.post("/console/sandbox/releases/{release_id}/review")
def review(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward,
    release_id: Id, once: FormOnce, values: SubmittedForm,
) -> Response:  # fmt: skip
    try:
        data = Review(approve=values.get("decision") == "approve",
                      note=str(values.get("note") or "")[:2000])  # fmt: skip
        service.review_release(session, principal, settings.products, release_id, data)
    except (ValidationError, CitybaseError) as exc:
        return _back(session, exc, release_id)
    return once.redirect(session, f"{HERE}?release={release_id}")


@router.post("/console/sandbox/releases/{release_id}/publish")
def publish(
    request: Request, session: DbSession, settings: AppSettings, principal: SandboxSteward,
    release_id: Id, once: FormOnce,
) -> Response:  # fmt: skip
    try:
        service.publish_release(session, principal, settings.products, release_id)
    except CitybaseError as exc:
        return _back(session, exc, release_id)
    return once.redirect(session, f"{HERE}?release={release_id}")
