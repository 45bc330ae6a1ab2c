"""How the runner reads the notification log: rows ``(id, originator id, version, topic, state)``.

``AppLog`` asks the application (``ConventionsApp.read_stored``: any store the library supports).
``RecorderLog`` asks a library recorder directly: the reference the tests hold ``SqliteLog`` to.
``SqliteLog`` reads the library's SQLite table itself, with the query the library runs: the library
turns each row into a ``Notification`` with a ``UUID`` built in Python, about two thirds of its
reading time, while the runner wants the id as text anyway (it keys the read models' rows by ``str(UUID)``, and maps the
stored hex digits to that through a cache: cheaper than a UUID per row, or than SQLite's string
functions).
``tests/integration/test_projection_reading.py`` checks that both give the same rows, so a library
upgrade that changed its table fails there, not in production.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

# (notification id, originator id as a UUID or as stored text (what ``UUID()`` reads: the library
# stores its 32 hex digits), originator version, topic, stored state)
Row = tuple[int, UUID | str, int, str, bytes]


class Log(Protocol):
    def head(self) -> int:
        """The last notification id recorded (0 when none)."""

    def read(self, start: int, limit: int, stop: int | None, topics: Sequence[str]) -> list[Row]:
        """Up to ``limit`` rows with ``start <= id <= stop`` and a topic in ``topics``, by id."""


class AppLog:
    """The log as the application gives it (PostgreSQL, in-memory)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def head(self) -> int:
        return int(self.app.head())

    def read(self, start: int, limit: int, stop: int | None, topics: Sequence[str]) -> list[Row]:
        return self.app.read_stored(start - 1, limit, topics, until=stop)


class RecorderLog:
    """The log as a library recorder gives it (what ``AppLog`` reads through the application)."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def head(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def read(self, start: int, limit: int, stop: int | None, topics: Sequence[str]) -> list[Row]:
        rows = self.recorder.select_notifications(start, limit, stop=stop, topics=topics, inclusive_of_start=True)
        return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in rows]


class SqliteLog:
    """The library's SQLite events table (``rowid`` is the notification id), read directly."""

    def __init__(self, path: str, table: str = "stored_events") -> None:  # the library's name for it
        self.connection = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        self.table = table
        self._queries: dict[tuple[bool, int], str] = {}

    def head(self) -> int:
        return int(self.connection.execute(f"SELECT MAX(rowid) FROM {self.table}").fetchone()[0] or 0)

    def read(self, start: int, limit: int, stop: int | None, topics: Sequence[str]) -> list[Row]:
        key = (stop is not None, len(topics))
        if (sql := self._queries.get(key)) is None:
            sql = self._queries[key] = (
                f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.table} WHERE rowid >= ? "
                + ("AND rowid <= ? " if stop is not None else "")
                + (f"AND topic IN ({','.join('?' * len(topics))}) " if topics else "")
                + "ORDER BY rowid LIMIT ?"
            )
        params: list[Any] = [start, *([stop] if stop is not None else []), *topics, limit]
        return self.connection.execute(sql, params).fetchall()

    def close(self) -> None:
        self.connection.close()
