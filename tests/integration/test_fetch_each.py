"""``Tx.fetch_each``: the rows of several queries, as one by one, and on PostgreSQL in one round trip
(what a dashboard's eight queries and a list's count and page use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.composition import build_projection_store
from adapters.settings import Settings
from projections.engine.store import ProjectionStore
from tests.helpers import traced, wire_messages

QUERIES = [
    ("SELECT id, n FROM pj_t_g1 WHERE n >= ? ORDER BY id", [2]),
    ("SELECT COUNT(*), SUM(n) FROM pj_t_g1", []),
    ("SELECT id FROM pj_t_g1 WHERE id = ?", [99]),  # no row
]


def filled(settings: Settings) -> ProjectionStore:
    store = build_projection_store(settings)
    with store.transaction() as tx:
        tx.execute("CREATE TABLE pj_t_g1 (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        tx.executemany("INSERT INTO pj_t_g1 VALUES (?, ?)", [(i, i % 4) for i in range(10)])
    return store


def test_the_rows_of_each_query_as_one_by_one(store_settings: Settings) -> None:
    store = filled(store_settings)
    with store.reading() as tx:
        one_by_one = [tx.fetchall(sql, params) for sql, params in QUERIES]
        together = tx.fetch_each(QUERIES)
        assert together == one_by_one == [[(2, 2), (3, 3), (6, 2), (7, 3)], [(10, 13)], []]
        assert tx.fetchall("SELECT COUNT(*) FROM pj_t_g1") == [(10,)]  # the transaction goes on
    store.close()


@pytest.mark.postgres
def test_postgresql_gets_every_query_before_answering_any(pg_settings: Settings, tmp_path: Path) -> None:
    store = filled(pg_settings)
    with store.reading() as tx, traced(tmp_path / "trace") as trace:
        trace(tx.cursor.connection)
        tx.fetch_each(QUERIES)
    messages = [(direction, kind) for direction, kind, _ in wire_messages(tmp_path / "trace")]
    sent = [m for d, m in messages if d == "F"]
    first_answer = next(i for i, (d, _) in enumerate(messages) if d == "B")
    assert sent.count("Execute") == len(QUERIES), messages
    assert [m for d, m in messages[:first_answer] if d == "F"].count("Execute") == len(QUERIES), messages
    assert sent.count("Sync") == 1, messages  # one round trip
    store.close()
