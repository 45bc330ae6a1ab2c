"""The policy impact report (issue 12): every convention's recorded facts replayed under other
policies (``domain.replay``), summed per CPAM and calendar year against what was recorded.

Reads the event log once, up to its head at the start (the figures are those of that head), decodes
it with the read models' trusted decoder, and replays each convention in memory: nothing is written,
neither events nor read models. The log is read once; the conventions are then shared among ``workers`` forked
processes (the decoding and the replay are the cost).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_all_start_methods, get_context
from typing import Any

from adapters.composition import build_app
from adapters.settings import Settings
from domain import events as ev
from domain.application import ConventionsApp
from domain.impact import Figures, Outcome, needs_reviews, outcome
from projections.calendar import describe_error
from projections.engine.decode import TrustedDecoder
from projections.engine.log import AppLog, Log, SqliteLog

PAGE = 20_000  # rows per read of the log
TOPICS = [cls.TOPIC for cls in ev.CONVENTION_EVENTS if cls is not ev.ReviewHeld]  # no amount depends on it
SIGNED, REVIEW_DUE = ev.Signed.TOPIC, ev.ReviewDue.TOPIC
Scope = frozenset[str] | None  # the CPAMs asked for (None: all)


@dataclass
class Impact:
    """The figures of one replay: per (CPAM, calendar year), recorded and under the chosen policies."""

    today: date
    head: int
    policies: dict[str, Any]
    scope: Scope
    years: dict[tuple[str, int], tuple[Figures, Figures]] = field(default_factory=dict)
    conventions: int = 0  # in scope
    rerun: int = 0  # replayed (the others: the chosen policies cannot change them)
    changed: int = 0  # whose figures differ
    unreplayable: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, o: Outcome) -> None:
        self.conventions += 1
        self.rerun += o.rerun
        self.changed += o.changed
        for year in o.actual.keys() | o.replayed.keys():
            actual, replayed = self.years.setdefault((o.cpam_code, year), (Figures(), Figures()))
            actual.add(o.actual.get(year) or Figures())
            replayed.add(o.replayed.get(year) or Figures())

    def merge(self, other: Impact) -> None:
        self.conventions += other.conventions
        self.rerun += other.rerun
        self.changed += other.changed
        self.unreplayable += other.unreplayable
        for key, (actual, replayed) in other.years.items():
            mine = self.years.setdefault(key, (Figures(), Figures()))
            mine[0].add(actual)
            mine[1].add(replayed)

    def rows(self) -> list[dict[str, Any]]:
        """One row per CPAM and year (CPAM order, then years), each with its difference."""
        return [
            {"cpam_code": cpam, "year": year, "actual": a, "replayed": r, "difference": r.minus(a)}
            for (cpam, year), (a, r) in sorted(self.years.items())
        ]

    def totals(self, cpam: str | None = None) -> dict[str, Figures]:
        """Sums over every year (and CPAM, unless ``cpam`` names one)."""
        actual, replayed = Figures(), Figures()
        for (code, _), (a, r) in self.years.items():
            if cpam is None or code == cpam:
                actual.add(a)
                replayed.add(r)
        return {"actual": actual, "replayed": replayed, "difference": replayed.minus(actual)}

    def cpams(self) -> list[str]:
        return sorted({cpam for cpam, _ in self.years})

    def as_json(self) -> dict[str, Any]:
        """The machine shape: amounts as strings to the cent (``--json``)."""
        return {
            "today": self.today.isoformat(), "head": self.head,
            "policies": {k: _plain(v) for k, v in self.policies.items()},
            "scope": sorted(self.scope) if self.scope is not None else None,
            "conventions": {"total": self.conventions, "replayed": self.rerun, "changed": self.changed,
                            "unreplayable": len(self.unreplayable)},
            "years": [{"cpam_code": r["cpam_code"], "year": r["year"],
                       **{k: money(r[k]) for k in ("actual", "replayed", "difference")}} for r in self.rows()],
            "cpams": [{"cpam_code": c, **{k: money(v) for k, v in self.totals(c).items()}} for c in self.cpams()],
            "totals": {k: money(v) for k, v in self.totals().items()},
            "unreplayable": self.unreplayable,
            "seconds": round(self.seconds, 2),
        }  # fmt: skip


def money(figures: Figures) -> dict[str, str]:
    return {k: f"{getattr(figures, k):.2f}" for k in Figures.KEYS}


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


# ----------------------------------------------------------------------------- computing it
def impact(
    settings: Settings | None,
    chosen: Mapping[str, Any],
    today: date,
    scope: Scope = None,
    *,
    workers: int = 2,
    app: ConventionsApp | None = None,
) -> Impact:
    """Replay every convention in ``scope`` under the ``chosen`` policies
    (``domain.replay_policies.parse_policies``) up to ``today``, on ``app`` (built from ``settings``
    when not given). The log is read once, here; ``workers`` > 1 then decodes and replays the
    conventions in that many forked processes, which inherit what was read."""
    started = time.perf_counter()
    app = app or build_app(settings)
    head = app.head()
    chosen = dict(chosen)
    log = _log(settings, app)
    try:
        histories = read(app, log, head, scope)
    finally:
        if isinstance(log, SqliteLog):
            log.close()
    decode = TrustedDecoder(app.stored_mapper())
    result = Impact(today, head, chosen, scope)
    if workers <= 1 or len(histories) < 2 * workers or "fork" not in get_all_start_methods():
        _replay_all(result, histories, decode, chosen, today)
    else:
        global _INHERITED
        _INHERITED = (histories, decode, chosen, today)  # what the forked workers read (not pickled)
        try:
            with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
                for part in pool.map(_share, range(workers), [workers] * workers):
                    result.merge(part)
        finally:
            _INHERITED = None
    result.unreplayable.sort(key=lambda u: (u["cpam_code"] or "", u["number"] or ""))
    result.seconds = time.perf_counter() - started
    return result


Rows = list[tuple[Any, int, str, bytes]]  # one convention's rows as stored: (id, version, topic, state)
_INHERITED: tuple[list[Rows], TrustedDecoder, dict[str, Any], date] | None = None


def _share(index: int, count: int) -> Impact:
    """In a forked worker: the conventions of share ``index`` of ``count``."""
    assert _INHERITED is not None
    histories, decode, chosen, today = _INHERITED
    result = Impact(today, 0, chosen, None)
    _replay_all(result, histories[index::count], decode, chosen, today)
    return result


def _replay_all(
    result: Impact, histories: Iterable[Rows], decode: TrustedDecoder, chosen: dict[str, Any], today: date
) -> None:
    for rows in histories:
        try:
            events = _decoded(rows, decode, chosen, today)
            result.add(outcome(events, chosen, today))
        except Exception as error:  # noqa: BLE001 - one convention must not hide the others' figures
            code, message = describe_error(error)
            signed = decode(*rows[0])
            result.unreplayable.append({
                "id": str(signed.originator_id), "number": getattr(signed, "number", None),
                "cpam_code": getattr(signed, "cpam_code", None), "code": code, "message": message,
            })  # fmt: skip
            result.conventions += 1


def _decoded(rows: Rows, decode: TrustedDecoder, chosen: dict[str, Any], today: date) -> list[Any]:
    """The convention's events; the reviews raised (a fifth of the log) decoded only when the
    figures go through the aggregate (``domain.impact.needs_reviews``)."""
    light = [decode(*row) for row in rows if row[2] != REVIEW_DUE]
    if not needs_reviews(light, chosen, today):
        return light
    rest = iter(light)
    return [decode(*row) if row[2] == REVIEW_DUE else next(rest) for row in rows]


def read(app: ConventionsApp, log: Log, head: int, scope: Scope) -> list[Rows]:
    """Each convention's rows (of the CPAMs in ``scope``) up to ``head``, as stored, in one pass of the
    log; decoded later, one convention at a time. Reviews held are left out: they change no amount."""
    decode = TrustedDecoder(app.stored_mapper())
    kept: dict[str, Rows] = {}
    skipped: set[str] = set()
    start = 1
    while start <= head:
        rows = log.read(start, PAGE, head, TOPICS)
        if not rows:
            break
        for _, oid, version, topic, state in rows:
            key = oid if oid.__class__ is str else oid.hex  # type: ignore[union-attr]
            rows_of = kept.get(key)
            if rows_of is not None:
                rows_of.append((oid, version, topic, state))
            elif key in skipped:
                continue
            elif topic == SIGNED and (scope is None or decode(oid, version, topic, state).cpam_code in scope):
                kept[key] = [(oid, version, topic, state)]
            else:
                skipped.add(key)
        start = rows[-1][0] + 1
    return list(kept.values())


def _log(settings: Settings | None, app: ConventionsApp) -> Log:
    """The SQLite events file read directly (as the read models read it), else the application's log."""
    if settings is not None and settings.store == "sqlite":
        return SqliteLog(str(settings.events_sqlite_path()))
    return AppLog(app)


def scoped(cpams: Iterable[str] | None) -> Scope:
    return frozenset(cpams) if cpams else None
