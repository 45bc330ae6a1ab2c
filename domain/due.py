"""What falls due, and when: the one rule, over a compact calendar state fed by events.

``next_due(state, until)`` says what ``Convention.record_due`` records next (a term renewed, a
contract year started, an instalment, a review raised) and on which date. The aggregate asks it
with the state it builds of itself (``Convention.due_state()``) and then computes and records the
event; the calendar read model and the scheduler's in-process index keep one ``CalendarState`` per
convention, fed by its events, and ask it for the date alone. A property test checks that the
state fed by events equals the aggregate's own on random histories.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from domain import events as ev
from domain.calendar import TERM_YEARS, Pause, anniversary, contract_year_on, review_date
from domain.schedule import Timing, YearInstalment, falls_due, year_instalment_ids, year_instalments


@dataclass
class CalendarState:
    effective_from: date
    pause_clock: bool = True
    pauses: list[Pause] = field(default_factory=list)
    years_started: int = 0
    first_regime: str | None = None
    reviews_raised: int = 0
    first_hired_on: date | None = None
    attainments: dict[int, date] = field(default_factory=dict)  # year -> recorded on
    instalments: set[str] = field(default_factory=set)
    terminated_on: date | None = None
    term: int = 1  # the latest 5-year term recorded (1, then each Renewed, R26)

    @classmethod
    def from_signed(cls, e: ev.Signed) -> CalendarState:
        return cls(effective_from=e.effective_from, pause_clock=e.policies.pause_clock)

    def apply(self, e: ev.Event) -> None:
        """Evolve with one event of the convention (events it does not need are ignored)."""
        if isinstance(e, ev.YearStarted):
            self.years_started = max(self.years_started, e.year)
            if e.year == 1:
                self.first_regime = e.regime
        elif isinstance(e, ev.ReviewDue):
            self.reviews_raised = max(self.reviews_raised, e.k)
        elif isinstance(e, ev.AssistantHired) and self.first_hired_on is None:
            self.first_hired_on = e.effective_date
        elif isinstance(e, ev.AttainmentRecorded):
            self.attainments[e.year] = e.effective_date
        elif isinstance(e, ev.InstalmentDue):
            self.instalments.add(e.instalment_id)
        elif isinstance(e, ev.Suspended):
            self.pauses.append(Pause(e.effective_date))
        elif isinstance(e, ev.Reactivated) and self.pauses:
            self.pauses[-1] = Pause(self.pauses[-1].start, e.effective_date)
        elif isinstance(e, ev.Terminated):
            self.terminated_on = e.effective_date
        elif isinstance(e, ev.Renewed):
            self.term = max(self.term, e.term)

    def anniversary(self, n: int) -> date | None:
        """Anniversary n (the end of year n), moved by the suspensions (R16); None while unknown."""
        return anniversary(self.effective_from, n, self.pauses, self.pause_clock)

    def year_start(self, n: int) -> date | None:
        return self.effective_from if n == 1 else self.anniversary(n - 1)

    def in_force_on(self, day: date) -> bool:
        return self.terminated_on is None or day < self.terminated_on

    def settled_year(self) -> int | None:
        """The contract year a termination settled pro rata (R17), if any."""
        if self.terminated_on is None:
            return None
        return contract_year_on(self.effective_from, self.terminated_on, self.pauses, self.pause_clock)

    def next_due_on(self) -> date | None:
        """The earliest date on which ``record_due`` would record something, or None."""
        due = next_due(self)
        return None if due is None else due.on

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pauses"] = [[p["start"].isoformat(), p["end"] and p["end"].isoformat()] for p in data["pauses"]]
        data["effective_from"] = self.effective_from.isoformat()
        data["first_hired_on"] = self.first_hired_on and self.first_hired_on.isoformat()
        data["attainments"] = {str(k): v.isoformat() for k, v in self.attainments.items()}
        data["instalments"] = sorted(self.instalments)
        data["terminated_on"] = self.terminated_on and self.terminated_on.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CalendarState:
        d = date.fromisoformat
        return cls(
            effective_from=d(data["effective_from"]),
            pause_clock=data["pause_clock"],
            pauses=[Pause(d(s), e and d(e)) for s, e in data["pauses"]],
            years_started=data["years_started"],
            first_regime=data["first_regime"],
            reviews_raised=data["reviews_raised"],
            first_hired_on=data["first_hired_on"] and d(data["first_hired_on"]),
            attainments={int(k): d(v) for k, v in data["attainments"].items()},
            instalments=set(data["instalments"]),
            terminated_on=data["terminated_on"] and d(data["terminated_on"]),
            term=data.get("term", 1),  # absent from states stored before renewals were kept here
        )


class DueKind(StrEnum):
    """What falls due, in the order items falling due the same day are recorded."""

    RENEWAL = "renewal"
    YEAR = "year"
    INSTALMENT = "instalment"
    REVIEW = "review"


_RENEWAL, _YEAR, _INSTALMENT, _REVIEW = range(4)  # the ranks of the kinds, in that order


@dataclass(frozen=True)
class Due:
    """Something that falls due on ``on``: ``number`` is the term renewed, the contract year started,
    the year of the instalment ``instalment_id``, or the review raised (k)."""

    on: date
    kind: DueKind
    number: int
    instalment_id: str | None = None


# A candidate as a plain tuple, cheap to build and to compare (the calendar read model asks every
# convention): (on, rank of its kind, position among the candidates, kind, number, instalment id).
# The smallest wins: the earliest, the same day by kind, then the first listed.
_Item = tuple[date, int, int, DueKind, int, "str | None"]


def next_due(state: CalendarState, until: date = date.max) -> Due | None:
    """What ``record_due`` records next, if it falls due on or before ``until``; None otherwise.

    The earliest of ``due_items``; the same day, a renewal, then the year, then the instalments (by
    year, in schedule order), then the review."""
    first = min(_items(state), default=None)
    return None if first is None or first[0] > until else Due(first[0], first[3], first[4], first[5])


def due_items(state: CalendarState) -> list[Due]:
    """The next item of each line, whatever its date: the next year (or the renewal that opens
    it), each instalment of a started year not recorded yet whose date is known, the next review."""
    return [Due(on, kind, number, iid) for on, _, _, kind, number, iid in _items(state)]


def _items(state: CalendarState) -> list[_Item]:
    out: list[_Item] = []
    _next_year(state, out)
    _instalments(state, out)
    _next_review(state, out)
    return out


def _next_year(state: CalendarState, out: list[_Item]) -> None:
    """The next contract year starts on its anniversary (R2, R16); every fifth one opens a new
    term, renewed first (R26). Nothing starts after the termination."""
    n = state.years_started + 1
    start = state.year_start(n)
    if start is None or not state.in_force_on(start):
        return
    term = (n - 1) // TERM_YEARS + 1
    if n > 1 and (n - 1) % TERM_YEARS == 0 and term > state.term:
        out.append((start, _RENEWAL, len(out), DueKind.RENEWAL, term, None))
    else:
        out.append((start, _YEAR, len(out), DueKind.YEAR, n, None))


def _instalments(state: CalendarState, out: list[_Item]) -> None:
    """Instalments of the started years (R6, R23, R24). Of the year a termination settled, only
    those that fell due before it: recorded, then cancelled by the settlement (R17)."""
    settled = state.settled_year()
    recorded = state.instalments
    for year in range(1, state.years_started + 1):
        regime = state.first_regime if year == 1 else None
        if recorded.issuperset(year_instalment_ids(year, regime)):
            continue
        for inst in year_instalments(year, regime):
            if inst.instalment_id in recorded or (falls := _falls_due(state, inst)) is None:
                continue
            if year == settled and not state.in_force_on(falls):
                continue
            out.append((falls, _INSTALMENT, len(out), DueKind.INSTALMENT, year, inst.instalment_id))


def _falls_due(state: CalendarState, inst: YearInstalment) -> date | None:
    """``schedule.falls_due`` of one instalment, reading the calendar only for what its timing
    needs: most conventions have a balance waiting for an attainment, which needs nothing more."""
    timing, year = inst.timing, inst.year
    recorded_on = state.attainments.get(year)
    if timing is Timing.ATTAINMENT and recorded_on is None:
        return None
    start = state.year_start(year) if timing is Timing.START or timing is Timing.HIRE else None
    end = state.anniversary(year) if timing is Timing.ANNIVERSARY or timing is Timing.ATTAINMENT else None
    return falls_due(timing, start=start, end=end, hired_on=state.first_hired_on, attainment_recorded_on=recorded_on)


def _next_review(state: CalendarState, out: list[_Item]) -> None:
    """Reviews fall due every six months of calendar time (R11), until the termination."""
    k = state.reviews_raised + 1
    due = review_date(state.effective_from, k)
    if state.in_force_on(due):
        out.append((due, _REVIEW, len(out), DueKind.REVIEW, k, None))
