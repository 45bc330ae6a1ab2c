"""R28 in the work queue: when the assistant was the practice's secretary, a new secretary is due
within 6 months of the hire; the alert shows from the hire, is overdue after, and goes once declared."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from adapters.composition import build_app, build_projection_store
from adapters.settings import Settings
from domain.convention import CommandMeta
from domain.values import Profile
from projections import all_models, calendar, history
from projections.engine.runner import Runner
from tests.conftest import FixedClock
from tests.integration.test_projection_models import sign

META = CommandMeta(actor="agent.r28", reason="embauche")


def test_r28_the_work_queue_asks_for_a_new_secretary_until_one_is_declared() -> None:
    clock = FixedClock(date(2025, 6, 1))
    app = build_app(Settings(store="memory"), clock=clock)
    cid = sign(app, META, 1, effective=date(2025, 3, 1))
    app.hire(cid, META, hired_on=date(2025, 3, 10), fte=Decimal(1), profile=Profile.SECRETARY,
             was_practice_secretary=True)  # fmt: skip
    runner = Runner(app, build_projection_store(Settings(store="memory")), all_models(), batch_size=7)
    runner.catch_up()

    def item(today: date) -> dict | None:
        return next((i for i in calendar.work_queue(runner.store, today) if i["kind"] == "secretary_replacement"), None)

    assert item(date(2025, 3, 9)) is None  # shown from the hire
    soon = item(date(2025, 6, 1))
    assert soon is not None and not soon["overdue"] and soon["date"] == date(2025, 9, 10)
    assert "nouvelle secrétaire à embaucher avant le 10/09/2025" in soon["message"]
    late = item(date(2025, 9, 11))
    assert late is not None and late["overdue"] and "dépassée" in late["message"]
    clock.today = date(2025, 9, 20)
    app.declare_secretary_hired(cid, META, hired_on=date(2025, 9, 15))
    runner.catch_up()
    assert item(date(2025, 9, 20)) is None
    assert "nouvelle secrétaire" in history.timeline(runner.store, cid)[-1]["sentence"]
    assert runner.verify() == []
    runner.store.close()
