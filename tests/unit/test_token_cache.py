"""The token cache of a served API process (``adapters.token_cache``), against a fake listening
connection: it caches only while listening, empties on every notification and on a lost
connection, and refuses an answer read before a change."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.token_cache import TokenCache
from tests.waiting import wait_until


class Listening:
    """A fake autocommit connection: ``notifies`` yields what the test sends, "drop" kills it."""

    def __init__(self, events: queue.Queue[str], opened: list[str]) -> None:
        self.events, self.opened = events, opened

    def __enter__(self) -> Listening:
        return self

    def __exit__(self, *exc: object) -> None:
        self.opened.append("closed")

    def execute(self, sql: str) -> None:
        self.opened.append(sql)

    def notifies(self, timeout: float) -> Iterator[str]:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        if event == "drop":
            raise OSError("server closed the connection")
        yield event


@pytest.fixture
def wire() -> Iterator[tuple[TokenCache, queue.Queue[str], list[str], list[bool]]]:
    events: queue.Queue[str] = queue.Queue()
    opened: list[str] = []
    reachable = [False]

    def connect() -> Any:
        if not reachable[0]:
            raise OSError("connection refused")
        return Listening(events, opened)

    cache = TokenCache(connect, retry=0.01)
    yield cache, events, opened, reachable
    cache.close()


def listen(cache: TokenCache, reachable: list[bool]) -> None:
    """The database answers: wait until the cache listens (evidence, not a delay)."""
    reachable[0] = True
    wait_until(lambda: cache.listening, "the cache to listen")


def test_nothing_is_cached_until_the_cache_listens(wire: Any) -> None:
    cache, _, opened, reachable = wire
    assert not cache.listening and cache.generation() is None
    cache.put("h1", "alice", cache.generation())
    assert cache.get("h1") is None
    listen(cache, reachable)
    assert opened[0] == "LISTEN conventions_users"
    cache.put("h1", "alice", cache.generation())
    assert cache.get("h1") == "alice"


def test_a_change_empties_the_cache_and_an_answer_read_before_it_is_refused(wire: Any) -> None:
    cache, events, _, reachable = wire
    listen(cache, reachable)
    cache.put("h1", "alice", cache.generation())
    before = cache.generation()  # a request asks the database...
    events.put("public")  # ...while a revocation commits elsewhere
    wait_until(lambda: cache.get("h1") is None, "the notification to empty the cache")
    cache.put("h2", "bob", before)  # what the request read may predate the change
    assert cache.get("h2") is None
    cache.put("h2", "bob", cache.generation())
    assert cache.get("h2") == "bob"


def test_a_lost_connection_stops_caching_until_listening_again(wire: Any) -> None:
    cache, events, opened, reachable = wire
    listen(cache, reachable)
    cache.put("h1", "alice", cache.generation())
    reachable[0] = False
    events.put("drop")
    wait_until(lambda: not cache.listening, "the cache to notice the lost connection")
    assert cache.get("h1") is None and "closed" in opened
    cache.put("h1", "alice", cache.generation())
    assert cache.get("h1") is None  # changes are not heard meanwhile: nothing is kept
    reachable[0] = True
    wait_until(lambda: cache.listening, "the cache to listen again")
    assert opened.count("LISTEN conventions_users") == 2


def test_an_entry_expires(wire: Any) -> None:
    cache, _, _, reachable = wire
    listen(cache, reachable)
    cache.ttl = -1.0  # already past: no timing involved
    cache.put("h1", "alice", cache.generation())
    assert cache.get("h1") is None
