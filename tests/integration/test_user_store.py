"""The user store on PostgreSQL: a token check is one statement on the wire; a user's creation
(read, delete a revoked one, insert) still runs as one transaction; a served process remembers
the tokens it saw until another process changes the users."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.settings import Settings
from adapters.users import UserStore, build_user_store
from domain.errors import ForbiddenTransition
from tests.helpers import sent_statements, traced
from tests.waiting import wait_until


@pytest.fixture
def store(pg_settings: Settings) -> Iterator[UserStore]:
    users = build_user_store(pg_settings)
    yield users
    users.close()


def wire(store: UserStore, trace: Path, action: Any) -> list[str]:
    """The statements the store sent to PostgreSQL during ``action``, on every connection it took."""
    taken = store._connect
    with traced(trace) as trace_connection:

        def tracing() -> Any:
            conn = taken()
            trace_connection(conn)
            return conn

        store._connect = tracing
        try:
            action()
        finally:
            store._connect = taken
    return sent_statements(trace)


def test_a_token_check_is_one_statement_without_begin_or_commit(store: UserStore, tmp_path: Path) -> None:
    _, token = store.add("op", "operator", ["281"])
    sent = wire(store, tmp_path / "trace", lambda: store.authenticate(token))
    assert len(sent) == 1, sent
    assert "SELECT" in sent[0] and not any("BEGIN" in s or "COMMIT" in s for s in sent), sent
    assert store.authenticate(token).name == "op"  # type: ignore[union-attr]
    assert store.authenticate("cpam_unknown") is None


def test_adding_a_user_is_one_transaction(store: UserStore, tmp_path: Path) -> None:
    store.add("op", "operator", ["281"])
    store.revoke("op")
    sent = wire(store, tmp_path / "trace", lambda: store.add("op", "operator", ["751"]))
    assert "BEGIN" in sent[0] and "COMMIT" in sent[-1], sent
    assert [u.cpams for u in store.list()] == [frozenset({"751"})]
    with pytest.raises(ForbiddenTransition):  # refused inside the transaction: nothing changes
        store.add("op", "admin")
    assert [(u.role.value, u.cpams) for u in store.list()] == [("operator", frozenset({"751"}))]


def test_a_served_process_remembers_a_token_until_another_process_revokes_it(pg_settings: Settings) -> None:
    """The cache of ``conventions serve`` (``adapters.token_cache``): a token seen once is answered
    without the database, and a revocation by another process (here, another store: the CLI's)
    reaches it through the table's trigger, before any entry could expire."""
    served = build_user_store(pg_settings, cache=True)
    elsewhere = build_user_store(pg_settings)
    try:
        assert served.cache is not None
        served.cache.ttl = 3600.0  # only the notification can empty it within this test
        wait_until(lambda: served.cache.listening, "the served store to listen")  # type: ignore[union-attr]
        _, token = elsewhere.add("op", "operator", ["281"])
        assert served.cached(token) is None  # never seen here
        # The first answers may be refused a place: the notification of the creation can arrive
        # after the database was asked (an answer read before a change is never kept).
        wait_until(lambda: served.authenticate(token) and served.cached(token), "the token to be remembered")
        assert served.cached(token).name == "op"  # type: ignore[union-attr]
        elsewhere.revoke("op")
        wait_until(lambda: served.cached(token) is None, "the revocation to reach the served process")
        assert served.authenticate(token) is None
        assert served.cached(token) is None  # a refused token is never remembered
    finally:
        served.close()
        elsewhere.close()


def test_processes_starting_together_install_the_trigger_once(pg_settings: Settings) -> None:
    """After ``conventions init`` (which creates the table), API processes start together."""
    with psycopg.connect(**pg_settings.postgres_connect_kwargs(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE conventions_users (name TEXT PRIMARY KEY, role TEXT NOT NULL, cpams TEXT NOT NULL, "
            "token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT)"
        )
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: build_user_store(pg_settings), range(4)))
    for store in stores:
        store.close()
    with psycopg.connect(**pg_settings.postgres_connect_kwargs()) as conn:
        triggers = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'conventions_users'::regclass AND NOT tgisinternal"
        ).fetchone()
    assert triggers == (1,)
