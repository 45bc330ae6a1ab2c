"""Small aggregates that make commands safe: command receipts and doctor registrations.

A receipt (id = uuid5 of the command id) is saved in the same transaction as the command's
events: a retried command finds it and returns the first result, writing nothing new. A doctor's
registration (id = uuid5 of the RPPS) holds the active convention, so two signatures for the same
doctor cannot both succeed (R8).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate

from domain.events import Event
from domain.identifiers import command_receipt_id, doctor_registration_id


class ReceiptIssued(Event, CanInitAggregate[UUID]):
    """A command was carried out: its fingerprint and its result."""

    originator_topic: str
    fingerprint: str
    result: dict[str, Any]


class CommandReceipt(BaseAggregate[UUID]):
    TOPIC = "cpam.receipt.CommandReceipt"

    @classmethod
    def issue(
        cls, *, command_id: str, fingerprint: str, result: dict[str, Any], event_meta: dict[str, Any]
    ) -> CommandReceipt:
        return cls._create(
            ReceiptIssued,
            id=command_receipt_id(command_id),
            fingerprint=fingerprint,
            result=result,
            **event_meta,
        )

    def on(self, event: Event) -> None:
        if isinstance(event, ReceiptIssued):
            self.fingerprint = event.fingerprint
            self.result = event.result


class DoctorRegistered(Event, CanInitAggregate[UUID]):
    """Which convention, if any, a doctor holds as active."""

    originator_topic: str
    rpps: str


class ActiveConventionSet(Event):
    convention_id: UUID | None


class DoctorRegistration(BaseAggregate[UUID]):
    TOPIC = "cpam.doctor.DoctorRegistration"

    @classmethod
    def open(cls, rpps: str, event_meta: dict[str, Any]) -> DoctorRegistration:
        return cls._create(DoctorRegistered, id=doctor_registration_id(rpps), rpps=rpps, **event_meta)

    def set_active(self, convention_id: UUID | None, event_meta: dict[str, Any]) -> None:
        self.trigger_event(ActiveConventionSet, convention_id=convention_id, **event_meta)

    def on(self, event: Event) -> None:
        if isinstance(event, DoctorRegistered):
            self.rpps = event.rpps
            self.active_convention: UUID | None = None
        elif isinstance(event, ActiveConventionSet):
            self.active_convention = event.convention_id
