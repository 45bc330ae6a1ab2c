"""Small pieces of the projections, without a database server."""

from __future__ import annotations

from datetime import date

import orjson

from domain.due import CalendarState
from domain.events import CONVENTION_EVENTS
from projections.calendar import Entry
from projections.conventions_list import name_key
from projections.engine.store import ProjectionStore
from projections.history import WHAT, d, money


def test_every_convention_event_has_a_sentence() -> None:
    assert set(WHAT) == set(CONVENTION_EVENTS)


def test_french_formats() -> None:
    assert d(date(2025, 3, 1)) == "01/03/2025" and d(None) == "?"
    assert money(-5500) == "-5\u202f500,00 €"


def test_search_key_ignores_case_and_accents() -> None:
    assert name_key("Éloïse LEFÈVRE") == "eloise lefevre"


def test_calendar_entry_survives_its_json() -> None:
    cal = CalendarState(effective_from=date(2024, 2, 29), years_started=3, first_regime="A7-2019",
                        reviews_raised=4, first_hired_on=date(2024, 3, 10), attainments={3: date(2027, 3, 5)},
                        instalments={"y1-advance", "y1-balance", "y2-full", "y3-advance"})  # fmt: skip
    entry = Entry("C-1", "281", cal, "suspended", 45, 1, date(2026, 3, 10), {date(2024, 8, 29)},
                  {date(2025, 2, 28)}, {2: date(2025, 2, 28)})  # fmt: skip
    again = Entry.load(entry.dump(), None)
    assert again.dump() == entry.dump()
    assert again.cal.next_due_on() == cal.next_due_on()
    assert orjson.loads(entry.dump())["cal"] == cal.to_json()  # our fast JSON is the domain's own shape


def test_postgres_placeholders_and_literal_percent() -> None:
    store = ProjectionStore.__new__(ProjectionStore)
    store.dialect = "postgres"
    assert store.sql("SELECT '50 %' WHERE a = ? AND b LIKE ?") == "SELECT '50 %%' WHERE a = %s AND b LIKE %s"
    store.dialect = "sqlite"
    assert store.sql("a = ?") == "a = ?"


def test_the_events_the_calendar_skips_change_no_calendar_state() -> None:
    import copy

    from adapters.composition import build_app
    from adapters.settings import Settings
    from domain.convention import CommandMeta
    from projections.calendar import IGNORED
    from tests.integration.test_projection_models import build_portfolio

    app = build_app(Settings(store="memory"), clock=lambda: date(2026, 6, 30))
    ids = build_portfolio(app)
    app.set_objective(ids["full"], CommandMeta(actor="t"), from_year=5, target_patients=1300, on=date(2026, 6, 30))
    seen = set()
    for cid in ids.values():
        events = app.history(cid)
        state = CalendarState.from_signed(events[0])
        for e in events[1:]:
            if type(e) in IGNORED:
                before = copy.deepcopy(state)
                state.apply(e)
                assert state == before, type(e).__name__
                seen.add(type(e))
            else:
                state.apply(e)
    assert seen == IGNORED
