"""Personal data at rest (docs/privacy.md): with CONVENTIONS_CIPHER_KEY no personal value is in clear
anywhere in the database (events, command receipts, doctor registrations, snapshots if any, every
read-model table, and on SQLite the files' bytes), the list still finds a convention by name and
RPPS, and the history says the same French sentences. Without the key the tables are as before.

Personal values (docs/privacy.md): the doctor's name, RPPS (R19) and numéro AM, the employer's SIRET
(R19), and the free texts (R29): review notes, reasons, termination grounds, payment references;
and the operator's login recorded as the actor of each event.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from stdnum import luhn

from adapters.composition import build_app, build_projections
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from projections import all_models, conventions_list, exports, history, ledger
from projections.conventions_list import name_key
from projections.engine import runner as runner_module
from projections.engine.store import ProjectionStore
from tests.conftest import PG, FixedClock
from tests.helpers import TERMS

RPPS = "8765432109" + luhn.calc_check_digit("8765432109")
SIRET = "73282932000074"  # a valid SIRET (R19)
DOCTOR = "Quintavalle-Brisebois Ségolène"
NOTES = "Entretien avec Mme Rosalinde Vautrin-Pelletier, assistante"
GROUND = "Déménagement du docteur vers Trouvilleneuve"
REFERENCE = "VIR QUINTAVALLE 77310"
REASON = "Appel de Mme Hortensia Wilkowski"
ACTOR = "agent.ophelie.marchetti"
AM = "987654321"
PERSONAL = [DOCTOR, RPPS, SIRET, NOTES, GROUND, REFERENCE, REASON, ACTOR, AM]


def needles() -> set[str]:
    """Every form a personal value could take in clear: as typed, casefolded, accent-free
    (``name_key``), and each word of five letters or more of the texts. A word of digits only must
    have nine or more (an RPPS, a SIRET, a numéro AM): a shorter one ("77310") turns up by chance
    in the sealed values and search tokens, which are random-looking text."""
    out: set[str] = set()
    for value in PERSONAL:
        out |= {value.casefold(), name_key(value)}
        words = name_key(value).replace("-", " ").replace(".", " ").split()
        out |= {w for w in words if len(w) >= (9 if w.isdigit() else 5)}
    return out - {"docteur", "entretien", "assistante", "demenagement", "appel", "agent"}


def record_life(app: ConventionsApp, number: str = "C-PRIV-1", **terms: Any) -> UUID:
    """One convention whose events carry every kind of personal value."""
    meta = CommandMeta(actor=ACTOR, reason=REASON)
    cid = UUID(app.sign(meta, **{**TERMS, "number": number, "rpps": RPPS, "doctor_name": DOCTOR,
                                 "am_number": AM, **terms})["id"])  # fmt: skip
    app.hire(cid, meta, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse", employer_siret=SIRET)
    app.record_due(cid, meta, today=date(2025, 9, 30))
    app.record_payment(cid, meta, instalment="y1-full", paid_on=date(2025, 3, 20), reference=REFERENCE)
    app.hold_review(cid, meta, held_on=date(2025, 9, 10), notes=NOTES)
    app.terminate(cid, meta, on=date(2025, 10, 31), by="cpam", ground=GROUND)
    return cid


# ---------------------------------------------------------------------- what the database holds
def sqlite_cells(path: Path) -> Iterator[tuple[str, str, Any]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            yield path.name, table, None  # seen, even empty
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - names from the catalogue
                for value in row:
                    yield path.name, table, value
    finally:
        conn.close()


def postgres_cells(schema: str) -> Iterator[tuple[str, str, Any]]:
    with psycopg.connect(**PG) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )]  # fmt: skip
        for table in tables:
            yield "postgres", table, None  # seen, even empty
            for row in conn.execute(f"SELECT * FROM {schema}.{table}"):  # noqa: S608 - names from the catalogue
                for value in row:
                    yield "postgres", table, value


def clear_values(cells: Iterator[tuple[str, str, Any]]) -> tuple[set[str], list[tuple[str, str, str]]]:
    """(tables seen, (where, table, personal value) for each cell holding one in clear)."""
    found, seen, look = [], set(), needles()
    for where, table, value in cells:
        seen.add(table)
        if value is None or isinstance(value, int | float):
            continue
        if isinstance(value, bytes | memoryview):  # an event's payload: its UTF-8 bytes
            raw = bytes(value).lower()
            hits = [n for n in look if n.encode() in raw]
        else:
            text = str(value)
            hits = [n for n in look if n in name_key(text) or n in text.casefold()]
        found += [(where, table, n) for n in hits]
    return seen, found


def file_bytes_hits(data_dir: Path) -> list[tuple[str, str]]:
    """Personal values found anywhere in the bytes of the data directory's files (free pages, WAL)."""
    hits = []
    for file in sorted(p for p in data_dir.iterdir() if p.is_file()):
        raw = file.read_bytes().lower()
        hits += [(file.name, n) for n in needles() if n.encode() in raw]
    return hits


# ---------------------------------------------------------------------- fixtures
def keyed(settings: Settings) -> Settings:
    return settings.model_copy(update={"cipher_key": AESCipher.create_key(16)})


@pytest.fixture
def sqlite_keyed(tmp_path: Path) -> Settings:
    return keyed(Settings(store="sqlite", data_dir=tmp_path / "data"))


@pytest.fixture(params=["sqlite", "postgres"])
def any_keyed(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return keyed(Settings(store="sqlite", data_dir=tmp_path / "data"))
    return keyed(request.getfixturevalue("pg_settings"))


def everything(settings: Settings) -> Iterator[tuple[str, str, Any]]:
    if settings.store == "postgres":
        yield from postgres_cells(settings.postgres_schema)
        return
    for file in sorted(settings.data_dir.glob("*.sqlite")):
        yield from sqlite_cells(file)


# ---------------------------------------------------------------------- tests
def test_with_the_key_no_personal_value_is_in_clear_anywhere(any_keyed: Settings) -> None:
    """R19, R29: names, RPPS, numéro AM, SIRET, notes, reasons, grounds, references, actors."""
    app = build_app(any_keyed, clock=FixedClock())
    cid = record_life(app)
    runner = build_projections(any_keyed, app=app)
    assert runner.catch_up() >= 8
    seen, found = clear_values(everything(any_keyed))
    assert found == []
    read_models = {"lst_conventions", "ledger_instalments", "ledger_settlements", "cal_conventions", "cal_alerts",
                   "pf_conventions", "hist_events"}  # fmt: skip
    assert {t for t in seen if t.startswith("pj_")} >= {f"pj_{t}_g1" for t in read_models}
    assert any("events" in t for t in seen)  # the event log (receipts and registrations are its rows too)
    if any_keyed.store == "sqlite":
        assert file_bytes_hits(any_keyed.data_dir) == []
    # ...and every query still answers in clear
    item = conventions_list.search(runner.store, q=RPPS)["items"][0]
    assert (item["doctor_name"], item["rpps"], item["convention_id"]) == (DOCTOR, RPPS, str(cid))
    assert [i["payment_reference"] for i in ledger.instalments(runner.store) if i["payment_reference"]] == [REFERENCE]
    assert [(c["doctor_name"], c["rpps"]) for c in exports.conventions(runner.store)] == [(DOCTOR, RPPS)]
    assert {i["payment_reference"] for i in exports.instalments(runner.store)} == {REFERENCE, None}
    assert runner.verify() == []  # sealing is deterministic: a replay writes the same rows


def test_without_the_key_the_tables_are_as_before(tmp_path: Path) -> None:
    """The detector finds clear values where they have always been (so the test above can fail),
    and the read models keep their columns and their clear rows."""
    settings = Settings(store="sqlite", data_dir=tmp_path / "data")
    app = build_app(settings, clock=FixedClock())
    record_life(app)
    runner = build_projections(settings, app=app)
    runner.catch_up()
    _, found = clear_values(everything(settings))
    tables = {t for _, t, _ in found}
    assert {"stored_events", "pj_lst_conventions_g1", "pj_hist_events_g1", "pj_ledger_settlements_g1"} <= tables
    assert {n for _, n in file_bytes_hits(settings.data_dir)} >= {DOCTOR.casefold(), RPPS, NOTES.casefold()}
    with runner.store.reading() as tx:
        row = tx.fetchall("SELECT rpps, doctor_name, name_key FROM pj_lst_conventions_g1")[0]
        assert row == (RPPS, DOCTOR, name_key(DOCTOR))
        assert {r[0] for r in tx.fetchall("SELECT sealed FROM projection_tracking")} == {""}
    assert runner.store.sealer is None


def test_the_list_finds_by_name_and_rpps_with_the_key(sqlite_keyed: Settings) -> None:
    app = build_app(sqlite_keyed, clock=FixedClock())
    cid = str(record_life(app))
    other = str(
        UUID(app.sign(CommandMeta(actor="a"), **{**TERMS, "number": "C-PRIV-2", "doctor_name": "Aubert Zoé"})["id"])
    )
    third = app.sign(CommandMeta(actor="a"), **{**TERMS, "number": "C-PRIV-3", "doctor_name": "Martin Léa",
                                                "rpps": "10000000017"})["id"]  # fmt: skip
    runner = build_projections(sqlite_keyed, app=app)
    runner.catch_up()
    store = runner.store

    def ids(**query: Any) -> list[str]:
        return [i["convention_id"] for i in conventions_list.search(store, **query)["items"]]

    assert ids(q=RPPS) == ids(rpps=RPPS) == [cid]
    assert ids(q="quintavalle") == ids(q="Brisebois") == ids(name="ségolène") == ids(q="QUINT") == [cid]
    assert ids(name="brisebois segolene") == ids(q="Ségolène Quintavalle") == [cid]  # every word, any order
    assert ids(q="zoe") == [other] and ids(q="C-PRIV-3") == [third]  # number prefix as before
    assert ids(q="avalle") == [] and ids(q="qu") == []  # sealed: no part inside a word, prefixes from 3 letters
    assert ids(q="10000000009") == [other]  # TERMS' RPPS, exact
    assert ids(sort="name") == [other, third, cid]
    assert ids(sort="name", descending=True) == [cid, third, other]
    page = conventions_list.search(store, sort="name", page=2, per_page=2)
    assert (page["total"], [i["doctor_name"] for i in page["items"]]) == (3, [DOCTOR])


def test_the_history_says_the_same_sentences_with_the_key(sqlite_keyed: Settings) -> None:
    app = build_app(sqlite_keyed, clock=FixedClock())
    cid = record_life(app)
    runner = build_projections(sqlite_keyed, app=app)
    runner.catch_up()
    lines = history.timeline(runner.store, cid)
    assert [ln["sentence"] for ln in lines] == [history.line(e)["sentence"] for e in app.history(cid)]
    text = " ".join(ln["sentence"] for ln in lines)
    assert all(v in text for v in (DOCTOR, RPPS, SIRET, NOTES, GROUND, REFERENCE, REASON, ACTOR))


def test_setting_the_key_on_a_store_projected_in_clear_rebuilds_the_read_models(
    sqlite_keyed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose events were encrypted but whose read models a release before this one wrote
    in clear: the next catch-up rebuilds every read model sealed, and the clear pages are gone."""
    app = build_app(sqlite_keyed, clock=FixedClock())
    record_life(app)
    with monkeypatch.context() as before:  # the release before: read models in clear
        before.setattr(runner_module, "seal_like_the_log", lambda store, mapper: False)
        old = runner_module.Runner(app, ProjectionStore.sqlite(sqlite_keyed.projections_sqlite_path()), all_models())
        old.catch_up()
        old.store.close()
    assert clear_values(everything(sqlite_keyed))[1] != []
    runner = build_projections(sqlite_keyed, app=app)
    assert {p["generation"] for p in runner.positions().values()} == set()  # none is current: all rebuilt
    runner.catch_up()
    assert {p["generation"] for p in runner.positions().values()} == {2}
    assert clear_values(everything(sqlite_keyed))[1] == []
    assert file_bytes_hits(sqlite_keyed.data_dir) == []
    assert conventions_list.search(runner.store, q="quintavalle")["total"] == 1
