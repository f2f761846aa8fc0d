"""The dispatch classifier: a citizen's message → its category or the unit that must act, with a
confidence, learned from labelled messages (closed cases, or a file).

Character 1–3-grams weighted by TF-IDF (sublinear), a linear SVM whose classes are weighted by
their rarity (so that the long tail of rare categories is not swallowed by the frequent ones:
macro-F1 is what a dispatcher is judged on), per-class offsets on the decision scores chosen for
macro-F1 on out-of-fold scores, and confidences from the scores through a softmax whose
temperature is fitted on the same out-of-fold scores. Characters rather than words: no
segmenter, no dictionary to ship, and it reads the masked (****) and the word-segmented texts
alike."""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.tables import csv_records
from citybase.hub.dispatch.features import CharTfidf, LinearModel
from citybase.hub.dispatch.schemas import (
    ClassReport,
    Coverage,
    Evaluation,
    ModelInfo,
    Prediction,
)

METHOD = ("tfidf-char-{0}-{1}-sublinear + linear-svm-{2} + macro-f1-offsets"
          " + softmax-temperature")  # fmt: skip
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
TEMPERATURES = (0.5, 1, 2, 3, 5, 8, 12, 20, 30)
FOLDS = 5
OFFSETS = np.linspace(-1.0, 1.0, 41)  # per-class offsets tried, in decision-score units
ROUNDS = 3
MIN_GAIN = 0.005  # offsets that raise out-of-fold macro-F1 by less are not kept


NGRAMS = (1, 3)
WEIGHTS = "balanced"
# what a search within the training window chooses among (select_params)
GRID: dict[str, list[Any]] = {"weights": ["balanced", None],
                              "ngrams": [(1, 2), (1, 3), (2, 4)]}  # fmt: skip
SEARCH_FOLDS = 3
# the search runs on a stratified sample of at most this many examples (the model is then
# trained on them all): on a city's 100,000 cases, 18 trainings on all would take many minutes
# (bench/dispatch_scale_bench.py)
SEARCH_SAMPLE = 2_000
CALIBRATION_SAMPLE = 10_000  # likewise for the out-of-fold scores behind offsets and confidences


def _features(ngrams: tuple[int, int] = NGRAMS) -> CharTfidf:
    return CharTfidf(ngrams)


def _svm(weights: str | None = WEIGHTS) -> LinearSVC:
    # seeded: liblinear visits the examples in a random order, and the out-of-fold trainings run
    # in threads that would otherwise draw their seeds in whichever order they start
    return LinearSVC(class_weight=weights, C=1.0, random_state=0)


def select_params(texts: list[str], labels: list[str]) -> dict[str, Any]:
    """The character n-gram range and class weighting that do best on macro-F1 in a stratified
    cross-validation — the default pair (``NGRAMS``, ``WEIGHTS``) unless another beats it by
    more than one standard error — over these examples only — the training window: the period
    the models are judged on stays unseen, so the search is the inner loop of a nested
    evaluation. Labels with fewer examples than folds are left out of the search; past
    ``SEARCH_SAMPLE`` examples it runs on a stratified sample of them. Each fold's features are
    computed once per n-gram range and serve both weightings. Returns ``ngrams``, ``weights``,
    the ``scores`` of every pair tried and the ``sample`` searched on."""
    counts = Counter(labels)
    kept = [(t, y) for t, y in zip(texts, labels, strict=True) if counts[y] >= SEARCH_FOLDS]
    if len({y for _, y in kept}) < 2:
        return {"ngrams": list(NGRAMS), "weights": WEIGHTS, "scores": [], "sample": 0}
    if len(kept) > SEARCH_SAMPLE:
        rows, _ = train_test_split(range(len(kept)), train_size=SEARCH_SAMPLE, random_state=0,
                                   stratify=[y for _, y in kept])  # fmt: skip
        kept = [kept[i] for i in sorted(rows)]
    x, y = [t for t, _ in kept], np.asarray([label for _, label in kept])
    folds = list(StratifiedKFold(SEARCH_FOLDS, shuffle=True, random_state=0).split(x, y))
    found: dict[tuple[Any, tuple[int, int]], list[float]] = {}
    for ngrams in GRID["ngrams"]:
        for learn, held in folds:
            features = _features(ngrams)
            seen = features.fit_transform([x[i] for i in learn])
            unseen = features.transform([x[i] for i in held])
            for weights in GRID["weights"]:
                predicted = _svm(weights).fit(seen, y[learn]).predict(unseen)
                found.setdefault((weights, ngrams), []).append(
                    float(f1_score(y[held], predicted, average="macro")))  # fmt: skip
    params = [(w, n) for w in GRID["weights"] for n in GRID["ngrams"]]
    means = np.array([np.mean(found[p]) for p in params])
    top = int(np.argmax(means))
    default = params.index((WEIGHTS, NGRAMS))
    # the one-standard-error rule: another pair replaces the default only when it does better
    # by more than the standard error of its folds' scores — on a small window the folds'
    # differences are mostly chance, and a pair chosen by chance does worse on new cases
    error = float(np.std(found[params[top]])) / math.sqrt(SEARCH_FOLDS)
    best = params[top] if means[top] - means[default] > error else params[default]
    tried = [{"ngrams": list(n), "weights": w, "macro_f1": round(float(f), 4)}
             for (w, n), f in zip(params, means, strict=True)]  # fmt: skip
    return {"ngrams": list(best[1]), "weights": best[0], "scores": tried, "sample": len(kept)}


def _columns(scores: np.ndarray) -> np.ndarray:
    """Decision scores one column per class (with two classes the SVM gives one, for the second)."""
    if scores.ndim == 1:
        return np.stack([-scores, scores], axis=1)
    return scores


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = _columns(scores) * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def _macro_f1(truth: np.ndarray, predicted: np.ndarray, k: int) -> float:
    """Macro-F1 over k classes numbered 0..k-1 (fast: it is computed thousands of times)."""
    confusion = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
    hits = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * hits, denominator, out=np.zeros(k), where=denominator > 0)
    return float(f1.mean())


def fit_offsets(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-class offsets added to the decision scores that maximise macro-F1 on out-of-fold
    scores, by coordinate ascent: a one-vs-rest SVM's zero is not where the rare classes are
    best told apart, and macro-F1 weighs every class alike. Kept only when they gain at least
    half a point: a smaller gain is what fitting them on the same scores finds by chance (on
    balanced sets they cost a little on new messages)."""
    k = scores.shape[1]
    offsets = np.zeros(k)
    start = best = _macro_f1(truth, scores.argmax(axis=1), k)
    for _ in range(ROUNDS):
        moved = False
        for c in range(k):
            keep = offsets[c]
            for value in OFFSETS:
                offsets[c] = value
                f1 = _macro_f1(truth, (scores + offsets).argmax(axis=1), k)
                if f1 > best + 1e-9:
                    best, keep, moved = f1, value, True
            offsets[c] = keep
        if not moved:
            break
    return offsets if best - start >= MIN_GAIN else np.zeros(k)


class Classifier:
    """A trained model, ready to classify."""

    def __init__(self, model: LinearModel, info: ModelInfo):
        self.model = model
        self.info = info
        self.labels = list(model.classes)
        self._offsets = np.array([info.offsets.get(c, 0.0) for c in self.labels])

    @classmethod
    def train(
        cls, texts: list[str], labels: list[str], name: str, source: str,
        ngrams: tuple[int, int] = NGRAMS, weights: str | None = WEIGHTS,
        auto_target: float | None = None,
    ) -> Classifier:  # fmt: skip
        """Learn from the examples; with ``auto_target``, also choose the confidence from
        which cases may be dispatched without a person (see :func:`choose_threshold`)."""
        if len(texts) != len(labels) or not texts:
            raise InvalidInput("no examples to learn from", field="csv")
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        if len(counts) < 2:
            raise InvalidInput("a classifier needs at least two labels", field="label_col")
        start = time.perf_counter()
        vectorizer = _features(ngrams)
        features = vectorizer.fit_transform(texts)
        truth = np.asarray(labels)
        svm = _svm(weights).fit(features, truth)
        model = LinearModel.of(vectorizer, svm.coef_, svm.intercept_,
                               [str(c) for c in svm.classes_])  # fmt: skip
        # calibrated on the labels with an example in each fold: a label seen once or twice
        # (a rare category among closed cases) keeps no offset and does not shrink the folds
        calibrated = sorted(c for c, n in counts.items() if n >= FOLDS)
        offsets: dict[str, float] = {}
        temperature = 1.0
        auto: tuple[float | None, float | None] = (None, None)
        if len(calibrated) >= 2:
            # the out-of-fold scores of at most CALIBRATION_SAMPLE examples: past that the
            # offsets, temperature and threshold barely move, and five more trainings on all
            # of a city's cases would double the time
            sample = _sample(truth, CALIBRATION_SAMPLE)
            rows = sample[np.isin(truth[sample], calibrated)]
            held = _out_of_fold(features[rows], truth[rows], weights)
            numbered = np.searchsorted(np.array(calibrated), truth[rows])
            fitted = fit_offsets(held, numbered)
            temperature = _fit_temperature(held + fitted, numbered)
            offsets = {c: round(float(o), 4) for c, o in zip(calibrated, fitted, strict=True) if o}
            if auto_target is not None:
                p = _softmax(held + fitted, temperature)
                right = p.argmax(axis=1) == numbered
                # over the calibrated labels' examples; the rarer labels are counted wrong
                confidence = np.concatenate([p.max(axis=1), np.zeros(len(sample) - len(rows))])
                correct = np.concatenate([right, np.zeros(len(sample) - len(rows), dtype=bool)])
                auto = choose_threshold(confidence, correct, auto_target)
        info = ModelInfo(
            name=name, labels=sorted(counts), examples=len(texts), trained_at=datetime.now(UTC),
            seconds=round(time.perf_counter() - start, 2), source=source,
            temperature=temperature, offsets=offsets,
            method=METHOD.format(*ngrams, weights or "unweighted"),
            ngrams=ngrams, weights=weights, auto_target=auto_target, auto_threshold=auto[0],
            auto_share=auto[1],
        )  # fmt: skip
        return cls(model, info)

    def scores(self, texts: list[str]) -> np.ndarray:
        return _softmax(self.model.decision(texts) + self._offsets, self.info.temperature)

    def predict(self, texts: list[str]) -> list[Prediction]:
        """The likeliest label of each text with its confidence, and the three likeliest. One
        text (intake's case) is scored by a direct dot product of its features with the
        weights they select, with no sparse matrix built."""
        if not texts:
            return []
        probabilities = self.scores(texts)
        out = []
        for row in probabilities:
            order = np.argsort(row)[::-1][:3]
            top = [(self.labels[i], round(float(row[i]), 4)) for i in order]
            out.append(Prediction(label=top[0][0], confidence=top[0][1], top=top))
        return out


MIN_AUTO = 10  # a threshold is not chosen on fewer cases above it


def choose_threshold(
    confidence: np.ndarray, correct: np.ndarray, target: float
) -> tuple[float | None, float | None]:
    """The lowest confidence t such that the cases at or above t are right at least ``target``
    of the time (and number at least ``MIN_AUTO``), with the share of cases at or above it;
    (None, None) when no t does. Chosen on out-of-fold confidences, so that the accuracy of
    what is dispatched without a person is estimated on cases the model did not learn from."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    seen = np.arange(1, len(order) + 1)
    accuracy = hits / seen
    best: tuple[float | None, float | None] = (None, None)
    for i in range(len(order)):
        # a cut falls between distinct confidences only: ties go in or out together
        if i + 1 < len(order) and confidence[order[i + 1]] == confidence[order[i]]:
            continue
        if seen[i] >= MIN_AUTO and accuracy[i] >= target:
            best = (round(float(confidence[order[i]]), 4), round(float(seen[i] / len(order)), 4))
    return best


def _sample(truth: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """The rows of a sample of about ``limit`` examples (all of them when there are no more),
    each label in proportion and keeping at least ``FOLDS`` of its examples (or all it has)."""
    if len(truth) <= limit:
        return np.arange(len(truth))
    rng = np.random.default_rng(seed)
    share = limit / len(truth)
    picked = []
    for label in np.unique(truth):
        rows = np.flatnonzero(truth == label)
        picked.append(rng.choice(rows, min(len(rows), max(FOLDS, round(len(rows) * share))),
                                 replace=False))  # fmt: skip
    return np.sort(np.concatenate(picked))


def _out_of_fold(features: Any, truth: np.ndarray, weights: str | None = WEIGHTS) -> np.ndarray:
    """Every example's decision scores from a model that did not learn from it (stratified
    k-fold, the folds learned two at a time; every label has at least k examples). The
    features' vocabulary and weights are those of all examples — a small leak that saves
    vectorising k times; each fold learns on the columns its examples use only (the others'
    weights would be zero), which on a sample of a large window is under half of them."""
    splits = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(features, truth))
    n_classes = len(np.unique(truth))

    def fold(split: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        learn, held = split
        seen = features[learn]
        used = np.flatnonzero(np.bincount(seen.indices, minlength=seen.shape[1]))
        svm = _svm(weights).fit(seen[:, used], truth[learn])
        return held, _columns(svm.decision_function(features[held][:, used]))

    out = np.zeros((len(truth), n_classes))
    with ThreadPoolExecutor(max_workers=2) as pool:  # liblinear lets go of the GIL
        for held, scores in pool.map(fold, splits):
            out[held] = scores
    return out


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The softmax temperature that makes confidences honest on out-of-fold scores (the lowest
    log-loss)."""
    best, best_loss = 1.0, math.inf
    rows = np.arange(len(truth))
    for temperature in TEMPERATURES:
        p = _softmax(scores, temperature)[rows, truth]
        loss = -float(np.log(np.maximum(p, 1e-12)).sum())
        if loss < best_loss:
            best, best_loss = temperature, loss
    return best


# --- files -------------------------------------------------------------------------------------


def read_csv(path: Path, text_col: str, label_col: str | None) -> tuple[list[str], list[str]]:
    """Texts (and labels) from a UTF-8 CSV with a header; every cell read as text."""
    rows, header = _rows(path)
    missing = [c for c in (text_col, label_col) if c and c not in header]
    if missing:
        raise InvalidInput(f"{path.name} has no column {', '.join(missing)} (it has "
                           f"{', '.join(header)})", field="csv")  # fmt: skip
    texts = [r.get(text_col) or "" for r in rows]
    labels = [r.get(label_col) or "" for r in rows] if label_col else []
    if label_col and any(not label for label in labels):
        first = next(n for n, label in enumerate(labels) if not label) + 2
        raise InvalidInput(f"{path.name}, line {first}: no label", field="csv")
    return texts, labels


def _rows(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise NotFound(f"no file {path}", field="csv") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name} is not UTF-8", field="csv") from exc
    fieldnames, records = csv_records(text, field="csv")
    return records, fieldnames


def models_dir(home: Path) -> Path:
    return home / "models"


def save(classifier: Classifier, home: Path) -> Path:
    directory = models_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{classifier.info.name}.pickle"
    with path.open("wb") as f:
        pickle.dump(classifier.model, f, protocol=pickle.HIGHEST_PROTOCOL)
    (directory / f"{classifier.info.name}.json").write_text(
        classifier.info.model_dump_json(indent=2), encoding="utf-8"
    )
    return path


def load(name: str, home: Path) -> Classifier:
    """A model trained on this platform (only its own files are read: a pickle runs code)."""
    directory = models_dir(home)
    info_path, model_path = directory / f"{name}.json", directory / f"{name}.pickle"
    if not info_path.exists() or not model_path.exists():
        have = sorted(p.stem for p in directory.glob("*.json")) if directory.exists() else []
        raise NotFound(f"no model {name} in {directory} (there are: {', '.join(have) or 'none'})",
                       field="model")  # fmt: skip
    info = ModelInfo.model_validate(json.loads(info_path.read_text(encoding="utf-8")))
    with model_path.open("rb") as f:
        model = pickle.load(f)  # noqa: S301 -- the platform's own model file
    if not isinstance(model, LinearModel):  # kept as a scikit-learn pipeline before
        model = LinearModel.from_pipeline(model)
    return Classifier(model, info)


def evaluate(classifier: Classifier, texts: list[str], labels: list[str]) -> Evaluation:
    start = time.perf_counter()
    predictions = classifier.predict(texts)
    per_second = len(texts) / max(time.perf_counter() - start, 1e-9)
    predicted = [p.label for p in predictions]
    names = sorted(set(labels) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=names, zero_division=0
    )
    coverage = []
    for threshold in (0.5, 0.7, 0.8, 0.9):
        chosen = [(p.label, y) for p, y in zip(predictions, labels, strict=True)
                  if p.confidence >= threshold]  # fmt: skip
        coverage.append(Coverage(
            threshold=threshold, share=len(chosen) / len(labels) if labels else 0.0,
            accuracy=sum(a == b for a, b in chosen) / len(chosen) if chosen else 0.0,
        ))  # fmt: skip
    return Evaluation(
        model=classifier.info.name, examples=len(labels),
        accuracy=float(accuracy_score(labels, predicted)),
        macro_f1=float(f1_score(labels, predicted, average="macro", zero_division=0)),
        classes=[ClassReport(label=n, precision=float(p), recall=float(r), f1=float(f),
                             support=int(s))
                 for n, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)],
        coverage=coverage, per_second=per_second,
    )  # fmt: skip


def write_predictions(
    source: Path, output: Path, text_col: str, predictions: Iterable[Prediction]
) -> int:
    """The input file's rows with ``predicted`` and ``confidence`` added."""
    rows, header = _rows(source)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*header, "predicted", "confidence"])
    writer.writeheader()
    count = 0
    for row, p in zip(rows, predictions, strict=True):
        writer.writerow(row | {"predicted": p.label, "confidence": f"{p.confidence:.4f}"})
        count += 1
    output.write_text(out.getvalue(), encoding="utf-8")
    return count
