"""``conventions export`` end to end (issue 12): each kind in both formats, read back as finance
would (csv module, openpyxl), its filters, and refusals that leave no file behind."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import adapters.exports.writers as writers
from adapters.composition import build_app, build_projections
from adapters.settings import Settings
from projections import ledger
from tests.helpers import cli_invoker
from tests.integration.test_projection_models import build_portfolio

TODAY = "2026-06-30"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The six conventions of ``build_portfolio`` (CPAMs 281, 751, 130), ticked to 2026-06-30."""
    settings = Settings(store="sqlite", data_dir=tmp_path_factory.mktemp("exports") / "data")
    build_portfolio(build_app(settings, clock=lambda: date(2026, 6, 30)))
    return settings.data_dir


@pytest.fixture
def export(data_dir: Path) -> Any:
    invoke = cli_invoker({"CONVENTIONS_TODAY": TODAY})

    def run(*args: str, code: int = 0) -> str:
        return invoke("export", *args, "--data-dir", str(data_dir), code=code)

    return run


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # BOM, CRLF: what French Excel opens as is
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f, delimiter=";"))


def read_xlsx(path: Path) -> tuple[Any, list[str], list[dict[str, Any]]]:
    ws = openpyxl.load_workbook(path).active
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
    assert all(ws.column_dimensions[c].width >= 7 for c in "ABC")
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    return ws, header, rows


def expected_ledger(data_dir: Path) -> list[dict[str, Any]]:
    runner = build_projections(Settings(store="sqlite", data_dir=data_dir))
    runner.catch_up()
    return ledger.instalments(runner.store)


def test_the_ledger_in_xlsx_holds_the_ledgers_amounts_as_numbers(export: Any, data_dir: Path, tmp_path: Path) -> None:
    """Amounts are numbers equal to the ledger's Decimal to the cent (R7: one payment per instalment)."""
    out = tmp_path / "grand-livre.xlsx"
    assert json.loads(export("ledger", "--out", str(out), "--json"))["format"] == "xlsx"
    ws, header, rows = read_xlsx(out)
    assert ws.title == "Grand livre" and header[:3] == ["N° de convention", "CPAM", "Échéance"]
    truth = expected_ledger(data_dir)
    assert len(rows) == len(truth) > 10
    for row, item in zip(rows, truth, strict=True):
        assert (row["N° de convention"], row["Échéance"]) == (item["number"], item["instalment_id"])
        assert row["À payer le"] == datetime.fromisoformat(item["due_date"])
        owed = row["Montant dû (€)"] if item["amount"] >= 0 else -row["À récupérer (€)"]
        assert isinstance(owed, int | float) and Decimal(str(owed)) == item["amount"]
        if item["status"] == "paid":
            assert Decimal(str(row["Réglé (€)"] or -row["Récupéré (€)"])) == item["paid_amount"]
            assert row["Statut"] == "réglée" and row["Référence du paiement"] == item["payment_reference"]
    cells = {c.column_letter: c for c in ws[2]}
    assert cells["G"].number_format == "dd/mm/yyyy" and cells["H"].number_format == '#,##0.00 "€"'
    assert cells["D"].data_type == "n" and cells["D"].number_format == "0"  # the contract year, an integer


def test_the_ledger_in_csv_is_french_and_exact_to_the_cent(export: Any, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "grand-livre.csv"
    export("ledger", "--out", str(out))
    header, *rows = read_csv(out)
    truth = expected_ledger(data_dir)
    assert header[7:9] == ["Montant dû (€)", "À récupérer (€)"] and len(rows) == len(truth)
    first, item = rows[0], truth[0]
    assert first[6] == date.fromisoformat(item["due_date"]).strftime("%d/%m/%Y")
    assert first[7] == f"{item['amount']:.2f}".replace(".", ",")  # decimal comma, two decimals, no float
    total = sum((Decimal((r[7] or "0").replace(",", ".")) for r in rows), Decimal(0))
    assert total == sum((i["amount"] for i in truth if i["amount"] > 0), Decimal(0))


def test_conventions_in_both_formats(export: Any, tmp_path: Path) -> None:
    export("conventions", "--format", "xlsx", "--out", str(tmp_path / "c.xlsx"))
    _, header, rows = read_xlsx(tmp_path / "c.xlsx")
    assert header[:4] == ["N° de convention", "CPAM", "RPPS", "Médecin"]
    assert [r["N° de convention"] for r in rows] == ["C-006", "C-001", "C-002", "C-005", "C-003", "C-004"]
    full = rows[1]
    assert full["Statut"] == "actif" and full["Année de contrat"] == 4 and full["ETP financés"] == 1
    assert full["Prise d'effet"] == datetime(2023, 3, 1)
    terminated = rows[3]
    assert terminated["Résiliée le"] == datetime(2025, 3, 31) and terminated["ETP financés"] == 0
    export("conventions", "--out", str(tmp_path / "c.csv"))
    header_csv, *lines = read_csv(tmp_path / "c.csv")
    assert header_csv == header and len(lines) == 6
    assert lines[3][header.index("Résiliée le")] == "31/03/2025" and lines[1][header.index("ETP financés")] == "1,00"


def test_the_work_queue_in_both_formats(export: Any, tmp_path: Path) -> None:
    export("work-queue", "--out", str(tmp_path / "q.xlsx"))
    _, header, rows = read_xlsx(tmp_path / "q.xlsx")
    assert header[:3] == ["Date", "En retard", "Nature"] and rows
    assert rows[0]["En retard"] == "oui" and isinstance(rows[0]["Date"], datetime)  # overdue first
    assert any(r["Nature"] == "point semestriel" for r in rows)  # R11: the reviews C-002 never held
    export("a-traiter", "--out", str(tmp_path / "q.csv"), "--today", TODAY)  # the French word works too
    assert len(read_csv(tmp_path / "q.csv")) == len(rows) + 1


def test_cpam_and_year_filters(export: Any, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    export("conventions", "--out", str(out), "--cpam", "751")
    assert [r[0] for r in read_csv(out)[1:]] == ["C-003", "C-004"]
    export("conventions", "--out", str(out), "--cpam", "751", "--cpam", "130")
    assert [r[0] for r in read_csv(out)[1:]] == ["C-006", "C-003", "C-004"]
    export("conventions", "--out", str(out), "--year", "2023")  # in the portfolio some time of 2023
    assert [r[0] for r in read_csv(out)[1:]] == ["C-001", "C-002"]
    export("conventions", "--out", str(out), "--year", "2026")  # C-005 was terminated in 2025
    assert [r[0] for r in read_csv(out)[1:]] == ["C-006", "C-001", "C-002", "C-003", "C-004"]
    export("ledger", "--out", str(out), "--year", "2024", "--cpam", "281")
    header, *rows = read_csv(out)
    due, paid = header.index("À payer le"), header.index("Réglée le")
    assert rows and all(r[1] == "281" and "2024" in (r[due][-4:], r[paid][-4:]) for r in rows)
    assert any(r[paid].endswith("2024") for r in rows)  # VIR-2, paid 2024-03-05
    export("work-queue", "--out", str(out), "--year", "2023")
    assert all(r[0].endswith("/2023") for r in read_csv(out)[1:])


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("payments",), 2, "error[invalid_kind]"),
        (("ledger", "--format", "pdf"), 2, "error[invalid_format]"),
        (("ledger", "--cpam", "28"), 2, "error[invalid_cpam]"),
        (("ledger", "--year", "1800"), 2, "error[invalid_year]"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    export: Any, tmp_path: Path, args: tuple[str, ...], code: int, error: str
) -> None:
    out = tmp_path / "x.csv"
    assert export(*args, "--out", str(out), code=code).startswith(error)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_target_is_refused_and_a_failed_export_leaves_the_previous_file(
    export: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert export("ledger", "--out", str(tmp_path / "nowhere" / "x.csv"), code=1).startswith("error[unwritable_out]")
    assert export("ledger", "--out", str(tmp_path), "--format", "csv", code=1).startswith("error[unwritable_out]")
    assert export("ledger", "--out", str(tmp_path / "x.txt"), code=2).startswith("error[invalid_format]")
    out = tmp_path / "x.csv"
    out.write_text("previous export")

    def failing(sheet: Any, stream: Any) -> int:
        stream.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(writers.WRITERS, "csv", failing)
    assert "No space left on device" in export("ledger", "--out", str(out), code=1)
    assert out.read_text() == "previous export" and [p.name for p in tmp_path.iterdir()] == ["x.csv"]
