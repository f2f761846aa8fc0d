"""Reading the tables people upload: an XLSX workbook's sheets or a CSV file.

Both bulk registration and loading a resource's rows read them, with the same rules: a CSV is
UTF-8 (with or without BOM) or GB 18030, as Excel saves it in China; a damaged workbook is a
field error on ``file``; rows with no value at all are dropped.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl

from citybase.core.errors import InvalidInput

CSV_SHEET = ""  # the name of a CSV file's one table


def read_sheets(filename: str, content: bytes) -> dict[str, list[list[Any]]]:
    """Sheet name → rows of cell values (as the workbook types them; text for a CSV)."""
    name = filename.lower()
    if name.endswith(".xlsx"):
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
        return {CSV_SHEET: _filled([list(r) for r in csv.reader(io.StringIO(text))])}
    raise InvalidInput("tables are read from .xlsx or .csv files", field="file")


def _filled(rows: list[list[Any]]) -> list[list[Any]]:
    return [r for r in rows if any(c not in (None, "") for c in r)]
