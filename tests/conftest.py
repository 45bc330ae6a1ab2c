"""Shared fixtures: an in-memory app for unit tests, SQLite and PostgreSQL stores for integration.

PostgreSQL tests get their own schema, created and dropped around each test, and reach it the way a
deployment does, through ``CONVENTIONS_DATABASE_URL``. When the server is absent they are skipped
with a visible reason, except under CI=true where that is a failure.

``store_settings`` runs a test once per store (ids ``sqlite`` and ``postgres``); ``store_env`` is
the same store as the environment of a ``conventions`` command (CliRunner or subprocess).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from adapters.composition import build_app
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
PG_URL = "postgresql://{user}@{host}:{port}/{dbname}".format(**PG)
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class FixedClock:
    """A clock tests can move: ``clock.today = date(...)``."""

    def __init__(self, today: date = date(2031, 1, 1)) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def meta() -> CommandMeta:
    return CommandMeta(actor="operateur.test", reason="test")


@pytest.fixture
def app(clock: FixedClock) -> ConventionsApp:
    return build_app(Settings(store="memory"), clock=clock)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(store="sqlite", data_dir=tmp_path / "data")


def postgres_available() -> str | None:
    """None when reachable, else the reason it is not."""
    try:
        import psycopg

        with psycopg.connect(connect_timeout=3, **PG):
            return None
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL not reachable on 127.0.0.1:5432 ({type(error).__name__})"


def require_postgres() -> None:
    """Skip (with the reason) when PostgreSQL cannot be reached; under CI=true, fail instead."""
    reason = postgres_available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped (with everything in it) afterwards."""
    require_postgres()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(autocommit=True, **PG) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(autocommit=True, **PG) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def pg_settings(pg_schema: str, tmp_path: Path) -> Settings:
    """Settings on a fresh PostgreSQL schema, given as a deployment gives it (the URL)."""
    return Settings(
        database_url=f"{PG_URL}?schema={pg_schema}",
        data_dir=tmp_path / "pg-data",  # holds nothing but what a CLI test writes there (exports)
        postgres_pool_size=1,  # each app opens its pool eagerly: keep the suite under max_connections
    )


@pytest.fixture(params=STORES)
def store_settings(request: pytest.FixtureRequest) -> Settings:
    """The test runs once on SQLite (a temporary data directory) and once on PostgreSQL (its own schema)."""
    return request.getfixturevalue("sqlite_settings" if request.param == "sqlite" else "pg_settings")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a ``conventions`` process needs to open the store of ``settings``."""
    env = {"CONVENTIONS_DATA_DIR": str(settings.data_dir)}
    if settings.store == "postgres":
        assert settings.database_url, "PostgreSQL test settings come from a URL (pg_settings)"
        env |= {"CONVENTIONS_DATABASE_URL": settings.database_url, "CONVENTIONS_POSTGRES_POOL_SIZE": "1"}
    return env


@pytest.fixture
def store_env(store_settings: Settings) -> dict[str, str]:
    """``store_settings`` as the environment of a ``conventions`` command."""
    return settings_env(store_settings)


@pytest.fixture
def store_in_env(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``store_settings``, also set in this process's environment: every ``conventions`` command the
    test invokes (CliRunner, subprocess inheriting it) opens that store."""
    for key, value in settings_env(store_settings).items():
        monkeypatch.setenv(key, value)
    return store_settings
