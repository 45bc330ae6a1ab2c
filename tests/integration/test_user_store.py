"""The user store on PostgreSQL: a token check, on every request, is one statement on the wire; a
user's creation (read, delete a revoked one, insert) still runs as one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from adapters.users import UserStore, build_user_store
from domain.errors import ForbiddenTransition


@pytest.fixture
def store(pg_settings: Settings) -> Iterator[UserStore]:
    users = build_user_store(pg_settings)
    yield users
    users.close()


def wire(store: UserStore, trace: Path, action: Any) -> list[str]:
    """The simple-protocol statements (BEGIN, COMMIT, ...) the store sent to PostgreSQL during
    ``action``, read from libpq's own trace of every connection it took."""
    taken = store._connect

    def traced() -> Any:
        conn = taken()
        conn.pgconn.trace(out.fileno())
        return conn

    with trace.open("w") as out:
        store._connect = traced
        try:
            action()
        finally:
            store._connect = taken
        out.flush()
    statements = []
    for line in trace.read_text().splitlines():
        fields = line.split("\t")[-4:]  # [timestamp,] direction, length, message, content
        if len(fields) == 4 and fields[0] == "F" and fields[2] in ("Query", "Parse"):
            statements.append(fields[3].strip())
    return statements


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
