"""With a follower writing the read models (PostgreSQL), a read model's freshness (``X-Data-Lag``,
``X-Data-As-Of``) comes from one query of the log (``OneStatementRecorder.log_at``) after the
positions, and says the same as the three queries it replaces: up to date, behind by events the
read models apply, and a log ending with a command receipt (not behind)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from adapters.composition import build_app, build_projections, build_read_models
from adapters.http.read_models import ListQuery, ProjectionReadModels
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.commands import RecordDue
from domain.convention import CommandMeta
from projections.engine.runner import TOPICS
from tests.helpers import sign
from tests.integration.test_projection_models import build_portfolio

META = CommandMeta(actor="fresh.test", reason="test")
TODAY = date(2026, 6, 30)


@pytest.fixture
def follower(pg_settings: Settings) -> Iterator[tuple[Settings, ConventionsApp, ProjectionReadModels]]:
    settings = pg_settings.model_copy(update={"projections": "follower"})
    app = build_app(settings, clock=lambda: TODAY)
    build_portfolio(app)
    build_projections(settings, app).catch_up()  # the follower's work
    reads = build_read_models(settings, app)
    yield settings, app, reads
    reads.store.close()
    app.close()


def _three_queries(reads: ProjectionReadModels) -> dict[str, Any]:
    """The freshness as computed before (and still inline): the head, then the positions, the time
    of the event at the slowest one and the lag, each asked apart."""
    reads._as_of = (0, None)  # nothing remembered
    head = reads.runner.head()
    return reads._freshness(reads.runner.positions(head), head)


def _answered(reads: ProjectionReadModels) -> dict[str, Any]:
    reads._as_of = (0, None)
    freshness: dict[str, Any] = reads.conventions(None, ListQuery())["freshness"]
    return freshness


def test_the_freshness_is_the_same_as_from_three_queries(
    follower: tuple[Settings, ConventionsApp, ProjectionReadModels],
) -> None:
    settings, app, reads = follower
    up_to_date = _answered(reads)
    assert up_to_date == _three_queries(reads)
    assert up_to_date["lag"] == 0 and up_to_date["as_of"] is not None

    cid = sign(app, META)  # an event the read models apply, not applied yet (no follower runs here)
    behind = _answered(reads)
    assert behind == _three_queries(reads)
    assert behind["lag"] == behind["head"] - behind["position"] > 0

    build_projections(settings, app).catch_up()
    assert app.handle(RecordDue(), META, cid)["recorded"] > 0
    build_projections(settings, app).catch_up()
    assert app.handle(RecordDue(), META, cid)["recorded"] == 0  # nothing more due: its receipt alone
    receipt_last = _answered(reads)
    assert receipt_last == _three_queries(reads)
    assert receipt_last["head"] > receipt_last["position"] and receipt_last["lag"] == 0
    assert receipt_last["as_of"] is not None and receipt_last["as_of"] >= up_to_date["as_of"]


def test_a_read_asks_the_log_once(
    follower: tuple[Settings, ConventionsApp, ProjectionReadModels], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, app, reads = follower
    sign(app, META)  # behind: the lag is checked in the log
    calls: list[int] = []
    log_at = app.recorder.log_at  # type: ignore[attr-defined]

    def counted(position: int, topics: Any) -> Any:
        calls.append(position)
        return log_at(position, topics)

    def not_asked(*_: Any, **__: Any) -> Any:
        raise AssertionError("the log was asked apart")

    monkeypatch.setattr(app.recorder, "log_at", counted)
    for name in ("head", "read"):  # the log's own ways, each a query
        monkeypatch.setattr(reads.runner.log, name, not_asked)
    monkeypatch.setattr(app, "read_log", not_asked)
    answer = reads.conventions(None, ListQuery())
    assert len(calls) == 1 and answer["freshness"]["lag"] > 0


def test_the_log_query_reads_indexes_only_whatever_the_plan(follower: tuple[Settings, Any, Any]) -> None:
    """The statement is prepared: after a few runs PostgreSQL may plan it once for any position. That
    generic plan must still find the first event after the position by the ids' index, never by
    scanning the log (which grows without end)."""
    import psycopg

    settings, app, _ = follower
    recorder = app.recorder
    with psycopg.connect(**settings.postgres_connect_kwargs(), autocommit=True) as conn:
        text = recorder.log_at_statement(TOPICS).as_string(conn).replace("%(position)s", "$1")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE log_at(bigint) AS {text}")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN EXECUTE log_at(1)"))
    assert "Seq Scan" not in plan and plan.count("notification_id_idx") == 3, plan
