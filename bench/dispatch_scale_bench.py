"""Dispatch classifier at a city's scale: training a challenger on 100,000 cases, and messages
classified per second, against the reference measured in the same run.

    python bench/dispatch_scale_bench.py [--data ../shared/data/hotline] [--cases 100000]

The cases are made from the problem-domains set (7,549 real citizen messages, 13 long-tailed
labels; the set most like a 12345 centre's traffic): each generated case is a message of the set
drawn at random with its label, a twentieth of its characters dropped at random, and one clause
(split at punctuation) of another message of the same label added at its end — so that the
100,000 are not 13 copies of the same texts, and the vocabulary grows as a city's does.

Timed: the reference (TF-IDF over character 1–3-grams, a plain linear SVM) fitted on all the
cases; a challenger as the platform's learning trains it — the search of the n-gram range and
class weighting (three-fold cross-validation within the training window, on a stratified
sample of at most ``SEARCH_SAMPLE`` cases), then the model on all the cases (features, the
out-of-fold scores for the offsets, temperature and unattended threshold, the final SVM).
Then messages per second: one batch of 10,000, and 1,000 one at a time (as intake asks).
Each time is given as wall-clock seconds and as the CPU seconds of this process: on a machine
shared with other work the wall clock measures the others too (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from citybase.hub.dispatch import classifier as learning

CLAUSE = re.compile(r"[^，。！？；,.!?;]+[，。！？；,.!?;]?")


def generate(
    texts: list[str], labels: list[str], n: int, seed: int = 0
) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for t, y in zip(texts, labels, strict=True):
        by_label.setdefault(y, []).append(t)
    out_x, out_y = [], []
    for _ in range(n):
        i = rng.randrange(len(texts))
        text, label = texts[i], labels[i]
        kept = "".join(c for c in text if rng.random() >= 0.05)
        clauses = CLAUSE.findall(rng.choice(by_label[label])) or [""]
        out_x.append(kept + rng.choice(clauses))
        out_y.append(label)
    return out_x, out_y


class Clock:
    """Wall-clock and CPU seconds since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def rate(predict, texts: list[str], one_at_a_time: bool) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Messages per second, by the wall clock and by CPU time."""
    clock = Clock()
    if one_at_a_time:
        for t in texts:
            predict([t])
    else:
        predict(texts)
    wall, cpu = clock.read()
    return len(texts) / wall, len(texts) / cpu


def said(seconds: tuple[float, float]) -> str:
    return f"{seconds[0]:.1f} s (CPU {seconds[1]:.1f} s)"


def per_second(rates: tuple[float, float]) -> str:
    return f"{rates[0]:,.0f}/s (CPU {rates[1]:,.0f}/s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "hotline"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no labelled data at {args.data}")
    texts, labels = learning.read_csv(args.data / "msga_domain_train.csv", "text", "label")
    x, y = generate(texts, labels, args.cases)
    batch, single = (
        generate(texts, labels, 10_000, seed=1)[0],
        generate(texts, labels, 1_000, seed=2)[0],
    )
    print(f"{len(x):,} cases, {len(set(y))} labels, {sum(map(len, x)) / len(x):.0f} characters "
          f"on average", flush=True)  # fmt: skip

    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    clock = Clock()
    reference = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LinearSVC())
    reference.fit(x, y)
    ref_train = clock.read()
    ref_batch = rate(reference.predict, batch, False)
    ref_single = rate(reference.predict, single, True)
    print(f"reference: trained in {said(ref_train)}; {per_second(ref_batch)} in a batch, "
          f"{per_second(ref_single)} one at a time", flush=True)  # fmt: skip

    clock = Clock()
    chosen = learning.select_params(x, y)
    searched = clock.read()
    model = learning.Classifier.train(
        x, y, "scale", "generated", ngrams=(int(chosen["ngrams"][0]), int(chosen["ngrams"][1])),
        weights=chosen["weights"], auto_target=0.95,
    )  # fmt: skip
    total = clock.read()
    trained = (total[0] - searched[0], total[1] - searched[1])
    ours_batch = rate(model.predict, batch, False)
    ours_single = rate(model.predict, single, True)
    print(f"challenger: search {said(searched)} on {chosen['sample']:,} cases (chose "
          f"{chosen['ngrams']}, {chosen['weights']}); model {said(trained)}; in all "
          f"{said(total)}, {total[0] / ref_train[0]:.1f}× the reference's wall clock, "
          f"{total[1] / ref_train[1]:.1f}× its CPU", flush=True)  # fmt: skip
    print(f"challenger: {per_second(ours_batch)} in a batch ({ours_batch[1] / ref_batch[1]:.2f}× "
          f"the reference's CPU rate), {per_second(ours_single)} one at a time "
          f"({ours_single[1] / ref_single[1]:.2f}×)", flush=True)  # fmt: skip
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
