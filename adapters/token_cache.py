"""The users behind the tokens an API process saw lately, for as long as the users table has not
changed (PostgreSQL only).

Every request names its user by a token; asking the database each time cost a round trip and, in
FastAPI, a hand-over to a worker thread. A trigger on ``conventions_users`` NOTIFYs every change
(a user added, revoked, edited by hand in SQL), and a thread of each API process LISTENs and empties
this cache at once: a revocation applies to the next request on every process, as without a cache.
While that thread is not listening (starting, or its connection lost) nothing is cached and every
request asks the database. Entries also expire after ``ttl`` seconds: a bound should a notification
ever be missed on a connection that looks alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

CHANNEL = "conventions_users"
TRIGGER_DDL = f"""
CREATE OR REPLACE FUNCTION conventions_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;
CREATE TRIGGER conventions_users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON conventions_users FOR EACH STATEMENT EXECUTE FUNCTION conventions_users_changed();
"""
MAX_ENTRIES = 10_000

_log = structlog.get_logger("users.cache")


def install_trigger(conn: Any) -> None:
    """The trigger that tells listeners of any change to the users table, once per schema (under an
    advisory lock: API processes start together)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('conventions_users_trigger'))")
        exists = conn.execute(
            "SELECT 1 FROM pg_trigger WHERE tgrelid = 'conventions_users'::regclass "
            "AND tgname = 'conventions_users_changed'"
        ).fetchone()
        if exists is None:
            conn.execute(TRIGGER_DDL)


class TokenCache:
    """Token hash -> user, emptied on every change of the users table (see the module)."""

    def __init__(self, connect: Callable[[], Any], ttl: float = 30.0, retry: float = 1.0) -> None:
        """``connect``: a new autocommit connection to the database, for the listening thread."""
        self._connect = connect
        self.ttl = ttl
        self._retry = retry
        self._entries: dict[str, tuple[Any, float]] = {}
        self._generation = 0
        self.listening = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="users-cache-listener", daemon=True)
        self._thread.start()

    def get(self, digest: str) -> Any | None:
        """The user of this token hash, if seen lately and nothing changed since (no I/O)."""
        entry = self._entries.get(digest)
        if entry is None or not self.listening or time.monotonic() > entry[1]:
            return None
        return entry[0]

    def generation(self) -> int | None:
        """What ``put`` needs: the cache's state before the database is asked (None: not caching)."""
        return self._generation if self.listening else None

    def put(self, digest: str, user: Any, generation: int | None) -> None:
        """Remember ``user``, unless the table changed since ``generation`` was read (the answer
        may predate the change)."""
        with self._lock:
            if generation is None or generation != self._generation or not self.listening:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (user, time.monotonic() + self.ttl)

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _listen(self) -> None:
        failing = False  # logged once per outage, not at every retry
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.invalidate()  # whatever changed before LISTEN was not heard
                    self.listening = True
                    if failing:
                        _log.info("users.cache_listening")
                    failing = False
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.invalidate()
            except Exception as error:  # noqa: BLE001 - any failure: stop caching, then listen again
                if not self._stop.is_set() and not failing:
                    _log.warning("users.cache_not_listening", error=repr(error))
                failing = True
            finally:
                self.listening = False
                self.invalidate()
            self._stop.wait(self._retry)
