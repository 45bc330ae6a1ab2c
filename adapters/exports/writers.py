"""A sheet as CSV or XLSX, and a file written whole or not at all.

CSV is written for French spreadsheets, which is what finance opens it with: UTF-8 with a BOM
(so Excel reads the accents), ``;`` between fields, decimal comma, dates ``dd/mm/yyyy``, no
thousands separator, CRLF line ends. Amounts are ``Decimal`` formatted to the cent, never floats.

XLSX cells are typed: dates are dates shown ``dd/mm/yyyy``, amounts numbers shown ``#,##0.00 €``,
counts integers; the header row is bold and frozen. The workbook is written in openpyxl's
write-only mode (rows streamed to the file, constant memory).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from adapters.exports.sheets import CellType, Sheet

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
NUMBER_FORMATS: dict[CellType, str] = {
    "date": "dd/mm/yyyy",
    "euros": '#,##0.00 "€"',
    "int": "0",
    "fte": "0.00",
}
# A text cell starting with one of these is a formula to a spreadsheet (CSV injection): kept as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# ------------------------------------------------------------------------------------------ CSV
def _text(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _french_date(value: date) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"  # strftime is several times slower


def _decimal_comma(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


CSV_FIELDS: dict[CellType, Callable[[Any], str]] = {
    "text": _text,
    "date": _french_date,
    "euros": _decimal_comma,
    "fte": _decimal_comma,
    "int": str,
    "flag": lambda value: "oui" if value else "non",
}


def csv_cell(value: Any, kind: CellType) -> str:
    """One CSV field the French way: ``1234,50``, ``31/12/2025``, ``oui``; empty for None."""
    return "" if value is None else CSV_FIELDS[kind](value)


def write_csv(sheet: Sheet, stream: IO[bytes]) -> int:
    """Write ``sheet`` to a binary stream; the number of data rows written."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", write_through=False)
    try:
        writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
        writer.writerow([c.header for c in sheet.columns])
        fields = [CSV_FIELDS[c.type] for c in sheet.columns]
        count = 0
        for values in sheet.values():
            writer.writerow(["" if v is None else f(v) for f, v in zip(fields, values, strict=True)])
            count += 1
        text.flush()
    finally:
        text.detach()  # the caller owns the stream
    return count


# ------------------------------------------------------------------------------------------ XLSX
def write_xlsx(sheet: Sheet, stream: IO[bytes]) -> int:
    """Write ``sheet`` as a one-sheet workbook to a binary stream; the number of data rows written."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet.title)
    ws.freeze_panes = "A2"  # the header stays in view (set before the first row: write-only)
    for i, column in enumerate(sheet.columns, 1):
        ws.column_dimensions[get_column_letter(i)].width = max(column.width, len(column.header) * 0.9 + 2)
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    header = []
    for column in sheet.columns:
        cell = WriteOnlyCell(ws, value=column.header)
        cell.font, cell.alignment = bold, wrap
        header.append(cell)
    ws.append(header)
    # One styled cell per typed column, reused row after row: write-only rows are written as they
    # are appended, so the cell is free again once ``append`` returns (a styled cell per value
    # would cost an object and a style lookup each).
    setters = [_setter(ws, c.type) for c in sheet.columns]
    count = 0
    for values in sheet.values():
        ws.append([set_(v) for set_, v in zip(setters, values, strict=True)])
        count += 1
    wb.save(stream)
    return count


def _setter(ws: Any, kind: CellType) -> Callable[[Any], Any]:
    """What to append for a value of a column of type ``kind``: the plain value, or the column's
    styled cell holding it."""
    if kind == "flag":
        return lambda v: None if v is None else ("oui" if v else "non")
    if kind == "text":
        return _text_setter(ws)
    cell = WriteOnlyCell(ws)
    cell.number_format = NUMBER_FORMATS[kind]

    def styled(value: Any) -> Any:
        if value is None:
            return None
        cell.value = value
        return cell

    return styled


def _text_setter(ws: Any) -> Callable[[Any], Any]:
    """Text stays text: openpyxl would store ``=...`` as a formula, so such a value goes in a cell
    typed as a string."""
    cell = WriteOnlyCell(ws)

    def text(value: Any) -> Any:
        if value is None:
            return None
        value = str(value)
        if not value.startswith("="):
            return value
        cell.value = value
        cell.data_type = "s"
        return cell

    return text


WRITERS: dict[str, Callable[[Sheet, IO[bytes]], int]] = {"csv": write_csv, "xlsx": write_xlsx}


# ------------------------------------------------------------------------------------------ files
def write_file(sheet: Sheet, fmt: str, path: Path) -> int:
    """Write ``sheet`` to ``path`` whole or not at all: into a temporary file of the same directory,
    renamed over ``path`` once complete (an interrupted or failed export leaves nothing behind,
    and never a half-written file where the previous export was). The rows written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as stream:
            count = WRITERS[fmt](sheet, stream)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def to_bytes(sheet: Sheet, fmt: str) -> bytes:
    """``sheet`` in ``fmt``, in memory (a web download)."""
    buffer = io.BytesIO()
    WRITERS[fmt](sheet, buffer)
    return buffer.getvalue()
