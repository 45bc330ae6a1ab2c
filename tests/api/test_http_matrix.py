"""Who may do what, on which CPAM: every endpoint x every role x both CPAMs (a matrix, not a sample).

A convention outside the caller's CPAMs must not exist for it: the same 404 as an unknown id on
reads and commands, absent from lists, counts, ledger and work queue. A refused call writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.convention import CommandMeta
from domain.values import Profile, SuspensionGround
from tests.api.conftest import ROLES, RPPS, Api, sign_body

PERMISSIONS = {
    "admin": {"read", "history", "write", "reports"},
    "op281": {"read", "history", "write", "reports"},
    "op751": {"read", "history", "write", "reports"},
    "auditor": {"read", "history", "reports"},
    "manager": {"read", "reports"},
}
CPAM_OF = {"a": "281", "b": "751"}


def sees(who: str, target: str) -> bool:
    cpams = ROLES[who][1]
    return not cpams or CPAM_OF[target] in cpams


def expected(kind: str, who: str, target: str, ok: int) -> int:
    if kind not in PERMISSIONS[who]:
        return 403
    return ok if sees(who, target) else 404


def _hire(api: Api, cid: UUID) -> None:
    from datetime import date
    from decimal import Decimal

    api.app.hire(cid, CommandMeta(actor="seed"), hired_on=date(2025, 3, 1), fte=Decimal(1), profile=Profile.NURSE)


def _hire_secretary(api: Api, cid: UUID) -> None:
    from decimal import Decimal

    api.app.hire(cid, CommandMeta(actor="seed"), hired_on=date(2025, 3, 1), fte=Decimal(1), profile=Profile.SECRETARY,
                 was_practice_secretary=True)  # fmt: skip


def _suspend(api: Api, cid: UUID) -> None:
    from datetime import date

    api.app.suspend(
        cid, CommandMeta(actor="seed"), from_date=date(2025, 5, 1), ground=SuspensionGround.LONG_ABSENCE,
        agreement_date=date(2025, 5, 1),
    )  # fmt: skip


Setup = Callable[[Api, UUID], None] | None


def _on(day: date) -> Setup:
    """The command records a fact of ``day``: the clock has reached it (R21)."""

    def setup(api: Api, cid: UUID) -> None:
        api.clock.today = day

    return setup


COMMANDS: dict[str, tuple[dict[str, Any], Setup]] = {
    "hires": ({"hired_on": "2025-03-01", "fte": "1", "profile": "nurse", "reason": "embauche"}, None),
    "replacements": ({"on": "2025-05-02", "fte": "0.5", "profile": "secretary"}, _hire),
    "departures": ({"left_on": "2025-05-02"}, _hire),
    "trainings": ({"completed_on": "2025-05-20"}, _hire),
    "objectives": ({"from_year": 3, "target_patients": 1200, "on": "2025-06-01"}, None),
    "attainments": ({"year": 1, "observed_patients": 1050, "on": "2026-03-02"}, _on(date(2026, 3, 2))),
    "payments": ({"instalment": "y1-full", "paid_on": "2025-04-01", "reference": "VIR-1"}, None),
    "suspensions": ({"from_date": "2025-05-01", "ground": "long_absence", "agreement_date": "2025-05-01"}, None),
    "reactivations": ({"from_date": "2025-08-01"}, _suspend),
    "reviews": ({"held_on": "2025-09-05", "notes": "RAS"}, _on(date(2025, 9, 5))),
    "amendments": ({"option": "HALF", "from_date": "2026-03-01"}, None),
    "terminations": ({"on": "2025-12-31", "by": "cpam", "ground": "déménagement"}, None),
    "secretaries": ({"hired_on": "2025-05-15"}, _hire_secretary),
}


@pytest.mark.parametrize("target", ["a", "b"])
@pytest.mark.parametrize("who", list(ROLES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_command_matrix(api: Api, command: str, who: str, target: str) -> None:
    body, setup = COMMANDS[command]
    cid = getattr(api, target)
    if setup:
        setup(api, cid)
    before = len(api.events(cid))
    r = api.post(f"/conventions/{cid}/{command}", body, who, **{"Idempotency-Key": str(uuid4())})
    status = expected("write", who, target, 200)
    assert r.status_code == status, r.text
    after = api.events(cid)
    if status == 200:
        assert r.json()["version"] == len(after) and r.headers["ETag"] == f'"{len(after)}"'
        assert len(after) > before
        assert {e.actor for e in after[before:]} == {who}  # the token's user is the actor
    else:
        assert len(after) == before  # refused: nothing written
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == ("forbidden_role" if status == 403 else "unknown_convention")


@pytest.mark.parametrize("target", ["a", "b"])
@pytest.mark.parametrize("who", list(ROLES))
@pytest.mark.parametrize(("suffix", "kind"), [("", "read"), ("/instalments", "read"), ("/history", "history")])
def test_read_matrix(api: Api, suffix: str, kind: str, who: str, target: str) -> None:
    cid = getattr(api, target)
    r = api.get(f"/conventions/{cid}{suffix}", who)
    assert r.status_code == expected(kind, who, target, 200), r.text
    if r.status_code == 404:
        unknown = api.get(f"/conventions/{uuid4()}{suffix}", who).json()
        body = r.json()
        # Out of scope looks exactly like unknown (but for the id in the message and the request id).
        assert body["code"] == unknown["code"] == "unknown_convention"
        assert body["detail"].replace(str(cid), "X") == unknown["detail"].replace(unknown["detail"].split()[1], "X")


@pytest.mark.parametrize("cpam", ["281", "751"])
@pytest.mark.parametrize("who", list(ROLES))
def test_sign_matrix(api: Api, who: str, cpam: str) -> None:
    body = sign_body(f"N-{who}-{cpam}", cpam, RPPS[2 + list(ROLES).index(who) % 4])
    r = api.post("/conventions", body, who, **{"Idempotency-Key": f"sign-{who}-{cpam}"})
    if "write" not in PERMISSIONS[who]:
        assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")
    elif not (not ROLES[who][1] or cpam in ROLES[who][1]):
        assert (r.status_code, r.json()["code"]) == (403, "cpam_not_allowed")
    else:
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == f"/conventions/{r.json()['id']}"
        assert api.events(UUID(r.json()["id"]))[0].actor == who


VISIBLE = {"admin": 2, "op281": 1, "op751": 1, "auditor": 2, "manager": 2}


@pytest.mark.parametrize("who", list(ROLES))
def test_list_matrix(api: Api, who: str) -> None:
    r = api.get("/conventions", who)
    assert r.status_code == 200
    data = r.json()
    assert data["total"] == VISIBLE[who] == len(data["items"])
    assert all(sees(who, "a" if i["cpam_code"] == "281" else "b") for i in data["items"])
    # Filtering on a CPAM out of scope gives nothing, not even a count.
    other = api.get("/conventions", who, params={"cpam": "751"}).json()
    assert other["total"] == (1 if sees(who, "b") else 0)


@pytest.mark.parametrize("who", list(ROLES))
def test_reports_matrix(api: Api, who: str) -> None:
    visible_cpams = {CPAM_OF[t] for t in "ab" if sees(who, t)}
    dash = api.get("/dashboard", who)
    assert dash.status_code == 200, dash.text
    counts = dash.json()["conventions"]
    assert sum(c["count"] for c in counts) == VISIBLE[who]
    assert {c["cpam_code"] for c in counts} == visible_cpams
    assert {f["cpam_code"] for f in dash.json()["forecast"]} == visible_cpams
    ledger = api.get("/ledger", who).json()
    assert {i["cpam_code"] for i in ledger["items"]} == visible_cpams
    assert {t["cpam_code"] for t in ledger["totals"]} == visible_cpams
    queue = api.get("/work-queue", who).json()
    assert {i["cpam_code"] for i in queue["items"]} == visible_cpams
    assert (
        api.get("/estimate", who, params={"option": "FULL", "tier": "BASE", "effective": "2025-03-01"}).status_code
        == 200
    )


ALL_ENDPOINTS = [
    ("get", "/conventions"), ("post", "/conventions"), ("get", "/conventions/{a}"),
    ("get", "/conventions/{a}/history"), ("get", "/conventions/{a}/instalments"), ("get", "/conventions/{a}/timeline"),
    *[("post", f"/conventions/{{a}}/{c}") for c in COMMANDS],
    ("get", "/dashboard"), ("get", "/ledger"), ("get", "/work-queue"),
    ("get", "/estimate?option=FULL&tier=BASE&effective=2025-03-01"),
]  # fmt: skip


@pytest.mark.parametrize("token", [None, "cpam_not-a-token", "revoked"])
@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
def test_every_endpoint_needs_a_valid_token(api: Api, method: str, path: str, token: str | None) -> None:
    if token == "revoked":
        api.app  # noqa: B018 - keep the fixture explicit
        users = api.client.app.state.services.users
        _, token = users.add("leaver", "admin")
        users.revoke("leaver")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    before = len(api.events(api.a))
    r = api.client.request(method.upper(), path.format(a=api.a), json={}, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert r.json()["code"] == ("missing_token" if token is None else "invalid_token")
    assert len(api.events(api.a)) == before


def test_health_and_ready_need_no_token(api: Api) -> None:
    assert api.get("/health", None).json() == {"status": "ok"}
    ready = api.get("/ready", None)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["last_notification_id"] >= 2
