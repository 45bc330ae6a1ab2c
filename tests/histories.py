"""Set-up for the snapshot tests: random histories written through the store, and a convention's
state in a form two loads can be compared by (types and exact values, Decimal('1.50') is not '1.5')."""

from __future__ import annotations

import itertools
from dataclasses import is_dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from stdnum import luhn

from domain.application import ConventionsApp
from domain.convention import Convention
from domain.errors import DomainError
from tests.unit.test_properties import META, _apply

_numbers = itertools.count(1)


def state_of(conv: Convention) -> Any:
    """Every attribute of ``conv`` (id, version, dates included; pending events excluded), typed."""
    return _typed({k: v for k, v in vars(conv).items() if k != "_pending_events"})


def _typed(v: Any) -> Any:
    if isinstance(v, dict):
        return ("dict", sorted((repr(_typed(k)), _typed(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [_typed(x) for x in v])
    if isinstance(v, (set, frozenset)):
        return ("set", sorted(repr(_typed(x)) for x in v))
    if is_dataclass(v):
        return (type(v).__name__, _typed(vars(v)))
    return (type(v).__name__, repr(v))


def rpps(n: int) -> str:
    body = f"2{n:09d}"
    return body + luhn.calc_check_digit(body)


def write_history(app: ConventionsApp, steps: list[tuple[str, int, int]], effective: date, **terms: Any) -> UUID:
    """A new convention, then ``steps`` (``tests.unit.test_properties``' random operator commands),
    each one loaded from the store (through its snapshots) and saved: refused ones save nothing."""
    n = next(_numbers)
    fields = {
        "number": f"S-{n}", "cpam_code": "281", "rpps": rpps(n), "doctor_name": "Snap", "specialty": "general_practice",
        "sector": 1, "optam": False, "ccam_share": None, "newly_installed": False, "option": "FULL",
        "percentile": 50, "initial_patients": 1000, "target_patients": 1200,
        "signed_on": effective - timedelta(days=10), "effective_from": effective, **terms,
    }  # fmt: skip
    conv = Convention.sign(META, **fields)
    app.save(conv)
    today = effective
    for action, forward, p in steps:
        today += timedelta(days=forward)
        conv = app.repository.get(conv.id)
        try:
            _apply(conv, action, today, p)
        except DomainError:
            continue
        conv.record_due(META, today=today)
        app.save(conv)
    return conv.id


def replayed(app: ConventionsApp, cid: UUID, version: int | None = None) -> Convention:
    """The convention rebuilt from all its events (up to ``version``), no snapshot involved."""
    events = list(app.events.get(cid, lte=version))
    return Convention.replay(events)  # type: ignore[arg-type]
