"""The one-place rules of issue 10: the status after an event, the CPAM scope, French formats,
and the application's read methods (the log is paged through in the application only)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from adapters.composition import build_app, event_store_env
from adapters.settings import Settings
from domain import events as ev
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from domain.french import NNBSP, dd_mm_yyyy, euros, number
from domain.values import Status
from projections.engine.log import AppLog
from projections.scope import narrow, scope_condition, sees
from tests.unit.test_convention import RPPS, sign


def test_only_signature_suspension_reactivation_and_termination_change_the_status() -> None:
    assert ev.status_after(ev.Signed) == "active"
    assert ev.status_after(ev.Suspended, "active") == "suspended"
    assert ev.status_after(ev.Reactivated, "suspended") == "active"
    assert ev.status_after(ev.Terminated, "suspended") == "terminated"
    others = [cls for cls in ev.CONVENTION_EVENTS if cls not in ev.STATUS_AFTER]
    assert others and all(ev.status_after(cls, "suspended") == "suspended" for cls in others)
    assert set(ev.STATUS_AFTER.values()) == set(Status)
    assert type(ev.status_after(ev.Signed)) is str  # plain text: what the read models store


def test_the_cpam_scope() -> None:
    assert sees(None, "281") and sees(None, None)
    assert sees({"281"}, "281") and not sees({"281"}, "750") and not sees({"281"}, None)
    assert not sees(frozenset(), "281")
    assert narrow(None, None) is None and narrow(None, "750") == {"750"}
    assert narrow({"281", "750"}, "750") == {"750"} and narrow({"281"}, "750") == frozenset()
    params: list[object] = ["x"]
    assert scope_condition(None, "cpam_code", params) is None and params == ["x"]
    assert scope_condition({"750", "281"}, "i.cpam_code", params) == "i.cpam_code IN (?, ?)"
    assert params == ["x", "281", "750"]  # sorted: the same statement for the same scope
    assert scope_condition(frozenset(), "cpam_code", params) == "1 = 0" and len(params) == 3


def test_french_amounts_and_dates() -> None:
    assert number(1234) == f"1{NNBSP}234" and number(Decimal("0.5"), 2) == "0,50"
    assert euros(Decimal("-6290.41")) == f"-6{NNBSP}290,41{NNBSP}€"
    assert euros(1206000, before_sign=" ") == f"1{NNBSP}206{NNBSP}000,00 €"
    assert dd_mm_yyyy(date(2026, 3, 1)) == "01/03/2026" == dd_mm_yyyy(datetime(2026, 3, 1, 23, 59))


def test_the_app_reads_the_log_in_pages(app: ConventionsApp, meta: CommandMeta) -> None:
    assert app.head() == 0 and app.read_log(0, 10) == [] and list(app.log_after()) == []
    first = sign(app, meta)
    second = sign(app, meta, number="C-2", rpps=RPPS[1], cpam_code="750")
    head = app.head()
    everything = app.read_log(0, 1000)
    assert [i for i, _ in everything] == sorted(i for i, _ in everything) and everything[-1][0] == head
    assert list(app.log_after(0, page=2)) == everything  # pages of 2 give the same, in order
    signed = list(app.log_after(0, [ev.Signed.TOPIC], page=1))
    assert [e.originator_id for _, e in signed] == [first, second] == list(app.convention_ids(page=1))
    (one,) = app.read_log(signed[1][0] - 1, 1, until=signed[1][0])
    assert one == signed[1]
    stored = app.read_stored(0, 1000)
    assert [(i, oid, version, topic) for i, oid, version, topic, _ in stored] == [
        (i, e.originator_id, e.originator_version, e.TOPIC) for i, e in everything
    ]
    assert AppLog(app).read(1, 1000, None, []) == stored and AppLog(app).head() == head
    assert app.cpam_of(second) == "750" and app.signature(first).number == "C-1"  # type: ignore[union-attr]
    assert app.cpam_of(uuid4()) is None and app.signature(uuid4()) is None


def test_the_app_refuses_to_start_without_the_storage_format() -> None:
    env = event_store_env(Settings(store="memory"))
    del env["MAPPER_TOPIC"]
    with pytest.raises(RuntimeError, match="MAPPER_TOPIC"):
        ConventionsApp(env=env)
    assert build_app(Settings(store="memory")).stored_mapper().__class__.__name__ == "PydanticMapper"
