"""Replaying a convention's recorded facts under other policies, in memory (issue 12).

Before a CPAM adopts another choice of an *unconfirmed* rule (``domain.replay_policies``) it wants to
know what it would have changed. ``replay`` takes one convention's stored events, keeps its **facts**
(what operators recorded: signature, hires, objectives, attainments, suspensions and reactivations,
option changes, reviews held, terminations, payments) as they were, and lets the aggregate compute
again what the rules **derive** from them (contract years, instalments, settlements, cancellations,
renewals) with the policies overridden on the signature. Nothing is recorded: the aggregate lives in
memory and is thrown away. What was paid stays what was paid: a payment is matched to the replayed
instalment of the same id.

A replay under the recorded policies gives back the recorded instalments (tests check it on
simulated portfolios). ``remodulated`` is the same answer, cheaper, when only the modulation changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from domain import events as ev
from domain.convention import CommandMeta, Convention
from domain.due import CalendarState, DueKind, due_items
from domain.errors import InvalidInput
from domain.replay_policies import calendar_unchanged
from domain.values import InstalmentKind, Policies

# What operators recorded: kept as it was.
FACTS: frozenset[type[ev.Event]] = frozenset({
    ev.AssistantHired, ev.SecretaryHired, ev.AssistantLeft, ev.TrainingCompleted, ev.ObjectiveSet,
    ev.AttainmentRecorded, ev.PaymentRecorded, ev.Suspended, ev.Reactivated, ev.ReviewHeld, ev.OptionChanged,
    ev.Terminated,
})  # fmt: skip
# What the rules derived from the facts: computed again under the chosen policies.
DERIVED: frozenset[type[ev.Event]] = frozenset(
    {ev.YearStarted, ev.InstalmentDue, ev.InstalmentCancelled, ev.ReviewDue, ev.Renewed}
)
Owed = tuple[str, Decimal, date]  # an instalment not cancelled: (id, amount, due date)
ACTOR, REASON = "rejeu", "rejeu sous une autre politique (rien n'est enregistré)"
ONE_DAY = timedelta(days=1)


def replay(events: Sequence[ev.Event], policies: Policies, today: date) -> Convention:
    """The convention as the rules would have made it from its recorded facts under ``policies``, up
    to ``today``; in memory, recorded nowhere. Raises the rules' ``DomainError`` when a fact cannot be
    replayed under them (a termination the moved calendar makes impossible...).

    Ticking every day or once at the end records the same events on the same dates
    (``Convention.record_due``), so the rules tick only where a fact depends on what fell due: before a
    termination (it settles the year with what was paid, R17) and at the end. Payments wait for their
    instalment; the reviews raised are kept as recorded (calendar time, whatever the policies: R11, R16)."""
    signed = events[0]
    if not isinstance(signed, ev.Signed):
        raise InvalidInput("not_a_convention", "L'historique ne commence pas par une signature.")
    conv = Convention.replay([signed.model_copy(update={"policies": policies})])
    meta = _meta(today)
    fell_due_by = date.min  # the latest day the log shows had fallen due (the nightly job's progress)
    waiting: dict[str, ev.PaymentRecorded] = {}  # payments of instalments the replay has not recorded yet
    for e in events[1:]:
        kind = type(e)
        if kind in DERIVED:
            if (
                kind is ev.YearStarted
                or kind is ev.ReviewDue
                or kind is ev.Renewed
                or (kind is ev.InstalmentDue and e.kind is not InstalmentKind.SETTLEMENT)
            ):  # what a tick records (a settlement and its cancellations come with the termination)
                fell_due_by = max(fell_due_by, e.effective_date)
            if kind is ev.ReviewDue and e.effective_date <= today:
                e.apply(conv)
        elif kind is ev.Terminated:
            conv.record_due(meta, today=min(max(e.effective_date - ONE_DAY, fell_due_by), today))
            _match_waiting(conv, waiting)
            conv.terminate(meta, on=e.effective_date, by=e.by, ground=e.ground, letter_date=e.letter_date)
        elif kind is ev.PaymentRecorded:
            waiting[e.instalment_id] = e
        elif kind in FACTS:
            e.apply(conv)
    conv.record_due(meta, today=today)
    _match_waiting(conv, waiting)
    return conv


def _match_waiting(conv: Convention, waiting: dict[str, ev.PaymentRecorded]) -> None:
    """The payments of instalments the replay has recorded count as paid (the settlement of a
    termination deducts them, R17); the others wait (or were never due: ``ledger`` sees them)."""
    for iid in [i for i in waiting if i in conv.instalments]:
        e = waiting.pop(iid)
        if conv.instalments[iid].status == "due":
            e.apply(conv)


def _meta(today: date) -> CommandMeta:
    """Who computes a replay (events kept in memory only), on the application's today (R21)."""
    return CommandMeta(actor=ACTOR, reason=REASON, today=today)


def remodulated(events: Sequence[ev.Event], policies: Policies, today: date) -> list[Owed]:
    """``replay`` when only the modulation changes (the calendar is the same: R16 pauses the clock
    alike, or the convention was never suspended), without recording the history again: the years,
    dates and advances do not depend on it (R4 acts on a year-3+ balance, R6), so the recorded
    schedule stands with each year planned again (``Convention.planned_instalments``, what
    ``record_due`` records) under the replayed policies. A settlement stands as recorded: it deducts
    what was paid of its year, whose attainment is never known (R17, R22). Same figures as ``replay``
    (a test checks it on simulated portfolios), at a fraction of its cost."""
    signed = events[0]
    assert isinstance(signed, ev.Signed)
    conv = Convention.replay([signed.model_copy(update={"policies": policies}), *events[1:]])
    conv.record_due(_meta(today), today=today)
    planned = {p.instalment_id: p.amount for p in conv.planned_instalments() if p.amount is not None}
    return [
        (i.instalment_id, planned.get(i.instalment_id, i.amount), i.due_date)
        for i in conv.instalments.values()
        if i.status != "cancelled"
    ]


def replayed_instalments(events: Sequence[ev.Event], policies: Policies, today: date) -> list[Owed]:
    """What the rules would have made due under ``policies``: ``remodulated`` when the calendar stands,
    else the full ``replay``."""
    signed = events[0]
    assert isinstance(signed, ev.Signed)
    if calendar_unchanged(events, signed.policies, policies) and not _settled_with_attainment(events):
        return remodulated(events, policies, today)
    return owed(replay(events, policies, today))


def _settled_with_attainment(events: Sequence[ev.Event]) -> bool:
    """A termination settling a year whose attainment is recorded (the rules never give one, R22): the
    settlement would then depend on the modulation, so ``remodulated`` does not apply."""
    settled = {e.year for e in events if type(e) is ev.InstalmentDue and e.kind is InstalmentKind.SETTLEMENT}
    return bool(settled) and any(type(e) is ev.AttainmentRecorded and e.year in settled for e in events)


def money_to_record(events: Sequence[ev.Event], today: date) -> bool:
    """Whether the nightly job would still record a year, a renewal or an instalment by ``today``
    (``domain.due``); reviews aside, so the reviews raised (``ReviewDue``) may be left out."""
    state = CalendarState.from_signed(events[0])  # type: ignore[arg-type]
    for e in events[1:]:
        state.apply(e)
    return any(d.kind is not DueKind.REVIEW and d.on <= today for d in due_items(state))


def as_recorded(events: Sequence[ev.Event], today: date) -> list[Owed]:
    """The instalments as stored, with what fell due up to ``today`` and is not recorded yet (what the
    nightly job would record): the figures a replay is compared with. Read from the events alone when
    nothing with money is left to record (``money_to_record``)."""
    if money_to_record(events, today):
        conv = Convention.replay(list(events))
        conv.record_due(_meta(today), today=today)
        return owed(conv)
    recorded: dict[str, Owed] = {}
    for e in events:
        if type(e) is ev.InstalmentDue:
            recorded[e.instalment_id] = (e.instalment_id, e.amount, e.due_date)
        elif type(e) is ev.InstalmentCancelled:
            recorded.pop(e.instalment_id, None)
    return list(recorded.values())


def owed(conv: Convention) -> list[Owed]:
    """A convention's instalments not cancelled: (id, amount, due date)."""
    return [(i.instalment_id, i.amount, i.due_date) for i in conv.instalments.values() if i.status != "cancelled"]
