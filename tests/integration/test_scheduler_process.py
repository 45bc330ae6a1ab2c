"""The scheduler process and its lock, with real subprocesses: one works, the other stands by.

Also a real ``kill -9`` in the middle of a run, followed by a restart: each due item once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.composition import build_app
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from scheduler.due_index import MemoryDueIndex
from scheduler.jobs import RunReport, run_due
from scheduler.lock import FileLock, PostgresAdvisoryLock, acquire
from scheduler.simulation import rpps_for

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "conventions")
TODAY = date(2026, 6, 30)
META = CommandMeta(actor="operateur.test", reason="test")


def sign_many(app: ConventionsApp, n: int) -> list[UUID]:
    rng = random.Random(7)
    ids = []
    for i in range(n):
        effective = date(2019 + i % 3, 1 + i % 12, 1)
        ids.append(UUID(app.sign(
            META, number=f"P-{i:04d}", cpam_code="751", rpps=rpps_for(rng), doctor_name=f"Docteur {i}",
            specialty="general_practice", sector=1, optam=False, ccam_share=None, newly_installed=False,
            option="HALF", percentile=50, initial_patients=1000, target_patients=1100,
            signed_on=effective, effective_from=effective,
        )["id"]))  # fmt: skip
    return ids


def due_keys(app: ConventionsApp, ids: list[UUID]) -> Counter[tuple[str, str, str]]:
    """Every item the scheduler records, keyed by what makes it unique: each must appear once."""
    keys: Counter[tuple[str, str, str]] = Counter()
    for cid in ids:
        for e in app.history(cid):
            key = getattr(e, "instalment_id", None) or getattr(e, "k", None) or getattr(e, "year", None)
            if type(e).__name__ in {"YearStarted", "InstalmentDue", "ReviewDue", "Renewed"}:
                key = key or getattr(e, "term", None)
                keys[(str(cid), type(e).__name__, f"{key}@{e.effective_date}")] += 1
    return keys


def env_for(settings: Settings) -> dict[str, str]:
    env = dict(os.environ, CONVENTIONS_LOG_FORMAT="json", CONVENTIONS_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    env["CONVENTIONS_STORE"] = settings.store
    env["CONVENTIONS_DATA_DIR"] = str(settings.data_dir)
    if settings.store == "postgres":
        env.update(
            CONVENTIONS_POSTGRES_HOST=settings.postgres_host, CONVENTIONS_POSTGRES_PORT=str(settings.postgres_port),
            CONVENTIONS_POSTGRES_USER=settings.postgres_user, CONVENTIONS_POSTGRES_DBNAME=settings.postgres_dbname,
            CONVENTIONS_POSTGRES_SCHEMA=settings.postgres_schema,
        )  # fmt: skip
    return env


class Proc:
    """A ``conventions scheduler`` subprocess whose JSON log lines we can wait for."""

    def __init__(self, settings: Settings, log: Path, *args: str) -> None:
        self.log = log
        self.handle = log.open("w")
        self.p = subprocess.Popen(
            [CLI, "scheduler", "--today", TODAY.isoformat(), "--poll", "0.2", *args],
            env=env_for(settings), cwd=ROOT, stdout=self.handle, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.lines() if r.get("event") == name]

    def wait_for(self, name: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.events(name):
                return found[-1]
            if self.p.poll() is not None and not self.events(name):
                raise AssertionError(f"exited {self.p.returncode} before {name}:\n{self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"no {name} within {timeout}s:\n{self.log.read_text()}")

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        self.handle.close()


def two_schedulers_work_once(settings: Settings, tmp_path: Path) -> None:
    app = build_app(settings)
    ids = sign_many(app, 20)
    procs = [Proc(settings, tmp_path / "a.log"), Proc(settings, tmp_path / "b.log")]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
            p.events("due.run") or p.events("scheduler.standing_by") for p in procs
        ):
            time.sleep(0.05)
        logs = "\n".join(p.log.read_text() for p in procs)
        worker = next((p for p in procs if p.events("due.run")), None)
        assert worker is not None, logs
        standby = next(p for p in procs if p is not worker)
        assert standby.events("scheduler.standing_by") and not standby.events("due.run"), logs
        run = worker.wait_for("due.run")
        assert run["conventions"] == 20 and run["events"] > 20 * 20 and run["trigger"] == "startup"
        worker.wait_for("scheduler.started")
        time.sleep(0.6)  # a few polls: the standby still waits
        assert not standby.events("due.run")
        keys = due_keys(app, ids)
        assert sum(keys.values()) == run["events"] and set(keys.values()) == {1}

        os.kill(worker.p.pid, signal.SIGKILL)  # the holder dies: the lock is released by the kernel/server
        worker.p.wait(10)
        takeover = standby.wait_for("due.run")
        assert takeover["events"] == 0 and takeover["conventions"] == 0
        assert standby.events("scheduler.lock_acquired")
        standby.p.send_signal(signal.SIGTERM)
        assert standby.p.wait(15) == 0
        assert due_keys(app, ids) == keys
    finally:
        for p in procs:
            p.close()


def test_two_scheduler_processes_on_sqlite_work_once(sqlite_settings: Settings, tmp_path: Path) -> None:
    two_schedulers_work_once(sqlite_settings, tmp_path)


@pytest.mark.postgres
def test_two_scheduler_processes_on_postgres_work_once(pg_settings: Settings, tmp_path: Path) -> None:
    two_schedulers_work_once(pg_settings, tmp_path)


def test_file_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    a, b = FileLock(tmp_path / "s.lock"), FileLock(tmp_path / "s.lock")
    assert a.try_acquire() and not b.try_acquire()
    polls: list[float] = []
    stop_after_two = lambda: len(polls) >= 2  # noqa: E731
    assert acquire(b, poll_seconds=0.01, should_stop=stop_after_two, sleep=polls.append) is False
    a.release()
    assert b.try_acquire() and b.is_held()
    b.release()


@pytest.mark.postgres
def test_advisory_lock_is_exclusive_per_schema(pg_settings: Settings) -> None:
    import psycopg

    def connect() -> psycopg.Connection:
        return psycopg.connect(host=pg_settings.postgres_host, user=pg_settings.postgres_user,
                               dbname=pg_settings.postgres_dbname)  # fmt: skip

    a, b = (
        PostgresAdvisoryLock(connect, pg_settings.postgres_schema),
        PostgresAdvisoryLock(connect, pg_settings.postgres_schema),
    )
    other = PostgresAdvisoryLock(connect, pg_settings.postgres_schema + "_other")
    try:
        assert a.try_acquire() and a.is_held()
        assert not b.try_acquire()
        assert other.try_acquire()  # another deployment (schema) has its own lock
        a.release()
        assert not a.is_held() and b.try_acquire()
    finally:
        for lock in (a, b, other):
            lock.release()


KILLED_RUN = """
import sys, time
from datetime import date
from adapters.composition import build_app
from adapters.settings import Settings
from scheduler.due_index import MemoryDueIndex
from scheduler.jobs import RunReport, run_due

app = build_app(Settings(store="sqlite", data_dir=sys.argv[1]))
index = MemoryDueIndex(app)
done = 0
def step(n):
    global done
    done += n
    print(done, flush=True)
    time.sleep(0.01)
run_due(app, index.find_due, date.fromisoformat(sys.argv[2]), catch_up=index.catch_up, progress=step)
print("finished", flush=True)
"""


def test_kill_9_in_the_middle_of_a_run_then_restart_records_each_item_once(
    sqlite_settings: Settings, clock: Any
) -> None:
    app = build_app(sqlite_settings)
    ids = sign_many(app, 60)
    p = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(sqlite_settings.data_dir), TODAY.isoformat()],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert p.stdout is not None
        for line in p.stdout:
            if line.strip() == "25":
                os.kill(p.pid, signal.SIGKILL)
                break
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGKILL
    done = [cid for cid in ids if app.get(cid).years]
    assert 25 <= len(done) < 60

    index = MemoryDueIndex(app)  # the restarted process
    report = run_due(app, index.find_due, TODAY, catch_up=index.catch_up)
    assert report.conventions == 60 - len(done)
    keys = due_keys(app, ids)
    assert set(keys.values()) == {1}

    reference = build_app(Settings(store="memory"), clock=clock)
    assert sign_many(reference, 60) == ids
    run_due(reference, lambda _d: ids, TODAY)
    assert keys == due_keys(reference, ids)


class FakeLock:
    description = "fake"

    def __init__(self, held_after_acquire: bool = True) -> None:
        self.held_after_acquire = held_after_acquire
        self.released = False

    def try_acquire(self) -> bool:
        return True

    def is_held(self) -> bool:
        return self.held_after_acquire

    def release(self) -> None:
        self.released = True


def test_the_nightly_cron_is_configured_for_catching_up() -> None:
    from scheduler.process import MISFIRE_GRACE_SECONDS, NIGHTLY_JOB_ID, SchedulerProcess

    process = SchedulerProcess(lambda d: None, FakeLock(), at="03:15", timezone="Europe/Paris")  # type: ignore[arg-type,return-value]
    scheduler = process._build()
    job = scheduler.get_job(NIGHTLY_JOB_ID)
    assert job.coalesce is True and job.misfire_grace_time == MISFIRE_GRACE_SECONDS >= 6 * 3600
    assert job.max_instances == 1
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("3", "15") and str(job.trigger.timezone) == "Europe/Paris"


def test_a_lost_lock_stops_the_process_before_any_work() -> None:
    from scheduler.process import SchedulerProcess

    calls: list[date] = []
    lock = FakeLock(held_after_acquire=False)
    process = SchedulerProcess(calls.append, lock, today=lambda: TODAY)  # type: ignore[arg-type]
    assert process.serve(once=True) == 3
    assert calls == [] and lock.released


def test_a_failing_run_is_logged_and_the_process_goes_on() -> None:
    from scheduler.process import SchedulerProcess

    def boom(today: date) -> Any:
        raise RuntimeError("store unreachable")

    lock = FakeLock()
    process = SchedulerProcess(boom, lock, today=lambda: TODAY)
    assert process.run_once("nightly") is None  # logged as due.run_failed
    assert process.serve(once=True) == 0 and lock.released

    reports: list[date] = []

    def job(today: date) -> RunReport:
        reports.append(today)
        return RunReport(today=today)

    lazy = SchedulerProcess(lambda: job, FakeLock(), today=lambda: TODAY, lazy=True)
    assert lazy.job is None  # nothing built while not holding the lock
    assert lazy.serve(once=True) == 0 and reports == [TODAY]
