"""Events are forever: stable topics, JSON round trip, and upcasting of older stored states."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import orjson
from eventsourcing.persistence import StoredEvent

from adapters.persistence import OrjsonTranscoder, PydanticMapper
from domain import events as ev
from tests.helpers import Upcasted  # a released event that gained a field in version 2

RELEASED_TOPICS = {
    "cpam.Signed", "cpam.AssistantHired", "cpam.AssistantLeft", "cpam.TrainingCompleted", "cpam.ObjectiveSet",
    "cpam.AttainmentRecorded", "cpam.YearStarted", "cpam.InstalmentDue", "cpam.InstalmentCancelled",
    "cpam.PaymentRecorded", "cpam.Suspended", "cpam.Reactivated", "cpam.ReviewDue", "cpam.ReviewHeld",
    "cpam.Renewed", "cpam.OptionChanged", "cpam.Terminated", "cpam.SecretaryHired", "cpam.ChainAnchored",
}  # fmt: skip


def test_released_topics_never_change() -> None:
    """Stored events name their class by topic: renaming or moving a class must not orphan them."""
    assert {cls.TOPIC for cls in ev.CONVENTION_EVENTS} == RELEASED_TOPICS


def test_round_trip_keeps_dates_decimals_and_enums() -> None:
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    event = ev.InstalmentDue(
        originator_id=uuid4(), originator_version=5, timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        effective_date=date(2027, 3, 1), actor="a", reason="r", command_id="c", instalment_id="y3-balance",
        year=3, kind="balance", due_date=date(2028, 3, 1), amount=Decimal("-2200.00"),
    )  # fmt: skip
    stored = mapper.to_stored_event(event)
    assert stored.topic == "cpam.InstalmentDue"
    state = orjson.loads(stored.state)
    assert state["amount"] == "-2200.00" and state["due_date"] == "2028-03-01"
    assert mapper.to_domain_event(stored) == event


def test_an_old_stored_state_is_upcast_on_read() -> None:
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    v1_state = {"timestamp": "2024-01-01T00:00:00+00:00", "effective_date": "2024-01-01", "actor": "x"}
    stored = StoredEvent(
        originator_id=uuid4(), originator_version=2, topic=Upcasted.TOPIC, state=orjson.dumps(v1_state)
    )
    event = mapper.to_domain_event(stored)
    assert event.ground == "non renseigné"
    # and a new write records its version, so it is not upcast twice
    assert orjson.loads(mapper.to_stored_event(event).state)["class_version"] == 2
    assert mapper.to_domain_event(mapper.to_stored_event(event)) == event
