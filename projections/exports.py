"""What the finance exports read: every convention of the list read model, every instalment of
the ledger, and the work queue, as typed rows (dates as ``date``, money as ``Decimal`` euros to the
cent), limited to a CPAM scope and optionally to one calendar year.

Unpaged on purpose: an export is the whole answer. Each function runs its query when called (the
caller may hold the read models' lock just for that) and converts rows lazily, as they are written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from projections import calendar, ledger
from projections.conventions_list import CONVENTIONS, ConventionsList, reveal
from projections.engine.privacy import Sealer
from projections.engine.store import ProjectionStore
from projections.scope import Scope, scope_condition

CENT = Decimal("0.01")
LIST_COLUMNS = (
    "convention_id", "number", "cpam_code", "rpps", "doctor_name", "specialty", "status", "option", "tier",
    "contract_year", "signed_on", "effective_from", "assistant_fte", "suspended_since", "terminated_on", "version",
)  # fmt: skip
LIST_DATES = ("signed_on", "effective_from", "suspended_since", "terminated_on")
LEDGER_DATES = ("fell_due_on", "due_date", "paid_on", "cancelled_on")


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _euros(cents: int | None) -> Decimal | None:
    """Integer cents as euros with exactly two decimals (19000 -> Decimal('19000.00'))."""
    return None if cents is None else (Decimal(int(cents)) / 100).quantize(CENT)


def _year_bounds(year: int) -> tuple[str, str]:
    return date(year, 1, 1).isoformat(), date(year, 12, 31).isoformat()


def conventions(store: ProjectionStore, cpams: Scope = None, year: int | None = None) -> Iterator[dict[str, Any]]:
    """Every convention of the scope, by CPAM then number. ``year``: those in the portfolio at some
    time of that calendar year, i.e. signed on or before 31 December and not terminated before
    1 January."""
    where: list[str] = []
    params: list[Any] = []
    if (in_scope := scope_condition(cpams, "cpam_code", params)) is not None:
        where.append(in_scope)
    if year is not None:
        first, last = _year_bounds(year)
        where.append("signed_on <= ? AND (terminated_on IS NULL OR terminated_on >= ?)")
        params += [last, first]
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    with store.reading_live(ConventionsList) as tx:
        rows = tx.fetchall(
            f"SELECT {', '.join(LIST_COLUMNS)} FROM {tx.t(CONVENTIONS.name)}{clause} ORDER BY cpam_code, number",
            params,
        )
    return (_convention(row, store.sealer) for row in rows)


def _convention(row: tuple[Any, ...], sealer: Sealer | None) -> dict[str, Any]:
    item = reveal(sealer, dict(zip(LIST_COLUMNS, row, strict=True)))
    for key in LIST_DATES:
        item[key] = _day(item[key])
    fte = item["assistant_fte"]
    item["assistant_fte"] = None if fte is None else Decimal(fte)
    return item


def instalments(store: ProjectionStore, cpams: Scope = None, year: int | None = None) -> Iterator[dict[str, Any]]:
    """Every instalment of the scope with what became of it (``ledger.COLUMNS``), by due date.
    ``year``: those due that calendar year or paid that calendar year. ``amount`` and
    ``paid_amount`` are signed euros (negative: an amount the CPAM recovers)."""
    where: list[str] = []
    params: list[Any] = []
    if (in_scope := scope_condition(cpams, "i.cpam_code", params)) is not None:
        where.append(in_scope)
    if year is not None:
        first, last = _year_bounds(year)
        where.append("(i.due_date BETWEEN ? AND ? OR (s.status = 'paid' AND s.on_date BETWEEN ? AND ?))")
        params += [first, last, first, last]
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    with store.reading_live(ledger.Ledger) as tx:
        sql = ledger.SELECT.format(i=tx.t(ledger.INSTALMENTS.name), s=tx.t(ledger.SETTLEMENTS.name))
        rows = tx.fetchall(f"{sql}{clause} ORDER BY i.due_date, i.cpam_code, i.number, i.instalment_id", params)
    return (_instalment(row, store.sealer) for row in rows)


def _instalment(row: tuple[Any, ...], sealer: Sealer | None) -> dict[str, Any]:
    item = ledger.reveal(sealer, dict(zip(ledger.COLUMNS, row, strict=True)))
    for key in LEDGER_DATES:
        item[key] = _day(item[key])
    item["amount"] = _euros(item.pop("amount_cents"))
    item["paid_amount"] = _euros(item.pop("paid_cents"))
    return item


def work_queue(
    store: ProjectionStore, today: date, cpams: Scope = None, year: int | None = None
) -> list[dict[str, Any]]:
    """The work queue on ``today`` (``calendar.work_queue``), overdue first; ``year``: the items
    dated in that calendar year."""
    items = calendar.work_queue(store, today, cpams)
    return items if year is None else [i for i in items if i["date"].year == year]
