"""HTTP hygiene findings ("trust first"): strict JSON types, LIKE wildcards in the search, body
validated before If-Match, OPTIONS/HEAD, Idempotency-Key fingerprints, /ready and read-model
freshness. Each test is named after the finding it closes."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.http.schemas import Freshness
from adapters.settings import Settings
from tests.api.conftest import RPPS, TODAY, Api, make_api, seed_convention, sign_body
from tests.conftest import FixedClock

HIRE = {"hired_on": "2025-03-01", "fte": "1", "profile": "nurse"}
ESTIMATE = {"option": "FULL", "tier": "BASE", "effective": "2025-03-01"}


def _refused_fields(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in r.json()["errors"]]


# ----------------------------------------------------------------------------- strict JSON types
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target_patients", "12"),
        ("target_patients", 1100.0),
        ("initial_patients", True),
        ("percentile", "50"),
        ("sector", True),
        ("sector", "1"),
        ("sector", 1.0),
        ("optam", "true"),
        ("optam", 1),
        ("dedicated_room", "false"),
        ("ccam_share", "12.5"),
        ("ccam_share", True),
        ("signed_on", 0),
        ("signed_on", 20250215),
        ("signed_on", "2025-02-15T00:00:00"),
        ("signed_on", "15/02/2025"),
        ("effective_from", "2025-3-1"),
    ],
)
def test_strict_json_types_sign_refuses_lax_values_and_stores_nothing(api: Api, field: str, value: Any) -> None:
    body = sign_body("T-1", "281", RPPS[2], **{field: value})
    r = api.post("/conventions", body, "op281", **{"Idempotency-Key": "strict-sign"})
    assert _refused_fields(r) == [field]
    assert api.get("/conventions", params={"q": "T-1"}).json()["total"] == 0


def test_strict_json_types_policies_flag_is_a_json_boolean(api: Api) -> None:
    body = sign_body("T-2", "281", RPPS[2], policies={"pause_clock": "yes"})
    assert _refused_fields(api.post("/conventions", body, "op281")) == ["policies.pause_clock"]


def test_strict_json_types_accepts_the_json_types(api: Api) -> None:
    body = sign_body("T-3", "281", RPPS[2], ccam_share=12, optam=True, policies={"pause_clock": False})
    assert api.post("/conventions", body, "op281").status_code == 201


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("objectives", "from_year", "3"),
        ("objectives", "target_patients", 1200.0),
        ("attainments", "year", True),
        ("attainments", "observed_patients", "1080"),
        ("reviews", "held_on", 1748736000),
        ("departures", "left_on", "2025-05-01T10:00:00Z"),
    ],
)
def test_strict_json_types_commands_refuse_lax_values(api: Api, path: str, field: str, value: Any) -> None:
    valid = {
        "objectives": {"from_year": 3, "target_patients": 1200, "on": "2025-05-01"},
        "attainments": {"year": 1, "observed_patients": 1080, "on": "2025-05-01"},
        "reviews": {"held_on": "2025-05-01"},
        "departures": {"left_on": "2025-05-01"},
    }[path]
    events = api.events(api.a)
    r = api.post(f"/conventions/{api.a}/{path}", {**valid, field: value}, "op281")
    assert _refused_fields(r) == [field]
    assert api.events(api.a) == events


@pytest.mark.parametrize("fte", [True, "1e0", "+1", " 1", "", "1,5", [1]])
def test_strict_json_types_fte_is_a_number_or_a_plain_decimal_string(api: Api, fte: Any) -> None:
    events = api.events(api.a)
    assert _refused_fields(api.post(f"/conventions/{api.a}/hires", {**HIRE, "fte": fte}, "op281")) == ["fte"]
    assert api.events(api.a) == events


@pytest.mark.parametrize("fte", [1, 0.5, "0.5", "1"])
def test_strict_json_types_fte_accepts_number_and_decimal_string(api: Api, fte: Any) -> None:
    r = api.post(f"/conventions/{api.a}/hires", {**HIRE, "fte": fte}, "op281")
    assert r.status_code == 200, r.text
    assert api.get(f"/conventions/{api.a}").json()["assistant"]["fte"] in ("1", "0.5")


@pytest.mark.parametrize(
    ("path", "param", "value"),
    [
        ("/conventions/{a}", "version", "1.0"),
        ("/conventions/{a}", "version", "1e0"),
        ("/conventions/{a}", "as_of", "0"),
        ("/conventions/{a}", "as_of", "2025-06-01T00:00:00"),
        ("/conventions", "page", "1.0"),
        ("/conventions", "per_page", " 5"),
        ("/conventions", "contract_year", "1.5"),
        ("/ledger", "due_to", "0"),
        ("/ledger", "due_from", "1700000000"),
        ("/ledger", "year", "true"),
        ("/work-queue", "overdue_only", "1"),
        ("/work-queue", "overdue_only", "yes"),
        ("/estimate", "attainment", "1e-1"),
        ("/estimate", "years", "5.0"),
    ],
)
def test_strict_json_types_query_ints_dates_booleans(api: Api, path: str, param: str, value: str) -> None:
    base = ESTIMATE if path == "/estimate" else {}
    r = api.get(path.format(a=api.a), params={**base, param: value})
    assert _refused_fields(r) == [param]


def test_strict_json_types_valid_query_values_still_work(api: Api) -> None:
    assert api.get(f"/conventions/{api.a}", params={"version": "1"}).status_code == 200
    assert api.get("/ledger", params={"due_to": "2025-12-31", "year": "1"}).status_code == 200
    assert api.get("/work-queue", params={"overdue_only": "true"}).status_code == 200
    assert api.get("/estimate", params={**ESTIMATE, "attainment": "0.8", "years": "5"}).status_code == 200


def test_strict_json_types_dates_are_documented_with_format_and_bounds(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    hired_on = doc["components"]["schemas"]["HireRequest"]["properties"]["hired_on"]
    assert hired_on["type"] == "string" and hired_on["format"] == "date"
    assert (hired_on["formatMinimum"], hired_on["formatMaximum"]) == ("1950-01-01", "2199-12-31")
    assert hired_on["pattern"] == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
    due_to = next(p for p in doc["paths"]["/ledger"]["get"]["parameters"] if p["name"] == "due_to")
    assert due_to["schema"]["anyOf"][0]["format"] == "date"
    page = next(p for p in doc["paths"]["/conventions"]["get"]["parameters"] if p["name"] == "page")
    assert page["schema"] == {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 1, "title": "Page"}
    target = doc["components"]["schemas"]["SignRequest"]["properties"]["target_patients"]
    assert target["anyOf"][0]["type"] == "integer" and target["anyOf"][1]["type"] == "null"  # optional: R27


# ----------------------------------------------------------------------------- LIKE wildcards in q
@pytest.mark.parametrize("q", ["%", "_", "%%", "A_281", "%281", "dr _-281", "\\"])
def test_like_wildcards_in_q_are_literal(api: Api, q: str) -> None:
    """``%`` and ``_`` in the search matched anything; no number or name holds them here."""
    assert api.get("/conventions", params={"q": "A-281"}).json()["total"] == 1
    r = api.get("/conventions", params={"q": q})
    assert r.status_code == 200
    assert r.json()["total"] == 0, r.json()["items"]


def test_like_wildcards_in_q_match_the_literal_characters(api: Api) -> None:
    body = sign_body("W_1", "281", RPPS[2], doctor_name="Dr 100% Sûr")
    assert api.post("/conventions", body, "op281").status_code == 201
    for q in ["W_", "W_1", "100%", "0% s"]:
        assert [i["number"] for i in api.get("/conventions", params={"q": q}).json()["items"]] == ["W_1"], q
    for q in ["W%", "W-1", "100_", "1%0"]:  # wildcards before the fix
        assert api.get("/conventions", params={"q": q}).json()["total"] == 0, q


# ----------------------------------------------------------------------------- body before If-Match
def test_body_before_if_match_schema_invalid_body_with_unusable_if_match_is_422(api: Api) -> None:
    events = api.events(api.a)
    r = api.post(f"/conventions/{api.a}/hires", {**HIRE, "fte": True}, "op281", **{"If-Match": '"0"'})
    assert _refused_fields(r) == ["fte"]
    sign = api.post("/conventions", sign_body("T-9", "281", RPPS[2], sector=True), "op281", **{"If-Match": "x"})
    assert _refused_fields(sign) == ["sector"]
    assert api.events(api.a) == events


def test_body_before_if_match_domain_invalid_body_with_stale_if_match_is_422(api: Api) -> None:
    """Hired before the convention took effect: invalid whatever the version; the 412 came first."""
    stale = '"1"'
    assert api.get(f"/conventions/{api.a}").headers["ETag"] != stale
    events = api.events(api.a)
    r = api.post(f"/conventions/{api.a}/hires", {**HIRE, "hired_on": "2024-01-01"}, "op281", **{"If-Match": stale})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_date"
    assert api.events(api.a) == events


def test_body_before_if_match_valid_body_with_stale_if_match_is_still_412(api: Api) -> None:
    events = api.events(api.a)
    r = api.post(f"/conventions/{api.a}/hires", HIRE, "op281", **{"If-Match": '"1"'})
    assert (r.status_code, r.json()["code"]) == (412, "stale_version")
    # a body the current state forbids (409 on its own) is also the stale version's 412
    api.post(f"/conventions/{api.a}/hires", HIRE, "op281")
    again = api.post(f"/conventions/{api.a}/hires", HIRE, "op281", **{"If-Match": '"1"'})
    assert (again.status_code, again.json()["code"]) == (412, "stale_version")
    assert len(api.events(api.a)) == len(events) + 1  # only the hire without If-Match was recorded
    with_key = api.post(f"/conventions/{api.a}/departures", {"left_on": "2025-05-01"}, "op281",
                        **{"If-Match": '"1"', "Idempotency-Key": "dep-1"})  # fmt: skip
    assert with_key.status_code == 412
    ok = api.post(f"/conventions/{api.a}/departures", {"left_on": "2025-05-01"}, "op281",
                  **{"Idempotency-Key": "dep-1"})  # fmt: skip
    assert ok.status_code == 200, "the rehearsal left no receipt behind"


# ----------------------------------------------------------------------------- OPTIONS / HEAD
@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/conventions", "GET, HEAD, POST, OPTIONS"),
        ("/conventions/{a}", "GET, HEAD, OPTIONS"),
        ("/conventions/{a}/hires", "POST, OPTIONS"),
        ("/ledger", "GET, HEAD, OPTIONS"),
        ("/ready", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_answers_what_the_route_allows(api: Api, path: str, allow: str) -> None:
    r = api.client.options(path.format(a=api.a), headers=api.h("op281"))
    assert r.status_code == 204 and r.content == b""
    assert r.headers["Allow"] == allow
    assert r.headers["X-Request-ID"]


@pytest.mark.parametrize(("method", "path"), [("PATCH", "/conventions"), ("DELETE", "/conventions/{a}"),
                                              ("GET", "/conventions/{a}/hires"), ("PUT", "/health"),
                                              ("HEAD", "/conventions/{a}/hires")])  # fmt: skip
def test_options_head_unknown_methods_are_405_with_allow(api: Api, method: str, path: str) -> None:
    r = api.client.request(method, path.format(a=api.a), headers=api.h("admin"))
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"
    if method == "HEAD":  # the same answer without its body
        assert r.content == b""
    else:
        assert r.json()["code"] == "method_not_allowed" and r.json()["request_id"] == r.headers["X-Request-ID"]
    assert r.headers["Allow"] == api.client.options(path.format(a=api.a), headers=api.h("admin")).headers["Allow"]


@pytest.mark.parametrize(
    "path", ["/health", "/ready", "/conventions", "/conventions/{a}", "/dashboard", "/openapi.json"]
)
def test_head_answers_like_get_without_a_body(api: Api, path: str) -> None:
    path = path.format(a=api.a)
    get = api.get(path)
    head = api.client.head(path, headers=api.h("admin"))
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    if "ETag" in get.headers:
        assert head.headers["ETag"] == get.headers["ETag"]


def test_head_checks_the_token_like_get(api: Api) -> None:
    r = api.client.head("/conventions")
    assert r.status_code == 401 and r.content == b"" and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.client.head(f"/conventions/{api.b}", headers=api.h("op281")).status_code == 404


def test_options_on_an_unknown_path_is_404(api: Api) -> None:
    assert api.client.options("/nowhere").status_code == 404


@pytest.mark.parametrize("sub", ["", "/hires", "/history"])
def test_options_on_a_convention_checks_it_exists_for_the_caller(api: Api, sub: str) -> None:
    """Another CPAM's convention answers exactly like an unknown id; no token is a 401."""
    hidden = api.client.options(f"/conventions/{api.a}{sub}", headers=api.h("op751"))
    unknown_id = "00000000-0000-5000-8000-000000000000"
    unknown = api.client.options(f"/conventions/{unknown_id}{sub}", headers=api.h("op751"))
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["code"] == unknown.json()["code"] == "unknown_convention"
    assert hidden.json()["detail"].replace(str(api.a), "ID") == unknown.json()["detail"].replace(unknown_id, "ID")
    assert "Allow" not in hidden.headers
    assert api.client.options(f"/conventions/{api.a}{sub}").status_code == 401
    assert api.client.options("/conventions").status_code == 204  # collection and public routes: no token


# ----------------------------------------------------------------------------- Idempotency-Key
def _reused(r: Any) -> bool:
    return r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"


def test_idempotency_key_reused_with_another_reason_is_422(api: Api) -> None:
    """The reason is recorded on the events: a retry that changes it is another request."""
    body = {**HIRE, "reason": "embauche de Mme X"}
    first = api.post(f"/conventions/{api.a}/hires", body, "op281", **{"Idempotency-Key": "k-reason"})
    assert first.status_code == 200
    events = api.events(api.a)
    other = api.post(f"/conventions/{api.a}/hires", {**body, "reason": "autre"}, "op281",
                     **{"Idempotency-Key": "k-reason"})  # fmt: skip
    assert _reused(other), other.text
    assert api.events(api.a) == events


def test_idempotency_key_reused_on_another_convention_or_field_is_422(api: Api) -> None:
    pay = {"instalment": "y1-full", "paid_on": "2025-05-01", "reference": "VIR-1"}
    assert api.post(f"/conventions/{api.a}/payments", pay, **{"Idempotency-Key": "k-all"}).status_code == 200
    a, b = api.events(api.a), api.events(api.b)
    assert _reused(api.post(f"/conventions/{api.b}/payments", pay, **{"Idempotency-Key": "k-all"}))
    assert _reused(api.post(f"/conventions/{api.a}/payments", {**pay, "reference": "VIR-2"},
                            **{"Idempotency-Key": "k-all"}))  # fmt: skip
    assert _reused(api.post(f"/conventions/{api.a}/payments", {**pay, "paid_on": "2025-05-02"},
                            **{"Idempotency-Key": "k-all"}))  # fmt: skip
    assert (api.events(api.a), api.events(api.b)) == (a, b)
    again = api.post(f"/conventions/{api.a}/payments", pay, **{"Idempotency-Key": "k-all"})
    assert again.status_code == 200  # the very same request is still a replay


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("optam", True),
        ("am_number", "123456789"),
        ("dedicated_room", False),
        ("policies", {"modulation": "proportional", "pause_clock": False}),
    ],
)
def test_idempotency_key_reused_sign_every_field_counts(api: Api, field: str, value: Any) -> None:
    body = sign_body("K-1", "281", RPPS[2])
    assert api.post("/conventions", body, "op281", **{"Idempotency-Key": "k-sign"}).status_code == 201
    assert _reused(api.post("/conventions", {**body, field: value}, "op281", **{"Idempotency-Key": "k-sign"}))


# ----------------------------------------------------------------------------- /ready and freshness
READ_MODELS = ["/conventions", "/dashboard", "/ledger", "/work-queue", "/conventions/{a}/timeline"]


def _recorded_at(api: Api, notification_id: int) -> str:
    """The recording time of one notification, as the API writes datetimes."""
    (row,) = api.app.recorder.select_notifications(notification_id, 1, stop=notification_id)
    at = api.app.mapper.to_domain_event(row).timestamp
    return Freshness(as_of=at, position=0, head=0, lag=0).model_dump(mode="json")["as_of"]


@pytest.mark.parametrize("path", READ_MODELS)
def test_freshness_every_read_model_answer_says_how_fresh_it_is(api: Api, path: str) -> None:
    r = api.get(path.format(a=api.a))
    assert r.status_code == 200
    head = api.app.recorder.max_notification_id()
    assert r.json()["freshness"] == {"as_of": _recorded_at(api, head), "position": head, "head": head, "lag": 0}
    assert r.headers["X-Data-As-Of"] == r.json()["freshness"]["as_of"]
    assert r.headers["X-Data-Lag"] == "0"


def test_freshness_headers_are_documented(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in READ_MODELS:
        ok = paths[path.replace("{a}", "{convention_id}")]["get"]["responses"]["200"]
        assert {"X-Data-As-Of", "X-Data-Lag"} <= set(ok["headers"]), path
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    for model in ["ConventionList", "Dashboard", "Ledger", "WorkQueue", "Timeline"]:
        assert "freshness" in schemas[model]["required"], model


@pytest.fixture
def behind(tmp_path: Any) -> Api:
    """An API whose reads catch up at most 10 events inline and whose /ready allows a lag of 10."""
    api = make_api(Settings(store="memory", data_dir=tmp_path / "data", ready_max_lag=10), FixedClock(TODAY))
    api.client.app.state.services.read_models.inline_catch_up = 10
    return api


def test_ready_says_the_truth_after_a_burst(behind: Api) -> None:
    api = behind
    first = api.get("/conventions").json()  # the read models are created and caught up
    assert (first["total"], first["freshness"]["lag"]) == (2, 0)
    assert api.get("/ready", None).status_code == 200
    for i, rpps in enumerate(RPPS[2:5]):  # a burst: more events than reads catch up inline
        seed_convention(api.app, f"BURST-{i}", "281", rpps)
    head = api.app.recorder.max_notification_id()
    lag = head - first["freshness"]["position"]
    assert lag > 10

    ready = api.get("/ready", None)
    assert ready.status_code == 503
    body = ready.json()
    assert (body["status"], body["store"], body["lag"], body["max_lag"]) == ("not_ready", "ok", lag, 10)
    assert body["freshness"]["position"] == first["freshness"]["position"]

    stale = api.get("/conventions")  # served as it is, and saying so
    assert stale.status_code == 200 and stale.json()["total"] == 2
    assert stale.json()["freshness"] == {**first["freshness"], "head": head, "lag": lag}
    assert stale.headers["X-Data-Lag"] == str(lag)
    assert stale.headers["X-Data-As-Of"] == first["freshness"]["as_of"]

    api.client.app.state.services.read_models.runner.catch_up()  # what `conventions project` does
    assert api.get("/ready", None).status_code == 200
    fresh = api.get("/conventions")
    assert fresh.json()["total"] == 5
    assert fresh.json()["freshness"] == {"as_of": _recorded_at(api, head), "position": head, "head": head, "lag": 0}


def test_ready_max_lag_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVENTIONS_READY_MAX_LAG", raising=False)
    assert Settings().ready_max_lag == 1000
    monkeypatch.setenv("CONVENTIONS_READY_MAX_LAG", "25")
    assert Settings().ready_max_lag == 25


# ----------------------------------------------------------------------------- R27 and R28 through the API
def test_r27_a_signature_without_target_derives_it_or_is_a_422(api: Api) -> None:
    body = {k: v for k, v in sign_body("R27-1", "281", RPPS[2]).items() if k != "target_patients"}
    refused = api.post("/conventions", body, "admin")
    assert (refused.status_code, refused.json()["code"]) == (422, "target_required")
    r = api.post("/conventions", {**body, "percentile": 97}, "admin")
    assert r.status_code == 201, r.text
    patients = api.get(f"/conventions/{r.json()['id']}", "admin").json()["patients"]
    assert (patients["target"], patients["objective_basis"], patients["measure"]) == (950, "max_tolerance", "pmt")


def test_r28_the_new_secretary_is_declared_through_the_api(api: Api) -> None:
    hire = {"hired_on": "2025-03-01", "fte": "1", "profile": "secretary", "was_practice_secretary": True}
    assert api.post(f"/conventions/{api.a}/hires", hire, "op281").status_code == 200
    assert api.get(f"/conventions/{api.a}", "op281").json()["assistant"]["secretary_due_by"] == "2025-09-01"
    assert api.post(f"/conventions/{api.a}/secretaries", {"hired_on": "2025-05-02"}, "op281").status_code == 200
    assert api.get(f"/conventions/{api.a}", "op281").json()["assistant"]["secretary_due_by"] is None
    again = api.post(f"/conventions/{api.a}/secretaries", {"hired_on": "2025-05-03"}, "op281")
    assert (again.status_code, again.json()["code"]) == (409, "no_secretary_to_replace")


# ----------------------------------------------------------------------------- R29 through the API
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/conventions", {"doctor_name": "Dr \x1b[2JMartin"}, "name"),
        ("/conventions", {"doctor_name": "Dr Martin\r\nDr Faux"}, "name"),
        ("/conventions", {"doctor_name": "\u200b\u200c"}, "name"),
        ("/conventions", {"reason": "ok\u202egnp.exe"}, "reason"),
    ],
)
def test_r29_text_fields_are_refused_with_a_422_naming_the_field(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    r = api.post(path, {**sign_body("R29-1", "281", RPPS[2]), **body}, "admin")
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["errors"][0]["field"]) == ("invalid_text", field)
    assert api.get("/conventions", params={"q": "R29-1"}, who="admin").json()["total"] == 0


def test_freshness_a_log_ending_with_a_command_receipt_is_not_behind(api: Api) -> None:
    """A command's receipt (and a doctor's registration) is no read model's event: once the read
    models have applied the command's events, nothing is "not yet taken in"."""
    api.get("/conventions")
    hired = api.post(f"/conventions/{api.a}/hires", {"hired_on": "2025-03-01", "fte": "1", "profile": "nurse"})
    assert hired.status_code == 200
    head = api.app.head()
    r = api.get("/conventions")
    assert r.json()["freshness"]["head"] == head and r.json()["freshness"]["position"] < head  # the receipt
    assert (r.json()["freshness"]["lag"], r.headers["X-Data-Lag"]) == (0, "0")
    signed = api.post("/conventions", sign_body("F-1", "281", RPPS[5]))  # ends with the registration
    assert signed.status_code == 201
    assert api.get("/ledger").json()["freshness"]["lag"] == 0
