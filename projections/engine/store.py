"""The projection database: read-model tables, their generations and the tracking table.

One database for every read model: a SQLite file of its own (beside the events file), or the
events' PostgreSQL database and schema with tables of its own. SQL is written once with ``?``
placeholders and standard ``INSERT ... ON CONFLICT`` upserts, which both dialects accept.

Each read model's tables exist in *generations* (``<table>_g<n>``). The tracking table
``projection_tracking`` holds, per read model and generation, the last notification id applied and
whether that generation is the live one. A rebuild fills a new generation beside the live one and
switches by flipping ``live`` in one transaction, so readers never see a half-built table.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from projections.engine.privacy import Sealer
    from projections.engine.write_behind import Direct, WriteBehind

TRACKING = "projection_tracking"


@dataclass(frozen=True)
class Table:
    """A read-model table: logical name, columns (name, SQL type), primary key, indexes."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    # Rows are only ever inserted: the key is a unique index, not a primary-key constraint, so a
    # rebuild appends rows to a bare table and builds the index once, at the end (a sort).
    append_only: bool = False
    # Columns a query fills as a cache of what the rows already say (the dashboard's forecast):
    # the read model writes them empty, a replay leaves them empty, so ``verify`` does not compare them.
    memo: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    @property
    def compared(self) -> tuple[str, ...]:
        """The columns a replay must reproduce (all but ``memo``)."""
        return tuple(c for c in self.column_names if c not in self.memo)

    @classmethod
    def of(
        cls, name: str, columns: str, key: str, indexes: str = "", *, append_only: bool = False, memo: str = ""
    ) -> Table:
        """A table written as SQL reads: ``Table.of("t", "id TEXT NOT NULL, n INTEGER", key="id",
        indexes="n; a, b")`` (columns by commas, indexes by semicolons)."""
        cols = tuple(tuple(c.strip().split(" ", 1)) for c in columns.split(","))
        return cls(
            name,
            cols,  # type: ignore[arg-type]
            tuple(k.strip() for k in key.split(",")),
            tuple(tuple(c.strip() for c in i.split(",")) for i in indexes.split(";") if i.strip()),
            append_only,
            tuple(m.strip() for m in memo.split(",") if m.strip()),
        )


@dataclass
class Tx:
    """One open transaction on the projection database."""

    store: ProjectionStore
    cursor: Any
    tables: dict[str, str] = field(default_factory=dict)  # logical -> physical, set by the runner
    live: dict[str, int] = field(default_factory=dict)  # read model -> live generation, as read in this tx

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.cursor.execute(self.store.sql(sql), params)
        return self.cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self.store.sql(sql), rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def fetch_each(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        """The rows of each ``(sql, params)``, in order. PostgreSQL gets them all at once (psycopg's
        pipeline mode: one round trip): a dashboard's eight queries one after the other cost eight
        waits for the server, and as many for the interpreter of a busy API process."""
        if self.store.dialect != "postgres" or len(queries) < 2:
            return [self.fetchall(sql, params) for sql, params in queries]
        conn = self.cursor.connection
        cursors = [conn.cursor() for _ in queries]
        try:
            with conn.pipeline():
                for cursor, (sql, params) in zip(cursors, queries, strict=True):
                    cursor.execute(self.store.sql(sql), params)
                return [list(cursor.fetchall()) for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()

    def t(self, logical: str) -> str:
        return self.tables[logical]

    def insert(self, table: Table, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows, every column in order (one ``executemany``): the append-only tables."""
        if rows:
            self.executemany(self._insert(table), rows)

    def upsert(self, table: Table, rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows or replace those with the same key (one ``executemany``)."""
        if not rows:
            return
        updates = ", ".join(f"{c} = excluded.{c}" for c in table.column_names if c not in table.key)
        sql = f"{self._insert(table)} ON CONFLICT ({', '.join(table.key)}) DO " + (
            f"UPDATE SET {updates}" if updates else "NOTHING"
        )
        self.executemany(sql, rows)

    def _insert(self, table: Table) -> str:
        cols = table.column_names
        return f"INSERT INTO {self.t(table.name)} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"

    def delete_keys(self, table: Table, column: str, values: Sequence[Any]) -> None:
        for chunk in _chunks(list(values), 500):
            self.execute(f"DELETE FROM {self.t(table.name)} WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk)

    def select_in(self, table: Table, column: str, values: Sequence[Any], cols: str = "*") -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for chunk in _chunks(list(values), 500):
            out.extend(
                self.fetchall(
                    f"SELECT {cols} FROM {self.t(table.name)} WHERE {column} IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return out


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


class ProjectionStore:
    """A connection to the projection database, SQLite or PostgreSQL."""

    def __init__(self, connection: Any, dialect: str, sealer: Sealer | None = None) -> None:
        self.conn = connection
        self.dialect = dialect
        self._sealer: Sealer | None = None
        self.sealer = sealer
        self.reconnect: Callable[[], Any] | None = None  # PostgreSQL: how to open the connection again
        self.readers: Any = None  # PostgreSQL: a pool the queries read from (``read_in_parallel``)
        self._open = threading.local()  # the reading ``one_reading`` holds open in this thread
        with self.transaction() as tx:
            self.serialise_ddl(tx)
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {TRACKING} (name TEXT NOT NULL, generation INTEGER NOT NULL, "
                "position BIGINT NOT NULL DEFAULT 0, live INTEGER NOT NULL DEFAULT 0, "
                "updated_at DOUBLE PRECISION NOT NULL DEFAULT 0, PRIMARY KEY (name, generation))"
            )
        # a tracking table from before ``updated_at``, or before ``sealed`` (the key's fingerprint)
        self._add_column("updated_at", "DOUBLE PRECISION NOT NULL DEFAULT 0")
        self._add_column("sealed", "TEXT NOT NULL DEFAULT ''")

    def _add_column(self, column: str, definition: str) -> None:
        try:
            with self.transaction() as tx:
                tx.execute(f"SELECT {column} FROM {TRACKING} WHERE 1 = 0")
        except Exception:  # noqa: BLE001 - sqlite3.OperationalError / psycopg UndefinedColumn
            with self.transaction() as tx:
                self.serialise_ddl(tx)
                tx.execute(
                    f"ALTER TABLE {TRACKING} ADD COLUMN IF NOT EXISTS {column} {definition}"
                    if self.dialect == "postgres"
                    else f"ALTER TABLE {TRACKING} ADD COLUMN {column} {definition}"
                )

    def serialise_ddl(self, tx: Tx) -> None:
        """PostgreSQL: one process at a time creates tables in this schema, until ``tx`` ends (two
        processes starting on a fresh schema, or a follower and a scheduler building a read model,
        would otherwise both create the same table and one fail on the catalogue's unique index)."""
        if self.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.projection_ddl'))")

    @property
    def sealer(self) -> Sealer | None:
        """Seals the personal values of the read models (``projections.engine.privacy``); None: clear."""
        return self._sealer

    @sealer.setter
    def sealer(self, sealer: Sealer | None) -> None:
        self._sealer = sealer
        if sealer is not None and self.dialect == "sqlite":
            # Pages freed by a dropped generation (one written in clear before the key) are zeroed,
            # not left readable in the file.
            self.conn.execute("PRAGMA secure_delete=ON")

    @property
    def fingerprint(self) -> str:
        """What a generation written now records in ``sealed``: the key's fingerprint, '' in clear."""
        return "" if self._sealer is None else self._sealer.fingerprint

    # ------------------------------------------------------------------ construction
    @classmethod
    def sqlite(cls, path: Path | str, sealer: Sealer | None = None) -> ProjectionStore:
        """WAL, synchronous=NORMAL: a committed batch survives a killed process (not a power cut)."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")  # verify's scratch tables and big sorts: not on disk
        return cls(conn, "sqlite", sealer)

    @classmethod
    def postgres(
        cls,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        dbname: str,
        schema: str = "",
        sealer: Sealer | None = None,
    ) -> ProjectionStore:
        import psycopg

        def connect() -> Any:
            conn = psycopg.connect(host=host, port=port, user=user, password=password or None, dbname=dbname,
                                   connect_timeout=10)  # fmt: skip
            if schema:
                conn.execute(f"SET search_path TO {schema}")
                conn.commit()
            return conn

        store = cls(connect(), "postgres", sealer)
        store.reconnect = connect
        return store

    def _healthy(self) -> None:
        """A PostgreSQL connection lost (server restarted, network cut) is opened again on next use:
        the transaction that saw it break failed, the next one works once the server answers."""
        if self.reconnect is not None and (self.conn.closed or self.conn.broken):
            self.conn = self.reconnect()

    def close(self) -> None:
        if self.readers is not None:
            self.readers.close()
        self.conn.close()

    # ------------------------------------------------------------------ transactions
    def sql(self, statement: str) -> str:
        if self.dialect == "postgres":  # psycopg: %s placeholders, so a literal % must be doubled
            return statement.replace("%", "%%").replace("?", "%s")
        return statement

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction: committed on success, rolled back on any exception.

        SQLite takes the write lock at once (BEGIN IMMEDIATE) so two runners serialise.
        """
        if self.dialect == "sqlite":
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self, cur)
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        else:
            self._healthy()
            with self.conn.transaction(), self.conn.cursor() as cur:
                yield Tx(self, cur)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Long writes (rebuild, verify): on SQLite, no WAL checkpoint every 4 MB by the writer.

        Another connection checkpoints instead, in a thread, while the batches and index builds go
        on: SQLite releases the GIL while it copies pages and waits for the disk, and a passive
        checkpoint never blocks the writer. What is left is checkpointed at the end. Durability is
        unchanged (each batch is still a committed WAL transaction, checkpoints are SQLite's own).
        """
        if self.dialect != "sqlite":
            yield
            return
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        path = next((file for _, name, file in self.conn.execute("PRAGMA database_list") if name == "main"), "")
        background = Checkpointer(path) if path else None  # "": an in-memory database has no WAL
        try:
            yield
        finally:
            if background is not None:
                background.stop()
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("PRAGMA wal_autocheckpoint=1000")

    @contextmanager
    def writes_behind(self) -> Iterator[WriteBehind | Direct]:
        """Batches of a rebuild: ``with writes.batch() as tx`` is one transaction.

        On SQLite a thread applies each batch's writes while the caller reads and decodes the next
        one (``WriteBehind``); on PostgreSQL each batch is an ordinary transaction (``Direct``).
        """
        from projections.engine.write_behind import Direct, WriteBehind  # they build on Tx, defined here

        if self.dialect != "sqlite" or sqlite3.sqlite_version_info < (3, 38, 0):  # ->> came with 3.38
            yield Direct(self)
            return
        writer = WriteBehind(self)
        try:
            yield writer
        except BaseException:
            writer.close(discard=True)
            raise
        writer.close()

    def vacuum_bloated(self, min_dead: int = 1000) -> list[str]:
        """PostgreSQL: ``VACUUM`` the read-model tables holding more dead rows than live ones (and at
        least ``min_dead``); the names vacuumed. A read model rewrites the same rows at every event (a
        convention's row in the portfolio, hundreds of times a minute under load), and every query
        scans the dead versions until a vacuum clears them; with the server's autovacuum off or
        behind, a dashboard's sums took 4 ms instead of 0.9 ms on 1 000 conventions. SQLite reuses
        its pages by itself: nothing to do. VACUUM blocks neither reads nor writes."""
        if self.dialect != "postgres":
            return []
        self._healthy()
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND relname LIKE 'pj\\_%%' AND n_dead_tup > GREATEST(%s, n_live_tup) ORDER BY relname",
                (min_dead,),
            )
            bloated = [name for (name,) in cur.fetchall()]
        if bloated:
            self.conn.autocommit = True  # VACUUM cannot run in a transaction
            try:
                for name in bloated:
                    self.conn.execute(f'VACUUM "{name}"')
            finally:
                self.conn.autocommit = False
        return bloated

    def read_in_parallel(self, pool: Any) -> None:
        """PostgreSQL: queries take a connection of ``pool`` (a psycopg_pool.ConnectionPool), so
        several requests read at once; writes (catch-up, rebuild) keep the store's own connection."""
        self.readers = pool

    @contextmanager
    def one_reading(self) -> Iterator[Tx]:
        """One reading for every query of the block in this thread (``reading`` gives it again): an
        API read asks the positions, then its read model's rows, in one transaction on one pooled
        connection, and the live generations the positions gave name the tables without asking again
        (three round trips fewer per list or dashboard)."""
        with self.reading() as tx:  # the one already held, in a nested block
            outer, self._open.tx = getattr(self._open, "tx", None), tx
            try:
                yield tx
            finally:
                self._open.tx = outer

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """A read-only snapshot for queries (the one ``one_reading`` holds open, if any)."""
        if (held := getattr(self._open, "tx", None)) is not None:
            yield held
        elif self.readers is not None:
            with self.readers.connection() as conn, conn.transaction(force_rollback=True), conn.cursor() as cur:
                yield Tx(self, cur)
        elif self.dialect == "sqlite":
            cur = self.conn.cursor()
            cur.execute("BEGIN")
            try:
                yield Tx(self, cur)
            finally:
                cur.execute("ROLLBACK")
        else:
            self._healthy()
            with self.conn.transaction(force_rollback=True), self.conn.cursor() as cur:
                yield Tx(self, cur)

    @contextmanager
    def reading_live(self, model: Any) -> Iterator[Tx]:
        """A read-only snapshot with ``tx.t(...)`` naming the live tables of ``model`` (a read
        model's class: its ``name`` and ``tables``): what every query of a read model opens."""
        with self.reading() as tx:
            self.resolve(tx, model.name, model.tables)
            yield tx

    # ------------------------------------------------------------------ generations
    def idle_builds(self, tx: Tx, name: str, idle_seconds: float) -> list[int]:
        """Non-live generations not advanced for ``idle_seconds``: left by an interrupted rebuild."""
        rows = tx.fetchall(
            f"SELECT generation FROM {TRACKING} WHERE name = ? AND live = 0 AND updated_at < ?",
            [name, time.time() - idle_seconds],
        )
        return [r[0] for r in rows]

    def generations(self, tx: Tx, name: str) -> list[tuple[int, int, bool]]:
        rows = tx.fetchall(
            f"SELECT generation, position, live FROM {TRACKING} WHERE name = ? ORDER BY generation", [name]
        )
        return [(g, p, bool(live)) for g, p, live in rows]

    def every_generation(self, tx: Tx) -> dict[str, list[tuple[int, int, bool]]]:
        """``generations`` of every read model, from one query (what each API read asks first); the
        live ones are also noted in ``tx.live``, so ``resolve`` in the same transaction asks no more."""
        out: dict[str, list[tuple[int, int, bool]]] = {}
        for name, g, p, live in tx.fetchall(
            f"SELECT name, generation, position, live FROM {TRACKING} ORDER BY name, generation"
        ):
            out.setdefault(name, []).append((g, p, bool(live)))
            if live:
                tx.live[name] = g
        return out

    def live_generation(self, tx: Tx, name: str) -> int | None:
        rows = tx.fetchall(f"SELECT generation FROM {TRACKING} WHERE name = ? AND live = 1", [name])
        return rows[0][0] if rows else None

    def sealed_with(self, tx: Tx, name: str, gen: int) -> str:
        """The fingerprint of the key the generation was written with ('' in clear, or unknown)."""
        rows = tx.fetchall(f"SELECT sealed FROM {TRACKING} WHERE name = ? AND generation = ?", [name, gen])
        return str(rows[0][0]) if rows else ""

    def settle(self) -> None:
        """SQLite: copy the WAL into the file and truncate it, so that pages zeroed by a dropped
        generation replace the old ones now (best effort: a reader may hold the WAL)."""
        if self.dialect == "sqlite":
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def resolve(self, tx: Tx, name: str, tables: Sequence[Table]) -> None:
        """Point ``tx.t(...)`` at the live generation of read model ``name`` (for queries), as this
        transaction already read it, if it did."""
        gen = tx.live[name] if name in tx.live else self.live_generation(tx, name)
        if gen is None:
            raise LookupError(f"projection {name} has no live tables: run `conventions project`")
        for table in tables:
            tx.tables[table.name] = physical(table, gen)

    def columns_of(self, tx: Tx, table: Table, gen: int) -> tuple[str, ...]:
        """The columns the generation's table has in the database (empty if it does not exist)."""
        phys = physical(table, gen)
        if self.dialect == "sqlite":
            return tuple(r[1] for r in tx.fetchall(f"PRAGMA table_info({phys})"))
        rows = tx.fetchall(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position",
            [phys],
        )
        return tuple(r[0] for r in rows)

    def create_generation(
        self, tx: Tx, name: str, tables: Sequence[Table], *, live: bool, indexes: bool = True, scratch: bool = False
    ) -> int:
        """Create a fresh, empty generation of the tables (position 0).

        ``indexes=False``: only the primary keys upserts need; ``create_indexes`` adds the rest.
        ``scratch``: tables thrown away once compared (verify), never switched live: on SQLite TEMP
        tables of this connection, kept in memory (no page of them reaches the disk, and a crash
        leaves none behind); on PostgreSQL UNLOGGED tables (no WAL written for them).
        """
        self.serialise_ddl(tx)
        existing = [g for g, _, _ in self.generations(tx, name)]
        gen = max(existing, default=0) + 1
        for table in tables:
            phys = physical(table, gen)
            tx.execute(f"DROP TABLE IF EXISTS {phys}")
            cols = ", ".join(f"{c} {t}" for c, t in table.columns)
            key = "" if table.append_only else f", PRIMARY KEY ({', '.join(table.key)})"
            kind = ("TEMP TABLE" if self.dialect == "sqlite" else "UNLOGGED TABLE") if scratch else "TABLE"
            tx.execute(f"CREATE {kind} {phys} ({cols}{key})")
        if indexes:
            self.create_indexes(tx, gen, tables)
        tx.execute(
            f"INSERT INTO {TRACKING} (name, generation, position, live, updated_at, sealed) VALUES (?, ?, 0, ?, ?, ?)",
            [name, gen, int(live), time.time(), self.fingerprint],
        )
        return gen

    def create_indexes(self, tx: Tx, gen: int, tables: Sequence[Table]) -> None:
        for table in tables:
            phys = physical(table, gen)
            if table.append_only:
                tx.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS ux_{phys} ON {phys} ({', '.join(table.key)})")
            for i, index in enumerate(table.indexes):
                tx.execute(f"CREATE INDEX IF NOT EXISTS ix_{phys}_{i} ON {phys} ({', '.join(index)})")

    def drop_generation(self, tx: Tx, name: str, gen: int, tables: Sequence[Table]) -> None:
        for table in tables:
            tx.execute(f"DROP TABLE IF EXISTS {physical(table, gen)}")
        tx.execute(f"DELETE FROM {TRACKING} WHERE name = ? AND generation = ?", [name, gen])

    def switch(self, tx: Tx, name: str, gen: int, tables: Sequence[Table]) -> None:
        """Make ``gen`` live and drop the generation it replaces, in the caller's transaction."""
        old = self.live_generation(tx, name)
        tx.execute(f"UPDATE {TRACKING} SET live = 0 WHERE name = ?", [name])
        tx.execute(f"UPDATE {TRACKING} SET live = 1 WHERE name = ? AND generation = ?", [name, gen])
        if old is not None and old != gen:
            self.drop_generation(tx, name, old, tables)

    def lock_position(self, tx: Tx, name: str, gen: int) -> int:
        """The generation's position, locked until the end of the transaction (PostgreSQL)."""
        lock = " FOR UPDATE" if self.dialect == "postgres" else ""
        rows = tx.fetchall(f"SELECT position FROM {TRACKING} WHERE name = ? AND generation = ?{lock}", [name, gen])
        if not rows:
            raise LookupError(f"projection {name} generation {gen} vanished (switched by a rebuild?)")
        return int(rows[0][0])

    def set_position(self, tx: Tx, name: str, gen: int, position: int) -> None:
        tx.execute(
            f"UPDATE {TRACKING} SET position = ?, updated_at = ? WHERE name = ? AND generation = ?",
            [position, time.time(), name, gen],
        )


class Checkpointer:
    """Passive WAL checkpoints every ``interval`` seconds, on a connection of its own, in a thread."""

    def __init__(self, path: str, interval: float = 0.25) -> None:
        self.path, self.interval = path, interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="projections-checkpoint", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            while not self.stopped.wait(self.interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.OperationalError:  # locked by another process's checkpoint: try again later
                    continue
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()


def physical(table: Table, gen: int) -> str:
    return f"pj_{table.name}_g{gen}"
