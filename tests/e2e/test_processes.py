"""Processes with one job each: who writes the read models (``CONVENTIONS_PROJECTIONS``).

- ``follower`` (PostgreSQL's default): the API only reads; until the follower has built the read
  models a list is 503 and ``/ready`` says not ready; a command shows once the follower applied it.
- ``inline`` (SQLite's default): ``serve`` runs the follower in a thread, so one process is a whole
  deployment and a burst far beyond what a request catches up never freezes the lists; a
  ``project --follow`` beside it stands by, and takes over when ``serve`` dies (``kill -9``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.composition import build_app, build_projections
from adapters.http.read_models import INLINE_CATCH_UP
from adapters.projection_follower import Follower
from adapters.settings import Settings
from adapters.users import build_user_store
from tests.api.conftest import RPPS, TODAY, seed_convention
from tests.conftest import FixedClock
from tests.e2e.fleet import Proc, Server, env_for
from tests.integration.test_projection_crash import bulk
from tests.waiting import wait_until

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from adapters.http.app import create_app  # noqa: E402 - after the TestClient import, warnings silenced

pytestmark = pytest.mark.timeout(600)


def test_the_setting_defaults_to_inline_on_sqlite_and_follower_on_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(store="sqlite").projections_mode() == "inline"
    assert Settings(store="memory").projections_mode() == "inline"
    assert Settings(store="postgres").projections_mode() == "follower"
    assert Settings(store="postgres", projections="inline").projections_mode() == "inline"
    monkeypatch.setenv("CONVENTIONS_PROJECTIONS", "follower")
    assert Settings(store="sqlite").projections_mode() == "follower"


def test_with_a_follower_the_api_only_reads_and_ready_tells_the_lag(tmp_path: Path) -> None:
    settings = Settings(store="sqlite", data_dir=tmp_path / "data", projections="follower", ready_max_lag=0)
    api = create_app(settings, FixedClock(TODAY))
    app = api.state.services.app
    token = api.state.services.users.add("admin", "admin", [])[1]
    client = TestClient(api, headers={"Authorization": f"Bearer {token}"})
    seed_convention(app, "P-1", "281", RPPS[0])

    unbuilt = client.get("/conventions")
    assert unbuilt.status_code == 503 and unbuilt.json()["code"] == "read_models_not_built"
    assert client.get("/ready").status_code == 503  # nothing built: out of the load balancer

    follower = build_projections(settings)  # what `conventions project --follow` does, once
    follower.catch_up()
    listed = client.get("/conventions").json()
    assert listed["total"] == 1 and listed["freshness"]["lag"] == 0
    assert client.get("/ready").status_code == 200

    seed_convention(app, "P-2", "281", RPPS[1])
    stale = client.get("/conventions").json()
    assert stale["total"] == 1 and stale["freshness"]["lag"] > 0  # the API did not write the read models
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json()["lag"] > 0  # more than CONVENTIONS_READY_MAX_LAG=0 behind
    follower.catch_up()
    assert client.get("/conventions").json()["total"] == 2
    assert client.get("/ready").status_code == 200


class ScriptedLock:
    """A lock whose answers a test chooses: taken at each ``try_acquire``, lost once after ``lose_after`` checks."""

    description = "scripted lock"

    def __init__(self, lose_after: int) -> None:
        self.acquired = 0
        self.checks = 0
        self.lose_after = lose_after

    def try_acquire(self) -> bool:
        self.acquired += 1
        return True

    def is_held(self) -> bool:
        self.checks += 1
        return self.checks != self.lose_after

    def release(self) -> None:
        pass


class ScriptedRunner:
    """A runner whose ``catch_up`` fails, then applies, as a test says; stops the follower when done."""

    def __init__(self, script: list[Any], done: Callable[[], None]) -> None:
        self.script = script
        self.calls = 0
        self.done = done

    def catch_up(self) -> int:
        self.calls += 1
        if not self.script:
            self.done()
            return 0
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def test_a_follower_survives_a_failing_database_and_stands_by_again_when_its_lock_is_lost() -> None:
    lock = ScriptedLock(lose_after=2)
    follower = Follower(lambda: runner, lock, poll=0, lock_poll=0, check_lock_every=0, retry_after=0)
    runner = ScriptedRunner([5, OSError("connection lost"), OSError("connection refused"), 3, 0, 2],
                            follower.stop.set)  # fmt: skip
    follower.run()
    assert runner.calls == 7  # two failures retried, nothing skipped
    assert follower.applied == 10
    assert lock.acquired == 2  # the lock lost once: it stood by and took it again


def test_serve_on_sqlite_follows_a_burst_and_a_standing_by_follower_takes_over(tmp_path: Path) -> None:
    settings = Settings(store="sqlite", data_dir=tmp_path / "data")
    app = build_app(settings, clock=FixedClock(TODAY))
    seed_convention(app, "S-1", "281", RPPS[0])
    token = build_user_store(settings).add("admin", "admin", [])[1]
    env = env_for(settings, CONVENTIONS_TODAY=TODAY.isoformat())
    server = Server(tmp_path / "serve.log", env)
    standby: Proc | None = None
    try:
        server.wait_for("projections.lock_acquired")  # the follower thread of serve
        standby = Proc(tmp_path / "follower.log", env, "project", "--follow", "--lock-poll", "0.2")
        standby.wait_for("projections.standing_by")
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            assert c.get("/conventions").json()["total"] == 1  # the read models exist
            head = app.head()
            bulk(app, 0, 300)  # a burst: far more than a request catches up by itself
            assert app.head() - head > INLINE_CATCH_UP
            wait_until(lambda: c.get("/conventions").json()["total"] == 301, "the burst in the list")
        server.kill9()
        standby.wait_for("projections.lock_acquired")  # the lock file is free: the standby follows
        seed_convention(app, "S-2", "281", RPPS[1])
        runner = build_projections(settings)
        wait_until(lambda: min(p["position"] for p in runner.positions().values()) >= runner.head(), "caught up")
        assert runner.verify() == []
        assert standby.terminate() == 0
    finally:
        server.close()
        if standby is not None:
            standby.close()
