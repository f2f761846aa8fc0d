"""The Solr query parser CKAN clients' q and fq go through."""

from __future__ import annotations

import pytest

from citybase.data.opendata import solr
from citybase.data.opendata.solr import All, Any_, Everything, Not, Range, Term


def test_the_shapes_clients_send() -> None:
    since = "2026-12-05T10:00:00.123456Z"
    assert solr.parse(f"organization:a OR organization:b metadata_modified:[{since} TO *]") == All((
        Any_((Term("organization", "a"), Term("organization", "b"))),
        Range("metadata_modified", since, None),
    ))  # fmt: skip
    assert solr.parse("-organization:x -groups:y") == All(
        (Not(Term("organization", "x")), Not(Term("groups", "y")))
    )
    assert solr.parse('title:"停车 场" AND NOT tags:a') == All(
        (Term("title", "停车 场", phrase=True), Not(Term("tags", "a")))
    )
    assert solr.parse("a AND b OR c") == Any_((All((Term(None, "a"), Term(None, "b"))),
                                               Term(None, "c")))  # fmt: skip
    assert solr.parse("*:*") == Everything()
    assert solr.parse("") == Everything()
    assert solr.parse("+dataset_type:dataset") == Term("dataset_type", "dataset")
    assert solr.parse("num_resources:{1 TO 5]") == Range("num_resources", "1", "5", False, True)
    assert solr.parse(r"metadata_modified:2026-01-01T10\:00\:00Z") == Term(
        "metadata_modified", "2026-01-01T10:00:00Z"
    )
    assert solr.parse("tags:(a OR b)") == Any_((Term("tags", "a"), Term("tags", "b")))
    assert solr.fields_of(solr.parse("a -tags:b OR title:c")) == {"tags", "title"}
    assert solr.texts_of(solr.parse("停车 -tags:b")) == ["停车"]


@pytest.mark.parametrize("bad", ["(a", 'title:"open', "x:[1 TO", "a OR", ")", "[1 TO 2]", "*:x"])
def test_what_cannot_be_parsed_says_so(bad: str) -> None:
    with pytest.raises(solr.QueryError):
        solr.parse(bad)
