from __future__ import annotations

from citybase.data.search.tokens import fts5_query, query_terms, tokens, tsquery


def test_chinese_becomes_overlapping_bigrams_with_the_last_character() -> None:
    assert tokens("住房公积金") == ["住房", "房公", "公积", "积金", "金"]
    assert tokens("井") == ["井"]


def test_latin_words_and_digits_are_whole_lowercase_words_and_punctuation_splits() -> None:
    assert tokens("GB/T 43697，5G基站") == ["gb", "t", "43697", "5g", "基站", "站"]
    assert tokens("ＡＢＣ１２") == ["abc12"]  # full-width folded by NFKC


def test_a_query_term_is_a_phrase_of_bigrams_and_short_terms_are_prefixes() -> None:
    assert query_terms("公积金 医") == [["公积", "积金"], ["医*"]]
    assert fts5_query(query_terms("公积金 医")) == '"公积 积金" AND "医"*'
    assert tsquery(query_terms("公积金 gb")) == "('公积' <-> '积金') & 'gb':*"


def test_the_query_phrase_is_inside_the_indexed_tokens() -> None:
    indexed = tokens("住房公积金缴存信息")
    phrase = query_terms("公积金")[0]
    start = indexed.index(phrase[0])
    assert indexed[start : start + len(phrase)] == phrase
