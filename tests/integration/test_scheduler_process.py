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
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.composition import build_app
from adapters.settings import Settings
from adapters.simulation import rpps_for
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from scheduler.due_index import MemoryDueIndex
from scheduler.jobs import RunReport, run_due
from scheduler.lock import FileLock, PostgresAdvisoryLock, acquire
from tests.waiting import DEADLINE, OpenCounter, wait_until

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

    def wait_for(self, name: str, timeout: float = DEADLINE) -> dict[str, Any]:
        def logged() -> dict[str, Any] | None:
            if found := self.events(name):
                return found[-1]
            if self.p.poll() is not None:
                raise AssertionError(f"exited {self.p.returncode} before {name}:\n{self.log.read_text()}")
            return None

        return wait_until(logged, lambda: f"{name} in the log:\n{self.log.read_text()}", timeout, interval=0.05)

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        self.handle.close()


def local_tcp_ports(pid: int) -> set[int]:
    """The local ports of the TCP sockets process ``pid`` holds (Linux /proc): its sessions'
    ``client_port`` in pg_stat_activity."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@contextmanager
def lock_attempts(settings: Settings, proc: Proc) -> Iterator[Callable[[], int]]:
    """A counter of the lock attempts a standing-by scheduler makes, observed from outside.

    SQLite: each attempt opens the lock file (inotify sees it; the holder keeps its descriptor).
    PostgreSQL: each attempt is a query on its own session: ``query_start`` moves in
    pg_stat_activity (read on one connection: the server's connection limit is shared).
    """
    if settings.store == "sqlite":
        counter = OpenCounter(settings.data_dir / "scheduler.lock")
        try:
            yield counter.opened
        finally:
            counter.close()
        return
    import psycopg

    seen: set[Any] = set()
    ports = wait_until(lambda: local_tcp_ports(proc.p.pid), "the standby's connection to PostgreSQL")
    with psycopg.connect(
        host=settings.postgres_host, port=settings.postgres_port, user=settings.postgres_user,
        dbname=settings.postgres_dbname, autocommit=True,
    ) as conn:  # fmt: skip

        def queried() -> int:
            rows = conn.execute(
                "SELECT query_start FROM pg_stat_activity WHERE client_port = ANY(%s) AND query LIKE %s",
                (sorted(ports), "%pg_try_advisory_lock%"),
            ).fetchall()
            seen.update(r[0] for r in rows)
            return len(seen)

        yield queried


def two_schedulers_work_once(settings: Settings, tmp_path: Path) -> None:
    app = build_app(settings)
    ids = sign_many(app, 20)
    procs = [Proc(settings, tmp_path / "a.log"), Proc(settings, tmp_path / "b.log")]
    try:
        wait_until(
            lambda: all(p.events("due.run") or p.events("scheduler.standing_by") for p in procs),
            lambda: "one scheduler to run and the other to stand by:\n" + "\n".join(p.log.read_text() for p in procs),
            interval=0.05,
        )
        logs = "\n".join(p.log.read_text() for p in procs)
        worker = next((p for p in procs if p.events("due.run")), None)
        assert worker is not None, logs
        standby = next(p for p in procs if p is not worker)
        assert standby.events("scheduler.standing_by") and not standby.events("due.run"), logs
        run = worker.wait_for("due.run")
        assert run["conventions"] == 20 and run["events"] > 20 * 20 and run["trigger"] == "startup"
        worker.wait_for("scheduler.started")
        with lock_attempts(settings, standby) as attempts:  # evidence, not a guess of time: the standby
            first = attempts()  # tries the lock three more times while the worker holds it, and still waits
            wait_until(lambda: attempts() >= first + 3, "three more lock attempts by the standby", interval=0.02)
        assert standby.p.poll() is None and not standby.events("due.run")
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
import sys
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
    if done == int(sys.argv[3]):
        sys.stdin.readline()  # wait here, in the middle of the run, until the test kills this process
run_due(app, index.find_due, date.fromisoformat(sys.argv[2]), catch_up=index.catch_up, progress=step)
print("finished", flush=True)
"""


def test_kill_9_in_the_middle_of_a_run_then_restart_records_each_item_once(
    sqlite_settings: Settings, clock: Any
) -> None:
    app = build_app(sqlite_settings)
    ids = sign_many(app, 60)
    p = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(sqlite_settings.data_dir), TODAY.isoformat(), "25"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert p.stdout is not None
        for line in p.stdout:  # the child says when it has done 25 conventions, then waits to be killed
            if line.strip() == "25":
                os.kill(p.pid, signal.SIGKILL)
                break
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGKILL
    done = [cid for cid in ids if app.get(cid).years]
    assert len(done) == 25

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
