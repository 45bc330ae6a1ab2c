"""The books recomputed from the rules (domain.books): a forged amount, a payment of an instalment that
never fell due, a double payment are findings; a history the application wrote has none (R6, R7)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from adapters.composition import build_app
from adapters.settings import Settings
from domain import events as ev
from domain.books import check_books
from domain.convention import CommandMeta
from tests.helpers import sign

META = CommandMeta(actor="books.test", reason="test")


def _history() -> list[ev.Event]:
    app = build_app(Settings(store="memory"), clock=lambda: date(2026, 11, 30))
    cid = sign(app, META)
    app.hire(cid, META, hired_on=date(2025, 3, 1), fte=Decimal(1), profile="nurse")
    app.record_due(cid, META, today=date(2026, 3, 31))
    app.record_payment(cid, META, instalment="y1-full", paid_on=date(2025, 3, 20), reference="VIR-1")
    return app.history(cid)


def _codes(events: list[ev.Event]) -> set[tuple[str, int | None]]:
    return {(f.code, f.version) for f in check_books(events).findings}


def test_a_history_written_by_the_application_adds_up() -> None:
    books = check_books(_history())
    assert books.findings == []
    assert (books.totals.instalments, books.totals.due, books.totals.paid) == (2, Decimal("66000.00"), Decimal("38000"))


def test_a_forged_instalment_amount_is_a_finding() -> None:  # R6: year 1 of C-2024 FULL pays 38 000
    events = _history()
    i = next(i for i, e in enumerate(events) if isinstance(e, ev.InstalmentDue) and e.instalment_id == "y1-full")
    events[i] = events[i].model_copy(update={"amount": Decimal("40000.00")})
    assert ("instalment_amount_differs", events[i].originator_version) in _codes(events)


def test_an_amount_not_to_the_cent_is_a_finding() -> None:
    events = _history()
    i = next(i for i, e in enumerate(events) if isinstance(e, ev.PaymentRecorded))
    events[i] = events[i].model_copy(update={"amount": Decimal("38000.001")})
    assert {
        ("not_to_the_cent", events[i].originator_version),
        ("payment_amount_differs", events[i].originator_version),
    } <= _codes(events)


def test_a_payment_of_an_unknown_instalment_is_a_finding() -> None:  # R7
    events = _history()
    last = events[-1]
    forged = ev.PaymentRecorded(
        originator_id=last.originator_id,
        originator_version=last.originator_version + 1,
        timestamp=last.timestamp,
        effective_date=date(2026, 4, 1),
        actor="x",
        instalment_id="y7-full",
        amount=Decimal(1000),
        payment_reference="F",
    )
    assert _codes([*events, forged]) == {("payment_without_instalment", forged.originator_version)}


def test_a_double_payment_is_a_finding() -> None:  # R7: an instalment is paid once
    events = _history()
    paid = next(e for e in events if isinstance(e, ev.PaymentRecorded))
    again = paid.model_copy(update={"originator_version": events[-1].originator_version + 1})
    assert _codes([*events, again]) == {("instalment_paid_twice", again.originator_version)}


def test_a_year_started_off_its_anniversary_is_a_finding() -> None:  # R2, R16
    events = _history()
    i = next(i for i, e in enumerate(events) if isinstance(e, ev.YearStarted) and e.year == 2)
    events[i] = events[i].model_copy(update={"effective_date": date(2026, 4, 1)})
    assert ("anniversary_differs", events[i].originator_version) in _codes(events)
