"""The exchange between the city's brain and the districts' that run their own deployment.

Each side keeps its own cases and works its own loop. What crosses is a message (``schemas``),
queued in this side's outbox (``hub_federation_messages``, direction ``out``) in the transaction
of what caused it, relayed to the JetStream stream by the bridge (``tasks``), and applied by the
other side once: the message's id is kept with what it received, so a message delivered twice
changes nothing the second time. Both sides put what they send and what they receive on their
ledger.

- 上报: a district's centre escalates a case to the city (the ``escalate`` step, on a district's
  deployment) → the city takes it in, its brain running it.
- 下派: the city dispatches a case to a unit of a district that runs its own brain → the
  district takes it in and dispatches it to that unit.
- Once a case is known on both sides (a link), every step taken on it on one side is taken on
  the other too (``case.changed``), in the order it was taken: each message carries its place
  among its case's messages, and one that arrives before an earlier one waits for it.
- The district's figures go up for the city's dashboard; the city's taxonomy, dispatch catalog
  and working calendar go down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, InvalidInput
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel
from citybase.core.settings import FederationSettings
from citybase.core.workdays import DEFAULT, WorkCalendar, calendar_for
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import (
    Action,
    ActionIn,
    CaseCreate,
    CaseEvent,
    CaseRead,
    Channel,
    Source,
)
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.schemas import RuleIn, Urgency
from citybase.hub.events import service as events
from citybase.hub.federation import repository
from citybase.hub.federation.models import FederationLink, FederationMessage, FederationPeer
from citybase.hub.federation.schemas import (
    AnyMessage,
    CalendarPushed,
    CaseAssigned,
    CaseChanged,
    CaseContent,
    CaseEscalated,
    CaseMessage,
    CaseTaken,
    CatalogPushed,
    DisagreementRead,
    FiguresRolledUp,
    LinkRead,
    Message,
    MessageRead,
    PeerStatus,
    TaxonomyPushed,
)

FEDERATION = "federation"  # the actor of steps taken because the other side took them
ACTOR = Actor.system(FEDERATION)
# steps that stay on their side: taking a case in, escalating (its own message), merging (into a
# case the other side may not know)
NOT_MIRRORED = {"accept", "escalate", "merge"}
NOT_TAKEN = ("not taken here", "not dispatched here")  # in an outcome: the sides moved apart
ROLLUP_DAYS = 30


class OutOfOrder(Exception):
    """A message about a case came before an earlier one about it: to be taken again later."""


def mover() -> cases.Mover:
    return cases.Mover.system(FEDERATION)


# --- the links' set-up -----------------------------------------------------------------------------


def configure(session: Session, settings: FederationSettings, city_code: str) -> list[str]:
    """Make the peers match the settings (run by the bridge when it starts); returns the codes of
    the peers. A peer no longer named is kept (its messages and links stay readable)."""
    wanted: list[tuple[str, str, str]] = []
    if settings.role == "district":
        if not settings.district_code:
            raise InvalidInput("a district's deployment names its district",
                               field="CITYBASE_FEDERATION__DISTRICT_CODE")  # fmt: skip
        wanted.append((city_code, "city", settings.district_code))
    elif settings.role == "city":
        wanted += [(code, "district", code) for code in settings.districts]
    for code, role, district in wanted:
        found = repository.peer(session, code)
        if found is None:
            repository.add(session, FederationPeer(code=code, role=role, district_code=district))
            ledger.record(session, ACTOR, "hub.federation.peer.added", object_type="federation_peer",
                          object_id=code, details={"role": role, "district": district})  # fmt: skip
        elif (found.role, found.district_code) != (role, district):
            found.role, found.district_code = role, district
    return [code for code, _, _ in wanted]


def own_code(session: Session, peer: FederationPeer) -> str:
    """This side's region code on the link with ``peer``."""
    return peer.district_code if peer.role == "city" else cases.city_code(session)


def _direction(peer: FederationPeer) -> str:
    return "up" if peer.role == "city" else "down"


def queue(
    session: Session, peer: FederationPeer, message: Message, case_number: str = "", seq: int = 0
) -> None:
    """Put a message in this side's outbox, in the caller's transaction."""
    repository.add(session, FederationMessage(
        message_id=message.message_id, direction="out", peer_code=peer.code,
        subject=message.subject, kind=message.kind, case_number=case_number, seq=seq,
        payload=message.model_dump(mode="json"), created_at=message.created_at,
    ))  # fmt: skip


def mark_sent(session: Session, ids: list[int], now: datetime | None = None) -> int:
    """The messages the bridge has put in the stream: sent, each on the ledger."""
    now = now or datetime.now(UTC)
    rows = repository.by_ids(session, ids)
    peers = {p.code: p for p in repository.peers(session)}
    for row in rows:
        if row.sent_at is not None:
            continue
        row.sent_at = now
        peer = peers.get(row.peer_code)
        if peer is not None:
            peer.last_sent_at, peer.last_sent_subject = now, row.subject
        ledger.record(session, ACTOR, "hub.federation.sent", object_type="federation_message",
                      object_id=row.message_id, case_number=row.case_number,
                      details={"subject": row.subject, "to": row.peer_code, "seq": row.seq})  # fmt: skip
    return len(rows)


def record_link(
    session: Session,
    peer_code: str,
    *,
    connected: bool,
    error: str = "",
    waiting_in: int | None = None,
    now: datetime | None = None,
) -> None:
    """What the bridge saw of a link: whether it reached the stream, and what waits for it."""
    peer = repository.peer(session, peer_code)
    if peer is None:
        return
    peer.connected, peer.last_error = connected, error[:400]
    peer.checked_at = now or datetime.now(UTC)
    if waiting_in is not None:
        peer.waiting_in = waiting_in


# --- what this side sends ------------------------------------------------------------------------


def _content(case: CaseRead) -> CaseContent:
    return CaseContent(
        source=str(case.source), channel=str(case.channel), reporter_name=case.reporter_name,
        reporter_phone=case.reporter_phone, title=case.title, text=case.text,
        address=case.address, region_code=case.region_code, lon=case.lon, lat=case.lat,
        category_code=case.category_code, urgency=str(case.urgency), state=str(case.state),
        accepted_at=case.accepted_at,
    )  # fmt: skip


def district_of_unit(session: Session, unit_code: str) -> str:
    """The district a unit belongs to ('' for a unit of the city)."""
    try:
        region = orgs.get_unit(session, unit_code).region_code
    except CitybaseError:
        return ""
    path = orgs.region_path(session, region)
    return next((r.code for r in path if r.level is RegionLevel.district), "")


def on_case_changed(session: Session, event: CaseEvent) -> str:
    """A step was taken on a case here: what (if anything) goes to the other side. Returns the
    kind of message queued ('' for none)."""
    if event.actor == FEDERATION or event.action == "accept" or not repository.has_peers(session):
        return ""  # a step the other side took first goes back to nobody
    link = repository.link_of_case(session, event.number)
    if link is not None:
        peer = repository.peer(session, link.peer_code)
        if peer is None:
            return ""
        link.sent_seq += 1
        link.step_seq = link.sent_seq
        queue(session, peer, CaseChanged(
            district_code=peer.district_code, direction=_direction(peer),
            sent_by=own_code(session, peer), number=link.case_number,
            peer_number=link.peer_number, seq=link.sent_seq, action=event.action,
            from_state=event.from_state, to_state=event.to_state, actor=event.actor,
            note=event.note, details=event.details, reply=event.reply,
        ), link.case_number, link.sent_seq)  # fmt: skip
        return "case.changed"
    city = repository.city_peer(session)
    if city is not None:  # a district's deployment: an escalation to the city goes up
        if event.action == "escalate" and event.details.get("to") == city.code:
            case = cases.get_for_system(session, event.number)
            repository.add(session, FederationLink(peer_code=city.code, case_number=case.number,
                                                   sent_seq=1))  # fmt: skip
            queue(session, city, CaseEscalated(
                district_code=city.district_code, direction="up", sent_by=city.district_code,
                number=case.number, seq=1, case=_content(case), reason=event.note,
            ), case.number, 1)  # fmt: skip
            return "case.escalated"
        return ""
    if event.action in ("dispatch", "reassign", "reopen") and event.lead_unit:
        district = district_of_unit(session, event.lead_unit)
        peer = repository.peer_of_district(session, district) if district else None
        if peer is not None and peer.role == "district":  # 下派 to a district's own brain
            case = cases.get_for_system(session, event.number)
            repository.add(session, FederationLink(peer_code=peer.code, case_number=case.number,
                                                   sent_seq=1))  # fmt: skip
            queue(session, peer, CaseAssigned(
                district_code=peer.district_code, direction="down",
                sent_by=cases.city_code(session), number=case.number, seq=1,
                case=_content(case), lead_unit=event.lead_unit,
                support_units=list(event.details.get("support_units") or []), note=event.note,
            ), case.number, 1)  # fmt: skip
            return "case.assigned"
    return ""


def roll_up(session: Session, now: datetime | None = None) -> bool:
    """On a district's deployment: queue the district's figures for the city's dashboard."""
    city = repository.city_peer(session)
    if city is None:
        return False
    now = now or datetime.now(UTC)
    since = now - timedelta(days=ROLLUP_DAYS)
    overall = next(iter(cases.figures(session, None, since, None)), None) or cases.no_figures()
    open_cases = overdue = 0
    for n, _, red in cases.open_by_district(session).values():
        open_cases, overdue = open_cases + n, overdue + red
    queue(session, city, FiguresRolledUp(
        district_code=city.district_code, direction="up", sent_by=city.district_code,
        since=since, figures=overall.model_dump(mode="json"), open_cases=open_cases,
        overdue=overdue, created_at=now,
    ))  # fmt: skip
    return True


def _push(session: Session, actor: Actor, what: str, make: Any) -> int:
    """Queue one message made by ``make(peer)`` for every district; on the ledger."""
    peers = [p for p in repository.peers(session) if p.role == "district"]
    if not peers:
        raise InvalidInput("no district runs its own brain: set CITYBASE_FEDERATION__ROLE=city "
                           "and its DISTRICTS, and start the bridge once", field="role")  # fmt: skip
    city = cases.city_code(session)
    for peer in peers:
        queue(session, peer, make(peer, city))
    ledger.record(session, actor, "hub.federation.pushed", object_type="federation_push",
                  object_id=what, details={"districts": [p.code for p in peers]})  # fmt: skip
    return len(peers)


def push_taxonomy(session: Session, actor: Actor) -> int:
    """Send the city's event taxonomy down to every district; returns how many."""
    rows = [c.model_dump(mode="json", include={"code", "name", "parent_code", "description",
                                               "keywords", "active"})
            for c in events.categories(session, active_only=False)]  # fmt: skip
    return _push(session, actor, "taxonomy", lambda p, city: TaxonomyPushed(
        district_code=p.district_code, direction="down", sent_by=city, categories=rows))  # fmt: skip


def push_catalog(session: Session, actor: Actor) -> int:
    """Send the city's dispatch catalog down to every district; returns how many."""
    rows = [r.model_dump(mode="json", include=set(RuleIn.model_fields))
            for r in dispatch.rules(session)]  # fmt: skip
    return _push(session, actor, "catalog", lambda p, city: CatalogPushed(
        district_code=p.district_code, direction="down", sent_by=city, rules=rows))  # fmt: skip


def push_calendar(session: Session, actor: Actor, home: Path) -> int:
    """Send the city's own calendar file (``<home>/calendar.yaml``) down to every district."""
    path = home / "calendar.yaml"
    if not path.is_file():
        raise InvalidInput(f"no {path}: the package's years need no pushing", field="calendar")
    cal = WorkCalendar.from_file(path)
    holidays, workdays = sorted(cal.holidays), sorted(cal.workdays)
    return _push(session, actor, "calendar", lambda p, city: CalendarPushed(
        district_code=p.district_code, direction="down", sent_by=city, holidays=holidays,
        workdays=workdays))  # fmt: skip


# --- what this side receives ---------------------------------------------------------------------


def _sender(session: Session, message: Message) -> FederationPeer | None:
    """The peer a message comes from, if it is one of this side's and goes this way."""
    city = repository.city_peer(session)
    if city is not None:
        ok = message.direction == "down" and message.district_code == city.district_code
        return city if ok else None
    peer = repository.peer_of_district(session, message.district_code)
    return peer if peer is not None and message.direction == "up" else None


def receive(
    session: Session, message: AnyMessage, *, home: Path | None = None, now: datetime | None = None
) -> str:
    """Apply a message from the other side, once; returns what was done with it. A message
    already received changes nothing; one about a case that comes before an earlier one about it
    raises ``OutOfOrder`` (to be taken again later)."""
    if repository.message(session, "in", message.message_id) is not None:
        return "duplicate: already received"
    now = now or datetime.now(UTC)
    peer = _sender(session, message)
    case_number = ""
    if peer is None:
        outcome = (f"refused: {message.district_code} {message.direction} is not a link of "
                   "this deployment")  # fmt: skip
    elif isinstance(message, CaseMessage):
        case_number, outcome = _receive_case(session, peer, message, home, now)
    elif isinstance(message, FiguresRolledUp):
        peer.figures = {**message.figures, "open_cases": message.open_cases,
                        "overdue": message.overdue, "since": message.since.isoformat()}  # fmt: skip
        peer.figures_at = message.created_at
        outcome = "figures kept"
    elif isinstance(message, TaxonomyPushed):
        outcome = _apply_taxonomy(session, message)
    elif isinstance(message, CatalogPushed):
        outcome = _apply_catalog(session, message)
    else:
        outcome = _apply_calendar(message, home)
    repository.add(session, FederationMessage(
        message_id=message.message_id, direction="in", peer_code=peer.code if peer else "",
        subject=message.subject, kind=message.kind, case_number=case_number,
        seq=getattr(message, "seq", 0), payload=message.model_dump(mode="json"),
        created_at=message.created_at, received_at=now, outcome=outcome[:400],
    ))  # fmt: skip
    if peer is not None:
        peer.last_received_at, peer.last_received_subject = now, message.subject
        peer.last_received_created_at = message.created_at
    ledger.record(session, ACTOR, "hub.federation.received", object_type="federation_message",
                  object_id=message.message_id, case_number=case_number,
                  details={"subject": message.subject, "from": message.sent_by,
                           "outcome": outcome[:400]})  # fmt: skip
    return outcome


def _receive_case(
    session: Session, peer: FederationPeer, message: CaseMessage, home: Path | None, now: datetime
) -> tuple[str, str]:
    link = repository.link_for(session, peer.code, message.number)
    if link is None and message.peer_number:
        link = repository.link_of_case(session, message.peer_number)
        if link is not None and link.peer_code == peer.code and not link.peer_number:
            link.peer_number = message.number  # the first word from the other side about it
        elif link is not None and link.peer_code != peer.code:
            link = None
    expected = (link.received_seq if link is not None else 0) + 1
    if message.seq < expected:
        return (link.case_number if link else ""), f"stale: message {message.seq} already taken"
    if message.seq > expected or (link is None and not isinstance(
            message, CaseEscalated | CaseAssigned)):  # fmt: skip
        raise OutOfOrder(f"{message.number}: message {message.seq} before {expected}")
    cal = calendar_for(home) if home else DEFAULT
    crossed = ""
    if link is None:
        assert isinstance(message, CaseEscalated | CaseAssigned)
        number, outcome = _take_in(session, peer, message, cal, now)
        link = FederationLink(peer_code=peer.code, case_number=number,
                              peer_number=message.number)  # fmt: skip
        repository.add(session, link)
        action = "take_in"
    elif isinstance(message, CaseChanged):
        before = str(cases.get_for_system(session, link.case_number).state)
        outcome, action = _mirror(session, link.case_number, message, cal, now), message.action
        taken = outcome.endswith(f"taken on {link.case_number}")
        if taken and before != message.from_state:
            crossed = (f"steps crossed: {message.action} was taken there from {message.from_state}"
                       f", here the case was {before}")  # fmt: skip
    elif isinstance(message, CaseTaken):
        outcome, action = f"{message.action}: {message.outcome}"[:400], ""
    else:
        outcome, action = f"already linked to {link.case_number}", ""
    link.received_seq = message.seq
    if isinstance(message, CaseChanged):
        link.peer_state, link.peer_action = message.to_state, message.action
    elif isinstance(message, CaseTaken):
        link.peer_state, link.peer_action = message.state, message.action
    elif isinstance(message, CaseEscalated | CaseAssigned):
        link.peer_state = message.case.state
        link.peer_action = "escalate" if isinstance(message, CaseEscalated) else "dispatch"
    link.peer_changed_at = message.created_at
    state = str(cases.get_for_system(session, link.case_number).state)
    _note_apart(link, message, state, crossed or outcome, now, crossed=bool(crossed))
    if action:  # tell the other side what became of it, and where this side's case stands
        link.sent_seq += 1
        queue(session, peer, CaseTaken(
            district_code=peer.district_code, direction=_direction(peer),
            sent_by=own_code(session, peer), number=link.case_number,
            peer_number=link.peer_number, seq=link.sent_seq, answers=message.seq, action=action,
            state=state, outcome=outcome[:400],
        ), link.case_number, link.sent_seq)  # fmt: skip
    return link.case_number, outcome


def _note_apart(link: FederationLink, message: CaseMessage, state: str, why: str,
                now: datetime, *, crossed: bool) -> None:  # fmt: skip
    """Whether the two sides now disagree: steps that crossed (each side took the other's step
    on top of its own, so their states may differ whatever the messages say), a step one side
    could not take, or an answer to this side's last step that says the other's case stands
    elsewhere. Cleared by an answer to this side's last step, or a step of the other side taken
    here, that leaves the two states the same."""
    refused = any(mark in why for mark in NOT_TAKEN)
    answered = isinstance(message, CaseTaken) and message.answers >= link.step_seq
    differ = bool(link.peer_state) and link.peer_state != state
    if crossed or (differ and (refused or answered)):
        link.apart_since = link.apart_since or now
        link.apart_why = why[:400]
    elif not differ and (answered or isinstance(message, CaseChanged)):
        link.apart_since, link.apart_why = None, ""


def _take_in(
    session: Session,
    peer: FederationPeer,
    message: CaseEscalated | CaseAssigned,
    cal: WorkCalendar,
    now: datetime,
) -> tuple[str, str]:
    """A case from the other side becomes one of this side's, run by this side's brain."""
    c = message.case
    data = CaseCreate(
        source=Source(c.source), channel=Channel(c.channel), reporter_name=c.reporter_name,
        title=c.title, text=c.text, address=c.address, region_code=c.region_code, lon=c.lon,
        lat=c.lat, category_code=c.category_code, urgency=Urgency(c.urgency),
    )  # fmt: skip
    here = own_code(session, peer)
    try:
        taken = cases.intake(session, mover(), data, cal=cal, now=now, brain_code=here)
    except CitybaseError:
        # a category this side's taxonomy lacks: taken in without it, for the centre to set
        data = data.model_copy(update={"category_code": ""})
        taken = cases.intake(session, mover(), data, cal=cal, now=now, brain_code=here)
    number = taken.case.number
    if isinstance(message, CaseEscalated):
        return number, f"taken in as {number} (上报 from {message.number}: {message.reason})"[:400]
    try:
        with session.begin_nested():
            cases.act(session, mover(), number, Action.dispatch, ActionIn(
                note=message.note, lead_unit=message.lead_unit,
                support_units=message.support_units), cal=cal, now=now)  # fmt: skip
    except CitybaseError as exc:
        return number, f"taken in as {number}, not dispatched here: {exc.message}"
    return number, f"taken in as {number} and dispatched to {message.lead_unit} (下派)"


def _action_in(message: CaseChanged) -> ActionIn:
    d, action = message.details, message.action
    routed = action in ("dispatch", "reassign", "reopen")
    return ActionIn(
        note=message.note,
        lead_unit=str(d.get("lead_unit") or "") if routed else "",
        support_units=list(d.get("support_units") or []) if routed else None,
        category_code=str(d.get("category_code") or "") if action in ("dispatch", "reassign")
        else "",
        days=d.get("days") if action == "extend" else None,
        reply=message.reply,
        satisfaction=d.get("satisfaction") if action == "follow_up" else None,
    )  # fmt: skip


def _mirror(
    session: Session, number: str, message: CaseChanged, cal: WorkCalendar, now: datetime
) -> str:
    """Take here the step the other side took; when this side's case cannot take it (the two
    have moved apart), say why and keep the other side's state on the link."""
    if message.action in NOT_MIRRORED:
        return f"kept: {message.action} stays with the other side"
    try:
        action = Action(message.action)
        data = _action_in(message)
        with session.begin_nested():
            cases.act(session, mover(), number, action, data, cal=cal, now=now)
    except (ValueError, ValidationError) as exc:
        return f"not taken here: {exc}"[:400]
    except CitybaseError as exc:
        return f"not taken here: {exc.message}"[:400]
    return f"{message.action} taken on {number}"


def _apply_taxonomy(session: Session, message: TaxonomyPushed) -> str:
    text = yaml.safe_dump({"categories": message.categories}, allow_unicode=True)
    report = events.import_taxonomy(session, ACTOR, "federation.yaml", text.encode())
    if report.problems:
        first = report.problems[0]
        return f"refused: {len(report.problems)} problems, first {first.field}: {first.message}"
    return f"taxonomy: {report.created} new, {report.updated} changed, {report.unchanged} same"


def _apply_catalog(session: Session, message: CatalogPushed) -> str:
    """Every line this side can hold (its regions and units known here) is taken; the others are
    left out and counted."""
    taken, left = 0, []
    for row in message.rules:
        try:
            with session.begin_nested():
                dispatch.put_rule(session, ACTOR, RuleIn.model_validate(row))
            taken += 1
        except (ValidationError, CitybaseError) as exc:
            left.append(f"{row.get('category_code', '')}@{row.get('region_code', '')}: "
                        f"{getattr(exc, 'message', exc)}")  # fmt: skip
    return f"catalog: {taken} lines taken, {len(left)} left out" + (
        f" ({'; '.join(left)})" if left else "")  # fmt: skip


def _apply_calendar(message: CalendarPushed, home: Path | None) -> str:
    if home is None:
        return "not kept: no data directory"
    home.mkdir(parents=True, exist_ok=True)
    path, part = home / "calendar.yaml", home / "calendar.yaml.part"
    part.write_text(yaml.safe_dump({"holidays": message.holidays, "workdays": message.workdays}),
                    encoding="utf-8")  # fmt: skip
    part.replace(path)
    return f"calendar: {len(message.holidays)} holidays, {len(message.workdays)} working days"


# --- what is shown --------------------------------------------------------------------------------


def status(session: Session, now: datetime | None = None) -> list[PeerStatus]:
    """Each link: reached or not, what waits each way, the last message each way, the lag."""
    waiting = repository.waiting_out(session)
    links = repository.link_counts(session)
    apart: dict[str, int] = {}
    for d in disagreements(session):
        apart[d.peer_code] = apart.get(d.peer_code, 0) + 1
    out = []
    for p in repository.peers(session):
        n, oldest = waiting.get(p.code, (0, None))
        lag = None
        if p.last_received_at and p.last_received_created_at:
            lag = (p.last_received_at - p.last_received_created_at).total_seconds()
        out.append(PeerStatus(
            code=p.code, role=p.role, district_code=p.district_code, connected=p.connected,
            checked_at=p.checked_at, last_error=p.last_error, waiting_out=n,
            oldest_waiting_at=oldest, waiting_in=p.waiting_in, last_sent_at=p.last_sent_at,
            last_sent_subject=p.last_sent_subject, last_received_at=p.last_received_at,
            last_received_subject=p.last_received_subject, lag_in_seconds=lag,
            figures=p.figures or {}, figures_at=p.figures_at, links=links.get(p.code, 0),
            disagreeing=apart.get(p.code, 0),
        ))  # fmt: skip
    return out


def disagreements(session: Session, peer_code: str | None = None) -> list[DisagreementRead]:
    """Cases whose two sides disagree: a step one side took could not be taken on the other,
    steps crossed, or the other side's answer to this side's last step says its case stands
    elsewhere. The longest apart first; a step on either side that brings them together takes
    the case off the list once the other side's answer says so."""
    out = []
    for link in repository.apart(session, peer_code):
        try:
            state = str(cases.get_for_system(session, link.case_number).state)
        except CitybaseError:
            continue
        out.append(DisagreementRead(
            peer_code=link.peer_code, case_number=link.case_number, peer_number=link.peer_number,
            state=state, peer_state=link.peer_state, peer_action=link.peer_action,
            peer_changed_at=link.peer_changed_at, why=link.apart_why, noticed_at=link.apart_since,
        ))  # fmt: skip
    return out


def links(session: Session, peer_code: str | None = None) -> list[LinkRead]:
    return [LinkRead.model_validate(x) for x in repository.links(session, peer_code)]


def link_of_case(session: Session, number: str) -> LinkRead | None:
    found = repository.link_of_case(session, number)
    return LinkRead.model_validate(found) if found is not None else None


def messages(session: Session, peer_code: str | None = None, limit: int = 100) -> list[MessageRead]:
    return [MessageRead.model_validate(m) for m in repository.messages(session, peer_code, limit)]


def unsent(session: Session, limit: int = 500) -> list[tuple[int, str, str, dict[str, Any]]]:
    """This side's messages waiting for the stream, in order: (row id, id, subject, payload)."""
    return [(m.id, m.message_id, m.subject, dict(m.payload))
            for m in repository.unsent(session, limit)]  # fmt: skip


def peer_codes(session: Session) -> list[tuple[str, str, str]]:
    """(code, role, district) of each peer."""
    return [(p.code, p.role, p.district_code) for p in repository.peers(session)]
