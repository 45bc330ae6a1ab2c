"""``conventions import``: a spreadsheet of conventions becomes the operators' commands (issue 12).

Everything through the CLI on the SQLite default store, with a virtual today (R21)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from adapters.composition import build_app
from adapters.importer import sample
from adapters.settings import Settings
from domain.identifiers import convention_id
from tests.helpers import cli_invoker

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "samples" / "conventions.csv"
TODAY = "2026-11-30"

# A GP of CPAM 281 on FULL, BASE tier, effective 2025-03-01 (worked case 1 of the rules).
ROW = {
    "number": "IMP-1", "cpam": "281", "rpps": "10000000009", "name": "Dr Martin", "specialty": "general_practice",
    "sector": "1", "option": "FULL", "percentile": "50", "patients": "1000", "target": "1200",
    "signed": "01/02/2025", "effective": "2025-03-01", "hired": "2025-03-01", "fte": "1", "profile": "nurse",
    "payments": "2025-03-20:y1-full:38 000,00:VIR-1;2026-03-10:2/total:28000",
}  # fmt: skip


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def run(data: Path):  # noqa: ANN201
    return cli_invoker({"CONVENTIONS_DATA_DIR": str(data), "CONVENTIONS_TODAY": TODAY, "COLUMNS": "200"})


def write(path: Path, rows: list[dict[str, str]], *, encoding: str = "utf-8", delimiter: str = ";") -> Path:
    header = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows([[r.get(h, "") for h in header] for r in rows])
    return path


def stored_events(data: Path) -> int:
    return build_app(Settings(data_dir=data)).head()


def imported(run, path: Path, *args: str) -> dict:  # noqa: ANN001
    """The JSON report of an import that succeeds."""
    return json.loads(run("import", str(path), "--json", *args))


def test_the_documented_sample_imports_cleanly_then_is_already_imported(run, data: Path) -> None:  # noqa: ANN001
    first = imported(run, SAMPLE)
    rows = sum(1 for _ in SAMPLE.open(encoding="utf-8")) - 1
    assert rows >= 20 and len(first["imported"]) == rows and first["errors"] == []
    head = stored_events(data)
    assert head > rows * 10
    again = imported(run, SAMPLE)
    assert again["imported"] == [] and len(again["already_imported"]) == rows
    assert f"déjà importées : {rows}" in run("import", str(SAMPLE))
    assert stored_events(data) == head  # nothing new, not even a receipt


def test_history_names_the_import_and_the_rules_amounts_are_settled(run, tmp_path: Path) -> None:  # noqa: ANN001
    path = write(tmp_path / "cpam281.csv", [ROW])
    out = imported(run, path, "--actor", "alice")
    cid = str(convention_id("281", "IMP-1"))
    assert out["imported"][0]["id"] == cid
    history = json.loads(run("history", cid, "--json"))
    assert {e["actor"] for e in history} == {"import:alice"}
    assert all(e["reason"].startswith("import cpam281.csv, ligne 2 : ") for e in history)
    assert history[0]["type"] == "Signed" and history[0]["command_id"].startswith("import:281:IMP-1:")
    dates = [e["effective_date"] for e in history]
    assert max(dates) <= TODAY  # R21: nothing dated after today
    shown = json.loads(run("show", cid, "--json"))
    by_id = {i["id"]: i for i in shown["instalments"]}
    # R3 + R6 (C-2024, FULL, BASE): year 1 38 000 in full, year 2 28 000 at anniversary 1, both paid as written
    assert (by_id["y1-full"]["amount"], by_id["y1-full"]["status"], by_id["y1-full"]["paid_on"]) == (
        "38000.00", "paid", "2025-03-20")  # fmt: skip
    assert (by_id["y2-full"]["amount"], by_id["y2-full"]["fell_due_on"], by_id["y2-full"]["status"]) == (
        "28000.00", "2026-03-01", "paid")  # fmt: skip
    assert set(by_id) == {"y1-full", "y2-full"}  # year 3 starts 2027-03-01: nothing else due yet
    # R11: the reviews fell due every six months from the effective date, up to today
    assert [r["due_date"] for r in shown["reviews"]] == ["2025-09-01", "2026-03-01", "2026-09-01"]


def test_a_suspension_moves_the_anniversary(run, tmp_path: Path) -> None:  # noqa: ANN001
    """R16 worked case 9: suspended 2026-05-01..2026-08-31 (123 days): anniversary 2 moves to 2027-07-02."""
    row = ROW | {"number": "IMP-9", "payments": "", "suspensions": "2026-05-01..2026-08-31:long_absence:03/05/2026"}
    imported(run, write(tmp_path / "s.csv", [row]))
    shown = json.loads(run("show", str(convention_id("281", "IMP-9")), "--json"))
    assert shown["anniversaries"][2] == "2027-07-02"
    assert shown["status"] == "active"


def test_a_latin1_file_is_refused_with_advice(run, tmp_path: Path, data: Path) -> None:  # noqa: ANN001
    path = write(tmp_path / "latin1.csv", [ROW | {"name": "Dr Léa Hervé"}], encoding="latin-1")
    err = run("import", str(path), code=1)
    assert "error[file_encoding]" in err and "UTF-8" in err and "ligne 2" in err
    assert stored_events(data) == 0


def test_missing_required_columns_are_named(run, tmp_path: Path, data: Path) -> None:  # noqa: ANN001
    path = write(tmp_path / "cols.csv", [{k: v for k, v in ROW.items() if k not in ("rpps", "option")}])
    err = run("import", str(path), code=1)
    assert "error[missing_columns]" in err and "rpps, option" in err
    assert stored_events(data) == 0


def test_every_bad_row_is_reported_and_nothing_stored(run, tmp_path: Path, data: Path) -> None:  # noqa: ANN001
    rows = [
        ROW,
        ROW | {"number": "IMP-2", "rpps": "10000000010", "signed": "2025-02-30"},  # bad Luhn key, no 30 February
        ROW | {"rpps": "10000000017"},  # the number of line 2 again
        ROW | {"number": "IMP-4", "rpps": "10000000025", "payments": "2025-03-20:y1-full:-38000"},
        ROW | {"number": "IMP-5", "rpps": "10000000033", "option": "QUARTER"},
    ]
    path = write(tmp_path / "bad.csv", rows)
    stdout = cli_stdout(data, path)
    errors = {(e["line"], e["column"]) for e in stdout["errors"]}
    assert errors == {(3, "rpps"), (3, "signed"), (4, "number"), (5, "payments"), (6, "option")}
    messages = " ".join(e["message"] for e in stdout["errors"])
    assert "Luhn" in messages and "n'existe pas" in messages and "déjà sur la ligne 2" in messages
    assert "négatif" in messages and "QUARTER" in messages
    assert not stdout["stored"] and stored_events(data) == 0


def cli_stdout(data: Path, path: Path, *args: str, code: int = 1) -> dict:
    """The JSON report of an import expected to exit with ``code``."""
    from typer.testing import CliRunner

    from adapters.cli import app as cli

    env = {"CONVENTIONS_DATA_DIR": str(data), "CONVENTIONS_TODAY": TODAY}
    result = CliRunner().invoke(cli, ["import", str(path), "--json", *args], env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_a_rule_only_the_domain_sees_refuses_the_whole_row(run, tmp_path: Path, data: Path) -> None:  # noqa: ANN001
    """A payment of an amount the rules do not give (R3), one of an instalment not yet due (R6): the
    rows are refused whole, the good one is not stored either (all or nothing)."""
    rows = [
        ROW,
        ROW | {"number": "IMP-2", "rpps": "10000000017", "payments": "2025-03-20:y1-full:36000"},
        ROW | {"number": "IMP-3", "rpps": "10000000025", "payments": "2025-03-20:y3-advance:11000"},
    ]
    report = cli_stdout(data, write(tmp_path / "rules.csv", rows))
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(3, "payments"), (4, "payments")]
    assert "38000.00 € selon les règles" in report["errors"][0]["message"]
    assert "unknown_instalment" in report["errors"][1]["message"]
    assert report["rules_checked"] and stored_events(data) == 0


def test_skip_invalid_writes_the_rejected_rows_which_import_once_fixed(run, tmp_path: Path, data: Path) -> None:  # noqa: ANN001
    rows = [ROW, ROW | {"number": "IMP-2", "rpps": "10000000018"}, ROW | {"number": "IMP-3", "rpps": "10000000025"}]
    path = write(tmp_path / "mixed.csv", rows)
    out = imported(run, path, "--skip-invalid")
    assert [c["number"] for c in out["imported"]] == ["IMP-1", "IMP-3"] and out["rejected_lines"] == [3]
    rejected = Path(out["rejected_file"])
    assert rejected == tmp_path / "mixed.rejets.csv"
    with rejected.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.DictReader(f, delimiter=";"))
    assert len(lines) == 1 and lines[0]["number"] == "IMP-2" and "Luhn" in lines[0]["erreur"]
    lines[0]["rpps"] = "10000000017"  # fixed
    write(rejected, lines)
    again = imported(run, rejected)
    assert [c["number"] for c in again["imported"]] == ["IMP-2"] and again["errors"] == []
    assert json.loads(run("show", str(convention_id("281", "IMP-2")), "--json"))["doctor"]["rpps"] == "10000000017"


def test_check_stores_nothing(run, tmp_path: Path, data: Path) -> None:  # noqa: ANN001
    out = imported(run, write(tmp_path / "c.csv", [ROW]), "--check")
    assert out["imported"][0]["number"] == "IMP-1" and not out["stored"]
    assert stored_events(data) == 0


def test_an_xlsx_file_imports(run, tmp_path: Path) -> None:  # noqa: ANN001
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(ROW))
    cells = [
        date(2025, 2, 1) if k == "signed" else 1000 if k == "patients" else 50 if k == "percentile" else v
        for k, v in ROW.items()
    ]
    sheet.append(cells)
    book.save(tmp_path / "c.xlsx")
    out = imported(run, tmp_path / "c.xlsx")
    assert [c["number"] for c in out["imported"]] == ["IMP-1"]


def test_a_100000_line_file_gets_a_clear_report_and_nothing_stored(tmp_path: Path, data: Path) -> None:
    rows = sample.generate(100_000, date.fromisoformat(TODAY), payments=False)
    rows[41_999]["rpps"] = "10000000010"  # line 42 001: a bad Luhn key
    rows[99_999]["effective"] = "2025-13-01"  # line 100 001: no 13th month
    report = cli_stdout(data, write(tmp_path / "big.csv", rows), "--errors", str(tmp_path / "errors.csv"))
    assert report["rows"] == 100_000
    assert report["rejected_lines"] == [42_001, 100_001] and not report["stored"]
    assert "rien n'a été enregistré" in report["verdict"]
    assert (tmp_path / "errors.csv").read_text(encoding="utf-8-sig").count("\n") == 3
    assert stored_events(data) == 0


# ----------------------------------------------------------------------------- --workers (issue 12: speed)
@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker counts the parallel path ran with (empty: the rows were decided in this process)."""
    from adapters.importer import parallel

    runs: list[int] = []
    real = parallel.import_rows

    def recorded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        runs.append(kwargs["workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "import_rows", recorded)
    return runs


def log_by_stream(data: Path) -> dict[str, list[dict]]:
    """Every stored event (conventions, doctors' registrations, receipts) per stream, in version
    order, as its fields say (the wall-clock ``timestamp`` aside)."""
    streams: dict[str, list[dict]] = {}
    for _, event in build_app(Settings(data_dir=data)).log_after():
        fields = event.model_dump(mode="json", exclude={"timestamp"})
        streams.setdefault(fields.pop("originator_id"), []).append({"type": type(event).__name__, **fields})
    return streams


def test_two_workers_store_the_same_events_as_one_and_the_audit_passes(tmp_path: Path, spy: list[int]) -> None:
    """The sample (24 conventions) imported by one process and by two: the same streams, each with the
    same events (types, effective dates, amounts, every field but the wall clock), chained so that
    ``conventions verify`` (books, hash chain, rules R1-R29, read models) finds nothing."""
    one = cli_invoker({"CONVENTIONS_DATA_DIR": str(tmp_path / "one"), "CONVENTIONS_TODAY": TODAY})
    two = cli_invoker({"CONVENTIONS_DATA_DIR": str(tmp_path / "two"), "CONVENTIONS_TODAY": TODAY})
    first = json.loads(one("import", str(SAMPLE), "--json", "--workers", "1"))
    assert spy == []
    second = json.loads(two("import", str(SAMPLE), "--json", "--workers", "2"))
    assert spy == [2]
    assert second["imported"] == first["imported"] and len(first["imported"]) == 24  # in the file's order
    streams = log_by_stream(tmp_path / "one")
    assert log_by_stream(tmp_path / "two") == streams
    cid = str(convention_id("451", "C-2024-00001"))
    assert {"Signed", "InstalmentDue", "PaymentRecorded"} <= {e["type"] for e in streams[cid]}
    assert any(e.get("amount") for e in streams[cid])  # amounts are compared, not only types
    audit = json.loads(two("verify", "--json", "--workers", "1"))
    assert audit["parts"] == ["books", "chain", "rules", "projections"] and audit["ok"]
    # a snapshot at every 20th version of each convention, as the events rebuild it (taken from the
    # decided events at the save, not re-read: same content as the library's)
    conventions = [events for events in streams.values() if events[0]["type"] == "Signed"]
    for invoke in (one, two):
        checked = json.loads(invoke("snapshots", "check", "--json"))
        assert checked["snapshots"] == sum(len(events) // 20 for events in conventions) > 0
        assert checked["differ"] == []
    again = json.loads(two("import", str(SAMPLE), "--json", "--workers", "2"))
    assert again["imported"] == [] and len(again["already_imported"]) == 24


def test_a_rule_refusal_in_one_worker_stores_nothing_from_any(run, tmp_path: Path, data: Path, spy: list[int]) -> None:  # noqa: ANN001
    """All or nothing across processes: row 2 (worker 2 of 2) breaks R3; rows 1 and 3, decided cleanly
    by worker 1, are not stored either. With --skip-invalid, both workers store their good rows."""
    rows = [
        ROW,
        ROW | {"number": "IMP-2", "rpps": "10000000017", "payments": "2025-03-20:y1-full:36000"},
        ROW | {"number": "IMP-3", "rpps": "10000000025"},
    ]
    path = write(tmp_path / "rules.csv", rows)
    report = cli_stdout(data, path, "--workers", "2")
    assert spy == [2]
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(3, "payments")]
    assert "38000.00 € selon les règles" in report["errors"][0]["message"]
    assert not report["stored"] and stored_events(data) == 0
    out = imported(run, path, "--workers", "2", "--skip-invalid")
    assert [c["number"] for c in out["imported"]] == ["IMP-1", "IMP-3"] and out["rejected_lines"] == [3]
    assert json.loads(run("show", str(convention_id("281", "IMP-3")), "--json"))["number"] == "IMP-3"


def test_two_workers_read_the_rows_and_refuse_the_same_ones_as_one(tmp_path: Path, data: Path, spy: list[int]) -> None:
    """Each worker reads its share of the rows; the file's duplicates (R8: one RPPS, one number per
    CPAM), found by the parent across the shares, and every form error come out as with one process."""
    rows = [
        ROW,
        ROW | {"number": "IMP-2", "rpps": "10000000010", "signed": "2025-02-30"},  # bad Luhn key, no 30 February
        ROW | {"rpps": "10000000017"},  # the number of line 2 again (read by the other worker)
        ROW | {"number": "IMP-4"},  # the RPPS of line 2 again
        ROW | {"number": "IMP-5", "rpps": "10000000033", "option": "QUARTER"},
    ]
    path = write(tmp_path / "bad.csv", rows)
    one, two = (cli_stdout(data, path, "--workers", n)["errors"] for n in ("1", "2"))
    assert spy == [2]
    assert two == one and {(e["line"], e["column"]) for e in two} == {
        (3, "rpps"), (3, "signed"), (4, "number"), (5, "rpps"), (6, "option")}  # fmt: skip
    assert stored_events(data) == 0


def test_a_worker_that_fails_while_deciding_stops_the_import_with_nothing_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row 2 (worker 2 of 2) makes its worker fail (a bug, a lost connection); worker 1 decided row 1
    cleanly: the import fails with the worker's error and nothing is stored by either."""
    from adapters.importer import parallel, steps
    from adapters.importer.run import import_file

    def failing(app, plan):  # noqa: ANN001, ANN202 - inherited by the forked workers
        if plan.number == "IMP-2":
            raise OSError("base inaccessible")
        return steps.decide(app, plan)

    monkeypatch.setattr(parallel, "decide", failing)
    settings = Settings(data_dir=tmp_path / "data")
    app = build_app(settings, clock=lambda: date.fromisoformat(TODAY))
    rows = [ROW, ROW | {"number": "IMP-2", "rpps": "10000000017"}]
    path = write(tmp_path / "c.csv", rows)
    with pytest.raises(parallel.WorkerFailed, match="base inaccessible"):
        import_file(app, path, actor="import:test", workers=2, open_app=lambda: build_app(settings))
    assert app.head() == 0


def test_a_failed_worker_is_an_error_line_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI says which error stopped the import and what to do, exit 1, nothing stored."""
    from typer.testing import CliRunner

    from adapters.cli import app as cli
    from adapters.importer import parallel

    def failing(app, plan):  # noqa: ANN001, ANN202 - inherited by the forked workers
        raise OSError("base inaccessible")

    monkeypatch.setattr(parallel, "decide", failing)
    data = tmp_path / "data"
    path = write(tmp_path / "c.csv", [ROW, ROW | {"number": "IMP-2", "rpps": "10000000017"}])
    env = {"CONVENTIONS_DATA_DIR": str(data), "CONVENTIONS_TODAY": TODAY}
    result = CliRunner().invoke(cli, ["import", str(path), "--workers", "2"], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit | None), result.exception
    assert "error[import_worker_failed]: " in result.stderr and "base inaccessible" in result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("error[import_worker_failed]: "))
    assert line.startswith("error[import_worker_failed]: OSError: base inaccessible Relancer l'import")
    assert stored_events(data) == 0
