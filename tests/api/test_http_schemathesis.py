"""Property-based run of schemathesis against the served OpenAPI document.

Every operation gets generated requests, valid and invalid (bounded, derandomized: the same
examples on every run). Checks: no 5xx, every status documented, content types and headers as
documented, every body matching its schema. Path ids point at a seeded convention so generated
bodies reach the domain's rules rather than stopping at a 404.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.settings import Settings
from tests.api.conftest import TODAY, Api, make_api
from tests.conftest import FixedClock

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# Built at collection: schemathesis' ``from_fixture`` does not work with pytest 9 (no ``_nodeid``).
# The memory store keeps events and users in this process; the examples share this one app.
SERVED = make_api(Settings(store="memory"), FixedClock(TODAY))
schema = schemathesis.openapi.from_asgi("/openapi.json", SERVED.client.app)


@pytest.fixture
def served() -> Api:
    return SERVED


def _as(case: schemathesis.Case, served: Api, who: str) -> None:
    """Aim the case at the seeded convention of CPAM 281 and send it as ``who``: the generated case
    may carry its own (random) Authorization header, ours replaces it."""
    if case.path_parameters and "convention_id" in case.path_parameters:
        case.path_parameters["convention_id"] = str(served.a)
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {served.tokens[who]}"}


def bounded(max_examples: int) -> settings:
    """Derandomized, bounded examples; no shrinking: a failure is reported as found, in bounded time."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@schema.parametrize()
@bounded(max_examples=12)
def test_no_server_error_and_responses_match_the_schema(case: schemathesis.Case, served: Api) -> None:
    _as(case, served, "admin")
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@bounded(max_examples=4)
def test_a_scoped_operator_gets_documented_answers_too(case: schemathesis.Case, served: Api) -> None:
    """Same run with an operator of CPAM 751 acting on a convention of CPAM 281: never a success, never a 5xx."""
    _as(case, served, "op751")
    response = case.call_and_validate(checks=CHECKS)
    if case.path_parameters and "convention_id" in case.path_parameters:
        assert not 200 <= response.status_code < 300  # never a success on another CPAM's convention
