"""Plain-data views of a convention and of its history, shared by the CLI and the HTTP API."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.calendar import TERM_YEARS, end_of_term
from domain.convention import Convention
from domain.events import Event

_META = {
    "originator_id", "originator_version", "timestamp", "effective_date", "actor", "reason",
    "command_id", "request_id", "originator_topic",
}  # fmt: skip


def read_day(today: date, *, as_of: date | None = None, version: int | None = None) -> date | None:
    """The day a convention's state is read for, the same in every entry point: the ``as_of`` day,
    today (the application's clock) for the current state, none at a bare version (audit replay)."""
    return as_of or (today if version is None else None)


def convention_view(conv: Convention, today: date | None = None) -> dict[str, Any]:
    """The state an operator reads: identity, status, calendar, money, reviews. ``option`` is the
    option of the latest contract year recorded, or of the year in which ``today`` falls when given
    (a change by amendment applies to the years starting from its date)."""
    started = [y.start for _, y in sorted(conv.years.items())]
    nxt = conv.year_start(conv.contract_year + 1)
    if conv.terminated_on is None or (nxt is not None and nxt < conv.terminated_on):
        started.append(nxt)  # the next anniversary (None while a suspension is open)
    assistant = conv.assistant
    on = today or conv.year_start(max(conv.contract_year, 1)) or conv.effective_from
    refusals = conv.second_assistant_refusals(on)  # R18
    if today is not None:
        option = conv.option_of_year_on(today)
    else:
        option = conv.years[conv.contract_year].option if conv.years else conv.option
    return {
        "id": str(conv.id),
        "version": conv.version,
        "number": conv.number,
        "cpam_code": conv.cpam_code,
        "status": conv.status.value,
        "doctor": {
            "rpps": conv.rpps, "am_number": conv.am_number, "name": conv.doctor_name, "specialty": conv.specialty,
            "sector": conv.sector, "optam": conv.optam, "newly_installed": conv.newly_installed,
            "mep": conv.mep, "zip_area": conv.zip_area,
        },
        "option": option.value,
        "tier": conv.tier.value,
        "percentile": conv.percentile,
        "signed_on": conv.signed_on,
        "effective_date": conv.effective_from,
        "contract_year": conv.contract_year,
        "anniversaries": started,
        "end_of_term": end_of_term(conv.effective_from, 1 + max(conv.contract_year - 1, 0) // TERM_YEARS, conv.pauses,
                                   conv.policies.pause_clock),
        "policies": conv.policies.model_dump(mode="json"),
        "patients": {
            "measure": conv.patient_measure.value, "measure_label": conv.patient_measure.label,
            "initial": conv.initial_patients, "target": conv.target_patients,
            "objective_basis": conv.objective_basis.value, "objective_reason": conv.objective_reason,
        },
        "assistant": None if assistant is None else {
            "hired_on": assistant.hired_on, "fte": assistant.fte, "profile": assistant.profile.value,
            "training": assistant.training, "training_deadline": assistant.training_deadline,
            "trained_on": assistant.trained_on, "employer_siret": assistant.employer_siret,
            "was_practice_secretary": assistant.was_practice_secretary, "secretary_due_by": conv.secretary_due_by,
        },
        "years": [
            {"year": y.year, "start": y.start, "regime": y.regime, "option": y.option.value,
             "full_amount": y.full_amount}
            for _, y in sorted(conv.years.items())
        ],
        "attainments": [
            {"year": a.year, "observed_patients": a.observed_patients, "target_patients": a.target_patients,
             "attainment": a.attainment, "recorded_on": a.recorded_on}
            for _, a in sorted(conv.attainments.items())
        ],
        "instalments": [
            {"id": i.instalment_id, "year": i.year, "kind": i.kind.value, "fell_due_on": i.fell_due_on,
             "due_date": i.due_date, "amount": i.amount, "status": i.status, "paid_on": i.paid_on,
             "payment_reference": i.payment_reference, "basis": i.basis}
            for i in sorted(conv.instalments.values(), key=lambda i: (i.fell_due_on, i.instalment_id))
        ],
        "reviews": [
            {"k": r.k, "due_date": r.due_date, "held_on": r.held_on, "notes": r.notes}
            for _, r in sorted(conv.reviews.items())
        ],
        "second_assistant": {"refusals": refusals, "eligible": not refusals},
        "suspensions": [{"from": p.start, "to": p.end, "days": p.days} for p in conv.pauses],
        "terminated_on": conv.terminated_on,
        "terminated_by": conv.terminated_by.value if conv.terminated_by else None,
        "termination_ground": conv.termination_ground,
    }  # fmt: skip


def event_view(event: Event) -> dict[str, Any]:
    """One event for the audit trail: when it took effect, when and by whom it was recorded."""
    data = {k: v for k, v in event.model_dump(mode="json").items() if k not in _META}
    return {
        "version": event.originator_version,
        "type": type(event).__name__,
        "effective_date": event.effective_date,
        "recorded_at": event.timestamp,
        "actor": event.actor,
        "reason": event.reason,
        "command_id": event.command_id,
        "request_id": event.request_id,
        "data": data,
    }
