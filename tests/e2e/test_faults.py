"""Real faults on a PostgreSQL deployment of real processes: nothing acknowledged is lost, nothing is
half written, nothing is done twice.

- an API process killed (``kill -9``) in the middle of commands: every stored command is whole,
  with its receipt; a retried Idempotency-Key completes once;
- the database cut during a load (a TCP proxy in front of it, never the shared server itself):
  clients get 503, never 500; the service recovers by itself; every 2xx command's events are stored;
- the projection follower and the scheduler killed mid-work and restarted: read models equal a fresh
  replay, each nightly item recorded once;
- two API processes, a follower and a scheduler on one schema: the 20-client race and idempotent
  retries hold across processes.

Every wait is for evidence (a log line, a count, a port answering); never a sleep before a kill.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from eventsourcing.application import AggregateNotFoundError

from adapters.composition import build_app, build_projections
from adapters.settings import Settings
from adapters.users import build_user_store
from domain.application import ConventionsApp
from domain.identifiers import command_receipt_id
from scheduler.jobs import run_due
from tests.api.conftest import RPPS, TODAY, seed_convention
from tests.conftest import FixedClock
from tests.e2e.fleet import Proc, Server, TcpProxy, env_for
from tests.integration.test_projection_crash import bulk
from tests.integration.test_scheduler_process import TODAY as SCHEDULER_TODAY
from tests.integration.test_scheduler_process import due_keys, sign_many
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(600)
USER = "op"
CLIENTS = 20


@dataclass
class Deployment:
    settings: Settings
    tmp: Path
    app: ConventionsApp
    token: str
    cids: list[UUID]

    def env(self, **extra: str) -> dict[str, str]:
        return env_for(self.settings, CONVENTIONS_TODAY=TODAY.isoformat(), **extra)

    def serve(self, name: str, port: int | None = None, **extra: str) -> Server:
        return Server(self.tmp / f"{name}.log", self.env(**extra), port)


@pytest.fixture
def deployment(pg_settings: Settings, tmp_path: Path) -> Iterator[Deployment]:
    app = build_app(pg_settings, clock=FixedClock(TODAY))
    cids = [seed_convention(app, f"F-{i}", "281", RPPS[i]) for i in range(len(RPPS))]
    token = build_user_store(pg_settings).add(USER, "operator", ["281"])[1]
    yield Deployment(pg_settings, tmp_path, app, token, cids)
    app.close()


@dataclass
class Sent:
    key: str
    cid: UUID
    body: dict[str, Any]
    status: int | None = None  # None: no answer (the connection died)
    result: dict[str, Any] | None = None


@dataclass
class Load:
    """One client per convention, posting objectives in a loop, each command with its own key."""

    url: str
    token: str
    cids: list[UUID]
    stop_on_no_answer: bool = False
    sent: list[Sent] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.threads = [threading.Thread(target=self._client, args=ic, daemon=True) for ic in enumerate(self.cids)]
        for t in self.threads:
            t.start()

    def _client(self, i: int, cid: UUID) -> None:
        with httpx.Client(base_url=self.url, timeout=120, headers={"Authorization": f"Bearer {self.token}"}) as c:
            n = 0
            while not self.stop.is_set():
                n += 1
                s = Sent(f"load-{i}-{n}", cid, {"from_year": 3, "target_patients": 1000 + n})
                try:
                    r = c.post(f"/conventions/{cid}/objectives", json=s.body, headers={"Idempotency-Key": s.key})
                    s.status, s.result = r.status_code, r.json()
                except httpx.TransportError:
                    pass
                with self.lock:
                    self.sent.append(s)
                if s.status is None and self.stop_on_no_answer:
                    return

    def count(self, status: int | None, since: int = 0) -> int:
        with self.lock:
            return sum(1 for s in self.sent[since:] if s.status == status)

    def mark(self) -> int:
        with self.lock:
            return len(self.sent)

    def finish(self) -> list[Sent]:
        self.stop.set()
        for t in self.threads:
            t.join(180)
            assert not t.is_alive(), "a load client never returned"
        return list(self.sent)


def commands_are_whole(app: ConventionsApp, cids: list[UUID], sent: list[Sent]) -> None:
    """Each convention's versions are contiguous; each command's events are all there with its
    receipt, or none of them and no receipt (never half a command)."""
    by_command: dict[str, list[Any]] = {}
    for cid in cids:
        events = list(app.events.get(cid))
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
        for e in events:
            by_command.setdefault(e.command_id, []).append(e)
    for s in sent:
        command = f"http:{USER}:{s.key}"
        events = by_command.get(command, [])
        try:
            receipt = app.repository.get(command_receipt_id(command))
        except AggregateNotFoundError:
            receipt = None
        assert (receipt is not None) == bool(events), f"{s.key}: receipt {receipt is not None}, {len(events)} event(s)"
        if receipt is not None:
            result = receipt.result
            first = result["version"] - result["recorded"] + 1
            assert [e.originator_version for e in events] == list(range(first, result["version"] + 1)), s.key
            assert result["id"] == str(s.cid)


def stored_once(app: ConventionsApp, s: Sent) -> int:
    """How many events the command with this key recorded (1 when it was carried out once)."""
    return sum(1 for e in app.events.get(s.cid) if e.command_id == f"http:{USER}:{s.key}")


def retry(server: Server, token: str, s: Sent) -> httpx.Response:
    with server.client(token) as c:
        return c.post(f"/conventions/{s.cid}/objectives", json=s.body, headers={"Idempotency-Key": s.key})


def test_kill_9_of_an_api_process_mid_commands_leaves_whole_commands_and_retries_complete_once(
    deployment: Deployment,
) -> None:
    first = deployment.serve("serve-1")
    try:
        load = Load(first.url, deployment.token, deployment.cids, stop_on_no_answer=True)
        wait_until(lambda: load.count(200) >= 30, "30 commands acknowledged")
        first.kill9()  # clients are in the middle of their next command
        sent = load.finish()
    finally:
        first.close()
    unanswered = [s for s in sent if s.status is None]
    assert unanswered, "the kill found no command in flight"
    assert {s.status for s in sent} <= {200, None}, Counter(s.status for s in sent)
    commands_are_whole(deployment.app, deployment.cids, sent)
    for s in sent:
        if s.status == 200:
            assert stored_once(deployment.app, s) == 1, s.key

    second = deployment.serve("serve-2")
    try:
        for s in unanswered + [next(s for s in sent if s.status == 200)]:
            answers = [retry(second, deployment.token, s) for _ in range(2)]
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            assert answers[0].json() == answers[1].json()
            if s.result is not None:
                assert answers[0].json() == s.result  # the first result stands
            assert stored_once(deployment.app, s) == 1, s.key
    finally:
        assert second.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once shut down
    commands_are_whole(deployment.app, deployment.cids, sent)


def test_database_cut_during_a_load_gives_503_then_recovers_and_loses_nothing_acknowledged(
    deployment: Deployment,
) -> None:
    proxy = TcpProxy((deployment.settings.postgres_host, deployment.settings.postgres_port))
    server = deployment.serve("serve", CONVENTIONS_POSTGRES_PORT=str(proxy.port))
    try:
        load = Load(server.url, deployment.token, deployment.cids)
        wait_until(lambda: load.count(200) >= 20, "20 commands acknowledged before the cut")
        proxy.cut()
        cut_at = load.mark()
        wait_until(lambda: load.count(503, since=cut_at) >= len(deployment.cids), "503 answers during the cut")
        proxy.restore()
        restored_at = load.mark()
        wait_until(lambda: load.count(200, since=restored_at) >= 20, "commands acknowledged again after the restore")
        sent = load.finish()
        statuses = Counter(s.status for s in sent)
        assert set(statuses) <= {200, 503}, statuses  # never a 500, never a dropped connection
        assert statuses[503] >= len(deployment.cids)
        for s in sent:
            if s.status == 200:  # acknowledged: stored, once
                assert stored_once(deployment.app, s) == 1, s.key
        commands_are_whole(deployment.app, deployment.cids, sent)
        for s in [s for s in sent if s.status == 503]:  # the client's retry, same key: carried out once
            answer = retry(server, deployment.token, s)
            assert answer.status_code == 200, answer.text
            assert stored_once(deployment.app, s) == 1, s.key
        # /ready's read model queries find their connection broken once, then open a new one.
        wait_until(lambda: httpx.get(f"{server.url}/ready", timeout=60).json().get("store") == "ok", "/ready: store ok")
    finally:
        server.close()
        proxy.close()


def race(servers: list[Server], token: str, requests: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[Any]:
    """Every client waits at a barrier, then posts: client ``i`` goes to server ``i % len(servers)``."""
    barrier = threading.Barrier(len(requests))

    def client(i: int) -> httpx.Response:
        with servers[i % len(servers)].client(token) as c:
            path, body, headers = requests[i]
            barrier.wait(30)
            return c.post(path, json=body, headers=headers)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(client, range(len(requests))))


def test_two_api_processes_a_follower_and_a_scheduler_race_safely_and_retries_hold(deployment: Deployment) -> None:
    env = deployment.env()
    follower = Proc(deployment.tmp / "follower.log", env, "project", "--follow", "--lock-poll", "0.2")
    scheduler = Proc(deployment.tmp / "scheduler.log", env, "scheduler", "--today", TODAY.isoformat(), "--poll", "0.2")
    servers: list[Server] = []
    try:
        servers += [deployment.serve("serve-1"), deployment.serve("serve-2")]
        scheduler.wait_for("scheduler.started")  # its start-up run is over; nothing falls due before the night
        app, cid = deployment.app, deployment.cids[0]
        path = f"/conventions/{cid}/objectives"
        before = len(list(app.events.get(cid)))
        responses = race(servers, deployment.token, [
            (path, {"from_year": 3, "target_patients": 1000 + i, "on": "2025-06-01"}, {}) for i in range(CLIENTS)
        ])  # fmt: skip
        winners = {1000 + i for i, r in enumerate(responses) if r.status_code == 200}
        assert winners and all(r.status_code in (200, 409, 412) for r in responses), [r.text for r in responses]
        after = list(app.events.get(cid))
        assert [e.originator_version for e in after] == list(range(1, len(after) + 1))
        assert len(after) == before + len(winners)  # nothing lost, nothing doubled, across two processes
        assert sorted(r.json()["version"] for r in responses if r.status_code == 200) == list(
            range(before + 1, len(after) + 1)
        )

        body = {"from_year": 3, "target_patients": 1234}
        same = race(servers, deployment.token, [(path, body, {"Idempotency-Key": "one-key"})] * CLIENTS)
        ok = [r for r in same if r.status_code == 200]
        assert ok and all(r.json() == ok[0].json() for r in ok)
        assert all(r.status_code in (200, 409) for r in same), [r.text for r in same]
        assert len(list(app.events.get(cid))) == len(after) + 1  # one result, whichever process answered
        for server in servers:  # a later retry, on either process, gets the first answer
            with server.client(deployment.token) as c:
                retried = c.post(path, json=body, headers={"Idempotency-Key": "one-key"})
            assert retried.status_code == 200 and retried.json() == ok[0].json()
        assert len(list(app.events.get(cid))) == len(after) + 1

        version = len(after) + 1
        for server in servers:  # the one follower keeps both processes' reads up to date
            wait_until(lambda s=server: httpx.get(f"{s.url}/ready", timeout=60).status_code == 200, "/ready 200")
            with server.client(deployment.token) as c:
                wait_until(lambda c=c: c.get(f"/conventions/{cid}/timeline").json()["freshness"]["lag"] == 0, "lag 0")
                lines = c.get(f"/conventions/{cid}/timeline").json()["lines"]
            assert len(lines) >= version - before  # every command of the race is in the timeline
        assert not follower.events("projections.catch_up_failed")
    finally:
        for s in servers:
            s.close()
        assert follower.terminate() == 0
        assert scheduler.terminate() == 0


def caught_up(runner: Any) -> bool:
    """Every read model live, at the log's head (evidence that the follower has done its work)."""
    positions = runner.positions()
    head = runner.head()
    return len(positions) == len(runner.models) and min(p["position"] for p in positions.values()) >= head


def test_follower_and_scheduler_killed_mid_work_then_restarted_work_exactly_once(
    pg_settings: Settings, tmp_path: Path
) -> None:
    app = build_app(pg_settings, clock=lambda: SCHEDULER_TODAY)
    bulk(app, 0, 200)  # thousands of events for the read models
    ids = sign_many(app, 100)  # each with instalments falling due by SCHEDULER_TODAY
    runner = build_projections(pg_settings, app)  # the test's eyes on the tracking table (read only until verify)
    env = env_for(pg_settings)
    first = Proc(tmp_path / "follower-1.log", env, "project", "--follow", "--batch-size", "20", "--lock-poll", "0.2")
    second: Proc | None = None
    frozen = psycopg.connect(**pg_settings.postgres_connect_kwargs())
    try:
        first.wait_for("projections.lock_acquired")
        wait_until(lambda: tracked(runner) > 0, "the first follower's first committed batch")
        # From now on the first follower cannot commit a batch: it waits, mid-batch, on the
        # tracking table (readers still read it). No bet on how fast it works.
        frozen.execute("LOCK TABLE projection_tracking IN EXCLUSIVE MODE")
        assert not caught_up(runner), "the first follower had finished before the kill"
        second = Proc(tmp_path / "follower-2.log", env, "project", "--follow", "--lock-poll", "0.2")
        second.wait_for("projections.standing_by")  # the lock is taken: the second one waits
        first.kill9()
        frozen.rollback()  # the dead follower's session ends once its statement can run: its batch is lost
        second.wait_for("projections.lock_acquired")  # takes over once the dead one's session is gone
        wait_until(lambda: caught_up(runner), "the second follower caught up")

        head = app.head()
        killed = Proc(tmp_path / "scheduler-1.log", env, "scheduler", "--today", SCHEDULER_TODAY.isoformat())
        try:
            wait_until(lambda: app.head() > head, "the scheduler's first recorded instalments")
            killed.kill9()
        finally:
            killed.close()
        done = [cid for cid in ids if app.get(cid).years]
        assert len(done) < len(ids), "the scheduler's run had finished before the kill"
        again = Proc(tmp_path / "scheduler-2.log", env, "scheduler", "--once", "--today", SCHEDULER_TODAY.isoformat())
        assert again.p.wait(300) == 0, again.text()[-4000:]
        again.close()
        keys = due_keys(app, ids)
        assert set(keys.values()) == {1}  # each nightly item recorded once
        reference = build_app(Settings(store="memory"), clock=lambda: SCHEDULER_TODAY)
        assert sign_many(reference, 100) == ids
        run_due(reference, lambda _d: ids, SCHEDULER_TODAY)
        assert keys == due_keys(reference, ids)  # and none missing

        wait_until(lambda: caught_up(runner), "the follower applied the scheduler's events")
        assert runner.verify() == []  # the read models equal a fresh replay of the whole log
        assert second.terminate() == 0
    finally:
        frozen.close()
        first.close()
        if second is not None:
            second.close()
        runner.store.close()


def tracked(runner: Any) -> int:
    """The furthest position any generation has committed (a rebuild's, before its switch, too)."""
    with runner.store.reading() as tx:
        rows = tx.fetchall("SELECT max(position) FROM projection_tracking")
    return rows[0][0] or 0
