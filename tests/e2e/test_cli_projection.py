"""The projection commands end to end: project, list, dashboard, verify --projections, rebuild, follow."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.composition import build_app
from adapters.settings import Settings
from domain.convention import CommandMeta
from tests.integration.test_projection_models import build_portfolio
from tests.waiting import wait_until

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    settings = Settings(store="sqlite", data_dir=tmp_path / "data")
    build_portfolio(build_app(settings, clock=lambda: date(2026, 6, 30)))
    return settings.data_dir


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def test_project_then_list_and_dashboard(data_dir: Path) -> None:
    code, out = run("project", "--data-dir", str(data_dir), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["applied"] > 50 and all(p["lag"] == 0 for p in report["projections"].values())
    code, out = run("list", "--data-dir", str(data_dir), "--cpam", "281", "--cpam", "130", "--sort", "name", "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert listed["total"] == 4 and [i["doctor_name"] for i in listed["items"]][:2] == ["Éloïse Lefèvre", "Faure"]
    code, out = run("list", "--data-dir", str(data_dir), "-q", "petit", "--json")
    assert json.loads(out)["items"][0]["status"] == "suspended"
    code, out = run("list", "--data-dir", str(data_dir))
    assert code == 0 and "6 convention(s)" in out
    code, out = run("dashboard", "--data-dir", str(data_dir), "--today", "2026-06-30", "--json")
    assert code == 0, out
    dash = json.loads(out)
    assert sum(c["count"] for c in dash["conventions"]) == 6 and dash["forecast"]
    code, out = run("dashboard", "--data-dir", str(data_dir), "--today", "2026-06-30")
    assert code == 0 and "Prévision" in out


def test_dashboard_is_dated_by_the_application_clock(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Time is injected: without --today the dashboard is the one of CONVENTIONS_TODAY (a virtual date)."""
    monkeypatch.setenv("CONVENTIONS_TODAY", "2026-06-30")
    code, out = run("dashboard", "--data-dir", str(data_dir), "--json")
    assert code == 0, out
    dash = json.loads(out)
    assert dash["today"] == "2026-06-30" and {f["year"] for f in dash["forecast"]} <= set(range(2026, 2031))


def test_verify_passes_then_fails_on_a_tampered_row(data_dir: Path) -> None:
    code, out = run("verify", "--projections", "--data-dir", str(data_dir))
    assert code == 0, out
    assert "Vues conformes" in out
    with sqlite3.connect(data_dir / "projections.sqlite") as db:
        (table,) = db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'pj_lst_conventions_g%'").fetchone()
        db.execute(f"UPDATE {table} SET doctor_name = 'Falsifié' WHERE number = 'C-002'")
        (ledger,) = db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'pj_ledger_instalments_g%'").fetchone()
        db.execute(f"DELETE FROM {ledger} WHERE rowid = (SELECT MIN(rowid) FROM {ledger})")
    code, out = run("verify", "--projections", "--data-dir", str(data_dir), "--json")
    assert code == 1
    report = json.loads(out)
    assert not report["ok"]
    tables = {d["table"] for d in report["differences"]}
    assert tables == {"lst_conventions", "ledger_instalments"}
    tampered = next(d for d in report["differences"] if d["table"] == "lst_conventions")
    assert "Falsifié" in tampered["live"] and "Éloïse Lefèvre" in tampered["fresh"]
    missing = next(d for d in report["differences"] if d["table"] == "ledger_instalments")
    assert missing["live"] is None and missing["fresh"] is not None
    code, _ = run("verify", "--data-dir", str(data_dir), "--workers", "1")
    assert code == 1  # the whole audit includes the views


def test_verify_compares_rows_not_their_order_on_disk(data_dir: Path) -> None:
    """verify's quick proof pairs rows by rowid; rows stored in another order are still the same
    rows (the comparison falls back to sets), and a row changed in place is still named."""
    assert run("project", "--data-dir", str(data_dir))[0] == 0
    with sqlite3.connect(data_dir / "projections.sqlite") as db:
        (history,) = db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'pj_hist_events_g%'").fetchone()
        first = db.execute(f"SELECT * FROM {history} WHERE rowid = (SELECT MIN(rowid) FROM {history})").fetchone()
        db.execute(f"DELETE FROM {history} WHERE rowid = (SELECT MIN(rowid) FROM {history})")
        db.execute(f"INSERT INTO {history} VALUES ({', '.join('?' * len(first))})", first)  # same row, last rowid
    code, out = run("verify", "--projections", "--data-dir", str(data_dir))
    assert code == 0, out
    with sqlite3.connect(data_dir / "projections.sqlite") as db:
        db.execute(f"UPDATE {history} SET topic = 'falsifié' WHERE rowid = (SELECT MAX(rowid) FROM {history})")
    code, out = run("verify", "--projections", "--data-dir", str(data_dir), "--json")
    assert code == 1, out
    (difference,) = json.loads(out)["differences"]
    assert difference["table"] == "hist_events" and "falsifié" in difference["live"]


def test_rebuild_builds_beside_then_switches(data_dir: Path) -> None:
    assert run("project", "--data-dir", str(data_dir))[0] == 0
    with sqlite3.connect(data_dir / "projections.sqlite") as db:
        before = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        rows_before = db.execute("SELECT * FROM pj_lst_conventions_g1 ORDER BY convention_id").fetchall()
        db.execute("UPDATE pj_lst_conventions_g1 SET doctor_name = 'Falsifié'")  # a rebuild repairs it
    code, out = run("rebuild", "conventions_list", "--data-dir", str(data_dir), "--json")
    assert code == 0, out
    assert json.loads(out)["rebuilt"] == {"conventions_list": 2}
    with sqlite3.connect(data_dir / "projections.sqlite") as db:
        after = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        rows_after = db.execute("SELECT * FROM pj_lst_conventions_g2 ORDER BY convention_id").fetchall()
    assert "pj_lst_conventions_g1" in before and "pj_lst_conventions_g1" not in after
    assert "pj_lst_conventions_g2" in after and "pj_hist_events_g1" in after  # the others untouched
    assert rows_after == rows_before
    code, out = run("rebuild", "--data-dir", str(data_dir))
    assert code == 0 and "génération" in out
    assert run("rebuild", "nope", "--data-dir", str(data_dir))[0] == 1
    assert run("verify", "--projections", "--data-dir", str(data_dir))[0] == 0


def test_following_shows_new_events_without_a_restart(data_dir: Path) -> None:
    """The follower keeps polling: each new convention reaches the list while it runs. How fast is a
    figure of ``bench/projections.py`` (follow latency, docs/benchmarks.md), not a bet of this test."""
    env = dict(os.environ, CONVENTIONS_DATA_DIR=str(data_dir))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from adapters.cli import main; main()", "project", "--follow", "--poll", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        settings = Settings(store="sqlite", data_dir=data_dir)
        app = build_app(settings, clock=lambda: date(2026, 6, 30))
        from adapters.composition import build_projection_store
        from projections import conventions_list

        store = build_projection_store(settings)

        def caught_up(cpams: set[str] | None = None, total: int = 6) -> bool:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                return conventions_list.search(store, cpams=cpams)["total"] >= total
            except LookupError:  # no live tables yet
                return False

        wait_until(caught_up, "the follower's first catch-up (6 conventions listed)")
        for n in range(3):
            from tests.integration.test_projection_models import sign

            sign(app, CommandMeta(actor="agent.suivi"), 900 + n, cpam="974", name=f"Nouveau {n}")
            wait_until(lambda n=n: caught_up({"974"}, n + 1), f"new convention {n} in the list")
        store.close()
    finally:
        proc.send_signal(signal.SIGTERM)  # its own pid
        assert proc.wait(timeout=10) == 0, proc.stderr.read().decode() if proc.stderr else ""
