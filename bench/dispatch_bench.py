"""Dispatch classifier: macro-F1 against the reference, training time, messages per second.

    python bench/dispatch_bench.py [--data ../shared/data/hotline] [--folds 5]

For each labelled set in the shared data (real citizen messages: topics, problem domains,
departments), five stratified folds of its training file (seed 0): each fold is held out in
turn while the rest trains both the reference — TF-IDF over character 1–3-grams and a plain
linear SVM, the baseline the sets' README reports — and citybase's classifier as its learning
trains a challenger: the character n-gram range and class weighting chosen by a three-fold
cross-validation within the training folds only (``select_params``, the same grid for every
set), then the model trained with them — a nested evaluation, the held-out fold never seen by
the choice. Printed: mean accuracy and macro-F1 of each over the folds, the mean difference in
macro-F1 with its spread (standard deviation over the folds), the same difference for the
classifier with its default parameters (no search), mean training time (with the search),
messages classified per second (one batch of a held-out fold, and up to 1,000 of its messages
one at a time, as intake classifies them) and the parameters chosen. Folds rather than one
held-out fifth: on the smaller sets one fifth alone swings macro-F1 by several points (a rare class has two or three examples in it).
The sets' own held-back 20 % (on which the README's reference figures are measured) is not in
the shared data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from citybase.hub.dispatch import classifier as learning

SETS = {
    "topics (teddy2020c)": "teddy2020c_topic_train.csv",
    "domains (msga)": "msga_domain_train.csv",
    "departments (msga)": "msga_department_train.csv",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "hotline"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", default="", help="Only the sets whose name holds this")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no labelled data at {args.data}")
    print(f"{'set':22} {'ref acc':>8} {'ref F1':>7} {'our acc':>8} {'our F1':>7} {'ΔF1':>6} "
          f"{'± sd':>6} {'fixed ΔF1':>9} {'ref train':>10} {'our train':>10} {'msgs/s':>8} {'1-by-1/s':>8}"
          f"  chosen")  # fmt: skip
    for label, name in SETS.items():
        if args.only not in label:
            continue
        texts, labels = learning.read_csv(args.data / name, "text", "label")
        rows: dict[str, list[float]] = {k: [] for k in
                                        ("ref_acc", "ref_f1", "our_acc", "our_f1", "ref_s",
                                         "our_s", "rate", "single", "fixed_f1")}  # fmt: skip
        chosen: list[str] = []
        folds = StratifiedKFold(args.folds, shuffle=True, random_state=0).split(texts, labels)
        for learn, held in folds:
            train_x, train_y = [texts[i] for i in learn], [labels[i] for i in learn]
            test_x, test_y = [texts[i] for i in held], [labels[i] for i in held]
            start = time.perf_counter()
            reference = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)),
                                      LinearSVC())  # fmt: skip
            reference.fit(train_x, train_y)
            rows["ref_s"].append(time.perf_counter() - start)
            ref_pred = reference.predict(test_x)
            start = time.perf_counter()
            params = learning.select_params(train_x, train_y)
            ngrams = (int(params["ngrams"][0]), int(params["ngrams"][1]))
            ours = learning.Classifier.train(train_x, train_y, "bench", name, ngrams=ngrams,
                                             weights=params["weights"])  # fmt: skip
            rows["our_s"].append(time.perf_counter() - start)
            chosen.append(f"{ngrams[0]}-{ngrams[1]}/{params['weights'] or 'none'}")
            fixed = learning.Classifier.train(train_x, train_y, "bench", name)
            rows["fixed_f1"].append(f1_score(test_y, [p.label for p in fixed.predict(test_x)],
                                             average="macro"))  # fmt: skip
            start = time.perf_counter()
            our_pred = [p.label for p in ours.predict(test_x)]
            rows["rate"].append(len(test_x) / (time.perf_counter() - start))
            start = time.perf_counter()
            for text in test_x[:1000]:
                ours.predict([text])
            rows["single"].append(min(len(test_x), 1000) / (time.perf_counter() - start))
            rows["ref_acc"].append(accuracy_score(test_y, ref_pred))
            rows["ref_f1"].append(f1_score(test_y, ref_pred, average="macro"))
            rows["our_acc"].append(accuracy_score(test_y, our_pred))
            rows["our_f1"].append(f1_score(test_y, our_pred, average="macro"))
        mean = {k: statistics.fmean(v) for k, v in rows.items()}
        spread = statistics.stdev(
            a - b for a, b in zip(rows["our_f1"], rows["ref_f1"], strict=True)
        )
        print(f"{label:22} {mean['ref_acc']:8.3f} {mean['ref_f1']:7.3f} {mean['our_acc']:8.3f} "
              f"{mean['our_f1']:7.3f} {mean['our_f1'] - mean['ref_f1']:+6.3f} {spread:6.3f} "
              f"{mean['fixed_f1'] - mean['ref_f1']:+9.3f} "
              f"{mean['ref_s']:9.1f}s {mean['our_s']:9.1f}s {mean['rate']:8,.0f} {mean['single']:8,.0f}  "
              f"{' '.join(chosen)}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
