"""The dispatch classifier's features and linear scores, computed with arrays.

``CharTfidf`` is TF-IDF over character n-grams exactly as scikit-learn's
``TfidfVectorizer(analyzer="char", sublinear_tf=True)`` computes it (lower-cased, runs of white
space read as one space, smoothed IDF, rows of unit length), with each n-gram read as an integer
rather than a string: the characters are numbered within the training texts' alphabet, and an
n-gram's number is its characters' numbers side by side in a 64-bit integer. Counting and
looking up n-grams are then sorts and binary searches over arrays, not a dictionary look-up per
n-gram in Python — the vectoriser was a third of a challenger's training on a city's 100,000
cases, and most of the search's (bench/dispatch_scale_bench.py). The vocabulary is every n-gram
of the training texts (no minimum count), its columns in the order of their numbers.

``LinearModel`` is the features with a linear SVM's weights, one column per class, and scores a
single message by a direct dot product of its few non-zero features with the rows of the
weights they select: intake classifies one message at a time."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from citybase.core.errors import InvalidInput

WHITESPACE = re.compile(r"\s\s+")  # as scikit-learn's character analyser
CHUNK = 1_000_000  # characters counted at a time (bounds the memory of fitting on many texts)


def _clean(texts: list[str]) -> list[str]:
    return [WHITESPACE.sub(" ", t.lower()) for t in texts]


def _codepoints(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every character of the texts end to end, and each text's length."""
    joined = "".join(texts).encode("utf-32-le", errors="surrogatepass")
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return np.frombuffer(joined, dtype=np.uint32), lengths


class CharTfidf:
    """TF-IDF over character n-grams of lengths ``ngrams`` (inclusive), sublinear."""

    def __init__(self, ngrams: tuple[int, int] = (1, 3)):
        self.ngrams = (int(ngrams[0]), int(ngrams[1]))
        self.alphabet = np.zeros(0, dtype=np.uint32)  # the characters seen, sorted
        self.bits = 1  # bits per character in an n-gram's number
        self.keys = np.zeros(0, dtype=np.uint64)  # the vocabulary: n-gram numbers, sorted
        self.idf = np.zeros(0, dtype=np.float32)

    @property
    def size(self) -> int:
        return len(self.keys)

    def _numbered(self, cps: np.ndarray) -> np.ndarray:
        """Each character's number in the alphabet (from 1; 0 for a character not in it)."""
        table = self.__dict__.get("_table")
        if table is None:  # a code point → its number, up to the alphabet's last (kept unpickled)
            top = int(self.alphabet[-1]) + 2 if len(self.alphabet) else 1
            table = np.zeros(top, dtype=np.uint64)
            table[self.alphabet] = np.arange(1, len(self.alphabet) + 1, dtype=np.uint64)
            self.__dict__["_table"] = table
        return table[np.minimum(cps, len(table) - 1)]  # type: ignore[no-any-return]

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_table"}

    def _grams(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The numbers of the texts' n-grams and the text each is in; n-grams with a character
        outside the alphabet are left out (they are in no vocabulary)."""
        total = len(ids)
        row = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
        end = np.repeat(np.cumsum(lengths), lengths)
        unknown = np.concatenate([[0], np.cumsum(ids == 0)]) if not ids.all() else None
        keys, rows = [], []
        for n in range(self.ngrams[0], self.ngrams[1] + 1):
            m = total - n + 1
            if m <= 0:
                break
            start = np.arange(m)
            inside = start + n <= end[:m]
            if unknown is not None:
                inside &= unknown[n : m + n] == unknown[:m]
            key = ids[:m].copy()
            for j in range(1, n):
                key = (key << np.uint64(self.bits)) | ids[j : j + m]
            keys.append(key[inside])
            rows.append(row[:m][inside])
        if not keys:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int32)
        return np.concatenate(keys), np.concatenate(rows)

    def _chunks(self, lengths: np.ndarray, most: int) -> list[tuple[int, int, int, int]]:
        """(first text, end text, first character, end character) of runs of about ``CHUNK``
        characters and at most ``most`` texts."""
        ends = np.concatenate([[0], np.cumsum(lengths)])
        bounds, a = [0], 0
        while a < len(lengths):
            b = min(int(np.searchsorted(ends, ends[a] + CHUNK, side="right")) - 1, a + most,
                    len(lengths))  # fmt: skip
            a = max(b, a + 1)
            bounds.append(a)
        return [(a, b, int(ends[a]), int(ends[b])) for a, b in itertools.pairwise(bounds)]

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        """Learn the alphabet, vocabulary and IDF from the texts; their features."""
        cps, lengths = _codepoints(_clean(texts))
        self.alphabet = np.flatnonzero(np.bincount(cps)).astype(np.uint32)
        self.__dict__.pop("_table", None)
        self.bits = max(1, len(self.alphabet).bit_length())
        # an n-gram's number and its text's row within a chunk are sorted as one 64-bit integer
        spare = 64 - self.bits * self.ngrams[1]
        if spare < 4:
            raise InvalidInput(f"{len(self.alphabet)} distinct characters are too many for "
                               f"{self.ngrams[1]}-grams", field="csv")  # fmt: skip
        ids = self._numbered(cps)
        pieces = []
        shift, mask = np.uint64(spare), np.uint64((1 << spare) - 1)
        for a, b, ca, cb in self._chunks(lengths, 1 << spare):
            keys, rows = self._grams(ids[ca:cb], lengths[a:b])
            pairs = np.sort((keys << shift) | rows.astype(np.uint64))
            first = np.flatnonzero(np.concatenate([[True], pairs[1:] != pairs[:-1]]))
            counts = np.diff(np.append(first, len(pairs))).astype(np.float32)
            pairs = pairs[first]
            keys, rows = pairs >> shift, (pairs & mask).astype(np.int32)
            new = np.concatenate([[True], keys[1:] != keys[:-1]])
            local = keys[new]
            columns = (np.cumsum(new) - 1).astype(np.int32)
            pieces.append((local, sp.csr_matrix((counts, (rows, columns)),
                                                shape=(b - a, len(local)))))  # fmt: skip
        every = np.sort(np.concatenate([p[0] for p in pieces] or [self.keys]))
        self.keys = (
            every[np.concatenate([[True], every[1:] != every[:-1]])] if len(every) else every
        )
        blocks = []
        for local, counted in pieces:
            where = np.searchsorted(self.keys, local).astype(np.int32)
            blocks.append(sp.csr_matrix((counted.data, where[counted.indices], counted.indptr),
                                        shape=(counted.shape[0], self.size)))  # fmt: skip
        matrix = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, self.size))
        df = np.bincount(matrix.indices, minlength=self.size)
        self.idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
        return self._weigh(matrix)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        cps, lengths = _codepoints(_clean(texts))
        ids = self._numbered(cps)
        blocks = []
        for a, b, ca, cb in self._chunks(lengths, len(lengths)):
            keys, rows = self._grams(ids[ca:cb], lengths[a:b])
            columns, found = self._lookup(keys)
            blocks.append(sp.csr_matrix((np.ones(int(found.sum()), dtype=np.float32),
                                         (rows[found], columns[found])),
                                        shape=(b - a, self.size)))  # fmt: skip
        if not blocks:
            return sp.csr_matrix((0, self.size), dtype=np.float32)
        return self._weigh(sp.vstack(blocks, format="csr"))

    def one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's non-zero features: their columns and values."""
        cps, lengths = _codepoints(_clean([text]))
        keys, _ = self._grams(self._numbered(cps), lengths)
        columns, found = self._lookup(keys)
        columns, counts = np.unique(columns[found], return_counts=True)
        values = (1 + np.log(counts)) * self.idf[columns]
        norm = float(np.sqrt(values @ values))
        return columns, values / norm if norm > 0 else values

    def _lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.size:
            return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=bool)
        at = np.minimum(np.searchsorted(self.keys, keys), self.size - 1)
        return at, self.keys[at] == keys

    def _weigh(self, counted: sp.csr_matrix) -> sp.csr_matrix:
        """Counts → sublinear TF × IDF, each row of unit length."""
        out = counted.astype(np.float32)
        out.data = (1 + np.log(out.data)) * self.idf[out.indices]
        rows = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
        norms = np.sqrt(np.bincount(rows, weights=out.data.astype(np.float64) ** 2,
                                    minlength=out.shape[0]))  # fmt: skip
        out.data /= np.where(norms > 0, norms, 1.0)[rows].astype(np.float32)
        return out

    @classmethod
    def from_vectorizer(cls, vectorizer: Any) -> tuple[CharTfidf, np.ndarray]:
        """The same features from a fitted ``TfidfVectorizer`` (character n-grams, lower-cased:
        how models were kept before), with the vectoriser's column of each of ours."""
        if vectorizer.analyzer != "char" or not vectorizer.lowercase:
            raise InvalidInput("the model's features are not lower-cased character n-grams",
                               field="model")  # fmt: skip
        out = cls(tuple(vectorizer.ngram_range))
        terms = list(vectorizer.vocabulary_)
        columns = np.fromiter(vectorizer.vocabulary_.values(), dtype=np.int64, count=len(terms))
        out.alphabet = np.unique(_codepoints(terms)[0])
        out.__dict__.pop("_table", None)
        out.bits = max(1, len(out.alphabet).bit_length())
        number = {chr(c): i + 1 for i, c in enumerate(out.alphabet.tolist())}
        keys = np.zeros(len(terms), dtype=np.uint64)
        for i, term in enumerate(terms):
            key = 0
            for ch in term:
                key = (key << out.bits) | number[ch]
            keys[i] = key
        order = np.argsort(keys)
        out.keys = keys[order]
        out.idf = np.asarray(vectorizer.idf_, dtype=np.float32)[columns[order]]
        return out, columns[order]


@dataclass
class LinearModel:
    """Features and a linear model's weights (one column per class, a row per feature)."""

    features: CharTfidf
    weights: np.ndarray
    bias: np.ndarray
    classes: list[str]

    @classmethod
    def of(cls, features: CharTfidf, coef: np.ndarray, intercept: np.ndarray,
           classes: list[str], columns: np.ndarray | None = None) -> LinearModel:  # fmt: skip
        """From a fitted SVM's ``coef_`` and ``intercept_`` (with two classes it gives one row,
        for the second); ``columns`` are its features' columns in ours."""
        coef, intercept = np.atleast_2d(coef), np.atleast_1d(intercept)
        if coef.shape[0] == 1 and len(classes) == 2:
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        if columns is not None:
            coef = coef[:, columns]
        return cls(features, np.ascontiguousarray(coef.T, dtype=np.float32),
                   np.asarray(intercept, dtype=np.float64), classes)  # fmt: skip

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> LinearModel:
        """A model kept as a scikit-learn pipeline (features, then the SVM)."""
        vectorizer, svm = pipeline.steps[0][1], pipeline.steps[-1][1]
        features, columns = CharTfidf.from_vectorizer(vectorizer)
        return cls.of(features, svm.coef_, svm.intercept_, [str(c) for c in svm.classes_],
                      columns)  # fmt: skip

    def decision(self, texts: list[str]) -> np.ndarray:
        """Decision scores, a row per text and a column per class."""
        if len(texts) == 1:
            return self.decision_one(texts[0])[None, :]
        features = self.features.transform(texts)
        scores: np.ndarray = np.asarray(features @ self.weights, dtype=np.float64) + self.bias
        return scores

    def decision_one(self, text: str) -> np.ndarray:
        columns, values = self.features.one(text)
        return values.astype(np.float64) @ self.weights[columns] + self.bias  # type: ignore[no-any-return]
