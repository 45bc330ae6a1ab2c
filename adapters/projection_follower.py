"""One projection follower per deployment: the only writer of the read models while it holds its lock.

``conventions project --follow`` (and, on the embedded SQLite default, a thread of ``conventions
serve``) runs a ``Follower``: it waits for the deployment's projection lock (a PostgreSQL advisory
lock, or a lock file beside the SQLite events), then follows the log. A second follower stands by
and takes over when the first one dies: the database (or the kernel) releases a dead process's lock.

A failure while catching up (the database gone for a while) is logged and retried: the projection
store reconnects, and each batch is one transaction, so nothing is applied twice. A follower that
finds its lock lost (its session cut) stops writing and stands by again; a batch another follower
committed meanwhile is seen by position, never applied twice (``projections.engine.runner``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import structlog

from scheduler.lock import SchedulerLock, acquire

log = structlog.get_logger("projections")
ROLE = "projections"
LOST = "Verrou perdu : ce suiveur cesse d'écrire et attend de le reprendre."
STANDING_BY = "Un autre suiveur met déjà les vues à jour ; celui-ci attend et prendra le relais."


class Follower:
    """Wait for the lock, then keep the read models caught up with the log until ``stop`` is set.

    ``runner``: a factory of the projection runner, called once the lock is ours, so a follower
    standing by opens no projection store and creates no table."""

    def __init__(
        self,
        runner: Callable[[], Any],
        lock: SchedulerLock,
        *,
        poll: float = 0.2,
        lock_poll: float = 1.0,
        check_lock_every: float = 5.0,
        retry_after: float = 1.0,
        idle: Callable[[Any], int] | None = None,
        tidy_every: float = 10.0,
    ) -> None:
        self._make_runner = runner
        self.idle = idle  # the dashboard's plans, after events and when quiet: given the runner, how much done
        self._idle_mark: tuple[int, date] | None = None  # events applied and day when it last had nothing to do
        self.runner: Any = None
        self.lock = lock
        self.poll = poll
        self.lock_poll = lock_poll
        self.check_lock_every = check_lock_every
        self.retry_after = retry_after
        self.tidy_every = tidy_every  # seconds between two looks for read-model tables to vacuum
        self._tidied: tuple[float, int] = (time.monotonic(), 0)  # when, and events applied by then
        self.stop = threading.Event()
        self.applied = 0

    def run(self) -> None:
        """Follow until ``stop`` is set; stand by whenever another follower holds the lock."""
        while not self.stop.is_set():
            if not acquire(self.lock, poll_seconds=self.lock_poll, should_stop=self.stop.is_set,
                           sleep=self.stop.wait, role=ROLE, waiting=STANDING_BY):  # fmt: skip
                break
            try:
                self._follow()
            finally:
                self.lock.release()
        log.info("projections.follower_stopped", pid=os.getpid(), applied=self.applied)

    def _follow(self) -> None:
        """Catch up, then poll, while the lock is ours; returns when stopped or the lock is lost."""
        checked = time.monotonic()
        while not self.stop.is_set():
            if time.monotonic() - checked >= self.check_lock_every:
                checked = time.monotonic()
                if not self.lock.is_held():
                    log.error("projections.lock_lost", lock=self.lock.description, pid=os.getpid(), message=LOST)
                    return
            try:
                if self.runner is None:
                    self.runner = self._make_runner()
                applied = self.runner.catch_up()
            except Exception as error:  # noqa: BLE001 - the database away for a while: retry, never die
                log.error("projections.catch_up_failed", error=f"{type(error).__name__}: {error}"[:500])
                self.stop.wait(self.retry_after)
                continue
            if applied:
                self.applied += applied
                log.info("projections.caught_up", applied=applied, total=self.applied)
            # Also right after events were applied: under a steady flow of commands the log is never
            # quiet, and every dashboard would compute the plans the new events emptied.
            self._tidy()
            if not self._idle_work() and not applied:
                self.stop.wait(self.poll)

    def _tidy(self) -> None:
        """Every ``tidy_every`` seconds in which events were applied, vacuum the read-model tables
        their updates bloated (``ProjectionStore.vacuum_bloated``): PostgreSQL's autovacuum may be
        off or late, and a bloated table slows every read of it."""
        when, applied = self._tidied
        if self.applied == applied or time.monotonic() - when < self.tidy_every:
            return
        self._tidied = (time.monotonic(), self.applied)
        try:
            vacuumed = self.runner.store.vacuum_bloated()
        except Exception as error:  # noqa: BLE001 - housekeeping: never stops following
            log.error("projections.vacuum_failed", error=f"{type(error).__name__}: {error}"[:500])
            return
        if vacuumed:
            log.info("projections.vacuumed", tables=vacuumed)

    def _idle_work(self) -> int:
        """The follow-up work (after events, when quiet), asked again only once events were applied
        or the day changed since it last had nothing to do (not a query every poll)."""
        mark = (self.applied, date.today())
        if self.idle is None or mark == self._idle_mark:
            return 0
        try:
            done = self.idle(self.runner)
        except Exception as error:  # noqa: BLE001 - a cache to fill: never stops following
            log.error("projections.idle_work_failed", error=f"{type(error).__name__}: {error}"[:500])
            return 0
        if not done:
            self._idle_mark = mark
        return done

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread (``serve`` on the embedded default); ``stop.set()`` ends it."""
        thread = threading.Thread(target=self.run, name="projection-follower", daemon=True)
        thread.start()
        return thread


def plans_ahead(settings: Any) -> Callable[[Any], int]:
    """The follower's quiet-time work: the dashboard's 5-year plans of conventions that changed,
    dated by the application's clock, kept in the portfolio read model (``portfolio.plan_ahead``)."""
    from adapters.composition import build_clock
    from projections import portfolio

    clock = build_clock(settings)
    return lambda runner: portfolio.plan_ahead(runner.store, clock())


def beside_the_follower(
    runner: Any, lock: SchedulerLock, *, patience: float = 60.0, poll: float = 0.5
) -> Callable[[], int]:
    """The scheduler's "catch the read models up" where a projection follower writes them (follower
    mode), so that the follower stays their one writer.

    When no follower holds the projection ``lock``, the scheduler takes it and catches up itself: it
    is then the one writer, for that moment. Otherwise it waits until the follower has applied the log
    as it stood when asked (what is due is then read fresh). A follower that applies nothing for
    ``patience`` seconds while behind is not waited for any longer: the scheduler catches up itself
    (safe, each batch checks its position) and says so in the log. Returns the events it applied."""

    def catch_up() -> int:
        if lock.try_acquire():
            try:
                return int(runner.catch_up())
            finally:
                lock.release()
        return _wait_for_the_follower(runner, patience, poll)

    return catch_up


def _wait_for_the_follower(runner: Any, patience: float, poll: float) -> int:
    target = runner.head()
    seen, since = -1, time.monotonic()
    while True:
        position = runner.slowest(runner.positions(target))
        if runner.lag(position, target) == 0:  # caught up with the log as it stood
            return 0
        if position != seen:
            seen, since = position, time.monotonic()
        elif time.monotonic() - since >= patience:
            log.warning("projections.follower_stalled", position=position, head=target, waited_seconds=patience)
            return int(runner.catch_up(until=target))
        time.sleep(poll)
