"""A convention's state at one version, kept as a snapshot: a cache that spares a long replay.

Conventions live ten years and more (R26): a command loads its convention by replaying its
history, so without a snapshot its cost grows with that history. A snapshot is the state the
events built, typed field by field (``ConventionState``), so it comes back exactly (Decimal,
dates, enums, sets, dict keys): loading is the latest snapshot plus the events after it.

Events are the truth and a snapshot only a cache. It is written with a ``fingerprint`` of the state
it holds: its shape (the JSON schema of ``ConventionState``) and ``STATE_VERSION``, which a
developer bumps whenever a ``Convention._when_*`` handler starts building a different state from the
same events. A snapshot whose fingerprint is not today's is not used (``usable``): the convention is
replayed from its events, and a new snapshot is written at the next interval (docs/events.md).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import CanSnapshotAggregate
from eventsourcing.utils import register_topic
from pydantic import BaseModel, ConfigDict, PrivateAttr

from domain.calendar import Pause
from domain.convention import Assistant, Attainment, Convention, Instalment, Review, Year
from domain.objectives import ObjectiveBasis, PatientMeasure
from domain.values import Option, Policies, Status, TerminatedBy, Tier

# Bump when a ``Convention._when_*`` handler (or ``Convention.on``) changes what it builds: every
# snapshot written before is then ignored and the conventions are replayed from their events.
STATE_VERSION = 1

# The aggregate's own attributes that are not its state: the snapshot's envelope carries them.
_ENVELOPE = ("_id", "_version", "_pending_events", "_created_on", "_modified_on")


class ConventionState(BaseModel):
    """Every attribute the convention's event handlers set, with its type: a snapshot's content.

    ``extra="forbid"``: an attribute added to the aggregate but not declared here makes taking a
    snapshot fail (and is caught by the tests) rather than write an incomplete one."""

    model_config = ConfigDict(extra="forbid")

    created_on: datetime
    modified_on: datetime
    number: str
    cpam_code: str
    rpps: str
    am_number: str | None
    doctor_name: str
    specialty: str
    sector: int
    optam: bool
    ccam_share: float | None
    newly_installed: bool
    mep: bool
    zip_area: bool
    option: Option
    option_changes: list[tuple[date, Option]]
    percentile: int
    tier: Tier
    initial_patients: int
    target_patients: int
    patient_measure: PatientMeasure
    aged_65_or_more: bool
    objective_basis: ObjectiveBasis
    objective_reason: str
    targets: dict[int, int]
    signed_on: date
    effective_from: date
    dedicated_room: bool
    policies: Policies
    status: Status
    pauses: list[Pause]
    terminated_on: date | None
    terminated_by: TerminatedBy | None
    termination_ground: str | None
    assistants: list[Assistant]
    years: dict[int, Year]
    renewals: set[int]
    instalments: dict[str, Instalment]
    attainments: dict[int, Attainment]
    reviews: dict[date, Review]
    reviews_raised: int

    @classmethod
    def of(cls, conv: Convention) -> ConventionState:
        """The state of ``conv`` (its attributes less the envelope)."""
        attrs = {k: v for k, v in vars(conv).items() if k not in _ENVELOPE}
        return cls.model_validate({**attrs, "created_on": conv.created_on, "modified_on": conv.modified_on})

    def restore(self, conv_id: UUID, version: int) -> Convention:
        """The convention at ``version`` with this state, as a replay to that version builds it."""
        conv = object.__new__(Convention)
        attrs = {name: getattr(self, name) for name in type(self).model_fields}
        conv.__dict__.update(
            _id=conv_id, _version=version, _pending_events=[],
            _created_on=attrs.pop("created_on"), _modified_on=attrs.pop("modified_on"), **attrs,
        )  # fmt: skip
        return conv


def _fingerprint() -> str:
    schema = json.dumps([STATE_VERSION, ConventionState.model_json_schema()], sort_keys=True)
    return hashlib.sha256(schema.encode()).hexdigest()[:16]


STATE_FINGERPRINT = _fingerprint()


class ConventionSnapshot(BaseModel, CanSnapshotAggregate[UUID]):
    """A snapshot of one convention at ``originator_version`` (the library's snapshot protocol)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TOPIC: ClassVar[str] = "cpam.ConventionSnapshot"  # stable, like the events' topics
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    topic: str  # the aggregate's topic
    fingerprint: str  # STATE_FINGERPRINT when written
    state: dict[str, Any]  # ConventionState as JSON
    _content: ConventionState | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        """A usable snapshot's state is checked as it is read: one that does not validate fails to
        load, so the store skips it (``adapters.snapshots``) instead of a command failing on it."""
        if self.usable:
            self._content = ConventionState.model_validate(self.state)

    @classmethod
    def take(cls, aggregate: Any) -> ConventionSnapshot:
        if not isinstance(aggregate, Convention):
            raise TypeError(f"Only a Convention is snapshotted, not {type(aggregate).__name__}.")
        return cls(
            originator_id=aggregate.id, originator_version=aggregate.version, timestamp=cls.create_timestamp(),
            topic=Convention.TOPIC, fingerprint=STATE_FINGERPRINT,
            state=ConventionState.of(aggregate).model_dump(mode="json"),
        )  # fmt: skip

    @property
    def usable(self) -> bool:
        """Whether today's code reads this snapshot as it was written: same aggregate, same state."""
        return self.topic == Convention.TOPIC and self.fingerprint == STATE_FINGERPRINT

    def mutate(self, _: Any) -> Convention:
        if self._content is None:  # the snapshot store hands out usable snapshots only: a safety net
            raise ValueError(f"Snapshot of {self.originator_id} v{self.originator_version} is not usable.")
        # No copy: a snapshot is decoded afresh for each load, and this is its only use.
        return self._content.restore(self.originator_id, self.originator_version)


register_topic(ConventionSnapshot.TOPIC, ConventionSnapshot)
