"""Each read model's content on a small scripted portfolio (SQLite projection store, in-memory events)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from stdnum import luhn

from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.values import Option, Profile, SuspensionGround, TerminatedBy
from projections import calendar, conventions_list, history, ledger, portfolio


def rpps(n: int) -> str:
    body = f"1{n:09d}"
    return body + luhn.calc_check_digit(body)


def sign(app: ConventionsApp, meta: CommandMeta, n: int, *, cpam: str = "281", name: str = "Martin",
         option: Option = Option.FULL, percentile: int = 50, effective: date = date(2023, 3, 1)) -> UUID:  # fmt: skip
    result = app.sign(
        meta, number=f"C-{n:03d}", cpam_code=cpam, rpps=rpps(n), doctor_name=name, specialty="general_practice",
        sector=1, optam=False, ccam_share=None, newly_installed=False, option=option, percentile=percentile,
        initial_patients=1000, target_patients=1200, signed_on=effective, effective_from=effective,
    )  # fmt: skip
    return UUID(result["id"])


def build_portfolio(app: ConventionsApp) -> dict[str, UUID]:
    """Six conventions with a lifecycle each, ticked up to 2026-06-30 (about 200 events)."""
    m = CommandMeta(actor="agent.durand", reason="dossier complet")
    ids = {
        "full": sign(app, m, 1, name="Martin"),
        "half_raised": sign(app, m, 2, cpam="281", name="Éloïse Lefèvre", option=Option.HALF, percentile=92),
        "max": sign(app, m, 3, cpam="751", name="Bernard", percentile=97, effective=date(2024, 1, 10)),
        "suspended": sign(app, m, 4, cpam="751", name="Petit", effective=date(2024, 9, 1)),
        "terminated": sign(app, m, 5, cpam="281", name="Roux", effective=date(2024, 7, 1)),
        "no_assistant": sign(app, m, 6, cpam="130", name="Faure", effective=date(2025, 6, 1)),
    }
    hired = {"full": date(2023, 3, 1), "half_raised": date(2023, 3, 1), "max": date(2024, 1, 10),
             "suspended": date(2024, 9, 1), "terminated": date(2024, 7, 1)}  # fmt: skip
    for key, day in hired.items():
        app.hire(ids[key], m, hired_on=day, fte=Decimal(1), profile=Profile.NURSE,
                 was_practice_secretary=key == "half_raised")  # fmt: skip
    app.declare_secretary_hired(ids["half_raised"], m, hired_on=date(2023, 6, 1))  # R28
    app.tick(m, today=date(2025, 6, 30))
    app.record_payment(ids["full"], m, instalment="y1-advance", paid_on=date(2023, 3, 20), reference="VIR-1")
    app.record_payment(ids["full"], m, instalment="y2-full", paid_on=date(2024, 3, 5), reference="VIR-2")
    app.hold_review(ids["full"], m, held_on=date(2023, 9, 10))
    app.hold_review(ids["full"], m, held_on=date(2024, 5, 20))  # due 2024-03-01: late
    app.complete_training(ids["full"], m, completed_on=date(2024, 1, 15))
    app.suspend(ids["suspended"], m, from_date=date(2025, 1, 1), ground=SuspensionGround.LONG_ABSENCE,
                agreement_date=date(2025, 1, 3))  # fmt: skip
    app.terminate(ids["terminated"], m, on=date(2025, 3, 31), by=TerminatedBy.CPAM, ground="déménagement")
    app.record_attainment(ids["full"], m, year=3, observed_patients=1050, on=date(2026, 3, 10))
    app.tick(m, today=date(2026, 6, 30))
    app.record_payment(ids["full"], m, instalment="y3-balance", paid_on=date(2026, 4, 2), reference="REC-3")
    app.change_option(ids["half_raised"], m, option=Option.FULL, from_date=date(2027, 3, 1))
    return ids


def test_conventions_list_search_filters_and_pages(built) -> None:  # noqa: ANN001
    app, runner, ids = built
    store = runner.store
    everything = conventions_list.search(store)
    assert everything["total"] == 6 and [i["number"] for i in everything["items"]] == [
        f"C-{n:03d}" for n in range(1, 7)
    ]
    assert conventions_list.search(store, q="eloise")["items"][0]["convention_id"] == str(ids["half_raised"])
    assert conventions_list.search(store, name="LEFÈVRE")["total"] == 1
    assert conventions_list.search(store, rpps=rpps(3))["items"][0]["tier"] == "MAX"
    assert conventions_list.search(store, q="C-00")["total"] == 6
    assert conventions_list.search(store, cpams={"751"})["total"] == 2
    assert conventions_list.search(store, cpams={"751", "130"})["total"] == 3
    assert conventions_list.search(store, cpams=set())["total"] == 0
    assert [i["number"] for i in conventions_list.search(store, status="suspended")["items"]] == ["C-004"]
    assert conventions_list.search(store, status="terminated")["items"][0]["terminated_on"] == "2025-03-31"
    assert conventions_list.search(store, tier="RAISED", option="HALF")["total"] == 1
    full = conventions_list.search(store, number="C-001")["items"][0]
    assert full["contract_year"] == app.get(ids["full"]).contract_year == 4
    assert full["version"] == app.get(ids["full"]).version
    assert conventions_list.search(store, contract_year=4)["total"] == 2
    page = conventions_list.search(store, sort="name", descending=True, page=2, per_page=4)
    assert page["total"] == 6 and len(page["items"]) == 2
    assert [i["doctor_name"] for i in page["items"]] == ["Éloïse Lefèvre", "Bernard"]
    names = [i["doctor_name"] for i in conventions_list.search(store, sort="name")["items"]]
    assert names == ["Bernard", "Éloïse Lefèvre", "Faure", "Martin", "Petit", "Roux"]


def test_ledger_matches_the_aggregates(built) -> None:  # noqa: ANN001
    app, runner, ids = built
    rows = ledger.instalments(runner.store)
    expected = []
    for cid in ids.values():
        conv = app.get(cid)
        expected += [(str(cid), i.instalment_id, i.amount, i.status, i.paid_on and i.paid_on.isoformat())
                     for i in conv.instalments.values()]  # fmt: skip
    got = [(r["convention_id"], r["instalment_id"], r["amount"], r["status"], r["paid_on"]) for r in rows]
    assert sorted(got) == sorted(expected)
    balance = next(r for r in rows if r["instalment_id"] == "y3-balance" and r["number"] == "C-001")
    assert balance["amount"] == Decimal("-5500.00") and balance["payment_reference"] == "REC-3"  # 25 % of 22 000
    scoped = ledger.instalments(runner.store, cpams={"751"})
    assert {r["cpam_code"] for r in scoped} == {"751"}
    totals = ledger.monthly_totals(runner.store, cpams={"281"})
    march_2023 = next(t for t in totals if t["month"] == "2023-03")
    assert march_2023["paid"] == Decimal("25200.00")  # A7-2019: 70 % of 36 000
    apr_2026 = next(t for t in totals if t["month"] == "2026-04")
    assert apr_2026["recovered"] == Decimal("5500.00")
    cancelled = [r for r in rows if r["status"] == "cancelled"]
    assert cancelled and all(r["number"] == "C-005" for r in cancelled)


def test_portfolio_dashboard(built) -> None:  # noqa: ANN001
    app, runner, ids = built
    dash = portfolio.dashboard(runner.store, date(2026, 6, 30))
    by = {(c["cpam_code"], c["status"], c["option"]): c for c in dash["conventions"]}
    assert by[("751", "suspended", "FULL")]["count"] == 1
    assert by[("281", "terminated", "FULL")]["funded_etp"] == 0
    assert sum(c["count"] for c in dash["conventions"]) == 6
    assert sum(c["funded_etp"] for c in dash["conventions"]) == Decimal("4.5")
    # Money per calendar year equals the ledger's.
    rows = ledger.instalments(runner.store)
    for m in dash["money"]:
        due = sum((r["amount"] for r in rows if r["cpam_code"] == m["cpam_code"] and r["due_date"][:4] == str(m["year"])
                   and r["status"] != "cancelled" and r["amount"] > 0), Decimal(0))  # fmt: skip
        assert m["due"] == due
    assert sum(m["recovered"] for m in dash["money"]) == Decimal("5500.00")
    reviews = {r["cpam_code"]: r for r in dash["reviews"]}
    assert reviews["281"]["held_on_time"] == 1 and reviews["281"]["held_late"] == 1
    assert reviews["281"]["overdue"] > 0
    assert dash["attainment_years_3_plus"] == [{"cpam_code": "281", "bucket": "25-49 %", "count": 1}]
    assert [s["convention_id"] for s in dash["suspensions"]] == [str(ids["suspended"])]
    fc = {(f["cpam_code"], f["year"]): f["amount"] for f in dash["forecast"]}
    # MAX doctor (751, effective 2024-01-10): 38 000 each year; year 4 starts 2027-01-10 -> advance 19 000 due then,
    # year 3's balance 19 000 due at its end 2027-01-10 too; year 3 advance already recorded (unpaid): 2026.
    assert fc[("751", 2027)] == Decimal("38000")
    assert all(y == 0 or 2026 <= y <= 2030 for _, y in fc)
    assert not any(c == "281" and y > 2026 and a < 0 for (c, y), a in fc.items())


def test_calendar_next_due_equals_the_aggregate_and_work_queue(built) -> None:  # noqa: ANN001
    app, runner, ids = built
    for cid in ids.values():
        assert calendar.next_due(runner.store, cid)["next_due_on"] == app.get(cid).next_due_on()
    due = calendar.conventions_due(runner.store, date(2026, 6, 30))
    assert due == sorted(c for c in ids.values() if (n := app.get(c).next_due_on()) and n <= date(2026, 6, 30))
    later = calendar.conventions_due(runner.store, date(2027, 12, 31))
    assert set(due) <= set(later)
    queue = calendar.work_queue(runner.store, date(2026, 6, 30))
    kinds = {(i["number"], i["kind"]) for i in queue}
    assert ("C-006", "no_assistant") in kinds  # effective 2025-06-01, nobody hired
    assert ("C-001", "review") in kinds
    assert not any(n == "C-005" for n, _ in kinds)  # terminated: nothing to do
    # R4: years 1 and 2 are paid in full, no attainment to chase (C-001 recorded none for them); year 3 is asked
    assert ("C-001", "attainment_missing") not in kinds  # years 1-2 never recorded, year 3 recorded
    assert ("C-002", "attainment_missing") in kinds  # year 3 ended 2026-03-01, none recorded
    assert {i["message"] for i in queue if i["kind"] == "attainment_missing"} == {
        "Convention C-002 (CPAM 281) : Atteinte de l'année 3 manquante : année terminée le 01/03/2026, en retard."
    }
    assert ("C-002", "balance_waiting") in kinds  # year 3 ended 2026-03-01, no attainment
    assert not any(n == "C-001" and k == "training_deadline" for n, k in kinds)  # trained
    assert ("C-003", "training_deadline") in kinds  # hired 2024-01-10, deadline 2026-01-10 passed
    item = next(i for i in queue if i["number"] == "C-003" and i["kind"] == "training_deadline")
    assert item["overdue"] and "dépassée" in item["message"] and item["cpam"] == "751"
    assert queue[0]["overdue"]
    assert all(i["cpam"] == "130" for i in calendar.work_queue(runner.store, date(2026, 6, 30), {"130"}))
    assert calendar.work_queue(runner.store, date(2026, 6, 30), set()) == []


def test_history_one_french_sentence_per_event(built) -> None:  # noqa: ANN001
    app, runner, ids = built
    lines = history.timeline(runner.store, ids["terminated"])
    events = app.history(ids["terminated"])
    assert [line["version"] for line in lines] == [e.originator_version for e in events]
    assert lines[0]["sentence"].startswith("Le 01/07/2024, agent.durand : signature de la convention n° C-005")
    assert "Motif : dossier complet." in lines[0]["sentence"]
    assert any("résiliation par la CPAM, motif : déménagement" in line["sentence"] for line in lines)
    assert history.timeline(runner.store, UUID(int=0)) == []


def test_following_sees_new_events_and_gaps_are_harmless(built) -> None:  # noqa: ANN001
    app, runner, ids = built
    before = runner.positions()["history"]["position"]
    assert before == runner.head() or before <= runner.head()
    app.clock.today = date(2026, 7, 1)  # a fact is not dated after today (R21): a day passes
    app.hold_review(ids["max"], CommandMeta(actor="agent.x"), held_on=date(2026, 7, 1))
    assert runner.catch_up() == 1
    assert history.timeline(runner.store, ids["max"])[-1]["event_type"] == "ReviewHeld"
    assert runner.catch_up() == 0


def test_rebuild_switches_generations_and_answers_the_same(built) -> None:  # noqa: ANN001
    app, runner, ids = built

    def answers() -> tuple:
        s = runner.store
        return (conventions_list.search(s), ledger.instalments(s), calendar.work_queue(s, date(2026, 6, 30)),
                history.timeline(s, ids["full"]), portfolio.dashboard(s, date(2026, 6, 30)))  # fmt: skip

    before = answers()
    assert runner.rebuild() == {m.name: 2 for m in runner.models}
    assert {p["generation"] for p in runner.positions().values()} == {2}
    assert answers() == before
    assert runner.verify() == []
    with runner.store.reading() as tx:
        assert runner.store.generations(tx, "history") == [(2, runner.head(), True)]


def test_work_queue_is_filtered_sorted_and_paged_by_the_database(built) -> None:  # noqa: ANN001
    _, runner, _ = built
    day = date(2026, 6, 30)
    full = calendar.work_queue(runner.store, day)
    assert len(full) > 8 and any(i["overdue"] for i in full) and not all(i["overdue"] for i in full)
    assert full == sorted(full, key=lambda i: (not i["overdue"], i["date"], i["cpam"], i["number"], i["kind"]))
    assert calendar.work_queue_page(runner.store, day, per_page=4) == (len(full), full[:4])
    assert calendar.work_queue_page(runner.store, day, page=2, per_page=4) == (len(full), full[4:8])
    overdue = [i for i in full if i["overdue"]]
    assert calendar.work_queue_page(runner.store, day, overdue_only=True) == (len(overdue), overdue)
    reviews = [i for i in full if i["kind"] == "review"]
    assert len(reviews) > 2
    assert calendar.work_queue_page(runner.store, day, kind="review", per_page=2) == (len(reviews), reviews[:2])
    scoped = [i for i in full if i["cpam"] == "281"]
    assert calendar.work_queue_page(runner.store, day, {"281"}) == (len(scoped), scoped)
