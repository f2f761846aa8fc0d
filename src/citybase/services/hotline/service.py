"""The 12345 service: Open311 GeoReport v2 over the city brain's cases (services and their
definitions from the taxonomy's 小类 and 细类, requests taken in as cases and read back with the
finer state in ``status_notes``, public reads without contact and with personal data redacted);
the citizen portal's submit, follow and rate; and the knowledge base of standard answers that
operators give on the spot."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from xml.etree import ElementTree as ET

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.files import service as files
from citybase.core.files.schemas import PREVIEWABLE
from citybase.core.identity.schemas import Principal
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.workdays import calendar_for
from citybase.data.masking import service as masking
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import (
    OPEN_STATES,
    STATE_NAMES,
    Action,
    ActionIn,
    Attachment,
    CaseCreate,
    CaseFilter,
    CaseRead,
    CaseState,
    Channel,
    Source,
)
from citybase.hub.cases.schemas import normalise_phone as normalise
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.schemas import Urgency
from citybase.hub.events import service as events
from citybase.services.hotline import repository
from citybase.services.hotline.models import KnowledgeAnswer
from citybase.services.hotline.schemas import (
    AnswerHit,
    AnswerIn,
    AnswerRead,
    Open311Attribute,
    Open311Definition,
    Open311Request,
    Open311Service,
    Open311Value,
)

URGENCY_NAMES = {Urgency.urgent: "紧急", Urgency.pressing: "较急", Urgency.normal: "一般"}


def services(session: Session) -> list[Open311Service]:
    """Every 小类 and 细类 of the taxonomy as a service, grouped by its 大类."""
    cats = events.categories(session)
    big = {c.code: c.name for c in cats if c.level == 1}
    return [
        Open311Service(
            service_code=c.code, service_name=c.name, description=c.description or c.name,
            metadata=True, type="realtime", keywords=",".join(c.keywords),
            group=big.get(c.code[:2], ""),
        )
        for c in cats if c.level >= 2
    ]  # fmt: skip


def definition(session: Session, code: str) -> Open311Definition:
    try:
        category = events.get_category(session, code)
    except NotFound:
        raise NotFound(f"no service {code}", field="service_code") from None
    if category.level < 2:
        raise NotFound(f"{code} is a group (大类), not a service", field="service_code")
    return Open311Definition(service_code=code, attributes=[Open311Attribute(
        variable=True, code="urgency", datatype="singlevaluelist", required=False,
        datatype_description="紧急程度 (urgent, pressing or normal; normal when left out)",
        order=1, description="紧急程度",
        values=[Open311Value(key=str(u), name=n) for u, n in URGENCY_NAMES.items()],
    )])  # fmt: skip


def _one(form: dict[str, Any], key: str) -> str:
    value = form.get(key, "")
    return str(value).strip() if value is not None else ""


def submit(
    session: Session, principal: Principal, form: dict[str, Any], settings: Settings
) -> CaseRead:
    """A request posted by another system, taken in as a case (source open311)."""
    code = _one(form, "service_code")
    if not code:
        raise InvalidInput("service_code is required", field="service_code")
    definition(session, code)
    lat, lon = _one(form, "lat"), _one(form, "long")
    address = _one(form, "address_string") or _one(form, "address_id")
    if not address and not (lat and lon):
        raise InvalidInput("a location is required: lat and long, or address_string",
                           field="lat")  # fmt: skip
    try:
        coords = (float(lon), float(lat)) if lat and lon else (None, None)
    except ValueError:
        raise InvalidInput("lat and long must be decimal degrees", field="lat") from None
    urgency = _one(form, "attribute[urgency]") or "normal"
    if urgency not in Urgency.__members__:
        raise InvalidInput("attribute[urgency] must be urgent, pressing or normal",
                           field="attribute[urgency]")  # fmt: skip
    description = _one(form, "description")
    if len(description) < 4:
        raise InvalidInput("description is required (at least 4 characters)",
                           field="description")  # fmt: skip
    media = _one(form, "media_url")
    try:
        data = CaseCreate(
            source=Source.open311, channel=Channel.api,
            reporter_name=(_one(form, "last_name") + _one(form, "first_name"))[:100],
            reporter_phone=_one(form, "phone"), text=description, address=address[:300],
            lon=coords[0], lat=coords[1], category_code=code, urgency=Urgency(urgency),
            attachments=[Attachment(name="media", url=media[:500])] if media else [],
        )  # fmt: skip
    except ValidationError as exc:
        first = exc.errors()[0]
        field = {"reporter_phone": "phone", "lon": "long", "url": "media_url"}.get(str(first["loc"][0]),
                                                               str(first["loc"][0]))  # fmt: skip
        raise InvalidInput(f"{field}: {first['msg'].removeprefix('Value error, ')}",
                           field=field) from None  # fmt: skip
    taken = cases.intake(session, cases.Mover.of(session, principal), data, home=settings.home,
                         hub=settings.hub, cal=calendar_for(settings.home))  # fmt: skip
    return taken.case


def notice(case: CaseRead) -> str:
    return (f"已受理，编号 {case.number}。可凭编号和手机号查询办理进度。"
            f" Accepted as {case.number}.")  # fmt: skip


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def media_signature(settings: Settings, number: str, file_id: str, expires: int) -> str:
    """The keyed hash that makes a photo's public link unguessable and lets it expire."""
    key = hashlib.sha256(f"open311-media:{settings.masking_key}".encode()).digest()
    return hmac.new(key, f"{number}/{file_id}/{expires}".encode(), "sha256").hexdigest()[:32]


def media_links(
    settings: Settings, base_url: str, case: CaseRead, now: datetime | None = None
) -> list[str]:
    """Public links to the previews of a case's photos (drawn without the photos' EXIF),
    each valid for ``CITYBASE_WEB__OPEN311_MEDIA_MINUTES``; a file kept elsewhere by its
    own address."""
    ttl = settings.web.open311_media_minutes * 60
    moment = int((now or datetime.now(UTC)).timestamp())
    expires = moment - moment % ttl + 2 * ttl  # stable within a window: answers can be cached
    links = []
    for a in case.attachments:
        if a.file_id and a.media_type in PREVIEWABLE:
            signature = media_signature(settings, case.number, a.file_id, expires)
            links.append(f"{base_url}/open311/v2/media/{case.number}/{a.file_id}"
                         f"?expires={expires}&signature={signature}")  # fmt: skip
        elif a.url:
            links.append(a.url)
    return links


def media_preview(
    session: Session, settings: Settings, number: str, file_id: str, expires: int, signature: str
) -> tuple[bytes, Any]:
    """A photo's preview, for a link from :func:`media_links` that has not expired."""
    wanted = media_signature(settings, number, file_id, expires)
    if not hmac.compare_digest(wanted.encode(), signature.encode()) or (
        expires < datetime.now(UTC).timestamp()
    ):
        raise NotFound("this media link is not valid or has expired", field="media_url")
    case = cases.get_for_system(session, number)
    if not any(a.file_id == file_id for a in case.attachments):
        raise NotFound("this media link is not valid or has expired", field="media_url")
    found = files.get(session, file_id)
    return files.content(session, settings, found, preview=True), found


def to_request(
    case: CaseRead,
    names: dict[str, str],
    units: dict[str, str],
    media: list[str] | None = None,
    extensions: bool = False,
) -> Open311Request:
    state = case.state
    notes = f"{STATE_NAMES[state]} ({state.value})"
    if case.merged_into:
        notes += f"; merged into {case.merged_into}"
    if case.reply and state in {CaseState.replied, CaseState.followed_up, CaseState.closed}:
        # public by the standard, to anyone with the number: the reply's personal details out,
        # as the description's and the address's (the citizen reads it whole on the portal)
        notes += f": {masking.redact(case.reply).text}"
    media = media or []
    extended = None
    if extensions:  # the GeoReport v2 extensions: the finer state, every photo
        extended = {"detailed_status": state.value, "detailed_status_name": STATE_NAMES[state],
                    "media_urls": media}  # fmt: skip
    return Open311Request(
        service_request_id=case.number,
        status="open" if state in OPEN_STATES else "closed",
        status_notes=notes, service_name=names.get(case.category_code, ""),
        service_code=case.category_code, description=masking.redact(case.text).text,
        agency_responsible=units.get(case.lead_unit, case.lead_unit), service_notice="",
        requested_datetime=_iso(case.accepted_at), updated_datetime=_iso(case.updated_at),
        expected_datetime=_iso(case.handle_due) or None,
        address=masking.redact(case.address).text,
        address_id=case.region_code, zipcode="", lat=case.lat, long=case.lon,
        media_url=media[0] if media else None, extended_attributes=extended,
    )  # fmt: skip


def requests(
    session: Session,
    ids: list[str],
    codes: list[str],
    start: datetime | None,
    end: datetime | None,
    status: str,
    limit: int = 1000,
    *,
    settings: Settings | None = None,
    base_url: str = "",
    extensions: bool = False,
) -> list[Open311Request]:
    states: list[CaseState] = []
    if status:
        wanted = {s.strip() for s in status.split(",")}
        if wanted - {"open", "closed"}:
            raise InvalidInput("status is open or closed", field="status")
        if "open" in wanted:
            states += sorted(OPEN_STATES)
        if "closed" in wanted:
            states += [CaseState.closed, CaseState.merged]
    flt = CaseFilter(numbers=ids, category_codes=codes, accepted_from=start, accepted_to=end,
                     state=states, public=True, limit=min(limit, 500))  # fmt: skip
    found, _ = cases.find_all(session, flt)
    names = {c.code: c.name for c in events.categories(session, active_only=False)}
    units = orgs.unit_names(session, {c.lead_unit for c in found if c.lead_unit})
    links = (lambda c: media_links(settings, base_url, c)) if settings is not None else None
    return [to_request(c, names, units, links(c) if links else None, extensions) for c in found]


# --- XML -----------------------------------------------------------------------------------------


# what XML 1.0 cannot hold at all, even escaped: C0 controls but tab and line ends, lone
# surrogates, U+FFFE and U+FFFF (a citizen's text may carry them; ElementTree writes them as they
# are, and the document would not parse)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else _NOT_XML.sub("", str(value))


def to_xml(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    """GeoReport's XML: a root element holding one element per row, fields as children (lists
    as repeated elements)."""
    top = ET.Element(root)
    for row in rows:
        element = ET.SubElement(top, item)
        _fill(element, row)
    return bytes(ET.tostring(top, encoding="utf-8", xml_declaration=True))


def one_xml(root: str, row: dict[str, Any]) -> bytes:
    """A single element as the document's root (a service definition)."""
    top = ET.Element(root)
    _fill(top, row)
    return bytes(ET.tostring(top, encoding="utf-8", xml_declaration=True))


def _fill(element: ET.Element, row: dict[str, Any]) -> None:
    for key, value in row.items():
        if isinstance(value, list):
            holder = ET.SubElement(element, key)
            for entry in value:
                child = ET.SubElement(holder, key.rstrip("s"))
                if isinstance(entry, dict):
                    _fill(child, entry)
                else:
                    child.text = _value(entry)
        elif isinstance(value, dict):
            _fill(ET.SubElement(element, key), value)
        else:
            ET.SubElement(element, key).text = _value(value)


# --- the citizen portal --------------------------------------------------------------------------


def portal_submit(session: Session, data: CaseCreate, settings: Settings) -> CaseRead:
    """A citizen's own request from the portal; a phone number is needed to follow it."""
    if not data.reporter_phone:
        raise InvalidInput("give a phone number: with it and the case number you can follow "
                           "your request", field="reporter_phone")  # fmt: skip
    data = data.model_copy(update={"source": Source.portal, "channel": Channel.web})
    taken = cases.intake(session, cases.Mover.system("portal"), data, home=settings.home,
                         hub=settings.hub, cal=calendar_for(settings.home))  # fmt: skip
    return taken.case


def suggest(settings: Settings, text: str) -> list[tuple[str, float]]:
    """The three likeliest categories for a citizen's words (none before a model is trained)."""
    found = dispatch.suggest(settings.home, settings.hub.dispatch_model, text)
    return list(found.top) if found else []


def track(session: Session, number: str, phone: str) -> CaseRead:
    """The case, if this phone number is the one it was taken in with; the same answer for a
    wrong number and a wrong phone, so neither can be guessed one at a time."""
    try:
        found = cases.tracked(session, number.strip(), normalise(phone))
    except ValueError:  # not a phone number
        found = None
    if found is None:
        raise NotFound("no case with this number and phone", field="number")
    return found


def cases_of_phone(session: Session, phone: str, limit: int = 50) -> list[CaseRead]:
    """The 12345 requests taken in with this phone, newest first: for the citizen signed in
    with that very phone (his portal page), as ``track`` shows one case to whoever gives its
    number with it. One-thing matters are not 12345 requests and are left out."""
    found, _ = cases.find_all(session, CaseFilter(phone=normalise(phone), public=True,
                                                  limit=limit))  # fmt: skip
    return found


def rate(session: Session, number: str, phone: str, satisfaction: str, note: str) -> CaseRead:
    """The citizen's own verdict on the reply (回访 by the citizen)."""
    track(session, number, phone)
    try:
        verdict = ActionIn(satisfaction=satisfaction, note=note[:1000])
    except ValidationError:
        raise InvalidInput("choose satisfied, basic or unsatisfied", field="satisfaction") from None
    cases.act(session, cases.Mover.system("citizen (portal)"), number, Action.follow_up, verdict)
    return cases.get_for_system(session, number)


def public_photos(session: Session, settings: Settings, case: CaseRead) -> list[tuple[str, str]]:
    """The previews of a case's photos — the citizen's own and the unit's of the work done — as
    (name, data: URI), for the page of a citizen who has given the case's number and phone; the
    previews carry none of the photos' EXIF."""
    out = []
    for item in case.attachments:
        if item.file_id and item.media_type in PREVIEWABLE:
            found = files.get(session, item.file_id)
            data = files.content(session, settings, found, preview=True)
            kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
            out.append((found.name, f"data:{kind};base64,{base64.b64encode(data).decode()}"))
    return out


def public_steps(session: Session, number: str) -> list[Any]:
    """A case's history as the citizen may see it: what was done and when, not by whom."""
    return [s.model_copy(update={"actor": "", "unit": "", "note": ""})
            for s in cases.steps_for_system(session, number)]  # fmt: skip


# --- the knowledge base of standard answers ----------------------------------------------------


# the characters of asking, which say nothing of what is asked
_ASKING = set("怎么什吗呢请问哪如何要我的")


def _grams(text: str) -> set[str]:
    chars = [c for c in text.lower() if c.isalnum()]
    return {a + b for a, b in pairwise(chars) if a not in _ASKING and b not in _ASKING}


def _score(query: str, entry: KnowledgeAnswer) -> float:
    """How well an entry answers the query: the share of the query's character bigrams found in
    its title, question and keywords (counted double) and in its answer, and whole keywords
    found in the query."""
    q = _grams(query)
    if not q:
        return 0.0
    head = _grams(entry.title + " " + entry.question + " " + " ".join(entry.keywords))
    body = _grams(entry.answer)
    score = (2 * len(q & head) + 0.5 * len(q & body - head)) / len(q)
    score += sum(0.5 for k in entry.keywords if k and k in query)
    return score


def search_answers(
    session: Session, q: str, category_code: str = "", limit: int = 10
) -> list[AnswerHit]:
    """Standard answers for what a citizen asks, best first (all of them, by title, for an
    empty query)."""
    rows = repository.answers(session, active_only=True)
    if category_code:
        rows = [r for r in rows if r.category_code.startswith(category_code)]
    if not q.strip():
        return [AnswerHit(answer=AnswerRead.model_validate(r), score=0.0)
                for r in sorted(rows, key=lambda r: r.title)][:limit]  # fmt: skip
    scored = sorted(((_score(q, r), r) for r in rows), key=lambda p: -p[0])
    return [AnswerHit(answer=AnswerRead.model_validate(r), score=round(s, 3))
            for s, r in scored if s >= 0.6][:limit]  # fmt: skip


def get_answer(session: Session, answer_id: int) -> AnswerRead:
    found = repository.answer(session, answer_id)
    if found is None:
        raise NotFound(f"no standard answer {answer_id}", field="id")
    return AnswerRead.model_validate(found)


def put_answer(
    session: Session, actor: Actor, data: AnswerIn, answer_id: int | None = None
) -> AnswerRead:
    """Write a standard answer (a new one, or change the one with this id)."""
    if data.category_code:
        try:
            events.get_category(session, data.category_code)
        except NotFound:
            raise InvalidInput(f"no category {data.category_code}", field="category_code") from None
    if data.unit_code:
        try:
            orgs.get_unit(session, data.unit_code)
        except NotFound:
            raise InvalidInput(f"no unit with code {data.unit_code}", field="unit_code") from None
    if answer_id is None:
        entry = KnowledgeAnswer()
    else:
        found = repository.answer(session, answer_id)
        if found is None:
            raise NotFound(f"no standard answer {answer_id}", field="id")
        entry = found
    for key, value in data.model_dump().items():
        setattr(entry, key, value)
    entry.updated_by = actor.name
    repository.add(session, entry)
    ledger.record(session, actor, "hotline.knowledge.put", object_type="knowledge",
                  object_id=entry.id, details={"title": entry.title, "active": entry.active})  # fmt: skip
    return AnswerRead.model_validate(entry)


def used(session: Session, answer_id: int) -> None:
    """An operator gave this answer: count it (the most used answers come first to mind)."""
    found = repository.answer(session, answer_id)
    if found is not None:
        found.uses += 1


def import_answers(session: Session, actor: Actor, text: str) -> int:
    """Standard answers from YAML (``answers:``), matched by title; all or nothing."""
    data = yaml.safe_load(text) or {}
    items = data.get("answers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidInput("a knowledge file holds an 'answers' list", field="answers")
    parsed = []
    for n, item in enumerate(items, 1):
        try:
            parsed.append(AnswerIn.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidInput(f"answer {n}: {'.'.join(map(str, first['loc']))}: {first['msg']}",
                               field="answers") from None  # fmt: skip
    for entry in parsed:
        existing = repository.by_title(session, entry.title)
        put_answer(session, actor, entry, existing.id if existing else None)
    return len(parsed)
