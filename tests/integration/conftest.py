"""Fixtures the read-model tests share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from uuid import UUID

import pytest

from adapters.composition import build_app, build_projection_store
from adapters.settings import Settings
from domain.application import ConventionsApp
from projections import all_models
from projections.engine.runner import Runner
from tests.integration.test_projection_models import build_portfolio


@pytest.fixture(params=["sqlite", "postgres"])
def built(request: pytest.FixtureRequest, clock) -> Iterator[tuple[ConventionsApp, Runner, dict[str, UUID]]]:  # noqa: ANN001
    """The portfolio in memory, its read models on SQLite (in memory) or on a PostgreSQL schema."""
    clock.today = date(2026, 6, 30)
    app = build_app(Settings(store="memory"), clock=clock)
    ids = build_portfolio(app)
    settings = Settings(store="memory") if request.param == "sqlite" else request.getfixturevalue("pg_settings")
    runner = Runner(app, build_projection_store(settings), all_models(), batch_size=37)
    runner.catch_up()
    yield app, runner, ids
    runner.store.close()
