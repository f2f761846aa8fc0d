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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sklearn.metrics import confusion_matrix
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import JobRead
from citybase.core.errors import Conflict, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import HubSettings
from citybase.hub.cases import service as cases
from citybase.hub.dispatch import classifier as learning
from citybase.hub.dispatch import corrections as corrected
from citybase.hub.dispatch import repository
from citybase.hub.dispatch import service as dispatch
from citybase.hub.dispatch.models import ModelVersion
from citybase.hub.dispatch.schemas import Reign, VersionRead, VersionStatus

RETRAIN_NOW = "hub.dispatch.retrain_now"
MIN_EXAMPLES = 50  # a challenger learns from no fewer
MIN_HOLDOUT = 10  # nor is judged on fewer


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
    unit_of: dict[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Macro-F1, accuracy, per class, and the share routed without a later correction — the
    predicted category's usual unit (in the training window) is the unit the case ended with,
    or, for a case no unit handled, the category is the final one — and the confusion matrix."""
    result = learning.evaluate(model, texts, labels)
    predictions = model.predict(texts)
    predicted = [p.label for p in predictions]
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


def retrain(
    session: Session,
    home: Path,
    hub: HubSettings,
    actor: Actor,
    *,
    name: str | None = None,
    now: datetime | None = None,
    min_examples: int = MIN_EXAMPLES,
) -> VersionRead | None:
    """Train a challenger and judge it against the champion; promote or reject it (on the
    ledger). None, with nothing kept, when the window holds too little to learn from."""
    name = name or hub.dispatch_model
    now = now or datetime.now(UTC)
    holdout_start = now - timedelta(days=hub.holdout_days)
    window_start = holdout_start - timedelta(days=hub.retrain_window_days)
    closed = cases.closed_between(session, window_start, holdout_start)
    examples = {number: (text, category) for number, text, category, _, _ in closed}
    fixes = corrected.find(session, window_start, holdout_start, include_undone=False)
    extra = {n: e for n, e in corrected.category_examples(fixes).items() if n not in examples}
    examples |= extra
    texts = [t for t, _ in examples.values()]
    labels = [c for _, c in examples.values()]
    if len(texts) < min_examples or len(set(labels)) < 2:
        return None
    by_category: dict[str, Counter[str]] = {}
    for _, _, category, unit, _ in closed:
        if unit:
            by_category.setdefault(category, Counter())[unit] += 1
    unit_of = {c: n.most_common(1)[0][0] for c, n in by_category.items()}
    number = repository.next_version(session, name)
    chosen: dict[str, Any] = learning.select_params(texts, labels) if hub.retrain_search else {
        "ngrams": list(learning.NGRAMS), "weights": learning.WEIGHTS, "scores": []}  # fmt: skip
    model = learning.Classifier.train(
        texts, labels, f"{name}.v{number}",
        f"closed cases {window_start:%Y-%m-%d}–{holdout_start:%Y-%m-%d}",
        ngrams=(int(chosen["ngrams"][0]), int(chosen["ngrams"][1])), weights=chosen["weights"],
        auto_target=hub.auto_dispatch_accuracy,
    )  # fmt: skip
    learning.save(model, home)
    version = ModelVersion(
        name=name, version=number, status=VersionStatus.challenger, trained_at=now,
        trained_by=actor.name, window_start=window_start, window_end=holdout_start,
        holdout_start=holdout_start, holdout_end=now, examples=len(texts), corrections=len(extra),
        params={"method": model.info.method, "temperature": model.info.temperature,
                "seconds": model.info.seconds, "ngrams": chosen["ngrams"],
                "weights": chosen["weights"], "search": chosen["scores"]},
    )  # fmt: skip
    held = cases.closed_between(session, holdout_start, now)
    version.holdout = len(held)
    h_texts, h_labels, h_units = ([r[1] for r in held], [r[2] for r in held],
                                  [r[3] for r in held])  # fmt: skip
    reigning = _load_champion(home, name)
    if held:
        version.figures, version.confusion = _figures(model, h_texts, h_labels, h_units, unit_of)
        if reigning is not None:
            version.champion_figures, _ = _figures(reigning, h_texts, h_labels, h_units, unit_of)
    repository.add(session, version)
    promote, why = _judge(version, reigning is not None, hub)
    version.decision = why
    if promote:
        _make_champion(session, home, actor, version, "hub.dispatch.model.promoted", why, now)
    else:
        version.status = VersionStatus.rejected
        _record(session, actor, version, "hub.dispatch.model.rejected", why)
    routed = [(t, u) for _, t, _, u, _ in closed if u]  # the unit model: not versioned yet
    if len(routed) >= min_examples and len({u for _, u in routed}) >= 2:
        dispatch.retrain(home, f"{name}-units", [t for t, _ in routed], [u for _, u in routed])
    session.flush()
    return VersionRead.model_validate(version)


def _load_champion(home: Path, name: str) -> learning.Classifier | None:
    """The champion as the predict path reads it (a model trained before versions were kept
    counts as one)."""
    try:
        return learning.load(name, home)
    except NotFound:
        return None


def _judge(version: ModelVersion, has_champion: bool, hub: HubSettings) -> tuple[bool, str]:
    if not has_champion:
        return True, "the first version: no champion to compare with"
    if version.holdout < MIN_HOLDOUT:
        return False, (f"{version.holdout} cases closed in the holdout period: too few to judge "
                       f"(at least {MIN_HOLDOUT})")  # fmt: skip
    new, old = version.figures, version.champion_figures
    gain_f1 = new["macro_f1"] - old["macro_f1"]
    gain_routed = new["routed"] - old["routed"]
    said = (f"macro-F1 {new['macro_f1']:.3f} vs {old['macro_f1']:.3f} (margin "
            f"{hub.promote_margin_f1:.3f}); routed {new['routed']:.1%} vs {old['routed']:.1%} "
            f"(margin {hub.promote_margin_routed:.1%})")  # fmt: skip
    if gain_f1 >= hub.promote_margin_f1 and gain_routed >= hub.promote_margin_routed:
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


def rollback(session: Session, home: Path, actor: Actor, version_id: int, why: str) -> VersionRead:
    """Make an earlier version the champion again (one action, on the ledger)."""
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


def ask_retrain(session: Session, actor: Actor, name: str) -> JobRead:
    """Train a challenger now, in the worker (learning from a window of a city's cases takes
    seconds to minutes: not within a request); asking again before it ran moves the same job."""
    job = bus.schedule(session, RETRAIN_NOW, key=f"{RETRAIN_NOW}:{name}",
                       payload={"by": actor.name, "unit": actor.unit, "name": name})  # fmt: skip
    ledger.record(session, actor, "hub.dispatch.model.retrain_asked", object_type="model",
                  object_id=name)  # fmt: skip
    return job
