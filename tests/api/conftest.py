"""Fixtures of the HTTP API tests: an app on an in-memory store, users of every role, and two
conventions in two CPAMs (281 and 751), signed and ticked to 2025-06-01 (year 1, y1-full due)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from adapters.http.app import create_app
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from tests.conftest import FixedClock

TODAY = date(2025, 6, 1)
ROLES = {
    "admin": ("admin", []),
    "op281": ("operator", ["281"]),
    "op751": ("operator", ["751"]),
    "auditor": ("auditor", []),
    "manager": ("manager", []),
}
RPPS = ["10000000009", "10000000017", "10000000025", "10000000033", "10000000041", "10000000058"]


def sign_body(number: str, cpam: str, rpps: str, **extra: Any) -> dict[str, Any]:
    return {
        "number": number, "cpam_code": cpam, "rpps": rpps, "doctor_name": f"Dr {number}",
        "specialty": "general_practice", "sector": 1, "option": "FULL", "percentile": 50,
        "initial_patients": 1000, "target_patients": 1100, "signed_on": "2025-02-15",
        "effective_from": "2025-03-01", **extra,
    }  # fmt: skip


def seed_convention(app: ConventionsApp, number: str, cpam: str, rpps: str, today: date = TODAY) -> UUID:
    body = sign_body(number, cpam, rpps)
    m = CommandMeta(actor="seed", reason="seed")
    r = app.sign(
        m, number=number, cpam_code=cpam, rpps=rpps, doctor_name=body["doctor_name"], specialty="general_practice",
        sector=1, optam=False, ccam_share=None, newly_installed=False, option="FULL", percentile=50,
        initial_patients=1000, target_patients=1100, signed_on=date(2025, 2, 15), effective_from=date(2025, 3, 1),
    )  # fmt: skip
    cid = UUID(r["id"])
    app.tick(m, today=today, ids=[cid])
    return cid


@dataclass
class Api:
    """A TestClient plus one token per role and the two seeded conventions."""

    client: TestClient
    app: ConventionsApp
    clock: FixedClock
    tokens: dict[str, str] = field(default_factory=dict)
    a: UUID | None = None  # CPAM 281
    b: UUID | None = None  # CPAM 751

    def h(self, who: str | None, **headers: str) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return {**auth, **headers}

    def get(self, path: str, who: str | None = "admin", **kw: Any) -> Any:
        return self.client.get(path, headers=self.h(who, **kw.pop("headers", {})), **kw)

    def post(self, path: str, body: Any, who: str | None = "admin", **headers: str) -> Any:
        return self.client.post(path, json=body, headers=self.h(who, **headers))

    def app_meta(self) -> CommandMeta:
        return CommandMeta(actor="scheduler", reason="échéancier")

    def events(self, cid: UUID) -> list[Any]:
        return list(self.app.events.get(cid))


def make_api(settings: Settings, clock: FixedClock) -> Api:
    fastapi_app = create_app(settings, clock)
    svc = fastapi_app.state.services
    api = Api(TestClient(fastapi_app), svc.app, clock)
    for name, (role, cpams) in ROLES.items():
        api.tokens[name] = svc.users.add(name, role, cpams)[1]
    api.a = seed_convention(svc.app, "A-281", "281", RPPS[0])
    api.b = seed_convention(svc.app, "B-751", "751", RPPS[1])
    return api


ON_EACH_STORE = pytest.mark.parametrize(
    "api", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
"""For the tests whose HTTP reads or writes go through storage: the ``api`` on SQLite files and on a
PostgreSQL schema instead of the in-memory store."""


@pytest.fixture
def api(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Api]:
    """The API on the in-memory store, or on the store ``ON_EACH_STORE`` gives (closed afterwards,
    so a PostgreSQL schema is dropped with no connection left on it)."""
    clock = FixedClock(TODAY)
    store = getattr(request, "param", "memory")
    if store == "memory":
        yield make_api(Settings(store="memory", data_dir=tmp_path / "data"), clock)
        return
    settings = request.getfixturevalue(f"{'pg' if store == 'postgres' else store}_settings")
    # The API catches its read models up itself (inline), as on one machine: what these tests read
    # right after a command. The follower mode, PostgreSQL's default, has its own tests (test_processes).
    api = make_api(settings.model_copy(update={"projections": "inline"}), clock)
    try:
        yield api
    finally:
        services = api.client.app.state.services
        services.users.close()
        services.read_models.runner.store.close()
        api.app.close()
