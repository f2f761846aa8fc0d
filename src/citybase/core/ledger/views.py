"""Console pages: browse the ledger by actor, unit, object, action and time; one entry's proof."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from citybase.core.errors import InvalidInput
from citybase.core.identity import service as identity
from citybase.core.ledger import names, service
from citybase.core.ledger.auth import LedgerReader, check_entry_visible, scoped_filter
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.orgs import service as orgs
from citybase.core.values import check_date
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.params import Index, Page
from citybase.core.web.templating import SHANGHAI, NavEntry, console

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(
    NavEntry(
        "Kernel",
        "Audit ledger",
        "/console/ledger",
        (identity.LEDGER_READ, identity.LEDGER_READ_UNIT),
        order=30,
    )
)

add_translations(
    "zh",
    {
        "Audit ledger": "审计台账",
        "Ledger entry": "台账记录",
        "Actor": "操作人",
        "Acting unit": "所代表单位",
        "Action": "行为",
        "Object": "对象",
        "Object type": "对象类型",
        "Object ID": "对象标识",
        "Time": "时间",
        "From": "起",
        "To": "止",
        "Case number": "案件编号",
        "Details": "详情",
        "Entries": "条记录",
        "Inclusion proof": "包含性证明",
        "Tree size": "树大小",
        "Root hash": "根哈希",
        "Entry hash": "记录哈希",
        "Previous hash": "前一哈希",
        "Leaf hash": "叶哈希",
        "Audit path": "审计路径",
        "The proof verifies against the signed root.": "该证明与已签名的根哈希验证一致。",
        "The proof does not verify.": "证明验证失败。",
        "Signed tree head": "已签名树头",
        "Signature": "签名",
        "Key ID": "密钥标识",
        "No entries match.": "没有符合条件的记录。",
        "Only the entries of your own unit are shown.": "仅显示本单位的记录。",
    },
)


def _day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        day = check_date(datetime.strptime(value, "%Y-%m-%d").date())  # noqa: DTZ007 -- a date, zoned below
    except ValueError as exc:
        raise InvalidInput("use a date as YYYY-MM-DD, from the year 1000", field=field) from exc
    if day.year == 9999:  # the day after it, which the filter ends on, is past the calendar
        raise InvalidInput("use a date before the year 9999", field=field)
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


@router.get("/console/ledger")
def ledger_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: LedgerReader,
    actor: str = "",
    unit: str = "",
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    since: str = "",
    until: str = "",
    subject: Annotated[str, Query(max_length=40)] = "",
    page: Page = 1,
) -> Response:
    page = max(page, 1)
    until_day = _day(until, "until")
    whole = principal.can(identity.LEDGER_READ)
    # whose data an entry served: for those who read the whole ledger (the auditors), through
    # the keyed hashes the domains keep, never the number itself
    subject = subject.strip() if whole else ""
    seqs = service.entries_about(session, settings.masking_key, subject) if subject else None
    flt = LedgerFilter(
        actor=actor or None, unit=unit or None, action=action or None,
        object_type=object_type or None, object_id=object_id or None,
        since=_day(since, "since"), until=until_day + timedelta(days=1) if until_day else None,
        seqs=seqs, limit=50, offset=(page - 1) * 50,
    )  # fmt: skip
    entries, total = service.find_entries(session, scoped_filter(principal, flt))
    query = {
        "actor": actor, "unit": unit, "action": action, "object_type": object_type,
        "object_id": object_id, "since": since, "until": until, "subject": subject,
    }  # fmt: skip
    return console.render(
        request,
        "ledger/entries.html",
        {
            "entries": entries,
            "total": total,
            "page": page,
            "pages": max((total + 49) // 50, 1),
            "query": query,
            "qs": urlencode({k: v for k, v in query.items() if v}),
            "unit_only": not whole,
            "people": identity.display_names(session, {e.actor for e in entries}),
            "unit_names": orgs.unit_names(session, {e.actor_unit for e in entries} - {""}),
            **names.template_globals(getattr(request.state, "lang", "zh")),
        },
    )


@router.get("/console/ledger/{seq}")
def entry_page(
    request: Request, session: DbSession, settings: AppSettings, principal: LedgerReader, seq: Index
) -> Response:
    entry = service.get_entry(session, seq)
    check_entry_visible(principal, entry)
    head = service.signed_tree_head(session, service.signer_for(settings))
    proof = service.inclusion_proof(session, seq, head.tree_size)
    verified = service.verify_inclusion(
        seq,
        head.tree_size,
        bytes.fromhex(proof.leaf_hash),
        [bytes.fromhex(h) for h in proof.audit_path],
        bytes.fromhex(head.root_hash),
    )
    return console.render(
        request,
        "ledger/entry.html",
        {
            "entry": entry,
            "proof": proof,
            "head": head,
            "verified": verified,
            **names.template_globals(getattr(request.state, "lang", "zh")),
        },
    )


# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"tree_size must be between 1 and the ledger's size \((.+?)\)": "树的大小应在 1 到账本记录数（{0}）之间",
    r"no ledger entry (.+?) in a tree of (.+?)": "在 {1} 条记录的树中没有账本记录 {0}",
    r"first must be between 1 and (.+?)": "起始序号应在 1 到 {0} 之间",
    r"no ledger entry (.+?)": "未找到账本记录 {0}",
})  # fmt: skip
add_translations("zh", {
    "the ledger signing key must be 32 bytes in hex": "账本签名密钥应为 32 字节的十六进制串",
    "use a date before the year 9999": "请填写 9999 年以前的日期",
    "use a date as YYYY-MM-DD, from the year 1000": "请按“年-月-日”填写日期，年份不早于 1000 年",
})  # fmt: skip
