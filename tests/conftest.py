"""Shared fixtures: an in-memory app for unit tests, SQLite and PostgreSQL stores for integration.

PostgreSQL tests get their own schema, created and dropped around each test. When the server is
absent they are skipped with a visible reason, except under CI=true where that is a failure.
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


@pytest.fixture
def pg_settings() -> Iterator[Settings]:
    """Settings on a fresh PostgreSQL schema, dropped afterwards."""
    reason = postgres_available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(autocommit=True, **PG) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield Settings(
            store="postgres",
            postgres_host=PG["host"],
            postgres_port=PG["port"],
            postgres_user=PG["user"],
            postgres_dbname=PG["dbname"],
            postgres_schema=schema,
            postgres_pool_size=1,  # each app opens its pool eagerly: keep the suite under max_connections
        )
    finally:
        with psycopg.connect(autocommit=True, **PG) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
