"""The read endpoints on the projections: list search/filters/paging, ledger, work queue, timeline."""

from __future__ import annotations

from tests.api.conftest import ON_EACH_STORE, RPPS, Api, seed_convention

pytestmark = ON_EACH_STORE  # every test here reads the read models through HTTP


def test_list_search_filters_sort_and_paging(api: Api) -> None:
    seed_convention(api.app, "A-282", "281", RPPS[2])
    seed_convention(api.app, "Z-999", "281", RPPS[3])
    r = api.get("/conventions", "op281", params={"sort": "-number", "per_page": 2}).json()
    assert (r["total"], r["page"], r["per_page"]) == (3, 1, 2)
    assert [i["number"] for i in r["items"]] == ["Z-999", "A-282"]
    page2 = api.get("/conventions", "op281", params={"sort": "-number", "per_page": 2, "page": 2}).json()
    assert [i["number"] for i in page2["items"]] == ["A-281"]
    assert api.get("/conventions", "op281", params={"q": "A-28"}).json()["total"] == 2
    assert api.get("/conventions", "op281", params={"q": RPPS[3]}).json()["items"][0]["number"] == "Z-999"
    assert api.get("/conventions", "op281", params={"q": "dr z-9"}).json()["total"] == 1
    assert api.get("/conventions", "admin", params={"status": "suspended"}).json()["total"] == 0
    item = api.get("/conventions", "admin", params={"cpam": "751"}).json()["items"][0]
    assert item["id"] == str(api.b) and item["contract_year"] == 1 and item["effective_from"] == "2025-03-01"


def test_a_command_shows_in_the_list_at_once(api: Api) -> None:
    suspension = {"from_date": "2025-05-01", "ground": "long_absence", "agreement_date": "2025-05-01"}
    api.post(f"/conventions/{api.a}/suspensions", suspension, "op281")
    r = api.get("/conventions", "op281", params={"status": "suspended"}).json()
    assert [i["id"] for i in r["items"]] == [str(api.a)]
    assert r["items"][0]["suspended_since"] == "2025-05-01"


def test_ledger_rows_totals_and_payment(api: Api) -> None:
    pay = {"instalment": "y1-full", "paid_on": "2025-04-01", "reference": "VIR-1"}
    assert api.post(f"/conventions/{api.a}/payments", pay, "op281").status_code == 200
    ledger = api.get("/ledger", "manager").json()
    rows = {(i["cpam_code"], i["instalment_id"]): i for i in ledger["items"]}
    assert rows[("281", "y1-full")]["status"] == "paid"
    assert rows[("281", "y1-full")]["amount"] == "38000.00"
    assert rows[("751", "y1-full")]["status"] == "due"
    totals = {t["cpam_code"]: t for t in ledger["totals"]}
    assert totals["281"]["paid"] == "38000.00" and totals["751"]["paid"] == "0.00"
    assert api.get("/ledger", "manager", params={"status": "due"}).json()["total"] == 1
    assert api.get("/ledger", "manager", params={"cpam": "281", "per_page": 1}).json()["total"] == 1
    assert api.get("/ledger", "op281", params={"cpam": "751"}).json()["total"] == 0


def test_work_queue_and_timeline(api: Api) -> None:
    queue = api.get("/work-queue", "op281").json()
    assert queue["today"] == "2025-06-01"
    assert {(i["kind"], i["number"]) for i in queue["items"]} >= {("no_assistant", "A-281")}
    assert all(i["message"].startswith("Convention A-281") for i in queue["items"])
    api.post(f"/conventions/{api.a}/hires", {"hired_on": "2025-03-01", "fte": "1", "profile": "nurse"}, "op281")
    assert "no_assistant" not in {i["kind"] for i in api.get("/work-queue", "op281").json()["items"]}
    lines = api.get(f"/conventions/{api.a}/timeline", "auditor").json()["lines"]
    assert [line["version"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["actor"] == "op281" and lines[-1]["event_type"] == "AssistantHired"
    assert lines[-1]["sentence"]


def test_ready_reports_projection_lag(api: Api) -> None:
    api.get("/conventions")
    ready = api.get("/ready", None).json()
    assert ready["status"] == "ready"
    assert ready["projections"]["conventions_list"]["lag"] == 0


def test_every_version_and_every_month_of_a_rich_history_reads_cleanly(api: Api) -> None:
    """Replays at any version or date (audit) never fail, whatever the history holds."""
    from datetime import date, timedelta

    cid, post = api.a, api.post
    steps = [
        ("hires", {"hired_on": "2025-03-01", "fte": "1", "profile": "nurse"}),
        ("payments", {"instalment": "y1-full", "paid_on": "2025-04-01", "reference": "V1"}),
        ("suspensions", {"from_date": "2025-10-01", "ground": "long_absence", "agreement_date": "2025-10-01"}),
        ("reactivations", {"from_date": "2026-01-15"}),
        ("amendments", {"option": "HALF", "from_date": "2027-06-01"}),
    ]
    api.clock.today = date(2026, 1, 15)  # the steps are recorded once they happened (R21)
    for path, body in steps:
        assert post(f"/conventions/{cid}/{path}", body).status_code == 200, path
    api.clock.today = date(2028, 9, 1)
    api.app.tick(api.app_meta(), today=api.clock.today, ids=[cid])
    for body in ({"year": 1, "observed_patients": 1050, "on": "2026-07-01"},
                 {"year": 2, "observed_patients": 900, "on": "2027-08-01"}):  # fmt: skip
        assert post(f"/conventions/{cid}/attainments", body).status_code == 200
    term = {"on": "2028-10-31", "by": "doctor", "ground": "départ", "letter_date": "2028-08-01"}
    assert post(f"/conventions/{cid}/terminations", term).status_code == 200
    last = api.get(f"/conventions/{cid}").json()["version"]
    for version in range(1, last + 1):
        r = api.get(f"/conventions/{cid}", params={"version": version})
        assert r.status_code == 200 and r.headers["ETag"] == f'"{version}"', r.text
    day = date(2025, 1, 1)
    while day < date(2029, 6, 1):
        r = api.get(f"/conventions/{cid}", params={"as_of": day.isoformat()})
        assert r.status_code in (200, 404), r.text
        day += timedelta(days=17)
    assert api.get(f"/conventions/{cid}/instalments").status_code == 200
    assert api.get(f"/conventions/{cid}/timeline").json()["lines"][-1]["event_type"] == "Terminated"
