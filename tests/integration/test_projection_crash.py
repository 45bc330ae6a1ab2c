"""Exactly once, whatever happens: the runner killed (``kill -9``) at random points many times, on
SQLite and on PostgreSQL, ends with read models equal to a clean replay. Gaps in ids are harmless."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from adapters.composition import build_app, build_projection_store, build_projections
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta, Convention
from domain.values import Option, Profile
from projections import conventions_list, history
from projections.engine.store import ProjectionStore
from tests.conftest import FixedClock
from tests.integration.test_projection_models import build_portfolio, rpps, sign
from tests.waiting import wait_until

META = CommandMeta(actor="agent.crash", reason="charge")


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue("sqlite_settings" if request.param == "sqlite" else "pg_settings")


def grow(app: ConventionsApp, first: int, count: int) -> None:
    """``count`` more conventions, each hired and ticked over a few years (about 25 events each)."""
    for n in range(first, first + count):
        cid = sign(app, META, n, cpam=("281", "751", "130")[n % 3], effective=date(2022 + n % 3, 1 + n % 12, 1))
        app.hire(cid, META, hired_on=date(2022 + n % 3, 1 + n % 12, 1), fte=Decimal("0.5"), profile=Profile.SECRETARY)
        app.tick(META, today=date(2026, 6, 30), ids=[cid])


def bulk(app: ConventionsApp, first: int, count: int) -> None:
    """Many conventions fast: the aggregate's own commands, one ``save`` per convention (no receipts)."""
    for n in range(first, first + count):
        start = date(2021 + n % 4, 1 + n % 12, 1)
        conv = Convention.sign(
            META, number=f"B-{n:05d}", cpam_code=("281", "751", "130")[n % 3], rpps=rpps(n), doctor_name=f"Dr {n}",
            specialty="general_practice", sector=1, optam=False, ccam_share=None, newly_installed=False,
            option=Option.HALF, percentile=40 + n % 60, initial_patients=900, target_patients=1100,
            signed_on=start, effective_from=start,
        )  # fmt: skip
        conv.hire(META, hired_on=start, fte=Decimal("0.5"), profile=Profile.NURSE)
        conv.record_due(META, today=date(2024, 12, 31))
        if conv.contract_year >= 3:
            conv.record_attainment(META, year=1, observed_patients=950 + n % 200, on=date(2024, 12, 31))
        conv.record_due(META, today=date(2026, 6, 30))
        app.save(conv)


def env_for(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CONVENTIONS_STORE": settings.store, "CONVENTIONS_DATA_DIR": str(settings.data_dir)})
    if settings.store == "postgres":
        env.update({
            "CONVENTIONS_POSTGRES_HOST": settings.postgres_host,
            "CONVENTIONS_POSTGRES_PORT": str(settings.postgres_port),
            "CONVENTIONS_POSTGRES_USER": settings.postgres_user,
            "CONVENTIONS_POSTGRES_DBNAME": settings.postgres_dbname,
            "CONVENTIONS_POSTGRES_SCHEMA": settings.postgres_schema,
        })  # fmt: skip
    return env


class RunnerProcess:
    """``conventions project`` (or ``rebuild``) in a subprocess; its stderr goes to a file, never to a
    pipe nobody reads (a full pipe would stall the runner and look like a slow machine)."""

    def __init__(self, settings: Settings, batch_size: int, command: str = "project") -> None:
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in wait()
        self.p = subprocess.Popen(
            [sys.executable, "-c", "from adapters.cli import main; main()", command, "--batch-size", str(batch_size)],
            env=env_for(settings), stdout=subprocess.DEVNULL, stderr=self.errors,
        )  # fmt: skip

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace")

    def check_running(self, waiting_for: str) -> None:
        if self.p.poll() is not None:
            raise AssertionError(f"it exited ({self.p.returncode}) before {waiting_for}:\n{self.stderr()}")

    def kill(self) -> None:
        os.kill(self.p.pid, signal.SIGKILL)  # by its own pid, never by name

    def wait(self, timeout: float) -> int:
        try:
            return self.p.wait(timeout=timeout)
        finally:
            self.errors.close()


def live_position(store: ProjectionStore, name: str = "history") -> int:
    """The committed position of ``name``'s live generation, read from the tracking table."""
    with store.reading() as tx:
        return next((p for _, p, live in store.generations(tx, name) if live), 0)


def empty_live_tables(settings: Settings, app: ConventionsApp) -> None:
    """Live tables at position 0: the runner then catches up batch by batch, as after a downtime
    (with no live tables at all it would build them like a rebuild, beside, then switch)."""
    runner = build_projections(settings, app=app)
    with runner.store.transaction() as tx:
        for m in runner.models:
            runner.store.create_generation(tx, m.name, m.tables, live=True)
    runner.store.close()


def test_killed_at_random_points_the_read_models_equal_a_clean_replay(settings: Settings) -> None:
    rng = random.Random(20261122)
    app = build_app(settings, clock=lambda: date(2026, 6, 30))
    build_portfolio(app)
    bulk(app, 1000, 300)  # about 8 000 events: a few seconds of work at 1-3 events per transaction
    empty_live_tables(settings, app)
    watch = build_projection_store(settings)  # read-only use: the tracking table, between commits
    kills = mid_batch = 0
    positions = []
    next_n = 50
    for _ in range(12):
        # Kill on evidence, never on a guess of time: once the runner has committed a random number
        # of events (up to a few hundred, at most half of the backlog) beyond where it started, so
        # that it is stopped in the middle of its catch-up however fast or slow the machine is.
        start, head = live_position(watch), app.recorder.max_notification_id() or 0
        most = min(400, (head - start) // 2)
        past = start + rng.randint(min(20, most), most)
        proc = RunnerProcess(settings, batch_size=rng.choice([1, 2, 3]))

        def moved(proc: RunnerProcess = proc, past: int = past) -> bool:
            proc.check_running(f"position {past}")
            return live_position(watch) >= past

        wait_until(moved, f"the runner to commit up to position {past} (from {start}, head {head})", interval=0.005)
        proc.kill()
        kills += 1
        proc.wait(timeout=30)
        runner = build_projections(settings, app=app)
        pos = runner.positions()
        runner.store.close()
        positions.append(pos["history"]["position"])
        mid_batch += pos["history"]["lag"] > 0
        grow(app, next_n, 2)  # the office keeps working between crashes...
        bulk(app, 5000 + next_n * 40, 40)  # ... and a backlog builds up (about 1 000 events)
        next_n += 2
    watch.close()
    assert kills >= 8, f"the runner finished too early to be killed ({kills} kills)"
    assert mid_batch >= 4, f"too few kills interrupted the catch-up: {positions}"
    # A final uninterrupted run, then: every live row equals a clean replay, and nothing is lost.
    proc = RunnerProcess(settings, batch_size=50)
    assert proc.wait(timeout=120) == 0, proc.stderr()
    runner = build_projections(settings, app=app)
    assert all(p["lag"] == 0 for p in runner.positions().values())
    assert runner.verify() == []
    assert conventions_list.search(runner.store)["total"] == len(list(app.convention_ids()))
    some = next(iter(app.convention_ids()))
    assert [line["version"] for line in history.timeline(runner.store, some)] == [
        e.originator_version for e in app.history(some)
    ]
    runner.store.close()
    app.close()  # its PostgreSQL pool: the server has a connection limit shared by every session


def test_a_killed_rebuild_leaves_the_live_tables_alone(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from projections import engine as projections  # the runner is the engine's (loaded by build_projections)

    app = build_app(settings, clock=lambda: date(2026, 6, 30))
    build_portfolio(app)
    bulk(app, 3000, 300)
    runner = build_projections(settings, app=app)
    runner.catch_up()
    live = runner.positions()
    head = runner.head()
    proc = RunnerProcess(settings, batch_size=1, command="rebuild")

    def started_beside() -> list[int]:  # a generation beside the live one, a few batches in, far from done
        proc.check_running("a rebuild generation moved past position 10")
        with runner.store.reading() as tx:
            return [g for g, p, is_live in runner.store.generations(tx, "history") if not is_live and p >= 10]

    abandoned = wait_until(started_beside, f"the rebuild to write a few batches (head {head})", interval=0.005)
    proc.kill()
    proc.wait(timeout=30)
    assert abandoned, "the killed rebuild had started a generation beside the live one"
    assert runner.positions() == live
    assert runner.verify() == []
    monkeypatch.setattr(projections.runner, "ABANDONED_AFTER", float("inf"))  # not idle long enough (however
    rebuilt = runner.rebuild()  # slow this machine): it might still be running elsewhere, left alone for now
    with runner.store.reading() as tx:
        assert [(g, live) for g, _, live in runner.store.generations(tx, "history")] == [
            (abandoned[0], False),
            (rebuilt["history"], True),
        ]
    monkeypatch.setattr(projections.runner, "ABANDONED_AFTER", 0.0)  # ... until idle long enough
    rebuilt = runner.rebuild()
    with runner.store.reading() as tx:  # the abandoned generation and the old live one are gone
        assert [(g, live) for g, _, live in runner.store.generations(tx, "history")] == [(rebuilt["history"], True)]
    runner.store.close()
    app.close()  # its PostgreSQL pool: the server has a connection limit shared by every session


def test_gaps_in_notification_ids_are_harmless(settings: Settings) -> None:
    clock = FixedClock(date(2026, 6, 30))
    app = build_app(settings, clock=clock)
    ids = build_portfolio(app)
    clock.today = date(2026, 7, 3)  # the reviews below are held in the following days (R21)
    runner = build_projections(settings, app=app, batch_size=5)
    runner.catch_up()
    before = runner.head()
    if settings.store == "postgres":  # a failed insert consumes ids: a real gap
        stale = app.get(ids["max"])
        app.hold_review(ids["max"], META, held_on=date(2026, 7, 1))
        stale.hold_review(META, held_on=date(2026, 7, 2))
        with pytest.raises(Exception):  # noqa: B017,PT011 - the store's IntegrityError
            app.save(stale)
    else:  # remove a command receipt in the middle of the log: a hole in the rowids
        with sqlite3.connect(settings.events_sqlite_path()) as db:
            row = db.execute(
                "SELECT rowid FROM stored_events WHERE topic = 'cpam.ReceiptIssued' ORDER BY rowid DESC LIMIT 1"
            ).fetchone()
            app.hold_review(ids["max"], META, held_on=date(2026, 7, 1))
            db.execute("DELETE FROM stored_events WHERE rowid = ?", row)
    app.hold_review(ids["full"], META, held_on=date(2026, 7, 3))
    grow(app, 100, 3)
    assert runner.catch_up() > 0
    assert runner.head() > before
    assert runner.verify() == []
    assert history.timeline(runner.store, ids["full"])[-1]["event_type"] == "ReviewHeld"
    runner.store.close()
    app.close()  # its PostgreSQL pool: the server has a connection limit shared by every session


def test_a_rollback_in_the_middle_of_a_batch_leaves_nothing_behind(sqlite_settings: Settings) -> None:
    app = build_app(sqlite_settings, clock=lambda: date(2026, 6, 30))
    build_portfolio(app)
    empty_live_tables(sqlite_settings, app)
    runner = build_projections(sqlite_settings, app=app, batch_size=10)
    history_model = runner.model("history")
    original = history_model.apply
    calls = {"n": 0}

    def failing(tx, items):  # noqa: ANN001, ANN202
        calls["n"] += 1
        original(tx, items)
        if calls["n"] == 4:
            raise RuntimeError("boom in the middle of a batch")

    history_model.apply = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        runner.catch_up()
    pos = runner.positions()
    assert len({p["position"] for p in pos.values()}) == 1  # all read models stopped at the same batch
    history_model.apply = original  # type: ignore[method-assign]
    runner.catch_up()
    assert runner.verify() == []
    assert UUID(conventions_list.search(runner.store)["items"][0]["convention_id"])


def _dump(runner) -> dict[str, list[tuple]]:  # noqa: ANN001
    out = {}
    with runner.store.reading() as tx:
        for m in runner.models:
            runner.store.resolve(tx, m.name, m.tables)
            for table in m.tables:
                cols = ", ".join(table.column_names)
                out[table.name] = sorted(tx.fetchall(f"SELECT {cols} FROM {tx.t(table.name)}"), key=repr)
    return out


def test_a_small_cache_evicts_and_gives_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    app = build_app(Settings(store="memory"), clock=lambda: date(2026, 6, 30))
    build_portfolio(app)
    bulk(app, 2000, 30)
    reference = build_projections(Settings(store="memory"), app=app, batch_size=64)
    reference.catch_up()
    import projections.base

    monkeypatch.setattr(projections.base, "MAX_CACHED", 6)  # the calendar's cache too: it is the base's
    small = build_projections(Settings(store="memory"), app=app, batch_size=64)
    small.catch_up()
    assert _dump(small) == _dump(reference)
    small.rebuild()  # deferred writes with evictions
    assert _dump(small) == _dump(reference)
    assert all(len(m.cache) <= 6 for m in small.models if hasattr(m, "cache"))
