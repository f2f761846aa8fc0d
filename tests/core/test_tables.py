from __future__ import annotations

import pytest

from citybase.core.errors import InvalidInput
from citybase.core.tables import csv_records, csv_rows, iter_csv_records, read_sheets


def test_a_bare_carriage_return_is_refused_naming_its_line() -> None:
    for read in (csv_rows, lambda t: csv_records(t)[1], lambda t: list(iter_csv_records(t)[1])):
        with pytest.raises(InvalidInput, match="line 3: a carriage return") as refused:
            read("a,b\n1,2\n3,4\r5,6\n")
        assert refused.value.field == "file"
    with pytest.raises(InvalidInput) as refused:
        read_sheets("x.csv", b"a,b\r1,2\n")
    assert "line 1" in refused.value.message


def test_windows_line_ends_and_quoted_returns_are_read() -> None:
    assert csv_rows("a,b\r\n1,2\r\n") == [["a", "b"], ["1", "2"]]
    header, rows = csv_records('a,b\n"one\rtwo",2\n', field="sample")
    assert header == ["a", "b"]
    assert rows == [{"a": "one\rtwo", "b": "2"}]
