"""Safety of writes (Idempotency-Key, ETag/If-Match), problem details, request ids, reads by date/version."""

from __future__ import annotations

import json

import pytest
import structlog

from tests.api.conftest import RPPS, Api, sign_body

HIRE = {"hired_on": "2025-03-01", "fte": "1", "profile": "nurse", "reason": "embauche de Mme X"}
OBJECTIVE = {"from_year": 3, "target_patients": 1200, "on": "2025-06-01"}  # a command valid on TODAY (R21)


# ----------------------------------------------------------------------------- idempotency
def test_replay_returns_the_first_response_and_writes_nothing(api: Api) -> None:
    first = api.post(f"/conventions/{api.a}/hires", HIRE, "op281", **{"Idempotency-Key": "hire-1"})
    events = api.events(api.a)
    again = api.post(f"/conventions/{api.a}/hires", HIRE, "op281", **{"Idempotency-Key": "hire-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.headers["ETag"] == again.headers["ETag"]
    assert api.events(api.a) == events  # nothing written by the replay
    # Without the key, the same body is a new command: refused by the domain (assistant in post).
    other = api.post(f"/conventions/{api.a}/hires", HIRE, "op281")
    assert (other.status_code, other.json()["code"]) == (409, "assistant_in_post")


def test_sign_replay_is_201_again(api: Api) -> None:
    body = sign_body("S-1", "281", RPPS[3])
    first = api.post("/conventions", body, "op281", **{"Idempotency-Key": "sign-S-1"})
    again = api.post("/conventions", body, "op281", **{"Idempotency-Key": "sign-S-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and first.headers["Location"] == again.headers["Location"]


def test_same_key_other_body_is_422_and_writes_nothing(api: Api) -> None:
    api.post(f"/conventions/{api.a}/hires", HIRE, "op281", **{"Idempotency-Key": "k"})
    events = api.events(api.a)
    r = api.post(f"/conventions/{api.a}/reviews", {"held_on": "2025-09-05"}, "op281", **{"Idempotency-Key": "k"})
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_key_reused"
    assert r.headers["content-type"] == "application/problem+json"
    assert api.events(api.a) == events


def test_keys_belong_to_their_user(api: Api) -> None:
    """Two users choosing the same key never replay each other's results."""
    body = {"from_year": 3, "target_patients": 1200, "on": "2025-06-01"}
    one = api.post(f"/conventions/{api.a}/objectives", body, "op281", **{"Idempotency-Key": "same"})
    two = api.post(f"/conventions/{api.a}/hires", HIRE, "admin", **{"Idempotency-Key": "same"})
    assert one.status_code == two.status_code == 200
    assert two.json()["version"] == one.json()["version"] + 1


@pytest.mark.parametrize("key", ["", "a" * 201, "clé-accentuée", "with space"])
def test_malformed_idempotency_key_is_422(api: Api, key: str) -> None:
    r = api.client.post(
        f"/conventions/{api.a}/hires",
        json=HIRE,
        headers={**api.h("admin"), "Idempotency-Key": key.encode("utf-8")},
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["Idempotency-Key"]


# ----------------------------------------------------------------------------- ETag / If-Match
def test_etag_is_the_version_and_if_match_guards_commands(api: Api) -> None:
    r = api.get(f"/conventions/{api.a}", "op281")
    etag = r.headers["ETag"]
    assert etag == f'"{r.json()["version"]}"'
    ok = api.post(f"/conventions/{api.a}/hires", HIRE, "op281", **{"If-Match": etag})
    assert ok.status_code == 200 and ok.headers["ETag"] == f'"{r.json()["version"] + 1}"'
    events = api.events(api.a)
    stale = api.post(f"/conventions/{api.a}/objectives", OBJECTIVE, "op281", **{"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale_version"
    assert api.events(api.a) == events
    fresh = api.post(f"/conventions/{api.a}/objectives", OBJECTIVE, "op281", **{"If-Match": ok.headers["ETag"]})
    assert fresh.status_code == 200


@pytest.mark.parametrize("value", ['W/"3"', "3", "*"])
def test_if_match_forms(api: Api, value: str) -> None:
    version = api.get(f"/conventions/{api.a}").json()["version"]
    assert version == 3
    r = api.post(f"/conventions/{api.a}/hires", HIRE, **{"If-Match": value})
    assert r.status_code == 200


@pytest.mark.parametrize("value", ["abc", '"0"', '"1", "2"', '"99999999999"'])
def test_unusable_if_match_is_412(api: Api, value: str) -> None:
    before = api.events(api.a)
    r = api.post(f"/conventions/{api.a}/hires", HIRE, **{"If-Match": value})
    assert r.status_code == 412
    assert api.events(api.a) == before


def test_as_of_and_version(api: Api) -> None:
    api.post(f"/conventions/{api.a}/hires", HIRE)
    v1 = api.get(f"/conventions/{api.a}", params={"version": 1})
    assert v1.status_code == 200 and v1.json()["version"] == 1 and v1.json()["years"] == []
    assert v1.headers["ETag"] == '"1"'
    before_hire = api.get(f"/conventions/{api.a}", params={"as_of": "2025-02-20"}).json()
    assert before_hire["assistant"] is None and before_hire["contract_year"] == 0
    now = api.get(f"/conventions/{api.a}").json()
    assert now["assistant"]["hired_on"] == "2025-03-01"
    assert now["instalments"][0]["amount"] == "38000.00"  # decimal strings
    both = api.get(f"/conventions/{api.a}", params={"version": 1, "as_of": "2025-03-01"})
    assert both.status_code == 422
    assert api.get(f"/conventions/{api.a}", params={"version": 99}).json()["code"] == "unknown_version"
    assert api.get(f"/conventions/{api.a}", params={"as_of": "2020-01-01"}).json()["code"] == "not_yet_signed"


# ----------------------------------------------------------------------------- errors
BAD_BODIES = [
    ({"hired_on": "2025-02-30", "fte": "1", "profile": "nurse"}, {"hired_on"}),
    ({"hired_on": "9999-12-31", "fte": "1", "profile": "nurse"}, {"hired_on"}),
    ({"hired_on": "2025-03-01", "fte": "1e999999", "profile": "nurse"}, {"fte"}),
    ({"hired_on": "2025-03-01", "fte": 10**400, "profile": "nurse"}, {"fte"}),
    ({"hired_on": "2025-03-01", "fte": "NaN", "profile": "pilot"}, {"fte", "profile"}),
    ({"fte": "1"}, {"hired_on", "profile"}),
    ({"hired_on": "2025-03-01", "fte": "1", "profile": "nurse", "salary": 1}, {"salary"}),
    ({"hired_on": "2025-03-01", "fte": "1", "profile": "nurse", "reason": "a\u0000b"}, {"reason"}),
    ({"hired_on": "2025-03-01", "fte": "1", "profile": "nurse", "employer_siret": "123"}, {"employer_siret"}),
    ([1, 2], {"body"}),
]


@pytest.mark.parametrize(("body", "fields"), BAD_BODIES)
def test_invalid_input_names_every_field(api: Api, body: object, fields: set[str]) -> None:
    before = api.events(api.a)
    r = api.post(f"/conventions/{api.a}/hires", body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(problem)
    assert {e["field"] for e in problem["errors"]} == fields
    assert api.events(api.a) == before


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"hired_on": "\\ud800", "fte": "1", "profile": "nurse"}', b"\xff\xfe", b'{"fte": NaN}', b"null"],
)
def test_undecodable_bodies_are_422(api: Api, raw: bytes) -> None:
    r = api.client.post(
        f"/conventions/{api.a}/hires", content=raw, headers={**api.h("admin"), "Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_domain_refusals_keep_their_code(api: Api) -> None:
    r = api.post(f"/conventions/{api.a}/reactivations", {"from_date": "2025-08-01"})
    assert (r.status_code, r.json()["code"]) == (409, "not_suspended")
    r = api.post("/conventions", sign_body("R-1", "281", RPPS[4], specialty="radiology"))
    assert (r.status_code, r.json()["code"]) == (422, "ineligible_specialty")
    assert r.json()["errors"][0]["field"] == "specialty"
    r = api.post(f"/conventions/{api.a}/payments", {"instalment": "y9-full", "paid_on": "2025-04-01", "reference": "x"})
    assert (r.status_code, r.json()["code"]) == (404, "unknown_instalment")


@pytest.mark.parametrize(
    "path",
    [
        "/conventions/not-a-uuid",
        "/conventions?per_page=100000",
        "/conventions?status=zombie",
        "/ledger?due_from=2025-13-01",
        "/estimate?option=FULL&tier=BASE&effective=2025-03-01&years=10000000000000000000000",
        "/estimate?option=FULL&tier=BASE&effective=0001-01-01",
        "/estimate?option=FULL&tier=BASE&effective=2025-03-01&attainment=nan",
    ],
)  # fmt: skip
def test_bad_query_and_path_values_are_422(api: Api, path: str) -> None:
    r = api.get(path)
    assert r.status_code == 422, r.text
    assert r.json()["errors"]


def test_unknown_route_and_method_are_problems(api: Api) -> None:
    assert api.get("/nowhere").headers["content-type"] == "application/problem+json"
    r = api.client.delete(f"/conventions/{api.a}", headers=api.h("admin"))
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


def test_active_convention_elsewhere_is_not_disclosed_to_a_scoped_operator(api: Api) -> None:
    """The doctor of B (CPAM 751) signing in 281: refused, without naming B's CPAM or number."""
    r = api.post("/conventions", sign_body("C-281", "281", RPPS[1]), "op281")
    assert (r.status_code, r.json()["code"]) == (422, "doctor_has_active_convention")
    assert "751" not in r.json()["detail"] and "B-751" not in r.json()["detail"]


# ----------------------------------------------------------------------------- request id, actor, logs
def test_request_id_reaches_the_events_and_the_logs(api: Api) -> None:
    with structlog.testing.capture_logs() as logs:
        r = api.post(f"/conventions/{api.a}/hires", HIRE, "op281", **{"X-Request-ID": "req-42"})
    assert r.headers["X-Request-ID"] == "req-42"
    event = api.events(api.a)[-1]
    assert (event.request_id, event.actor, event.reason) == ("req-42", "op281", "embauche de Mme X")
    line = next(e for e in logs if e["event"] == "request")
    assert line["request_id"] == "req-42" and line["status"] == 200 and line["actor"] == "op281"
    history = api.get(f"/conventions/{api.a}/history", "auditor").json()["events"]
    assert history[-1]["request_id"] == "req-42" and history[-1]["actor"] == "op281"


def test_a_request_id_is_generated_when_absent_or_unsafe(api: Api) -> None:
    r = api.get("/health", None, headers={"X-Request-ID": "bad id\twith spaces"})
    generated = r.headers["X-Request-ID"]
    assert generated != "bad id\twith spaces" and len(generated) == 36
    assert api.get("/health", None).headers["X-Request-ID"] != generated


def test_json_logs_are_one_json_object_per_line(api: Api, capfd: pytest.CaptureFixture[str]) -> None:
    from adapters.logging import configure_logging

    configure_logging("json", "INFO")
    try:
        api.get("/health", None, headers={"X-Request-ID": "json-1"})
        line = next(json.loads(x) for x in capfd.readouterr().err.splitlines() if "json-1" in x)
        assert line["event"] == "request" and line["path"] == "/health" and line["request_id"] == "json-1"
    finally:
        structlog.reset_defaults()
        import logging

        logging.getLogger().handlers[:] = []


def test_openapi_and_docs_are_served(api: Api) -> None:
    schema = api.get("/openapi.json", None).json()
    assert "/conventions/{convention_id}/hires" in schema["paths"]
    error = schema["paths"]["/conventions/{convention_id}/hires"]["post"]["responses"]["412"]
    assert list(error["content"]) == ["application/problem+json"]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    page = api.get("/docs", None).text
    assert "/docs/static/swagger-ui-bundle.js" in page and "cdn" not in page  # served offline
    assert api.get("/docs/static/swagger-ui-bundle.js", None).status_code == 200


def test_a_huge_body_is_refused_before_it_is_read(api: Api) -> None:
    before = api.events(api.a)
    body = {**HIRE, "reason": "x" * 300_000}
    r = api.post(f"/conventions/{api.a}/hires", body)
    assert (r.status_code, r.json()["code"]) == (413, "body_too_large")
    assert r.headers["content-type"] == "application/problem+json"
    assert api.events(api.a) == before


def test_a_huge_body_without_length_is_cut_too(api: Api) -> None:
    def chunks():  # noqa: ANN202 - a generator body: sent chunked, without Content-Length
        yield b'{"hired_on": "2025-03-01", "fte": "1", "profile": "nurse", "reason": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    before = api.events(api.a)
    r = api.client.post(
        f"/conventions/{api.a}/hires", content=chunks(), headers={**api.h("admin"), "Content-Type": "application/json"}
    )
    assert (r.status_code, r.json()["code"]) == (413, "body_too_large")
    assert api.events(api.a) == before


def test_every_documented_body_example_is_a_valid_request(api: Api) -> None:
    from adapters.http import schemas

    models = [m for m in vars(schemas).values() if isinstance(m, type) and issubclass(m, schemas.Body)]
    with_examples = [m for m in models if (m.model_config.get("json_schema_extra") or {}).get("examples")]
    assert len(with_examples) >= 5
    for model in with_examples:
        for example in model.model_config["json_schema_extra"]["examples"]:
            model.model_validate(example)
    # And the signature example, posted as is, signs.
    example = schemas.SignRequest.model_config["json_schema_extra"]["examples"][0]
    assert api.post("/conventions", {**example, "rpps": RPPS[5]}).status_code == 201
