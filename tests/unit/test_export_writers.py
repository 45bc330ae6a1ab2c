"""The export writers on a hand-made sheet: typed XLSX cells, French CSV fields, and text that a
spreadsheet would run as a formula kept as text (R29 lets a name start with « = »)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl

from adapters.exports.sheets import Column, Sheet
from adapters.exports.writers import csv_cell, write_csv, write_xlsx

COLUMNS = (
    Column("Médecin", "text", 20, lambda r: r["name"]),
    Column("Le", "date", 11, lambda r: r["on"]),
    Column("Montant (€)", "euros", 14, lambda r: r["amount"]),
    Column("Année", "int", 6, lambda r: r["year"]),
    Column("En retard", "flag", 6, lambda r: r["late"]),
)
ROWS = [
    {"name": '=HYPERLINK("http://evil.example","x")', "on": date(2025, 12, 31), "amount": Decimal("1234567.89"),
     "year": 3, "late": True},
    {"name": "Éloïse Lefèvre", "on": None, "amount": Decimal("-0.10"), "year": 1, "late": False},
]  # fmt: skip


def test_xlsx_cells_are_typed_and_formulas_stay_text() -> None:
    buffer = io.BytesIO()
    assert write_xlsx(Sheet("t", "Essai", COLUMNS, ROWS), buffer) == 2
    ws = openpyxl.load_workbook(buffer).active
    first, second = ws[2], ws[3]
    assert first[0].data_type == "s" and first[0].value == ROWS[0]["name"]  # not a formula
    assert first[1].value == datetime(2025, 12, 31) and first[1].number_format == "dd/mm/yyyy"
    assert Decimal(str(first[2].value)) == Decimal("1234567.89") and first[2].number_format == '#,##0.00 "€"'
    assert first[3].value == 3 and first[4].value == "oui"
    assert second[1].value is None and Decimal(str(second[2].value)) == Decimal("-0.10") and second[4].value == "non"
    assert ws.freeze_panes == "A2" and ws["A1"].font.b


def test_csv_fields_are_french_and_formulas_are_quoted() -> None:
    buffer = io.BytesIO()
    write_csv(Sheet("t", "Essai", COLUMNS, ROWS), buffer)
    lines = list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["Médecin", "Le", "Montant (€)", "Année", "En retard"]
    assert lines[1] == ["'" + ROWS[0]["name"], "31/12/2025", "1234567,89", "3", "oui"]
    assert lines[2] == ["Éloïse Lefèvre", "", "-0,10", "1", "non"]
    assert csv_cell(Decimal("19000"), "euros") == "19000,00" and csv_cell(Decimal("0.33"), "fte") == "0,33"
