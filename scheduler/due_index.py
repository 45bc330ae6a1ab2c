"""An in-process calendar of what falls due, fed by the event log: the simulator's source.

It keeps one ``domain.due.CalendarState`` per convention (the domain's own rule for "when does
this convention next have something due", not a copy of it) and a heap of next due dates, so
``find_due(today)`` costs what is due, not the size of the portfolio. It is also a fallback
source for a deployment without the calendar read model. Positions are in memory only: a new
index reads the log from the beginning (about 80 000 events/s on SQLite).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import date
from uuid import UUID

from domain import events as ev
from domain.application import ConventionsApp
from domain.due import CalendarState

TOPICS = [cls.TOPIC for cls in ev.CONVENTION_EVENTS]

Listener = Callable[[ev.Event], None]


class MemoryDueIndex:
    """Which conventions have something due, kept up to date by reading the log."""

    def __init__(self, app: ConventionsApp, batch: int = 1000) -> None:
        self.app = app
        self.batch = batch
        self.position = 0
        self.states: dict[UUID, CalendarState] = {}
        self.next_due: dict[UUID, date | None] = {}
        self._heap: list[tuple[date, UUID]] = []
        self.listeners: list[Listener] = []

    def catch_up(self) -> int:
        """Apply every convention event recorded since the last call; returns how many."""
        seen = 0
        touched: set[UUID] = set()
        for position, event in self.app.log_after(self.position, TOPICS, page=self.batch):
            self.position = position
            self._apply(event)
            touched.add(event.originator_id)
            for listener in self.listeners:
                listener(event)
            seen += 1
        for conv_id in touched:
            self._reschedule(conv_id)
        return seen

    def find_due(self, today: date) -> list[UUID]:
        """Conventions whose next due date is on or before ``today``, earliest first."""
        due: list[tuple[date, UUID]] = []
        seen: set[UUID] = set()
        while self._heap and self._heap[0][0] <= today:
            day, conv_id = heapq.heappop(self._heap)
            if self.next_due.get(conv_id) == day and conv_id not in seen:
                seen.add(conv_id)
                due.append((day, conv_id))
        for item in due:  # still due until their events say otherwise
            heapq.heappush(self._heap, item)
        return [conv_id for _, conv_id in due]

    def _apply(self, event: ev.Event) -> None:
        if isinstance(event, ev.Signed):
            self.states[event.originator_id] = CalendarState.from_signed(event)
        elif (state := self.states.get(event.originator_id)) is not None:
            state.apply(event)

    def _reschedule(self, conv_id: UUID) -> None:
        state = self.states.get(conv_id)
        nxt = None if state is None else state.next_due_on()
        if nxt != self.next_due.get(conv_id):
            self.next_due[conv_id] = nxt
            if nxt is not None:
                heapq.heappush(self._heap, (nxt, conv_id))
