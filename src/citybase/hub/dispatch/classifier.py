"""The dispatch classifier: a citizen's message → its category or the unit that must act, with a
confidence, learned from labelled messages (closed cases, or a file).

Character 1–3-grams weighted by TF-IDF (sublinear), a linear SVM whose classes are weighted by
their rarity (so that the long tail of rare categories is not swallowed by the frequent ones:
macro-F1 is what a dispatcher is judged on), and confidences from the decision scores through a
softmax whose temperature is fitted on a tenth of the examples held out. Characters rather than
words: no segmenter, no dictionary to ship, and it reads the masked (****) and the
word-segmented texts alike."""

from __future__ import annotations

import csv
import io
import json
import math
import pickle
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from citybase.core.errors import InvalidInput, NotFound
from citybase.hub.dispatch.schemas import (
    ClassReport,
    Coverage,
    Evaluation,
    ModelInfo,
    Prediction,
)

METHOD = "tfidf-char-1-3-sublinear + linear-svm-balanced + softmax-temperature"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
TEMPERATURES = (0.5, 1, 2, 3, 5, 8, 12, 20, 30)


def _pipeline() -> Pipeline:
    return Pipeline([
        ("features", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True,
                                     dtype=np.float32)),
        ("classifier", LinearSVC(class_weight="balanced", C=1.0)),
    ])  # fmt: skip


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    if scores.ndim == 1:  # two classes: one score, for the second
        scores = np.stack([-scores, scores], axis=1)
    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


class Classifier:
    """A trained model, ready to classify."""

    def __init__(self, pipeline: Pipeline, info: ModelInfo):
        self.pipeline = pipeline
        self.info = info
        self.labels = [str(c) for c in pipeline.classes_]

    @classmethod
    def train(cls, texts: list[str], labels: list[str], name: str, source: str) -> Classifier:
        if len(texts) != len(labels) or not texts:
            raise InvalidInput("no examples to learn from", field="csv")
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        if len(counts) < 2:
            raise InvalidInput("a classifier needs at least two labels", field="label_col")
        start = time.perf_counter()
        temperature = _fit_temperature(texts, labels, counts)
        pipeline = _pipeline().fit(texts, labels)
        info = ModelInfo(
            name=name, labels=sorted(counts), examples=len(texts), trained_at=datetime.now(UTC),
            seconds=round(time.perf_counter() - start, 2), source=source,
            temperature=temperature, method=METHOD,
        )  # fmt: skip
        return cls(pipeline, info)

    def scores(self, texts: list[str]) -> np.ndarray:
        return _softmax(self.pipeline.decision_function(texts), self.info.temperature)

    def predict(self, texts: list[str]) -> list[Prediction]:
        if not texts:
            return []
        probabilities = self.scores(texts)
        out = []
        for row in probabilities:
            order = np.argsort(row)[::-1][:3]
            top = [(self.labels[i], round(float(row[i]), 4)) for i in order]
            out.append(Prediction(label=top[0][0], confidence=top[0][1], top=top))
        return out


def _fit_temperature(texts: list[str], labels: list[str], counts: dict[str, int]) -> float:
    """The softmax temperature that makes confidences honest on a held-out tenth (the lowest
    log-loss); 1 when there are too few examples to hold any out."""
    stratify = labels if min(counts.values()) >= 2 else None
    try:
        fit_x, held_x, fit_y, held_y = train_test_split(
            texts, labels, test_size=0.1, random_state=0, stratify=stratify
        )
    except ValueError:
        return 1.0
    if len(set(fit_y)) < 2 or not held_x:
        return 1.0
    model = _pipeline().fit(fit_x, fit_y)
    classes = [str(c) for c in model.classes_]
    index = {c: i for i, c in enumerate(classes)}
    scores = model.decision_function(held_x)
    best, best_loss = 1.0, math.inf
    for temperature in TEMPERATURES:
        p = _softmax(scores, temperature)
        loss = -sum(
            math.log(max(float(p[n, index[y]]), 1e-12)) if y in index else math.log(1e-12)
            for n, y in enumerate(held_y)
        )
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
    reader = csv.DictReader(io.StringIO(text))
    return list(reader), list(reader.fieldnames or [])


def models_dir(home: Path) -> Path:
    return home / "models"


def save(classifier: Classifier, home: Path) -> Path:
    directory = models_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{classifier.info.name}.pickle"
    with path.open("wb") as f:
        pickle.dump(classifier.pipeline, f, protocol=pickle.HIGHEST_PROTOCOL)
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
        pipeline = pickle.load(f)  # noqa: S301 -- the platform's own model file
    return Classifier(pipeline, info)


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
