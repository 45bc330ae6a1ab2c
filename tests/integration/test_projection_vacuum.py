"""The follower keeps the read-model tables it rewrites lean: PostgreSQL's autovacuum may be off
(it is on this machine's server) or late, and every read scans the dead versions of updated rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.composition import build_projection_store
from adapters.projection_follower import Follower
from adapters.settings import Settings
from projections.engine.store import ProjectionStore
from scheduler.lock import FileLock
from tests.conftest import PG
from tests.waiting import wait_until


@pytest.fixture
def store(pg_settings: Settings) -> Iterator[ProjectionStore]:
    store = build_projection_store(pg_settings)
    yield store
    store.close()


def rewritten(store: ProjectionStore, table: str, times: int) -> None:
    """A table of 10 rows, each rewritten ``times`` times (as a read model rewrites a convention's row)."""
    with store.transaction() as tx:
        tx.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        tx.executemany(f"INSERT INTO {table} VALUES (?, 0)", [(i,) for i in range(10)])
    for _ in range(times):
        with store.transaction() as tx:
            tx.execute(f"UPDATE {table} SET n = n + 1")


def stats(schema: str, table: str) -> tuple[int, int, int]:
    """(rows updated, dead rows, vacuums so far) as the server's statistics say (the dead rows are
    fewer than the updates: PostgreSQL prunes some versions of a full page as it goes)."""
    with psycopg.connect(**PG, autocommit=True) as conn:
        row = conn.execute(
            "SELECT n_tup_upd, n_dead_tup, vacuum_count FROM pg_stat_user_tables "
            "WHERE schemaname = %s AND relname = %s",
            (schema, table),
        ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


@pytest.mark.postgres
def test_only_read_model_tables_with_more_dead_rows_than_live_ones_are_vacuumed(
    store: ProjectionStore, pg_schema: str
) -> None:
    rewritten(store, "pj_busy_g1", 30)  # 300 versions left dead, 10 rows live
    rewritten(store, "pj_quiet_g1", 1)  # 10 dead: not more than the live rows
    rewritten(store, "not_a_read_model", 30)  # not ours to vacuum
    updates = {"pj_busy_g1": 300, "pj_quiet_g1": 10, "not_a_read_model": 300}
    wait_until(lambda: all(stats(pg_schema, t)[0] == n for t, n in updates.items()),
               "the server's statistics counting the updates")  # fmt: skip
    assert stats(pg_schema, "pj_busy_g1")[1] > 20 and stats(pg_schema, "not_a_read_model")[1] > 20
    assert store.vacuum_bloated(min_dead=20) == ["pj_busy_g1"]
    assert stats(pg_schema, "pj_busy_g1")[1:] == (0, 1)
    assert stats(pg_schema, "pj_quiet_g1")[2] == 0 and stats(pg_schema, "not_a_read_model")[2] == 0
    assert store.vacuum_bloated(min_dead=20) == []  # nothing left to do
    with store.transaction() as tx:  # the store's connection is back in transactions, and usable
        assert tx.fetchall("SELECT SUM(n) FROM pj_busy_g1") == [(300,)]


def test_sqlite_has_nothing_to_vacuum(tmp_path: Path) -> None:
    store = ProjectionStore.sqlite(tmp_path / "projections.sqlite")
    rewritten(store, "pj_busy_g1", 30)
    assert store.vacuum_bloated(min_dead=1) == []
    store.close()


class CountingRunner:
    """A runner that applies ``batches`` one per catch-up, and a store that counts the looks."""

    def __init__(self, batches: list[int], follower: list[Follower]) -> None:
        self.batches = batches
        self.follower = follower
        self.store = self
        self.looks: list[int] = []  # events applied when the follower looked

    def catch_up(self) -> int:
        if not self.batches:
            self.follower[0].stop.set()  # evidence: every batch applied, the follower looked after each
            return 0
        return self.batches.pop(0)

    def vacuum_bloated(self) -> list[str]:
        self.looks.append(self.follower[0].applied)
        return ["pj_busy_g1"]


def test_the_follower_looks_after_applying_events_not_while_the_log_is_quiet(tmp_path: Path) -> None:
    holder: list[Follower] = []
    runner: Any = CountingRunner([5, 0, 0, 7, 0], holder)
    holder.append(Follower(lambda: runner, FileLock(tmp_path / "projections.lock"), poll=0.001, tidy_every=0))
    holder[0].run()
    assert runner.looks == [5, 12]  # once after each batch, never on the quiet polls between
