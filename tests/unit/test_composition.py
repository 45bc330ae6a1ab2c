"""The composition root is the one wiring place: the HTTP services come from it, with the parts a
caller already has used as they are and the rest built on the same configuration."""

from __future__ import annotations

from adapters.composition import build_app, build_services
from adapters.http.app import create_app
from adapters.settings import Settings
from tests.conftest import FixedClock


def test_build_services_uses_the_parts_given_and_builds_the_rest_on_the_same_app(clock: FixedClock) -> None:
    settings = Settings(store="memory", ready_max_lag=7)
    app = build_app(settings, clock)
    svc = build_services(settings, clock, conventions=app)
    assert svc.app is app and svc.clock is clock and svc.ready_max_lag == 7
    assert svc.scope.app is app and svc.read_models.runner.app is app  # one application behind every part


def test_build_services_builds_everything_from_settings_alone() -> None:
    svc = build_services(Settings(store="memory", today="2030-05-06"))
    assert svc.clock().isoformat() == "2030-05-06"  # the configured clock, also the application's
    assert svc.app.clock() == svc.clock() and svc.read_models.runner.app is svc.app


def test_create_app_serves_the_services_it_is_given(clock: FixedClock) -> None:
    svc = build_services(Settings(store="memory"), clock)
    assert create_app(Settings(store="memory"), services=svc).state.services is svc
