"""One scheduler per deployment: the lock a scheduler process holds while it works. The projection
follower (``conventions project --follow``) takes the same kind of lock under another name.

Two scheduler processes started by mistake must not both run the jobs. The jobs are idempotent,
so a double run would record nothing twice, but it would double the load and the logs, and
concurrent writes on one convention would be retried. The first process takes the lock; the
other waits, polls, logs that it is standing by, and takes over when the first one dies.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a dedicated
  connection. The server releases it when the session ends, also when the process is killed.
- SQLite (one host): an exclusive ``fcntl`` lock on a file beside the events file. The kernel
  releases it when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import structlog

log = structlog.get_logger()


class SchedulerLock(Protocol):
    description: str

    def try_acquire(self) -> bool:
        """Take the lock if free; True when this process holds it."""

    def is_held(self) -> bool:
        """Still ours? (False when the connection holding it was lost.)"""

    def release(self) -> None: ...


def lock_key(name: str, purpose: str = "scheduler") -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` from a name (e.g. the schema) and what
    the lock guards (``scheduler``, ``projections``)."""
    digest = hashlib.sha256(f"cpam-conventions:{purpose}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresAdvisoryLock:
    """A session-level advisory lock held on its own connection for the life of the process."""

    def __init__(self, connect: Callable[[], Any], name: str, purpose: str = "scheduler") -> None:
        self._connect = connect
        self.key = lock_key(name, purpose)
        self.description = f"postgres advisory lock {self.key} ({name})"
        self._conn: Any = None

    def try_acquire(self) -> bool:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
            self._conn.autocommit = True
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row[0])

    def is_held(self) -> bool:
        """A session-level lock lasts as long as its session: the connection alive means held."""
        if self._conn is None or self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - a lost connection means a lost lock
            return False
        return True

    def release(self) -> None:
        if self._conn is None or self._conn.closed:
            return
        try:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        finally:
            self._conn.close()
            self._conn = None


class FileLock:
    """An exclusive ``fcntl.flock`` on a file; the file says who holds it (for the operator)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.description = f"file lock {self.path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def is_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def acquire(
    lock: SchedulerLock,
    *,
    poll_seconds: float = 30.0,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
    role: str = "scheduler",
    waiting: str = "Un autre ordonnanceur travaille déjà ; celui-ci attend et prendra le relais.",
) -> bool:
    """Wait until ``lock`` is ours (True), polling; False if asked to stop while standing by.
    ``role`` names the log events (``scheduler.lock_acquired``...), ``waiting`` is the operator's line."""
    if _try(lock, role):
        log.info(f"{role}.lock_acquired", lock=lock.description, pid=os.getpid())
        return True
    log.warning(f"{role}.standing_by", lock=lock.description, pid=os.getpid(), message=waiting)
    waited = 0.0
    polls = 0
    every = max(1, int(600 / max(poll_seconds, 0.001)))  # a reminder in the logs every ten minutes
    while not should_stop():
        sleep(poll_seconds)
        waited += poll_seconds
        polls += 1
        if polls % every == 0:
            log.info(f"{role}.still_standing_by", lock=lock.description, pid=os.getpid(), waited_seconds=waited)
        if _try(lock, role):
            log.info(f"{role}.lock_acquired", lock=lock.description, pid=os.getpid(), waited_seconds=waited)
            return True
    return False


def _try(lock: SchedulerLock, role: str = "scheduler") -> bool:
    try:
        return lock.try_acquire()
    except Exception as error:  # noqa: BLE001 - database unreachable: keep standing by
        log.error(f"{role}.lock_error", lock=lock.description, error=str(error))
        return False
