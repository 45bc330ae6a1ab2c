"""The composition root: one configuration of everything, built from ``Settings``.

Every entry point (CLI, HTTP, scheduler, tests) builds its objects here, so the store is chosen
in one place and nothing relies on the process environment behind our back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from adapters.settings import Settings
from domain.application import ConventionsApp


def event_store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the chosen store."""
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
            "CREATE_TABLE": "y",
        }
        if settings.postgres_schema:
            env["POSTGRES_SCHEMA"] = settings.postgres_schema
    if settings.cipher_key:
        env["CIPHER_TOPIC"] = "eventsourcing.cipher:AESCipher"
        env["CIPHER_KEY"] = settings.cipher_key
    return env


def build_app(settings: Settings | None = None, clock: Callable[[], date] | None = None) -> ConventionsApp:
    settings = settings or Settings()
    return ConventionsApp(env=event_store_env(settings), clock=clock)


def build_scheduler(settings: Settings | None = None, app: ConventionsApp | None = None):  # -> (job, lock)
    """The scheduler's parts for one deployment: the nightly job (app + due source) and its lock.

    Returns ``(NightlyJob, SchedulerLock)``. One lock per event store: an advisory lock keyed by
    the PostgreSQL database and schema, or a lock file in the SQLite data directory.
    """
    from scheduler.due_index import MemoryDueIndex
    from scheduler.jobs import NightlyJob
    from scheduler.lock import FileLock, PostgresAdvisoryLock

    settings = settings or Settings()
    app = app or build_app(settings)
    index = MemoryDueIndex(app)
    job = NightlyJob(app, index.find_due, index.catch_up)
    if settings.store == "postgres":
        import psycopg

        def connect() -> psycopg.Connection:
            return psycopg.connect(
                host=settings.postgres_host, port=settings.postgres_port, user=settings.postgres_user,
                password=settings.postgres_password or None, dbname=settings.postgres_dbname,
                application_name="conventions-scheduler",
            )  # fmt: skip

        lock = PostgresAdvisoryLock(connect, f"{settings.postgres_dbname}.{settings.postgres_schema or 'public'}")
    else:
        lock = FileLock(settings.data_dir / "scheduler.lock")
    return job, lock


def build_projection_store(settings: Settings | None = None):  # -> projections.store.ProjectionStore
    """The projection database: ``projections.sqlite`` beside the events file, or the events'
    PostgreSQL database and schema (tables ``pj_*`` and ``projection_tracking``)."""
    from projections.store import ProjectionStore

    settings = settings or Settings()
    if settings.store == "postgres":
        return ProjectionStore.postgres(
            host=settings.postgres_host, port=settings.postgres_port, user=settings.postgres_user,
            password=settings.postgres_password, dbname=settings.postgres_dbname, schema=settings.postgres_schema,
        )  # fmt: skip
    if settings.store == "memory":
        return ProjectionStore.sqlite(":memory:")
    return ProjectionStore.sqlite(settings.projections_sqlite_path())


def build_projections(settings: Settings | None = None, app: ConventionsApp | None = None, batch_size: int = 500):
    """The projection runner (``projections.runner.Runner``) over every read model."""
    from projections import all_models
    from projections.runner import Runner

    settings = settings or Settings()
    app = app or build_app(settings)
    return Runner(app, build_projection_store(settings), all_models(), batch_size=batch_size)
