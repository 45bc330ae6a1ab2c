"""Reading an import file: CSV (UTF-8, ``;`` or ``,`` or tab) or XLSX (first sheet), as rows of text.

Everything the parser sees is text, whatever the file: an XLSX date cell becomes ``AAAA-MM-JJ``, a
whole number ``38000`` (not ``38000.0``). A file that cannot be read as a whole (not UTF-8, no
header, a missing required column, an unknown column) is one ``FileRefused`` naming the problem.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from adapters.importer.columns import BY_NAME, ERROR_COLUMN, REQUIRED
from domain.errors import InvalidInput


class FileRefused(InvalidInput):
    """The file as a whole cannot be imported: nothing was read into the store."""


@dataclass(frozen=True)
class Row:
    line: int  # the line in the file (the header is line 1), as a spreadsheet shows it
    values: dict[str, str]  # column -> text as written (stripped)
    raw: list[str]  # every cell as read, for the rejected file


@dataclass(frozen=True)
class Table:
    header: list[str]  # as written in the file
    columns: list[str]  # the recognised name of each header cell
    rows: list[Row]
    delimiter: str  # the CSV delimiter (";" for an XLSX: what its rejected file uses)


def read_table(path: Path) -> Table:
    """The file's header and rows; ``FileRefused`` when it cannot be imported as a whole."""
    if not path.is_file():
        raise FileRefused("file_not_found", f"Fichier introuvable : {path}.", "file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        cells, delimiter = _xlsx_cells(path), ";"
    else:
        text = _decode(path.read_bytes())
        delimiter = _delimiter(text)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        cells = ((reader.line_num, row) for row in reader)
    return _table(cells, delimiter)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start]
        raise FileRefused(
            "file_encoding",
            f"Le fichier n'est pas encodé en UTF-8 (octet 0x{byte:02X} à la ligne {line}) : c'est sans doute "
            "du Latin-1 / Windows-1252 (« CSV (séparateur : point-virgule) » d'Excel). L'enregistrer en "
            "« CSV UTF-8 » (Excel : Enregistrer sous > CSV UTF-8 ; LibreOffice : jeu de caractères Unicode "
            "(UTF-8)) puis relancer l'import.",
            "file",
        ) from None


def _delimiter(text: str) -> str:
    """The header line's separator: ``;`` (French Excel), ``,`` or a tab, whichever splits it most."""
    first = text.split("\n", 1)[0]
    return max((";", ",", "\t"), key=first.count)


def _xlsx_cells(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise FileRefused("file_format", f"Classeur XLSX illisible : {error}.", "file") from None
    try:
        sheet = book.worksheets[0]
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_cell_text(v) for v in values]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normalise(name: str) -> str:
    """A header as written -> a column name: case, blanks and dashes do not matter."""
    return name.strip().lstrip("\ufeff").casefold().replace(" ", "_").replace("-", "_")


def _table(cells: Iterator[tuple[int, list[str]]], delimiter: str) -> Table:
    """``cells``: (line, cells) of each record, the header first (blank lines before it skipped)."""
    it = iter(cells)
    header: list[str] | None = None
    for _line, first in it:
        if any(h.strip() for h in first):
            header = first
            break
    if header is None:
        raise FileRefused("file_empty", "Le fichier est vide : la première ligne doit nommer les colonnes.", "file")
    while header and not header[-1].strip():
        header = header[:-1]  # trailing empty cells of a spreadsheet
    columns = [normalise(h) for h in header]
    _check_header(header, columns)
    rows: list[Row] = []
    for line, raw in it:
        if not any(cell.strip() for cell in raw):
            continue  # a blank line is no convention
        values = {col: (raw[i].strip() if i < len(raw) else "") for i, col in enumerate(columns)}
        rows.append(Row(line, values, list(raw)))
    return Table(header, columns, rows, delimiter)


def _check_header(header: list[str], columns: list[str]) -> None:
    unknown = [h for h, c in zip(header, columns, strict=True) if c not in BY_NAME and c != ERROR_COLUMN]
    if unknown:
        raise FileRefused(
            "unknown_columns",
            f"Colonne(s) inconnue(s) : {', '.join(unknown)}. Colonnes possibles : {', '.join(BY_NAME)} "
            "(voir docs/import-format.md).",
            "header",
        )
    seen = [c for i, c in enumerate(columns) if c in columns[:i]]
    if seen:
        raise FileRefused("duplicate_columns", f"Colonne(s) en double : {', '.join(seen)}.", "header")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise FileRefused(
            "missing_columns",
            f"Colonne(s) obligatoire(s) absente(s) de la première ligne : {', '.join(missing)}.",
            "header",
        )
