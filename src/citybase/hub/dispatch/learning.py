"""Champion and challenger (学习): every trained dispatch model is a version kept — its files in
the data directory (``models/NAME.vN.*``), its row in the database. A challenger learns from the
cases closed in a window and the corrections that stand; champion and challenger are then judged
on the most recent period, which neither learned from (a time-ordered holdout); the challenger
replaces the champion only when it beats it by the margins the quality team sets, on macro-F1
and on the share of cases it would have routed without a later correction. The champion's files
are also kept under the model's own name, which is what the predict path reads."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sklearn.metrics import confusion_matrix
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import JobRead
from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.progress import Report, Stages, silent
from citybase.core.settings import HubSettings
from citybase.hub.cases import service as cases
from citybase.hub.dispatch import classifier as learning
from citybase.hub.dispatch import corrections as corrected
from citybase.hub.dispatch import repository
from citybase.hub.dispatch.models import ModelVersion, PromotionMargins
from citybase.hub.dispatch.schemas import (
    MarginsIn,
    MarginsRead,
    Reign,
    VersionRead,
    VersionStatus,
)

RETRAIN_NOW = "hub.dispatch.retrain_now"
MIN_EXAMPLES = 50  # a challenger learns from no fewer
MIN_HOLDOUT = 10  # nor is judged on fewer
# a round's steps and their share of its time (measured on the demo city with the selection on:
# choosing the features by nested cross-validation is most of it)
ROUND_STEPS = (
    ("read", 2.0),
    ("category.select", 40.0), ("category.train", 8.0), ("category.judge", 2.0),
    ("unit.select", 38.0), ("unit.train", 8.0), ("unit.judge", 2.0),
)  # fmt: skip
STEP_LABELS = {
    "read": "Reading the closed cases and the corrections",
    "category.select": "Choosing the category model's features by nested cross-validation",
    "category.train": "Training the category model",
    "category.judge": "Judging the category model against its champion",
    "unit.select": "Choosing the unit model's features by nested cross-validation",
    "unit.train": "Training the unit model",
    "unit.judge": "Judging the unit model against its champion",
}


def versions(session: Session, name: str) -> list[VersionRead]:
    return [VersionRead.model_validate(v) for v in repository.versions(session, name)]


def _files(home: Path, stem: str) -> tuple[Path, Path]:
    directory = learning.models_dir(home)
    return directory / f"{stem}.pickle", directory / f"{stem}.json"


def _crown(home: Path, version: ModelVersion) -> None:
    """The version's files become the model the predict path reads."""
    for src, dst in zip(_files(home, f"{version.name}.v{version.version}"),
                        _files(home, version.name), strict=True):  # fmt: skip
        if not src.is_file():
            raise NotFound(f"the files of {version.name} version {version.version} are gone "
                           f"({src})", field="version")  # fmt: skip
        tmp = dst.with_suffix(dst.suffix + ".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)


def _figures(
    model: learning.Classifier, texts: list[str], labels: list[str], units: list[str],
    unit_of: dict[str, str] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Macro-F1, accuracy, per class, and the share routed without a later correction — for the
    category model, the predicted category's usual unit (in the training window) is the unit
    the case ended with, or, for a case no unit handled, the category is the final one; for the
    unit model (``unit_of`` None), the predicted unit is the one the case ended with — and the
    confusion matrix."""
    result = learning.evaluate(model, texts, labels)
    predictions = model.predict(texts)
    predicted = [p.label for p in predictions]
    if unit_of is None:
        routed = sum(p == u for p, u in zip(predicted, units, strict=True))
    else:
        routed = sum((unit_of.get(p) == u) if u else (p == y)
                     for p, y, u in zip(predicted, labels, units, strict=True))  # fmt: skip
    names = sorted(set(labels) | set(predicted))
    matrix = confusion_matrix(labels, predicted, labels=names).tolist()
    figures = {"macro_f1": round(result.macro_f1, 4), "accuracy": round(result.accuracy, 4),
               "routed": round(routed / len(labels), 4) if labels else 0.0,
               "classes": [c.model_dump() for c in result.classes]}  # fmt: skip
    info = model.info
    if info.auto_target is not None:
        # what dispatching without a person at the chosen threshold did on these cases
        above = [p.label == y for p, y in zip(predictions, labels, strict=True)
                 if info.auto_threshold is not None and p.confidence >= info.auto_threshold]  # fmt: skip
        figures["auto"] = {
            "target": info.auto_target, "threshold": info.auto_threshold,
            "estimated_share": info.auto_share,
            "share": round(len(above) / len(labels), 4) if labels else 0.0,
            "accuracy": round(sum(above) / len(above), 4) if above else None,
        }  # fmt: skip
    return figures, {"labels": names, "matrix": matrix}


def unit_model(name: str) -> str:
    """The unit model — the lead unit a case ends with, a second opinion beside the catalog —
    is named after the category model it is trained with."""
    return f"{name}-units"


@dataclass(frozen=True)
class _Round:
    """What one round of learning works on: the window and the holdout period."""

    home: Path
    hub: HubSettings
    actor: Actor
    window_start: datetime
    holdout_start: datetime
    now: datetime
    min_examples: int
    stages: Stages


def retrain(
    session: Session,
    home: Path,
    hub: HubSettings,
    actor: Actor,
    *,
    name: str | None = None,
    now: datetime | None = None,
    min_examples: int = MIN_EXAMPLES,
    progress: Report = silent,
) -> VersionRead | None:
    """Train a challenger to the category model and one to the unit model, judge each against
    its champion and promote or reject it (on the ledger). Returns the category model's
    version; None, with nothing kept, when the window holds too little to learn from (the unit
    model likewise keeps no version when too few of the window's cases reached a unit).
    ``progress`` is told each step as it begins."""
    name = name or hub.dispatch_model
    now = now or datetime.now(UTC)
    stages = Stages(progress, ROUND_STEPS)
    stages.start("read", STEP_LABELS["read"])
    holdout_start = now - timedelta(days=hub.holdout_days)
    window_start = holdout_start - timedelta(days=hub.retrain_window_days)
    closed = cases.closed_between(session, window_start, holdout_start)
    fixes = corrected.find(session, window_start, holdout_start, include_undone=False)
    held = cases.closed_between(session, holdout_start, now)
    at = _Round(home, hub, actor, window_start, holdout_start, now, min_examples, stages)
    # the category model: the final category of each closed case, and the standing category
    # corrections of the cases still open
    examples = {number: (text, category) for number, text, category, _, _ in closed}
    extra = {n: e for n, e in corrected.examples(fixes, "category").items() if n not in examples}
    by_category: dict[str, Counter[str]] = {}
    for _, _, category, unit, _ in closed:
        if unit:
            by_category.setdefault(category, Counter())[unit] += 1
    unit_of = {c: n.most_common(1)[0][0] for c, n in by_category.items()}
    version = _challenge(session, at, "category", name, examples | extra, len(extra),
                         [(t, c, u) for _, t, c, u, _ in held], unit_of)  # fmt: skip
    if version is None:
        return None
    # the unit model: the lead unit each closed case ended with, and the units the cases still
    # open were sent to by a return or reassignment that stands; judged on the holdout's cases
    # that reached a unit
    units = {number: (text, unit) for number, text, _, unit, _ in closed if unit}
    extra_units = {n: e for n, e in corrected.examples(fixes, "unit").items() if n not in units}
    _challenge(session, at, "unit", unit_model(name), units | extra_units, len(extra_units),
               [(t, u, u) for _, t, _, u, _ in held if u], None)  # fmt: skip
    session.flush()
    stages.finish()
    return version


def _challenge(
    session: Session, at: _Round, which: str, name: str, examples: dict[str, tuple[str, str]],
    corrections: int, held: list[tuple[str, str, str]], unit_of: dict[str, str] | None,
) -> VersionRead | None:  # fmt: skip
    """One model's challenger: trained on ``examples`` (case number → text, label), judged with
    its champion on ``held`` (text, final label, final unit), promoted or rejected."""
    texts = [t for t, _ in examples.values()]
    labels = [c for _, c in examples.values()]
    if len(texts) < at.min_examples or len(set(labels)) < 2:
        return None
    hub, home = at.hub, at.home
    number = repository.next_version(session, name)
    at.stages.start(f"{which}.select", STEP_LABELS[f"{which}.select"])
    chosen: dict[str, Any] = learning.select_params(texts, labels) if hub.retrain_search else {
        "ngrams": list(learning.NGRAMS), "weights": learning.WEIGHTS, "scores": []}  # fmt: skip
    at.stages.start(f"{which}.train", STEP_LABELS[f"{which}.train"])
    model = learning.Classifier.train(
        texts, labels, f"{name}.v{number}",
        f"closed cases {at.window_start:%Y-%m-%d}–{at.holdout_start:%Y-%m-%d}",
        ngrams=(int(chosen["ngrams"][0]), int(chosen["ngrams"][1])), weights=chosen["weights"],
        auto_target=hub.auto_dispatch_accuracy,
    )  # fmt: skip
    learning.save(model, home)
    version = ModelVersion(
        name=name, version=number, status=VersionStatus.challenger, trained_at=at.now,
        trained_by=at.actor.name, window_start=at.window_start, window_end=at.holdout_start,
        holdout_start=at.holdout_start, holdout_end=at.now, examples=len(texts),
        corrections=corrections, holdout=len(held),
        params={"method": model.info.method, "temperature": model.info.temperature,
                "seconds": model.info.seconds, "ngrams": chosen["ngrams"],
                "weights": chosen["weights"], "search": chosen["scores"],
                "search_sample": chosen.get("sample", 0)},
    )  # fmt: skip
    h_texts, h_labels, h_units = ([r[0] for r in held], [r[1] for r in held],
                                  [r[2] for r in held])  # fmt: skip
    at.stages.start(f"{which}.judge", STEP_LABELS[f"{which}.judge"])
    reigning = _load_champion(home, name)
    if held:
        version.figures, version.confusion = _figures(model, h_texts, h_labels, h_units, unit_of)
        if reigning is not None:
            version.champion_figures, _ = _figures(reigning, h_texts, h_labels, h_units, unit_of)
    repository.add(session, version)
    promote, why = _judge(version, reigning is not None, margins(session, hub, name))
    version.decision = why
    if promote:
        _make_champion(session, home, at.actor, version, "hub.dispatch.model.promoted", why,
                       at.now)  # fmt: skip
    else:
        version.status = VersionStatus.rejected
        _record(session, at.actor, version, "hub.dispatch.model.rejected", why)
    return VersionRead.model_validate(version)


def _load_champion(home: Path, name: str) -> learning.Classifier | None:
    """The champion as the predict path reads it (a model trained before versions were kept
    counts as one)."""
    try:
        return learning.load(name, home)
    except NotFound:
        return None


def _judge(version: ModelVersion, has_champion: bool, margins: MarginsRead) -> tuple[bool, str]:
    if not has_champion:
        return True, "the first version: no champion to compare with"
    if version.holdout < MIN_HOLDOUT:
        return False, (f"{version.holdout} cases closed in the holdout period: too few to judge "
                       f"(at least {MIN_HOLDOUT})")  # fmt: skip
    new, old = version.figures, version.champion_figures
    gain_f1 = new["macro_f1"] - old["macro_f1"]
    gain_routed = new["routed"] - old["routed"]
    said = (f"macro-F1 {new['macro_f1']:.3f} vs {old['macro_f1']:.3f} (margin "
            f"{margins.margin_f1:.3f}); routed {new['routed']:.1%} vs {old['routed']:.1%} "
            f"(margin {margins.margin_routed:.1%})")  # fmt: skip
    # rounded as shown: a gain equal to the margin on the page is a gain that meets it
    if (round(gain_f1, 4) >= margins.margin_f1
            and round(gain_routed, 4) >= margins.margin_routed):  # fmt: skip
        return True, f"beats the champion: {said}"
    return False, f"does not beat the champion by the margins: {said}"


def _record(session: Session, actor: Actor, v: ModelVersion, action: str, why: str) -> None:
    ledger.record(session, actor, action, object_type="model", object_id=f"{v.name}.v{v.version}",
                  reason=why, details={"version": v.version, "examples": v.examples,
                                       "holdout": v.holdout, "figures": _brief(v.figures),
                                       "champion": _brief(v.champion_figures)})  # fmt: skip


def _brief(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: figures[k] for k in ("macro_f1", "accuracy", "routed") if k in figures}


def _make_champion(
    session: Session, home: Path, actor: Actor, version: ModelVersion, action: str, why: str,
    now: datetime,
) -> None:  # fmt: skip
    _crown(home, version)
    current = repository.champion(session, version.name)
    if current is not None and current.id != version.id:
        current.status = VersionStatus.retired
    version.status = VersionStatus.champion
    version.promoted_at = now
    session.flush()
    _record(session, actor, version, action, why)


def rollback(
    session: Session, home: Path, actor: Actor, version_id: int, why: str,
    centre: str | None = None,
) -> VersionRead:  # fmt: skip
    """Make an earlier version the champion again (one action, on the ledger)."""
    require_city_centre(centre, "they are rolled back")
    version = repository.version(session, version_id)
    if version is None:
        raise NotFound(f"no model version {version_id}", field="version")
    if version.status == VersionStatus.champion:
        raise Conflict(f"{version.name} version {version.version} is already the champion",
                       field="version")  # fmt: skip
    if not why.strip():
        raise InvalidInput("the reason for going back to this version is needed", field="note")
    _make_champion(session, home, actor, version, "hub.dispatch.model.rolled_back", why.strip(),
                   datetime.now(UTC))  # fmt: skip
    return VersionRead.model_validate(version)


def reigns(session: Session, name: str, now: datetime | None = None) -> list[Reign]:
    """How routing went under each champion: from the day it became the champion to the day
    the next one did, the 派单准确率 and 退单率 of the cases taken in meanwhile (from the counts
    kept as cases change, by the city's days). A version gone back to reigns from then on; its
    earlier reign is not kept apart."""
    now = now or datetime.now(UTC)
    crowned = sorted((v for v in repository.versions(session, name) if v.promoted_at),
                     key=lambda v: v.promoted_at or now)  # fmt: skip
    out = []
    for n, v in enumerate(crowned):
        since = v.promoted_at or now
        until = crowned[n + 1].promoted_at if n + 1 < len(crowned) else None
        [found] = cases.figures(session, None, since, until or now + timedelta(days=1)) or [
            cases.no_figures()]  # fmt: skip
        out.append(Reign(version=v.version, since=since, until=until, cases=found.cases,
                         dispatched=found.counts.get("dispatched", 0),
                         dispatch_accuracy=found.dispatch_accuracy,
                         return_rate=found.return_rate))  # fmt: skip
    return out


def require_city_centre(centre: str | None, what: str) -> None:
    """The dispatch models learn from the whole city's cases and route for all its centres: a
    district's centre (``centre``, its region) neither trains, rolls back nor sets the margins of
    them; the city's centre does (and the platform's own jobs and commands)."""
    if centre is not None:
        raise Forbidden(f"the dispatch models learn from the whole city's cases: {what} by the "
                        "city's centre", field="model")  # fmt: skip


def ask_retrain(session: Session, actor: Actor, name: str, centre: str | None = None) -> JobRead:
    """Train a challenger now, in the worker (learning from a window of a city's cases takes
    seconds to minutes: not within a request); asking again before it ran moves the same job."""
    require_city_centre(centre, "they are retrained")
    job = bus.schedule(session, RETRAIN_NOW, key=f"{RETRAIN_NOW}:{name}",
                       payload={"by": actor.name, "unit": actor.unit, "name": name})  # fmt: skip
    ledger.record(session, actor, "hub.dispatch.model.retrain_asked", object_type="model",
                  object_id=name)  # fmt: skip
    return job


# --- the margins (晋级门槛) ---------------------------------------------------------------------


def models_of(hub: HubSettings) -> list[str]:
    """The dispatch models the platform learns: the category model and its unit model."""
    return [hub.dispatch_model, unit_model(hub.dispatch_model)]


def margins(session: Session, hub: HubSettings, name: str) -> MarginsRead:
    """The margins a challenger to ``name`` must beat its champion by: those its centre's
    quality team set, else the settings' (``PROMOTE_MARGIN_F1``, ``PROMOTE_MARGIN_ROUTED``)."""
    row = repository.margins(session, name)
    if row is None:
        return MarginsRead(model=name, margin_f1=hub.promote_margin_f1,
                           margin_routed=hub.promote_margin_routed, stored=False)  # fmt: skip
    return MarginsRead(model=name, margin_f1=row.margin_f1, margin_routed=row.margin_routed,
                       stored=True, updated_at=row.updated_at, updated_by=row.updated_by,
                       note=row.note)  # fmt: skip


def set_margins(
    session: Session, hub: HubSettings, actor: Actor, name: str, data: MarginsIn,
    centre: str | None,
) -> MarginsRead:  # fmt: skip
    """Set the margins of a model (on the ledger, with what they were). The models learn from
    the whole city's cases and serve its centre: a district's centre (``centre``, its region)
    does not set them. Setting what is already set changes nothing and writes nothing."""
    require_city_centre(centre, "their margins are set")
    if name not in models_of(hub) and not repository.versions(session, name):
        raise InvalidInput(f"no dispatch model {name} (there are: "
                           f"{', '.join(models_of(hub))})", field="model")  # fmt: skip
    before = margins(session, hub, name)
    if before.stored and (before.margin_f1, before.margin_routed) == (
            data.margin_f1, data.margin_routed):  # fmt: skip
        return before
    row = repository.margins(session, name) or PromotionMargins(model=name)
    row.margin_f1, row.margin_routed = data.margin_f1, data.margin_routed
    row.updated_by, row.note = actor.name, data.note.strip()
    repository.add(session, row)
    ledger.record(session, actor, "hub.dispatch.margins.changed", object_type="model",
                  object_id=name, reason=data.note.strip(),
                  details={"before": {"margin_f1": before.margin_f1,
                                      "margin_routed": before.margin_routed,
                                      "stored": before.stored},
                           "after": {"margin_f1": data.margin_f1,
                                     "margin_routed": data.margin_routed}})  # fmt: skip
    return margins(session, hub, name)


def centre_of(session: Session, principal: Principal) -> str | None:
    """The region of the centre a person works for: None for the city's."""
    return cases.Mover.of(session, principal).region
