"""Chinese text into search tokens: overlapping character bigrams.

Chinese has no spaces, and a word list (a segmenter's dictionary) misses the catalog's own
terms — 公积金, 医保定点, 井盖 — or splits them the wrong way. Bigrams need no dictionary and
find every substring of two or more characters: 住房公积金 becomes 住房 房公 公积 积金 金, and the
query 公积金 is the phrase 公积 积金, which it contains. The last character of every run is also
a token, so that a one-character query (`公*`) finds each character wherever it stands. Latin
letters and digits make whole lower-case words (GB, 5g, 2025). Both engines — SQLite FTS5 and
PostgreSQL text search — index these tokens with their plain tokenizers.
"""

from __future__ import annotations

import re
import unicodedata

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"([{_HAN}]+)|([0-9a-z]+)")


def tokens(text: str) -> list[str]:
    """Index tokens of a text, in order (a phrase's tokens stay adjacent)."""
    result: list[str] = []
    for han, word in _RUNS.findall(unicodedata.normalize("NFKC", text).lower()):
        if word:
            result.append(word)
        elif len(han) == 1:
            result.append(han)
        else:
            result.extend(han[i : i + 2] for i in range(len(han) - 1))
            result.append(han[-1])
    return result


def index_text(*texts: str) -> str:
    """The token string stored for indexing (tokens joined by spaces)."""
    return " ".join(t for text in texts for t in tokens(text))


def query_terms(query: str) -> list[list[str]]:
    """A user's query as terms, each a phrase of tokens; all terms must match.

    A term of two or more Chinese characters is the phrase of its bigrams; one character, or
    one Latin word, is a prefix term (shown as a one-token list ending in ``*``).
    """
    terms: list[list[str]] = []
    for han, word in _RUNS.findall(unicodedata.normalize("NFKC", query).lower()):
        if word:
            terms.append([word + "*"])
        elif len(han) == 1:
            terms.append([han + "*"])
        else:
            terms.append([han[i : i + 2] for i in range(len(han) - 1)])
    return terms


def fts5_query(terms: list[list[str]]) -> str:
    """Terms as an FTS5 MATCH expression: phrases in double quotes, prefixes with ``*``."""
    parts = []
    for term in terms:
        if term[0].endswith("*"):
            parts.append(f'"{term[0][:-1]}"*')
        else:
            parts.append('"' + " ".join(term) + '"')
    return " AND ".join(parts)


def tsquery(terms: list[list[str]]) -> str:
    """Terms as a PostgreSQL tsquery: phrases with ``<->``, prefixes with ``:*``."""
    parts = []
    for term in terms:
        if term[0].endswith("*"):
            parts.append(f"'{term[0][:-1]}':*")
        else:
            parts.append("(" + " <-> ".join(f"'{t}'" for t in term) + ")")
    return " & ".join(parts)
