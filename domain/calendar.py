"""The contract calendar (R2, R10, R11, R16): plain functions over dates.

Anniversaries are counted from the effective date each time, never chained, then moved later by
the days the convention was suspended before them when the clock pauses (R16). Reviews keep to
calendar time whatever happens (R11).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta

TERM_YEARS = 5  # R10


@dataclass(frozen=True)
class Pause:
    """A suspension: from ``start`` (inclusive) to ``end`` (the reactivation date), or open."""

    start: date
    end: date | None = None

    @property
    def days(self) -> int | None:
        return None if self.end is None else (self.end - self.start).days


@lru_cache(maxsize=65536)
def plain_anniversary(effective: date, n: int) -> date:
    """Anniversary n without suspensions: effective + n years (29 Feb -> 28 Feb, R2).

    Memoised: a pure function of two small values that read models call for every convention."""
    return effective + relativedelta(years=n)


def anniversary(effective: date, n: int, pauses: Sequence[Pause] = (), pause_clock: bool = True) -> date | None:
    """Anniversary n, moved by the suspensions that began before it (R16).

    Returns None while an open suspension began before it: the date is not known yet.
    """
    base = plain_anniversary(effective, n)
    if not pause_clock or not pauses:
        return base
    shift = 0
    for pause in sorted(pauses, key=lambda p: p.start):
        if pause.start < base + timedelta(days=shift):
            if pause.end is None:
                return None
            shift += (pause.end - pause.start).days
    return base + timedelta(days=shift)


def year_bounds(
    effective: date, n: int, pauses: Sequence[Pause] = (), pause_clock: bool = True
) -> tuple[date | None, date | None]:
    """Contract year n runs from anniversary n-1 to the day before anniversary n (R2)."""
    start = effective if n == 1 else anniversary(effective, n - 1, pauses, pause_clock)
    nxt = anniversary(effective, n, pauses, pause_clock)
    return start, (None if nxt is None else nxt - timedelta(days=1))


def contract_years(
    effective: date, pauses: Sequence[Pause] = (), pause_clock: bool = True, starts: Mapping[int, date] | None = None
) -> Iterator[tuple[int, date, date | None]]:
    """Contract years 1, 2, ... as ``(n, start, end)``, ``end`` being the anniversary that ends year n
    and starts year n+1 (R2, R16; None while an open suspension hides it: the walk stops there).
    The recorded starts of the years already started (``starts``) are taken as they are."""
    starts = starts or {}
    n, start = 1, starts.get(1, effective)
    while True:
        end = starts.get(n + 1) or anniversary(effective, n, pauses, pause_clock)
        yield n, start, end
        if end is None:
            return
        n, start = n + 1, end


def contract_year_on(effective: date, day: date, pauses: Sequence[Pause] = (), pause_clock: bool = True) -> int:
    """The contract year in which ``day`` falls; 0 before the effective date."""
    if day < effective:
        return 0
    n = 1
    while True:
        nxt = anniversary(effective, n, pauses, pause_clock)
        if nxt is None or nxt > day:
            return n
        n += 1


@lru_cache(maxsize=65536)
def review_date(effective: date, k: int) -> date:
    """Review k = effective + 6k months, counted from the effective date (R11).

    Memoised like ``plain_anniversary``: the calendar read model asks it for every convention."""
    return effective + relativedelta(months=6 * k)


def reviews_until(effective: date, until: date) -> list[tuple[int, date]]:
    """Every review (k, due date) falling due on or before ``until``."""
    out = []
    k = 1
    while (due := review_date(effective, k)) <= until:
        out.append((k, due))
        k += 1
    return out


def end_of_term(effective: date, term: int, pauses: Sequence[Pause] = (), pause_clock: bool = True) -> date | None:
    """The day term ``term`` (1, 2, ...) ends: anniversary 5*term (R10), moved by R16."""
    return anniversary(effective, TERM_YEARS * term, pauses, pause_clock)


@lru_cache(maxsize=65536)
def add_months(day: date, months: int) -> date:
    """``day`` + ``months`` calendar months (31 Jan + 1 -> 28/29 Feb). Memoised: pure, and frequent."""
    return day + relativedelta(months=months)


def add_years(day: date, years: int) -> date:
    return day + relativedelta(years=years)
