"""A compact calendar state, fed by events, that says when a convention next has something due.

Read models (the calendar / work queue) keep one of these per convention instead of the whole
aggregate, and the scheduler asks them which conventions to tick. It must never say *later* than
the aggregate's own ``record_due`` would record something: a property test checks that
``CalendarState.next_due_on()`` equals ``Convention.next_due_on()`` on random histories.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from domain import events as ev
from domain.calendar import Pause, anniversary, contract_year_on, review_date


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

    def _anniversary(self, n: int) -> date | None:
        return anniversary(self.effective_from, n, self.pauses, self.pause_clock)

    def _in_force(self, day: date) -> bool:
        return self.terminated_on is None or day < self.terminated_on

    def next_due_on(self) -> date | None:
        """The earliest date on which ``record_due`` would record something, or None."""
        candidates: list[date] = []
        n = self.years_started + 1
        start = self.effective_from if n == 1 else self._anniversary(n - 1)
        if start is not None and self._in_force(start):
            candidates.append(start)
        review = review_date(self.effective_from, self.reviews_raised + 1)
        if self._in_force(review):
            candidates.append(review)
        settled = (
            contract_year_on(self.effective_from, self.terminated_on, self.pauses, self.pause_clock)
            if self.terminated_on
            else None
        )
        for year in range(1, self.years_started + 1):
            if year == 1 and self.first_regime == "A7-2019":
                if "y1-advance" not in self.instalments and self.first_hired_on is not None:
                    falls = max(self.first_hired_on, self.effective_from)
                    if year != settled or self._in_force(falls):  # settled: recorded then cancelled
                        candidates.append(falls)
                if year != settled and "y1-balance" not in self.instalments and (end := self._anniversary(1)):
                    candidates.append(end)
            elif year >= 3 and year != settled and f"y{year}-balance" not in self.instalments:
                end = self._anniversary(year)
                if year in self.attainments and end is not None:
                    candidates.append(max(end, self.attainments[year]))
        return min(candidates) if candidates else None

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
        )
