"""A terminated convention in the read models: its money is still owed, its reviews are no one's work."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from adapters.composition import build_app, build_projection_store
from adapters.settings import Settings
from domain.convention import CommandMeta
from projections import all_models, calendar, portfolio
from projections.engine.runner import Runner

META = CommandMeta(actor="test", reason="test")


def test_terminated_convention_settlement_and_arrears_stay_in_the_forecast_and_reviews_are_not_overdue(
    clock,  # noqa: ANN001
) -> None:
    clock.today = date(2026, 5, 1)
    app = build_app(Settings(store="memory"), clock=clock)
    cid = UUID(
        app.sign(
            META, number="T-1", cpam_code="281", rpps="10000000009", doctor_name="Martin",
            specialty="general_practice", sector=1, optam=False, ccam_share=None, newly_installed=False,
            option="FULL", percentile=50, initial_patients=1000, target_patients=1200,
            signed_on=date(2025, 2, 1), effective_from=date(2025, 3, 1),
        )["id"]
    )  # fmt: skip
    app.record_due(cid, META, today=date(2026, 4, 1))
    result = app.terminate(cid, META, on=date(2026, 4, 15), by="cpam", ground="déménagement")
    assert result["value"] == "3452.05"  # R17: 28 000 x 45 / 365, nothing paid for year 2
    runner = Runner(app, build_projection_store(Settings(store="memory")), all_models())
    runner.catch_up()

    board = portfolio.dashboard(runner.store, date(2026, 5, 1))
    # y1-full (38 000, due 2025-04-01, unpaid) is in arrears (their own figure, no "year 0" row);
    # the settlement is due in 2026
    assert board["forecast"] == [{"cpam_code": "281", "year": 2026, "amount": Decimal("3452.05")}]
    assert board["arrears"] == [{"cpam_code": "281", "amount": Decimal("38000.00")}]
    assert board["unprocessable"] == []
    reviews = {r["cpam_code"]: r for r in board["reviews"]}
    assert reviews.get("281", {}).get("overdue", 0) == 0
    assert calendar.work_queue(runner.store, date(2026, 5, 1)) == []
    runner.store.close()
