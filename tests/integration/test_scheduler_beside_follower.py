"""Follower mode: the projection follower is the read models' one writer, the scheduler included.

The nightly job catches the read models up before asking what is due. Where a follower runs, the
job waits for it instead of writing them too (``beside_the_follower``); it writes them itself only
while no follower holds the follower's lock (taking that lock meanwhile), or once a follower has
applied nothing for its patience (logged).
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

import structlog.testing

from adapters.composition import build_app, build_projections
from adapters.projection_follower import Follower, beside_the_follower
from adapters.settings import Settings
from domain.convention import CommandMeta
from projections.engine.runner import Runner
from scheduler.lock import FileLock
from tests.integration.test_projection_models import build_portfolio, sign
from tests.waiting import wait_until

TODAY = date(2026, 6, 30)
META = CommandMeta(actor="agent.durand", reason="dossier complet")


def _deployment(tmp_path: Path):  # noqa: ANN202 - a test helper
    settings = Settings(store="sqlite", data_dir=tmp_path / "data")
    app = build_app(settings, clock=lambda: TODAY)
    build_portfolio(app)
    return settings, app, tmp_path / "data" / "projections.lock"


def _lag(runner) -> int:  # noqa: ANN001
    return max(p["lag"] for p in runner.positions().values())


def test_without_a_follower_the_scheduler_catches_up_holding_the_followers_lock(tmp_path: Path) -> None:
    settings, app, lock_file = _deployment(tmp_path)
    runner = build_projections(settings, app)
    applied = beside_the_follower(runner, FileLock(lock_file))()
    assert applied > 50 and _lag(runner) == 0
    free = FileLock(lock_file)
    assert free.try_acquire()  # released once done
    free.release()


class _Watched:
    """A runner whose catch-ups wait for ``gate`` and whose position checks are counted."""

    def __init__(self, runner: Runner, gate: threading.Event | None = None) -> None:
        self.runner, self.gate, self.checks = runner, gate, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)

    def catch_up(self, **kw: Any) -> int:
        if self.gate is not None:
            self.gate.wait()
        return self.runner.catch_up(**kw)

    def positions(self, head: int | None = None) -> dict[str, dict[str, Any]]:
        self.checks += 1
        return self.runner.positions(head)


def test_with_a_follower_the_scheduler_waits_for_it_and_writes_nothing(tmp_path: Path) -> None:
    settings, app, lock_file = _deployment(tmp_path)
    gate = threading.Event()
    gate.set()
    follower = Follower(lambda: _Watched(build_projections(settings, app), gate), FileLock(lock_file), poll=0.01)
    thread = follower.start_thread()
    try:
        wait_until(lambda: follower.applied > 0, "the follower applying the portfolio")
        gate.clear()  # the follower is held back: the new event waits for it
        sign(app, META, 7, name="Nouveau")
        runner = _Watched(build_projections(settings, app))
        answer: list[int] = []
        scheduler = threading.Thread(target=lambda: answer.append(
            beside_the_follower(runner, FileLock(lock_file), patience=600, poll=0.01)()))  # fmt: skip
        scheduler.start()
        wait_until(lambda: runner.checks >= 3, "the scheduler checking the follower's position again")
        assert not answer and _lag(runner) > 0  # waiting, and not writing meanwhile
        gate.set()
        scheduler.join()
        assert answer == [0] and _lag(runner) == 0  # it wrote nothing: the follower applied the event
    finally:
        gate.set()
        follower.stop.set()
        thread.join()


def test_a_follower_that_applies_nothing_is_not_waited_for_forever(tmp_path: Path) -> None:
    settings, app, lock_file = _deployment(tmp_path)
    stalled = FileLock(lock_file)
    assert stalled.try_acquire()  # a follower that holds the lock and applies nothing
    try:
        runner = build_projections(settings, app)
        with structlog.testing.capture_logs() as logs:
            applied = beside_the_follower(runner, FileLock(lock_file), patience=0, poll=0)()
        assert applied > 50 and _lag(runner) == 0
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["projections.follower_stalled"]
    finally:
        stalled.release()
