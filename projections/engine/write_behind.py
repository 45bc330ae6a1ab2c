"""Write-behind: the rebuild's batches written on SQLite by a thread of their own.

``ProjectionStore.writes_behind()`` hands a rebuild either a ``WriteBehind`` (SQLite) or a
``Direct`` writer (PostgreSQL, or a SQLite too old for ``->>``); both give one transaction per
``with writes.batch() as tx``.
"""

from __future__ import annotations

import queue
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson

from projections.engine.store import Tx

if TYPE_CHECKING:
    from projections.engine.store import ProjectionStore


class Direct:
    """Batches written in the caller's thread, one transaction each (see ``writes_behind``)."""

    def __init__(self, store: ProjectionStore) -> None:
        self.store = store
        self.busy = 0.0

    def batch(self) -> Any:
        return self.store.transaction()

    def drain(self) -> None:
        """Nothing is ever pending."""


@dataclass
class QueuedTx(Tx):
    """A batch's transaction whose writes are queued for the ``WriteBehind`` thread.

    A read (``SELECT``) first has the writes queued so far applied, in the same open transaction,
    then runs on the caller's thread: the read models read before they write in a batch, and always
    see what they wrote in earlier ones.
    """

    writer: WriteBehind | None = None
    ops: list[tuple[str, Any, bool]] = field(default_factory=list)
    rows: int = 0  # rows queued in ``ops``: beyond ``WriteBehind.CHUNK`` they go to the writer at once

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        assert self.writer is not None
        if sql.lstrip()[:6].upper() == "SELECT":
            self.writer.submit(self.ops, commit=False)
            self.ops, self.rows = [], 0
            self.writer.drain()
            self.cursor.execute(sql, params)
            return self.cursor
        self.ops.append((sql, params, False))
        return None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.ops.append((sql, rows, True))
            self.rows += len(rows)
            if self.rows >= WriteBehind.CHUNK:  # the end of a rebuild writes every convention's row
                assert self.writer is not None
                self.writer.submit(self.ops, commit=False)
                self.ops, self.rows = [], 0


class WriteBehind:
    """Applies batches of writes on SQLite in a thread of its own, one transaction per batch.

    SQLite releases the GIL while it inserts, so the caller decodes the next batch meanwhile. Each
    ``executemany`` becomes one ``INSERT ... SELECT ... FROM json_each(?)`` over the rows as a JSON
    array: one call into SQLite per table and batch, where ``executemany`` would take the GIL back
    for every row and wait for it behind the busy caller. The thread switch interval is shortened
    while it runs, so the writer gets the GIL back promptly between statements.
    """

    SWITCH_INTERVAL = 0.0002  # seconds; with the default 5 ms the writer waits behind the caller and gains nothing
    CHUNK = 2000  # rows per statement and per message at most: memory stays flat at the end of a rebuild

    def __init__(self, store: ProjectionStore, depth: int = 2) -> None:
        self.store = store
        self.queue: queue.Queue[tuple[list[tuple[str, Any, bool]], str] | None] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.busy = 0.0  # seconds the thread spent writing
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self.interval, self.SWITCH_INTERVAL))
        self.thread = threading.Thread(target=self._run, name="projections-writer", daemon=True)
        self.thread.start()

    @contextmanager
    def batch(self) -> Iterator[QueuedTx]:
        tx = QueuedTx(self.store, self.store.conn.cursor(), writer=self)
        try:
            yield tx
        except BaseException:
            self.queue.put(([], "rollback"))
            raise
        self.submit(tx.ops, commit=True)

    def submit(self, ops: list[tuple[str, Any, bool]], *, commit: bool) -> None:
        """Queue writes for the open transaction (begun if need be), then commit it if ``commit``."""
        if self.error is not None:
            raise self.error
        self.queue.put((ops, "commit" if commit else "keep"))

    def drain(self) -> None:
        """Wait until every batch submitted is applied; re-raise the writer's error, if any."""
        self.queue.join()
        if self.error is not None:
            raise self.error

    def close(self, *, discard: bool = False) -> None:
        try:
            if not discard:
                self.drain()
        finally:
            self.queue.put(None)
            self.thread.join()
            sys.setswitchinterval(self.interval)

    def _run(self) -> None:
        cur = self.store.conn.cursor()
        in_tx = False
        while True:
            message = self.queue.get()
            try:
                if message is None:
                    if in_tx:
                        cur.execute("ROLLBACK")
                    return
                ops, action = message
                if action == "rollback" or self.error is not None:
                    if in_tx:
                        cur.execute("ROLLBACK")
                        in_tx = False
                    continue
                began = time.perf_counter()
                if not in_tx:
                    cur.execute("BEGIN IMMEDIATE")
                    in_tx = True
                for sql, params, many in ops:
                    if many and (as_json := _from_json(sql)) is None:  # a DELETE ... WHERE key = ?
                        cur.executemany(sql, params)
                    elif many:
                        for i in range(0, len(params), self.CHUNK):
                            cur.execute(as_json, (orjson.dumps(params[i : i + self.CHUNK]),))
                    else:
                        cur.execute(sql, params)
                if action == "commit":
                    cur.execute("COMMIT")
                    in_tx = False
                self.busy += time.perf_counter() - began
            except BaseException as exc:  # noqa: BLE001 - handed to the caller at its next submit or drain
                self.error = exc
                if in_tx:
                    with suppress(sqlite3.Error):
                        cur.execute("ROLLBACK")
                    in_tx = False
            finally:
                self.queue.task_done()


_VALUES = re.compile(r"VALUES \(([?, ]+)\)")


@lru_cache(maxsize=256)
def _from_json(sql: str) -> str | None:
    """``INSERT ... VALUES (?, ?)`` as ``INSERT ... SELECT value->>0, value->>1 FROM json_each(?)``
    (None for other statements: they are run row by row).

    ``->>`` gives JSON numbers as INTEGER or REAL, strings as TEXT, null as NULL and true as 1: what
    binding the same Python values stores. ``WHERE true`` lets an ``ON CONFLICT`` clause follow.
    """
    match = _VALUES.search(sql)
    if match is None:
        return None
    n = match.group(1).count("?")
    columns = ", ".join(f"value->>{i}" for i in range(n))
    return sql[: match.start()] + f"SELECT {columns} FROM json_each(?) WHERE true" + sql[match.end() :]
