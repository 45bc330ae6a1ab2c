"""The rebuild's write-behind thread (SQLite): same rows as plain statements, errors not lost."""

from __future__ import annotations

from contextlib import nullcontext

import pytest

from projections.engine.store import ProjectionStore, Table
from projections.engine.write_behind import Direct, WriteBehind, _from_json

T = Table("t", (("k", "TEXT NOT NULL"), ("n", "INTEGER"), ("x", "REAL"), ("s", "TEXT")), ("k",))
ROWS = [("a", 1, 1.5, 'l\'été "cité" \\ ✓'), ("b", None, None, None), ("c", True, 2.0, ""), ("d", -(2**62), 0.1, "0")]


def fresh(path: str) -> ProjectionStore:
    store = ProjectionStore.sqlite(path)
    with store.transaction() as tx:
        tx.execute("CREATE TABLE t_1 (k TEXT NOT NULL PRIMARY KEY, n INTEGER, x REAL, s TEXT)")
    return store


def rows(store: ProjectionStore) -> list[tuple]:
    with store.reading() as tx:
        return tx.fetchall("SELECT k, n, typeof(n), x, typeof(x), s, typeof(s) FROM t_1 ORDER BY k")


def test_the_json_insert_keeps_the_values_and_the_upsert_clause() -> None:
    sql = "INSERT INTO t_1 (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = excluded.n"
    assert _from_json(sql) == (
        "INSERT INTO t_1 (k, n) SELECT value->>0, value->>1 FROM json_each(?) WHERE true "
        "ON CONFLICT (k) DO UPDATE SET n = excluded.n"
    )


def test_written_behind_equals_written_directly(tmp_path) -> None:  # noqa: ANN001
    direct, behind = fresh(str(tmp_path / "a.sqlite")), fresh(str(tmp_path / "b.sqlite"))
    for store in (direct, behind):
        with nullcontext(Direct(store)) if store is direct else store.writes_behind() as writes:
            assert isinstance(writes, Direct if store is direct else WriteBehind)
            with writes.batch() as tx:
                tx.tables["t"] = "t_1"
                tx.upsert(T, ROWS)
                assert tx.fetchall("SELECT count(*) FROM t_1") == [(4,)]  # a read sees the batch so far
                tx.upsert(T, [("a", 2, 3.0, "again")])
                tx.execute("DELETE FROM t_1 WHERE k = ?", ["d"])
    assert rows(direct) == rows(behind)
    assert rows(behind)[0] == ("a", 2, "integer", 3.0, "real", "again", "text")
    assert rows(behind)[1] == ("b", None, "null", None, "null", None, "null")


def test_a_failed_write_is_raised_and_its_batch_rolled_back(tmp_path) -> None:  # noqa: ANN001
    store = fresh(str(tmp_path / "c.sqlite"))
    with pytest.raises(Exception, match="no such table"), store.writes_behind() as writes:
        with writes.batch() as tx:
            tx.tables["t"] = "t_1"
            tx.upsert(T, ROWS[:1])
            tx.executemany("INSERT INTO missing (k) VALUES (?)", [("x",)])
        writes.drain()
    assert rows(store) == []
