"""Twenty clients post commands on one convention at once, through a real uvicorn on 127.0.0.1.

Whatever the interleaving: the history holds exactly the winners' events (none lost, none
doubled), versions stay contiguous, and every loser got 409 (concurrent change) or 412 (stale
If-Match). Run on SQLite (tmp dir) and on PostgreSQL (own schema; skipped only when absent).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn

from adapters.http.app import create_app
from adapters.settings import Settings
from domain import events as ev
from tests.api.conftest import RPPS, TODAY, seed_convention
from tests.conftest import FixedClock
from tests.helpers import free_port
from tests.waiting import wait_until

CLIENTS = 20


class Served:
    def __init__(self, settings: Settings) -> None:
        self.api = create_app(settings, FixedClock(TODAY))
        svc = self.api.state.services
        self.app = svc.app
        self.token = svc.users.add("op", "operator", ["281"])[1]
        self.cid = seed_convention(svc.app, "C-281", "281", RPPS[0])
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(self.api, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        wait_until(lambda: self.server.started, "uvicorn to start", interval=0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def race(self, make_request: Any) -> list[httpx.Response]:
        """Every client waits at a barrier, then sends its request: they all hit the server at once."""
        barrier = threading.Barrier(CLIENTS)

        def client(i: int) -> httpx.Response:
            with httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {self.token}"}) as c:
                method, path, body, headers = make_request(i)
                barrier.wait(10)
                return c.request(method, path, json=body, headers=headers)

        with ThreadPoolExecutor(CLIENTS) as pool:
            return list(pool.map(client, range(CLIENTS)))

    def objectives(self) -> list[ev.ObjectiveSet]:
        return [e for e in self.app.events.get(self.cid) if isinstance(e, ev.ObjectiveSet)]


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Served]:
    settings = (
        Settings(store="sqlite", data_dir=tmp_path / "data")
        if request.param == "sqlite"
        else request.getfixturevalue("pg_settings")
    )
    with Served(settings) as s:
        yield s


def test_racing_commands_lose_nothing_and_double_nothing(served: Served) -> None:
    before = list(served.app.events.get(served.cid))
    path = f"/conventions/{served.cid}/objectives"
    responses = served.race(
        lambda i: ("POST", path, {"from_year": 3, "target_patients": 1000 + i, "on": "2025-06-01"}, {})
    )
    winners = {1000 + i for i, r in enumerate(responses) if r.status_code == 200}
    losers = [r for r in responses if r.status_code != 200]
    assert winners, [r.text for r in responses]
    assert all(r.status_code in (409, 412) for r in losers), [r.text for r in losers]
    after = list(served.app.events.get(served.cid))
    assert [e.originator_version for e in after] == list(range(1, len(after) + 1))
    assert len(after) == len(before) + len(winners)  # nothing lost, nothing doubled
    assert sorted(e.target_patients for e in served.objectives()) == sorted(winners)
    assert sorted(r.json()["version"] for r in responses if r.status_code == 200) == list(
        range(len(before) + 1, len(after) + 1)
    )


def test_with_if_match_exactly_one_operator_wins(served: Served) -> None:
    version = len(list(served.app.events.get(served.cid)))
    path = f"/conventions/{served.cid}/objectives"
    responses = served.race(
        lambda i: ("POST", path, {"from_year": 3, "target_patients": 2000 + i}, {"If-Match": f'"{version}"'})
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409, 412}
    assert len(list(served.app.events.get(served.cid))) == version + 1
    assert [o.target_patients for o in served.objectives()] == [
        2000 + i for i, r in enumerate(responses) if r.status_code == 200
    ]


def test_the_same_key_sent_twenty_times_at_once_writes_once(served: Served) -> None:
    version = len(list(served.app.events.get(served.cid)))
    path = f"/conventions/{served.cid}/objectives"
    body = {"from_year": 3, "target_patients": 1234}
    responses = served.race(lambda i: ("POST", path, body, {"Idempotency-Key": "one-key"}))
    ok = [r for r in responses if r.status_code == 200]
    assert ok and all(r.json() == ok[0].json() for r in ok)
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    assert len(list(served.app.events.get(served.cid))) == version + 1
    # After the race, a retry always gets the first answer.
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {served.token}"}) as c:
        retry = c.post(path, json=body, headers={"Idempotency-Key": "one-key"})
    assert retry.status_code == 200 and retry.json() == ok[0].json()
