"""The application on real stores: SQLite (default) and PostgreSQL (production)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from adapters.composition import build_app
from adapters.settings import Settings
from domain.convention import CommandMeta
from domain.errors import ConcurrentModification
from domain.views import convention_view, event_view

META = CommandMeta(actor="integration", reason="test")


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest) -> Settings:
    name = "sqlite_settings" if request.param == "sqlite" else "pg_settings"
    return request.getfixturevalue(name)


def _sign(app, number: str = "S-1", rpps: str = "10000000009", command_id: str = "") -> UUID:  # noqa: ANN001
    from dataclasses import replace

    return UUID(
        app.sign(
            replace(META, command_id=command_id), number=number, cpam_code="751", rpps=rpps, doctor_name="Durand",
            specialty="paediatrics", sector=2, optam=True, ccam_share=None, newly_installed=False, option="HALF",
            percentile=91, initial_patients=900, target_patients=1000, signed_on=date(2024, 9, 1),
            effective_from=date(2024, 10, 1),
        )["id"]
    )  # fmt: skip


def test_lifecycle_survives_a_restart_and_replays_identically(settings: Settings) -> None:
    app = build_app(settings)
    cid = _sign(app)
    app.hire(cid, META, hired_on=date(2024, 10, 1), fte=Decimal("0.5"), profile="childcare_aide")
    app.record_due(cid, META, today=date(2026, 10, 1))
    app.suspend(cid, META, from_date=date(2026, 11, 1), ground="long_absence", agreement_date=date(2026, 11, 2))
    app.reactivate(cid, META, from_date=date(2027, 2, 1))
    app.record_payment(cid, META, instalment="y1-full", paid_on=date(2024, 10, 20), reference="VIR-1")
    before = convention_view(app.get(cid))
    history = [event_view(e) for e in app.history(cid)]
    app.close()

    again = build_app(settings)
    assert convention_view(again.get(cid)) == before
    assert [event_view(e) for e in again.history(cid)] == history
    assert before["instalments"][0]["amount"] == Decimal("19000.00")
    assert list(again.convention_ids()) == [cid]
    assert again.get(cid, version=3).version == 3
    again.close()


def test_two_processes_editing_one_convention_cannot_both_win(settings: Settings) -> None:
    a, b = build_app(settings), build_app(settings)
    cid = _sign(a)
    conv_a, conv_b = a.get(cid), b.get(cid)  # both operators read version 1
    conv_a.hire(META, hired_on=date(2024, 10, 1), fte=Decimal("0.5"), profile="nurse")
    conv_b.suspend(META, from_date=date(2024, 11, 1), ground="long_absence", agreement_date=date(2024, 11, 1))
    a.save(conv_a)
    from eventsourcing.persistence import IntegrityError

    with pytest.raises(IntegrityError):
        b.save(conv_b)
    # through the application service, the loser gets a domain conflict and nothing is written
    monkey_conv = b.get(cid)
    b._load_for = lambda *_a, **_k: (monkey_conv, None)  # type: ignore[method-assign]  # read before a's write
    a.assistant_left(cid, META, left_on=date(2024, 12, 1))
    with pytest.raises(ConcurrentModification):
        b.suspend(cid, META, from_date=date(2025, 1, 1), ground="long_absence", agreement_date=date(2025, 1, 1))
    assert [type(e).__name__ for e in a.history(cid)] == ["Signed", "AssistantHired", "AssistantLeft"]
    a.close()
    b.close()


def test_a_retried_command_is_harmless_across_processes(settings: Settings) -> None:
    a, b = build_app(settings), build_app(settings)
    cid = _sign(a, command_id="sign-once")
    assert _sign(b, command_id="sign-once") == cid
    assert len(b.history(cid)) == 1
    a.close()
    b.close()
