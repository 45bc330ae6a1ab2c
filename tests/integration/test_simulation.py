"""The simulator: a plausible portfolio, deterministic for a seed, idempotent when re-run."""

from __future__ import annotations

from collections import Counter
from datetime import date

import orjson
import pytest
from stdnum import luhn

from adapters.composition import build_app
from adapters.settings import Settings
from adapters.simulation import Simulator, portfolio, rpps_for, siret_for
from domain import events as ev
from domain.application import ConventionsApp


def log_of(app: ConventionsApp) -> list[tuple[str, int, str, bytes]]:
    """The whole log of convention events, without the recording time."""
    out = []
    for n in app.recorder.select_notifications(1, 1_000_000, topics=[c.TOPIC for c in ev.CONVENTION_EVENTS]):
        e = app.mapper.to_domain_event(n)
        payload = e.model_dump(mode="json", exclude={"timestamp"})
        out.append((str(e.originator_id), e.originator_version, n.topic, orjson.dumps(payload)))
    return out


def simulate(app: ConventionsApp, seed: int, n: int, start: date, end: date) -> dict:
    return Simulator(app, seed=seed, start=start, end=end, conventions=n).run().as_dict()


@pytest.fixture
def memory() -> ConventionsApp:
    return build_app(Settings(store="memory"))


def test_same_seed_same_history_and_a_rerun_changes_nothing(memory: ConventionsApp) -> None:
    other = build_app(Settings(store="memory"))
    first = simulate(memory, 5, 25, date(2023, 1, 1), date(2025, 6, 30))
    second = simulate(other, 5, 25, date(2023, 1, 1), date(2025, 6, 30))
    assert {**second, "seconds": 0} == {**first, "seconds": 0}
    assert log_of(memory) == log_of(other)
    head = memory.recorder.max_notification_id()
    again = simulate(memory, 5, 25, date(2023, 1, 1), date(2025, 6, 30))
    assert memory.recorder.max_notification_id() == head  # command receipts: nothing written twice
    assert again["due_events"] == 0


def test_another_seed_another_portfolio() -> None:
    a = portfolio(1, date(2024, 1, 1), date(2025, 1, 1), 10)
    b = portfolio(2, date(2024, 1, 1), date(2025, 1, 1), 10)
    assert [d.fields["rpps"] for d in a] != [d.fields["rpps"] for d in b]
    assert a == portfolio(1, date(2024, 1, 1), date(2025, 1, 1), 10)


def test_the_portfolio_is_plausible(memory: ConventionsApp) -> None:
    report = simulate(memory, 11, 80, date(2022, 1, 1), date(2026, 12, 31))
    assert report["signed"] >= 75  # a few refusals at most (THIRD options, duplicate doctors)
    actions = report["actions"]
    for kind in ("hire", "pay", "review", "train", "attainment", "suspend", "reactivate"):
        assert actions.get(kind, 0) > 0, kind
    assert report["due_failures"] == 0
    convs = [memory.get(cid) for cid in memory.convention_ids()]
    assert {c.cpam_code for c in convs} >= {"281", "751", "691", "131", "330", "590"}
    assert {c.option.value for c in convs} >= {"HALF", "FULL"} and {c.tier.value for c in convs} >= {"BASE", "RAISED"}
    status = Counter(c.status.value for c in convs)
    assert status["active"] > 50
    late = [r for c in convs for r in c.reviews.values() if r.held_on and (r.held_on - r.due_date).days > 30]
    on_time = [r for c in convs for r in c.reviews.values() if r.held_on and (r.held_on - r.due_date).days <= 30]
    assert late and len(on_time) > len(late)
    paid = [i for c in convs for i in c.instalments.values() if i.status == "paid"]
    assert paid and all(0 <= (i.paid_on - i.fell_due_on).days <= 60 for i in paid)


def test_a_later_window_extends_the_portfolio(memory: ConventionsApp) -> None:
    simulate(memory, 3, 10, date(2024, 1, 1), date(2024, 12, 31))
    before = {cid: memory.get(cid).version for cid in memory.convention_ids()}
    simulate(memory, 3, 5, date(2025, 1, 1), date(2025, 12, 31))
    after = {cid: memory.get(cid).version for cid in memory.convention_ids()}
    assert len(after) == len(before) + 5
    assert all(after[cid] > v for cid, v in before.items() if memory.get(cid).status.value != "terminated")


def test_identifiers_are_valid() -> None:
    import random

    from stdnum.fr import siret

    rng = random.Random(0)
    for _ in range(50):
        assert luhn.is_valid(rpps_for(rng)) and siret.is_valid(siret_for(rng))


def test_simulation_on_sqlite(sqlite_settings: Settings) -> None:
    app = build_app(sqlite_settings)
    report = simulate(app, 9, 20, date(2024, 1, 1), date(2025, 12, 31))
    assert report["signed"] == 20 and report["due_events"] > 100
