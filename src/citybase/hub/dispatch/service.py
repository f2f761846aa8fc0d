"""The dispatch catalog (派单目录) — category × region → lead unit, support units and deadlines by
urgency, kept by the centre — and the suggestion of a case's category from its text by the
trained classifier."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.hub.dispatch import classifier as learning
from citybase.hub.dispatch import repository
from citybase.hub.dispatch.models import DispatchRule
from citybase.hub.dispatch.schemas import (
    DEFAULT_DEADLINES,
    CatalogProblem,
    CatalogReport,
    Route,
    RuleIn,
    RuleRead,
    StageDeadlines,
    Suggestion,
    Urgency,
)
from citybase.hub.events import service as events


def _read(rule: DispatchRule) -> RuleRead:
    return RuleRead.model_validate(rule)


def rules(session: Session) -> list[RuleRead]:
    return [_read(r) for r in repository.rules(session)]


def _check(session: Session, data: RuleIn) -> None:
    """Refuse a rule naming a category, region or unit that does not exist."""
    if data.category_code:
        try:
            events.get_category(session, data.category_code)
        except NotFound:
            raise InvalidInput(f"no category {data.category_code} in the taxonomy",
                               field="category_code") from None  # fmt: skip
    try:
        orgs.get_region(session, data.region_code)
    except NotFound:
        raise InvalidInput(f"no region with code {data.region_code}", field="region_code") from None
    for field, codes in (("lead_unit", [data.lead_unit]), ("support_units", data.support_units)):
        for code in codes:
            try:
                orgs.get_unit(session, code)
            except NotFound:
                raise InvalidInput(f"no unit with code {code}", field=field) from None
    if data.lead_unit in data.support_units:
        raise InvalidInput("the lead unit cannot also support", field="support_units")


def _apply(rule: DispatchRule, data: RuleIn) -> None:
    rule.lead_unit, rule.support_units = data.lead_unit, list(data.support_units)
    rule.deadlines = {str(k): v.model_dump() for k, v in data.deadlines.items()}
    rule.note = data.note


def put_rule(session: Session, actor: Actor, data: RuleIn) -> RuleRead:
    """Add the line for this category and region, or change it if there is one."""
    _check(session, data)
    rule = repository.rule_for(session, data.category_code, data.region_code) or DispatchRule(
        category_code=data.category_code, region_code=data.region_code
    )
    _apply(rule, data)
    repository.add(session, rule)
    ledger.record(session, actor, "hub.dispatch.rule.put", object_type="dispatch_rule",
                  object_id=rule.id, details=data.model_dump(mode="json"))  # fmt: skip
    return _read(rule)


def delete_rule(session: Session, actor: Actor, rule_id: int) -> None:
    rule = repository.rule(session, rule_id)
    if rule is None:
        raise NotFound(f"no dispatch rule {rule_id}", field="id")
    repository.delete(session, rule)
    ledger.record(session, actor, "hub.dispatch.rule.delete", object_type="dispatch_rule",
                  object_id=rule_id, details={"category_code": rule.category_code,
                                              "region_code": rule.region_code})  # fmt: skip


def import_catalog(session: Session, actor: Actor, text: str) -> CatalogReport:
    """A YAML list of rules (``rules:``), taken whole or not at all; problems name the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return CatalogReport(ok=False, problems=[CatalogProblem(
            row=mark.line + 1 if mark else None, field="", message=f"not YAML: {exc}")])  # fmt: skip
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return CatalogReport(ok=False, problems=[CatalogProblem(
            row=1, field="", message="a catalog file holds a 'rules' list")])  # fmt: skip
    nodes = next((v for k, v in root.value if k.value == "rules"), None) if root else None
    problems: list[CatalogProblem] = []
    good: list[RuleIn] = []
    seen: dict[tuple[str, str], int | None] = {}
    for n, item in enumerate(data["rules"]):
        line = nodes.value[n].start_mark.line + 1 if isinstance(nodes, yaml.SequenceNode) else None
        try:
            rule = RuleIn.model_validate(item)
            _check(session, rule)
        except ValidationError as exc:
            problems += [CatalogProblem(row=line, field=".".join(map(str, e["loc"])),
                                        message=e["msg"]) for e in exc.errors()]  # fmt: skip
            continue
        except CitybaseError as exc:
            problems.append(CatalogProblem(row=line, field=exc.field or "", message=exc.message))
            continue
        key = (rule.category_code, rule.region_code)
        if key in seen:
            problems.append(CatalogProblem(row=line, field="region_code", message=(
                f"category '{key[0]}' in {key[1]} is already on line {seen[key]}")))  # fmt: skip
            continue
        seen[key] = line
        good.append(rule)
    if problems:
        return CatalogReport(ok=False, problems=problems)
    for rule in good:
        put_rule(session, actor, rule)
    return CatalogReport(ok=True, rules=len(good))


def deadlines_of(rule: DispatchRule | None, urgency: Urgency) -> StageDeadlines:
    stated = (rule.deadlines or {}).get(str(urgency)) if rule is not None else None
    return StageDeadlines.model_validate(stated) if stated else DEFAULT_DEADLINES[urgency]


def route(
    session: Session, category_code: str, region_path: list[str], urgency: Urgency
) -> Route | None:
    """The catalog's line for a case: the longest category prefix that has one, and among those
    the deepest region on the case's path (``region_path`` from the city down). None when the
    catalog says nothing for it."""
    prefixes = [category_code[:n] for n in range(len(category_code), 0, -2)] + [""]
    found = repository.candidates(session, prefixes, region_path)
    if not found:
        return None
    depth = {code: i for i, code in enumerate(region_path)}
    best = max(found, key=lambda r: (len(r.category_code), depth[r.region_code]))
    stage = deadlines_of(best, urgency)
    return Route(rule_id=best.id, lead_unit=best.lead_unit, support_units=list(best.support_units),
                 sign_hours=stage.sign_hours, handle_days=stage.handle_days)  # fmt: skip


def default_route(lead_unit: str, support_units: list[str], urgency: Urgency) -> Route:
    stage = DEFAULT_DEADLINES[urgency]
    return Route(rule_id=None, lead_unit=lead_unit, support_units=support_units,
                 sign_hours=stage.sign_hours, handle_days=stage.handle_days)  # fmt: skip


# --- suggestion ---------------------------------------------------------------------------------

_models: dict[str, tuple[float, learning.Classifier]] = {}
_lock = threading.Lock()


def _model(home: Path, name: str) -> learning.Classifier | None:
    """The model as last saved, loaded once per version of its file."""
    path = learning.models_dir(home) / f"{name}.pickle"
    if not path.is_file():
        return None
    mtime = path.stat().st_mtime
    with _lock:
        cached = _models.get(str(path))
        if cached is None or cached[0] != mtime:
            cached = _models[str(path)] = (mtime, learning.load(name, home))
        return cached[1]


def suggest(home: Path, model: str, text: str) -> Suggestion | None:
    """The trained model's guess at a message's category with its confidence and the three
    likeliest; None when no model of that name has been trained."""
    classifier = _model(home, model)
    if classifier is None:
        return None
    p = classifier.predict([text])[0]
    return Suggestion(label=p.label, confidence=p.confidence, top=p.top, model=model,
                      auto_target=classifier.info.auto_target,
                      auto_threshold=classifier.info.auto_threshold)  # fmt: skip


def retrain(home: Path, model: str, texts: list[str], labels: list[str]) -> dict[str, Any]:
    """Learn the model afresh from these examples and keep it, replacing the old one."""
    classifier = learning.Classifier.train(texts, labels, model, "closed cases")
    learning.save(classifier, home)
    return classifier.info.model_dump(mode="json")
