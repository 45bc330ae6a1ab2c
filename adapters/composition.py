"""The composition root: one configuration of everything, built from ``Settings``.

Every entry point (CLI, HTTP, scheduler, tests) builds its objects here, so the store is chosen
in one place and nothing relies on the process environment behind our back. The heavier parts
(the web stack, the projections, the scheduler) are imported only by the builder that needs them,
so a CLI command does not pay for FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from eventsourcing.utils import get_topic

from adapters.persistence import mapper_env
from adapters.settings import Settings
from adapters.snapshots import SnapshotStore
from domain.application import ConventionsApp

if TYPE_CHECKING:
    from adapters.http.read_models import ProjectionReadModels
    from adapters.http.services import Services
    from adapters.users import UserStore
    from projections.engine.log import Log
    from projections.engine.runner import Runner
    from projections.engine.store import ProjectionStore
    from scheduler.jobs import NightlyJob
    from scheduler.lock import SchedulerLock


PG_EVENTS_RECORDER = "adapters.pg_events:OneStatementRecorder"  # a topic: SQLite never imports psycopg
ONE_QUERY_REPOSITORY = "adapters.loading:OneQueryRepository"  # a convention's snapshot and events in one query


def event_store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the chosen store, in the storage format of
    ``adapters.persistence`` (whatever the store, tests in memory included)."""
    if settings.store == "memory":
        env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    elif settings.store == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.events_sqlite_path()),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    else:
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": settings.postgres_dbname,
            "POSTGRES_HOST": settings.postgres_host,
            "POSTGRES_PORT": str(settings.postgres_port),
            "POSTGRES_USER": settings.postgres_user,
            "POSTGRES_PASSWORD": settings.postgres_password,
            "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
            # Seconds a request waits for a connection (the library retries a few times): with the
            # database away, the API answers 503 within a minute instead of holding requests for minutes.
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "CREATE_TABLE": "y",
            # The log's table lock held inside the database only (adapters.pg_events).
            "APPLICATION_RECORDER_TOPIC": PG_EVENTS_RECORDER,
        }
        if settings.postgres_schema:
            env["POSTGRES_SCHEMA"] = settings.postgres_schema
    env.update(mapper_env())
    if settings.cipher_key:
        env["CIPHER_TOPIC"] = "eventsourcing.cipher:AESCipher"
        env["CIPHER_KEY"] = settings.cipher_key
    env.update(snapshot_env(settings.snapshot_interval))
    if settings.store != "memory" and settings.snapshot_interval > 0:
        env["REPOSITORY_TOPIC"] = ONE_QUERY_REPOSITORY
    return env


def snapshot_env(interval: int) -> dict[str, str]:
    """The environment that makes ``ConventionsApp`` snapshot a convention every ``interval`` versions
    (0: no snapshot written nor read), in the store that skips what it cannot use (``adapters.snapshots``)."""
    if interval <= 0:
        return {"IS_SNAPSHOTTING_ENABLED": "n"}
    return {
        "IS_SNAPSHOTTING_ENABLED": "y",
        "SNAPSHOT_STORE_TOPIC": get_topic(SnapshotStore),
        "SNAPSHOTTING_INTERVAL": str(interval),
    }


def build_clock(settings: Settings | None = None) -> Callable[[], date]:
    """The application's today: ``CONVENTIONS_TODAY`` when set (a virtual date), else real time.
    Facts are never dated after it (R21)."""
    settings = settings or Settings()
    if settings.today is not None:
        virtual = settings.today
        return lambda: virtual
    return date.today


def build_app(settings: Settings | None = None, clock: Callable[[], date] | None = None) -> ConventionsApp:
    """The application service on this deployment's event store, under its clock."""
    settings = settings or Settings()
    return ConventionsApp(env=event_store_env(settings), clock=clock or build_clock(settings))


def build_scheduler(
    settings: Settings | None = None, app: ConventionsApp | None = None
) -> tuple[NightlyJob, SchedulerLock]:
    """The scheduler's parts for one deployment: ``(build_nightly_job(...), build_scheduler_lock(...))``."""
    settings = settings or Settings()
    return build_nightly_job(settings, app), build_scheduler_lock(settings)


def build_nightly_job(settings: Settings | None = None, app: ConventionsApp | None = None) -> NightlyJob:
    """The nightly job: asks the calendar read model what is due (``conventions_due``), with the
    read models caught up before and after each run: by the job itself in inline mode; in follower
    mode by the deployment's projection follower, which the job waits for (it writes them itself only
    when no follower runs, holding the follower's lock: ``beside_the_follower``)."""
    from projections.calendar import NightlyFailures, conventions_due
    from scheduler.jobs import NightlyJob

    settings = settings or Settings()
    app = app or build_app(settings)
    runner = build_projections(settings, app)
    catch_up = build_catch_up(settings, runner)
    find_due = lambda today: conventions_due(runner.store, today)  # noqa: E731
    return NightlyJob(app, find_due, catch_up, failures=NightlyFailures(runner.store))


def build_catch_up(settings: Settings, runner: Runner) -> Callable[[], int]:
    """How a process that needs fresh read models (the nightly job, ``conventions due``) gets them:
    it catches them up itself in inline mode; in follower mode it waits for the follower, their one
    writer (``adapters.projection_follower.beside_the_follower``)."""
    if settings.projections_mode() != "follower":
        return runner.catch_up
    from adapters.projection_follower import beside_the_follower

    return beside_the_follower(runner, build_scheduler_lock(settings, "projections"))


def build_scheduler_lock(settings: Settings | None = None, purpose: str = "scheduler") -> SchedulerLock:
    """One scheduler (``purpose="projections"``: one projection follower) per event store: an advisory
    lock keyed by the PostgreSQL database and schema, or a lock file in the SQLite data directory."""
    from scheduler.lock import FileLock, PostgresAdvisoryLock

    settings = settings or Settings()
    if settings.store != "postgres":
        return FileLock(settings.data_dir / f"{purpose}.lock")
    import psycopg

    def connect() -> psycopg.Connection:
        return psycopg.connect(
            host=settings.postgres_host, port=settings.postgres_port, user=settings.postgres_user,
            password=settings.postgres_password or None, dbname=settings.postgres_dbname,
            application_name=f"conventions-{purpose}",
        )  # fmt: skip

    return PostgresAdvisoryLock(connect, f"{settings.postgres_dbname}.{settings.postgres_schema or 'public'}", purpose)


def build_projection_store(settings: Settings | None = None) -> ProjectionStore:
    """The projection database: ``projections.sqlite`` beside the events file, or the events'
    PostgreSQL database and schema (tables ``pj_*`` and ``projection_tracking``)."""
    from projections.engine.privacy import Sealer
    from projections.engine.store import ProjectionStore

    settings = settings or Settings()
    sealer = Sealer.of(settings.cipher_key)  # the event store's key seals the read models' personal data
    if settings.store == "postgres":
        return ProjectionStore.postgres(
            host=settings.postgres_host, port=settings.postgres_port, user=settings.postgres_user,
            password=settings.postgres_password, dbname=settings.postgres_dbname, schema=settings.postgres_schema,
            sealer=sealer,
        )  # fmt: skip
    if settings.store == "memory":
        return ProjectionStore.sqlite(":memory:", sealer)
    return ProjectionStore.sqlite(settings.projections_sqlite_path(), sealer)


def build_projections(
    settings: Settings | None = None, app: ConventionsApp | None = None, batch_size: int = 500
) -> Runner:
    """The projection runner (``projections.engine.runner.Runner``) over every read model."""
    from projections import all_models
    from projections.engine.runner import Runner

    settings = settings or Settings()
    app = app or build_app(settings)
    return Runner(app, build_projection_store(settings), all_models(), batch_size=batch_size, log=_log(settings, app))


def _log(settings: Settings, app: ConventionsApp) -> Log:
    """How the projections read the log: the SQLite events file directly (``projections.engine.log``),
    otherwise through the application."""
    from projections.engine.log import AppLog, SqliteLog

    if settings.store == "sqlite":
        return SqliteLog(str(settings.events_sqlite_path()))
    return AppLog(app)


def build_read_models(settings: Settings | None = None, app: ConventionsApp | None = None) -> ProjectionReadModels:
    """The reads the HTTP API serves: the projections' queries on this deployment's projection store."""
    from adapters.http.read_models import ProjectionReadModels

    settings = settings or Settings()
    runner = build_projections(settings, app or build_app(settings))
    inline = settings.projections_mode() == "inline"
    if settings.store == "postgres" and not inline:  # the API only reads: requests read at once
        runner.store.read_in_parallel(_postgres_pool(settings, "conventions-read-models", settings.postgres_pool_size))
    return ProjectionReadModels(runner, catch_up=inline)


def _postgres_pool(settings: Settings, name: str, size: int) -> Any:
    """A pool of connections to the deployment's PostgreSQL database and schema."""
    from psycopg_pool import ConnectionPool

    return ConnectionPool(
        kwargs=settings.postgres_connect_kwargs() | {"application_name": name}, min_size=1, max_size=max(size, 1),
        open=True,
        name=name, timeout=5,  # database away: a 503 in seconds, not a request held 30 s
    )  # fmt: skip


def build_services(
    settings: Settings | None = None,
    clock: Callable[[], date] | None = None,
    *,
    conventions: ConventionsApp | None = None,
    users: UserStore | None = None,
    read_models: ProjectionReadModels | None = None,
) -> Services:
    """What the HTTP routes share, on one configuration: the application, its users, the CPAM scope
    guard, the read models and the clock. A part given (a test's app, users or read models) is used
    as it is; the others are built here."""
    from adapters.http.auth import ScopeGuard
    from adapters.http.services import Services
    from adapters.users import build_user_store

    settings = settings or Settings()
    clock = clock or build_clock(settings)
    conventions = conventions or build_app(settings, clock)
    return Services(
        app=conventions,
        users=users or build_user_store(settings),
        scope=ScopeGuard(conventions),
        read_models=read_models or build_read_models(settings, conventions),
        clock=clock,
        ready_max_lag=settings.ready_max_lag,
    )
