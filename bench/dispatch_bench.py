"""Dispatch classifier: macro-F1 against the reference, training time, messages per second.

    python bench/dispatch_bench.py [--data ../shared/data/hotline]

For each labelled set in the shared data (real citizen messages: topics, problem domains,
departments), a stratified fifth of its training file is held out (seed 0); the rest trains
both the reference — TF-IDF over character 1–3-grams and a plain linear SVM, the baseline the
sets' README reports — and citybase's classifier, in the same run. Printed: accuracy and
macro-F1 of each on the held-out fifth, the difference, training time, and messages classified
per second (one batch of the held-out fifth). The sets' own held-back 20 % (on which the README's
reference figures are measured) is not in the shared data; this fifth stands in for it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
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
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no labelled data at {args.data}")
    print(f"{'set':22} {'ref acc':>8} {'ref F1':>7} {'our acc':>8} {'our F1':>7} {'ΔF1':>6} "
          f"{'ref train':>10} {'our train':>10} {'msgs/s':>8}")  # fmt: skip
    for label, name in SETS.items():
        texts, labels = learning.read_csv(args.data / name, "text", "label")
        train_x, test_x, train_y, test_y = train_test_split(
            texts, labels, test_size=0.2, random_state=0, stratify=labels
        )
        start = time.perf_counter()
        reference = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LinearSVC())
        reference.fit(train_x, train_y)
        ref_train = time.perf_counter() - start
        ref_pred = reference.predict(test_x)
        start = time.perf_counter()
        ours = learning.Classifier.train(train_x, train_y, "bench", name)
        our_train = time.perf_counter() - start
        start = time.perf_counter()
        our_pred = [p.label for p in ours.predict(test_x)]
        rate = len(test_x) / (time.perf_counter() - start)
        ref_f1 = f1_score(test_y, ref_pred, average="macro")
        our_f1 = f1_score(test_y, our_pred, average="macro")
        print(f"{label:22} {accuracy_score(test_y, ref_pred):8.3f} {ref_f1:7.3f} "
              f"{accuracy_score(test_y, our_pred):8.3f} {our_f1:7.3f} {our_f1 - ref_f1:+6.3f} "
              f"{ref_train:9.1f}s {our_train:9.1f}s {rate:8,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
