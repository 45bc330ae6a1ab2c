"""The long-running scheduler process: APScheduler 3.11 around the idempotent nightly job.

- Only the holder of the deployment's lock works; another process stands by and takes over when
  the holder dies (``scheduler.lock``).
- At start-up, one run catches up with whatever fell due while no scheduler ran.
- Then a nightly cron (Europe/Paris by default) on a ``BackgroundScheduler`` (the main thread
  waits for a stop signal, so a SIGTERM at any moment stops cleanly) with a fixed job id, ``coalesce=True`` (missed runs
  collapse into one) and a generous ``misfire_grace_time`` (a run delayed by a busy or suspended
  host still happens). The job store is in memory: nothing to share, nothing to go stale; the job
  catches up by itself, so a missed night costs nothing.
- Each run is logged as one structured line (what fell due, how many, how long).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.jobs import NightlyJob, RunReport, log_report
from scheduler.lock import SchedulerLock, acquire

log = structlog.get_logger()

NIGHTLY_JOB_ID = "nightly-due"
WATCHDOG_JOB_ID = "lock-watchdog"
MISFIRE_GRACE_SECONDS = 6 * 3600
# ``--once``: the run finished without processing some conventions (skipped, recorded for an
# operator: see ``scheduler.jobs.run_due``). The long-running process keeps serving.
EXIT_CONVENTIONS_FAILED = 1

Job = Callable[[date], RunReport]


def parse_at(at: str) -> tuple[int, int]:
    """``"02:30"`` -> (2, 30)."""
    hour, _, minute = at.partition(":")
    h, m = int(hour), int(minute or 0)
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"heure invalide : {at!r} (HH:MM attendu)")
    return h, m


class SchedulerProcess:
    """Wait for the lock, catch up, then run the job every night until stopped."""

    def __init__(
        self,
        job: Job | Callable[[], Job],
        lock: SchedulerLock,
        *,
        timezone: str = "Europe/Paris",
        at: str = "02:30",
        poll_seconds: float = 30.0,
        watchdog_seconds: float = 60.0,
        today: Callable[[], date] | None = None,
        lazy: bool = False,
    ) -> None:
        """``lazy``: ``job`` is a factory, called once the lock is ours, so a process standing by
        opens no store and creates no table (concurrent ``CREATE TABLE`` can fail on PostgreSQL)."""
        self._make_job = job if lazy else None
        self.job: Job | None = None if lazy else job  # type: ignore[assignment]
        self.lock = lock
        self.tz = ZoneInfo(timezone)
        self.hour, self.minute = parse_at(at)
        self.poll_seconds = poll_seconds
        self.watchdog_seconds = watchdog_seconds
        self.today = today or (lambda: datetime.now(self.tz).date())
        self.stopping = threading.Event()
        self.lost_lock = False
        self.scheduler: BackgroundScheduler | None = None

    # ------------------------------------------------------------------ lifecycle
    def serve(self, *, once: bool = False) -> int:
        """Run until stopped; returns the process exit code (0, or 3 when the lock was lost; with
        ``once``, 1 when the run could not process some conventions)."""
        self._install_signals()
        if not acquire(self.lock, poll_seconds=self.poll_seconds, should_stop=self.stopping.is_set,
                       sleep=self.stopping.wait):  # fmt: skip
            log.info("scheduler.stopped", while_="standing_by")
            return 0
        try:
            if self.job is None and self._make_job is not None:
                self.job = self._make_job()  # type: ignore[call-arg]
            if isinstance(self.job, NightlyJob):
                self.job.should_stop = self.stopping.is_set  # a SIGTERM ends a run between conventions
            report = self.run_once("startup")
            if once:  # a cron-driven deployment or a demonstration: the exit code says how it went
                return 3 if self.lost_lock else (EXIT_CONVENTIONS_FAILED if report and report.failures else 0)
            if self.stopping.is_set():
                return 3 if self.lost_lock else 0
            self.scheduler = self._build()
            nightly = CronTrigger(hour=self.hour, minute=self.minute, timezone=self.tz)
            next_run = nightly.get_next_fire_time(None, datetime.now(self.tz))
            log.info("scheduler.started", job_id=NIGHTLY_JOB_ID, at=f"{self.hour:02d}:{self.minute:02d}",
                     timezone=str(self.tz), next_run=str(next_run))  # fmt: skip
            self.scheduler.start()
            # The main thread only waits for a stop (signal, lost lock): a SIGTERM at any moment,
            # even before the scheduler has started, stops the process cleanly.
            while not self.stopping.wait(1.0):
                pass
            return 3 if self.lost_lock else 0
        finally:
            if self.scheduler is not None and self.scheduler.running:
                self.scheduler.shutdown(wait=True)  # a run in progress stops after its current convention
            self.lock.release()
            log.info("scheduler.stopped", lock_released=self.lock.description)

    def stop(self, *_: Any) -> None:
        """Ask the process to stop (signal handler, lost lock): the main thread does the rest."""
        self.stopping.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)

    def _build(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(
            timezone=self.tz,
            job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
        )
        scheduler.add_job(
            self.run_once, CronTrigger(hour=self.hour, minute=self.minute, timezone=self.tz),
            args=["nightly"], id=NIGHTLY_JOB_ID, name="Échéancier nocturne", replace_existing=True,
            coalesce=True, misfire_grace_time=MISFIRE_GRACE_SECONDS, max_instances=1,
        )  # fmt: skip
        scheduler.add_job(self._watchdog, IntervalTrigger(seconds=self.watchdog_seconds), id=WATCHDOG_JOB_ID)
        return scheduler

    # ------------------------------------------------------------------ the work
    def run_once(self, trigger: str) -> RunReport | None:
        """One run of the job, logged; an error is logged and the next run retries."""
        if not self.lock.is_held():
            self._lock_lost()
            return None
        assert self.job is not None, "serve() builds the job once the lock is held"
        today = self.today()
        log.info("due.run_started", trigger=trigger, today=today.isoformat())
        try:
            report = self.job(today)
        except Exception:
            log.exception("due.run_failed", trigger=trigger, today=today.isoformat())
            return None
        log_report(report, trigger=trigger)
        return report

    def _watchdog(self) -> None:
        if not self.lock.is_held():
            self._lock_lost()

    def _lock_lost(self) -> None:
        log.error("scheduler.lock_lost", lock=self.lock.description,
                  message="Verrou perdu : arrêt, pour qu'un seul ordonnanceur travaille.")  # fmt: skip
        self.lost_lock = True
        self.stop()
