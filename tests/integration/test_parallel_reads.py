"""With a follower writing the read models (PostgreSQL's default), an API process reads them from a
pool of connections: two requests read at once instead of one after the other behind one lock
(issue 13: lists and dashboards under load)."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest

from adapters.composition import build_app, build_projections, build_read_models
from adapters.http.read_models import ListQuery
from adapters.settings import Settings
from projections import conventions_list
from tests.integration.test_projection_models import build_portfolio


def test_two_requests_read_the_read_models_at_once(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two connections: each read holds one for its whole transaction (positions, then rows).
    settings = pg_settings.model_copy(update={"projections": "follower", "postgres_pool_size": 2})
    app = build_app(settings, clock=lambda: date(2026, 6, 30))
    build_portfolio(app)
    build_projections(settings, app).catch_up()  # the follower's work
    reads = build_read_models(settings, app)
    assert reads.store.readers is not None  # queries take pooled connections
    both_inside = threading.Barrier(2)
    search = conventions_list.search

    def meeting(*args: Any, **kwargs: Any) -> Any:
        both_inside.wait(timeout=120)  # broken (an error) unless the other request reads meanwhile
        return search(*args, **kwargs)

    monkeypatch.setattr(conventions_list, "search", meeting)
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(reads.conventions(None, ListQuery()))) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 2 and all(a["total"] == 6 for a in answers)
    reads.store.close()


def test_inline_reads_keep_one_connection(tmp_path: Any) -> None:
    """SQLite (inline): one connection, used by one request at a time."""
    reads = build_read_models(Settings(store="sqlite", data_dir=tmp_path / "data"))
    assert reads.store.readers is None and isinstance(reads._lock, type(threading.Lock()))


def test_a_read_asks_positions_and_rows_in_one_transaction(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Follower mode: a list or a dashboard takes one pooled connection for one transaction, and the
    live generations its positions gave name the tables (no second look-up per read model)."""
    settings = pg_settings.model_copy(update={"projections": "follower"})
    app = build_app(settings, clock=lambda: date(2026, 6, 30))
    build_portfolio(app)
    build_projections(settings, app).catch_up()
    reads = build_read_models(settings, app)
    store, pool = reads.store, reads.store.readers
    taken: list[int] = []
    looked_up: list[str] = []
    connection, live_generation = pool.connection, store.live_generation

    def counted_connection(*args: Any, **kwargs: Any) -> Any:
        taken.append(1)
        return connection(*args, **kwargs)

    def counted_live_generation(tx: Any, name: str) -> int | None:
        looked_up.append(name)
        return live_generation(tx, name)

    monkeypatch.setattr(pool, "connection", counted_connection)
    monkeypatch.setattr(store, "live_generation", counted_live_generation)
    assert reads.conventions(None, ListQuery())["total"] == 6
    assert (len(taken), looked_up) == (1, [])
    dashboard = reads.dashboard(None, date(2026, 6, 30))
    assert dashboard["freshness"]["lag"] == 0 and sum(c["count"] for c in dashboard["conventions"]) == 6
    assert (len(taken), looked_up) == (2, [])
    store.close()
