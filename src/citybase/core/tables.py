"""Reading the tables people upload (an XLSX workbook's sheets or a CSV file), and writing the
workbooks the platform hands out.

Both bulk registration and loading a resource's rows read them, with the same rules: a CSV is
UTF-8 (with or without BOM) or GB 18030, as Excel saves it in China; a damaged workbook is a
field error on ``file``; rows with no value at all are dropped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from citybase.core.errors import InvalidInput

CSV_SHEET = ""  # the name of a CSV file's one table


def read_sheets(filename: str, content: bytes) -> dict[str, list[list[Any]]]:
    """Sheet name → rows of cell values (as the workbook types them; text for a CSV)."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        import openpyxl  # here, not at start: a command that reads no workbook never loads it

        try:
            book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds on a damaged file
            raise InvalidInput(f"the XLSX file cannot be read: {exc}", field="file") from exc
        sheets = {
            sheet.title: _filled([list(r) for r in sheet.iter_rows(values_only=True)])
            for sheet in book.worksheets
        }
        book.close()
        return sheets
    if name.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InvalidInput("the CSV is neither UTF-8 nor GB 18030 text", field="file")
        return {CSV_SHEET: _filled(csv_rows(text))}
    raise InvalidInput("tables are read from .xlsx or .csv files", field="file")


def csv_rows(text: str, field: str = "file") -> list[list[str]]:
    """The rows of a CSV text. One the csv module cannot read — a carriage return alone outside
    quotes (neither a Windows nor a Unix line end), a NUL — is the caller's error, naming its line."""
    reader = csv.reader(io.StringIO(text))
    try:
        return list(reader)
    except csv.Error as exc:
        raise _unreadable(reader.line_num, exc, field) from None


def csv_records(text: str, field: str = "file") -> tuple[list[str], list[dict[str, Any]]]:
    """The header and the rows (header → cell) of a CSV text, as ``csv.DictReader`` reads them,
    with the same refusal as ``csv_rows``."""
    fieldnames, records = iter_csv_records(text, field)
    return fieldnames, list(records)


def iter_csv_records(text: str, field: str = "file") -> tuple[list[str], Iterator[dict[str, Any]]]:
    """``csv_records`` with the rows read one at a time (for a long series)."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = list(reader.fieldnames or [])
    except csv.Error as exc:
        raise _unreadable(reader.reader.line_num, exc, field) from None

    def rows() -> Iterator[dict[str, Any]]:
        try:
            yield from reader
        except csv.Error as exc:
            raise _unreadable(reader.reader.line_num, exc, field) from None

    return fieldnames, rows()


def _unreadable(line: int, exc: csv.Error, field: str) -> InvalidInput:
    reason = ("a carriage return alone, outside quotes, in a cell or as a line end (save the file "
              "with Windows or Unix line ends)" if "new-line" in str(exc) else str(exc))  # fmt: skip
    return InvalidInput(f"the CSV cannot be read at line {max(line, 1)}: {reason}", field=field)


def _filled(rows: list[list[Any]]) -> list[list[Any]]:
    return [r for r in rows if any(c not in (None, "") for c in r)]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def write_xlsx(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """A workbook of (title, header, rows) sheets, written as it goes (rows are not all held):
    the header bold and frozen, columns as wide as their header or a sample of their cells."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.freeze_panes = "A2"
        widths = [_width(h) for h in header]
        cells = []
        for h in header:
            cell = WriteOnlyCell(sheet, value=h)
            cell.font = bold
            cells.append(cell)
        buffered: list[Sequence[Any]] = []
        iterator = iter(rows)
        for row in iterator:  # the first hundred rows set the widths, then rows stream
            buffered.append(row)
            widths = [max(w, _width(v)) for w, v in zip(widths, row, strict=False)] + widths[
                len(row):]  # fmt: skip
            if len(buffered) == 100:
                break
        for n, width in enumerate(widths):
            sheet.column_dimensions[openpyxl.utils.get_column_letter(n + 1)].width = min(width, 60)
        sheet.append(cells)
        for row in buffered:
            sheet.append(list(row))
        for row in iterator:
            sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _width(value: Any) -> float:
    text = "" if value is None else str(value)
    return 2 + sum(2 if ord(ch) > 0x2E80 else 1 for ch in text.split("\n")[0][:80])
