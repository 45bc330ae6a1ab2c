"""Payment ledger: every instalment with its convention, year, kind, due date, amount, payment date
and reference; totals per CPAM and month. What finance exports (flat rows, amounts in euros).

A payment's reference is free text (a bank reference often names the payee): with the cipher key
it is sealed (``projections.engine.privacy``) and opened on read. Nothing else here is personal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import orjson

from domain import events as ev
from domain.events import InstalmentCancelled, InstalmentDue, PaymentRecorded, Signed
from projections.base import Item, StatefulModel, cents, euros
from projections.engine.privacy import Sealer
from projections.engine.store import ProjectionStore, Table, Tx
from projections.scope import Scope, scope_condition

CONVENTIONS = Table.of(
    "ledger_conventions",
    "convention_id TEXT NOT NULL, number TEXT NOT NULL, cpam_code TEXT NOT NULL, state TEXT NOT NULL",
    key="convention_id",
)
INSTALMENTS = Table.of(
    "ledger_instalments",
    "convention_id TEXT NOT NULL, instalment_id TEXT NOT NULL, number TEXT NOT NULL, "
    "cpam_code TEXT NOT NULL, year INTEGER NOT NULL, kind TEXT NOT NULL, fell_due_on TEXT NOT NULL, "
    "due_date TEXT NOT NULL, amount_cents BIGINT NOT NULL, basis TEXT NOT NULL",
    key="convention_id, instalment_id",
    indexes="cpam_code, due_date; due_date",
    append_only=True,
)
# what became of an instalment: paid (once, R7) or cancelled by a termination
SETTLEMENTS = Table.of(
    "ledger_settlements",
    "convention_id TEXT NOT NULL, instalment_id TEXT NOT NULL, cpam_code TEXT NOT NULL, "
    "status TEXT NOT NULL, on_date TEXT NOT NULL, cents BIGINT, reference TEXT",
    key="convention_id, instalment_id",
    indexes="cpam_code, on_date",
    append_only=True,
)
REFERENCE = "ledger_settlements.reference"  # what a payment reference is sealed for
COLUMNS = (
    "convention_id", "instalment_id", "number", "cpam_code", "year", "kind", "fell_due_on", "due_date", "amount_cents",
    "basis", "status", "paid_on", "paid_cents", "payment_reference", "cancelled_on",
)  # fmt: skip
SELECT = (
    "SELECT i.convention_id, i.instalment_id, i.number, i.cpam_code, i.year, i.kind, i.fell_due_on, i.due_date, "
    "i.amount_cents, i.basis, COALESCE(s.status, 'due'), "
    "CASE WHEN s.status = 'paid' THEN s.on_date END, s.cents, s.reference, "
    "CASE WHEN s.status = 'cancelled' THEN s.on_date END "
    "FROM {i} i LEFT JOIN {s} s ON s.convention_id = i.convention_id AND s.instalment_id = i.instalment_id"
)


def reveal(sealer: Sealer | None, item: dict[str, Any]) -> dict[str, Any]:
    """A row read back with its payment reference in clear (opened when sealed)."""
    if sealer is not None and item["payment_reference"] is not None:
        item["payment_reference"] = sealer.open(REFERENCE, item["payment_reference"])
    return item


class Ledger(StatefulModel):
    """Rows are only appended (an instalment, then at most one settlement), so the ledger is
    also an audit trail of what finance saw, and a rebuild writes it at the speed of inserts."""

    name = "ledger"
    main = CONVENTIONS
    tables = (CONVENTIONS, INSTALMENTS, SETTLEMENTS)

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        self.load(tx, (cid for _, e, cid, _ in items if type(e) is not ev.Signed))
        cache = self.cache
        due: list[tuple[Any, ...]] = []
        settled: list[tuple[Any, ...]] = []
        for _, e, cid, _ in items:
            kind = type(e)
            if kind is InstalmentDue:
                st = cache[cid]
                due.append((
                    cid, e.instalment_id, st["number"], st["cpam_code"], e.year, e.kind.value,
                    e.effective_date.isoformat(), e.due_date.isoformat(), cents(e.amount), e.basis,
                ))  # fmt: skip
            elif kind is PaymentRecorded:
                ref = e.payment_reference if self.sealer is None else self.sealer.seal(REFERENCE, e.payment_reference)
                settled.append((cid, e.instalment_id, cache[cid]["cpam_code"], "paid",
                                e.effective_date.isoformat(), cents(e.amount), ref))  # fmt: skip
            elif kind is Signed:
                self.create(cid, {"number": e.number, "cpam_code": e.cpam_code})
            elif kind is InstalmentCancelled:
                settled.append((cid, e.instalment_id, cache[cid]["cpam_code"], "cancelled",
                                e.effective_date.isoformat(), None, None))  # fmt: skip
        tx.insert(INSTALMENTS, due)
        tx.insert(SETTLEMENTS, settled)

    def row(self, cid: str, st: dict[str, Any]) -> tuple[Any, ...]:
        return (cid, st["number"], st["cpam_code"], orjson.dumps(st).decode())


def _where(cpams: Scope, **filters: Any) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if (in_scope := scope_condition(cpams, "i.cpam_code", params)) is not None:
        where.append(in_scope)
    ops = {"due_from": "i.due_date >= ?", "due_to": "i.due_date <= ?", "year": "i.year = ?",
           "status": "COALESCE(s.status, 'due') = ?", "convention_id": "i.convention_id = ?"}  # fmt: skip
    for key, value in filters.items():
        if value is not None:
            where.append(ops[key])
            params.append(
                value.isoformat() if isinstance(value, date) else str(value) if isinstance(value, UUID) else value
            )
    return (" WHERE " + " AND ".join(where)) if where else "", params


def instalments(
    store: ProjectionStore,
    *,
    cpams: Scope = None,
    convention_id: UUID | str | None = None,
    year: int | None = None,
    status: str | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
) -> list[dict[str, Any]]:
    """Every instalment matching the filters, by due date: export-friendly flat rows, euros."""
    clause, params = _where(
        cpams, convention_id=convention_id, year=year, status=status, due_from=due_from, due_to=due_to
    )
    with store.reading_live(Ledger) as tx:
        sql = SELECT.format(i=tx.t(INSTALMENTS.name), s=tx.t(SETTLEMENTS.name))
        rows = tx.fetchall(f"{sql}{clause} ORDER BY i.due_date, i.cpam_code, i.number, i.instalment_id", params)
    out = []
    for r in rows:
        item = reveal(store.sealer, dict(zip(COLUMNS, r, strict=True)))
        item["amount"] = euros(item.pop("amount_cents"))
        paid_cents = item.pop("paid_cents")
        item["paid_amount"] = None if paid_cents is None else euros(paid_cents)
        out.append(item)
    return out


def monthly_totals(store: ProjectionStore, *, cpams: Scope = None) -> list[dict[str, Any]]:
    """Per CPAM and month: due (by due date, cancelled excluded), of which to recover, and paid
    (by payment date), of which recovered. Amounts in euros."""
    clause, params = _where(cpams)
    with store.reading_live(Ledger) as tx:
        i, s = tx.t(INSTALMENTS.name), tx.t(SETTLEMENTS.name)
        extra = " AND " if clause else " WHERE "
        due = tx.fetchall(
            "SELECT i.cpam_code, substr(i.due_date, 1, 7), "
            "SUM(CASE WHEN i.amount_cents > 0 THEN i.amount_cents ELSE 0 END), "
            "SUM(CASE WHEN i.amount_cents < 0 THEN -i.amount_cents ELSE 0 END) "
            f"FROM {i} i LEFT JOIN {s} s ON s.convention_id = i.convention_id AND s.instalment_id = i.instalment_id"
            f"{clause}{extra}COALESCE(s.status, 'due') <> 'cancelled' GROUP BY i.cpam_code, substr(i.due_date, 1, 7)",
            params,
        )
        paid = tx.fetchall(
            "SELECT i.cpam_code, substr(i.on_date, 1, 7), "
            "SUM(CASE WHEN i.cents > 0 THEN i.cents ELSE 0 END), SUM(CASE WHEN i.cents < 0 THEN -i.cents ELSE 0 END) "
            f"FROM {s} i{clause}{extra}i.status = 'paid' GROUP BY i.cpam_code, substr(i.on_date, 1, 7)",
            params,
        )
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    zero = {"due": euros(0), "to_recover": euros(0), "paid": euros(0), "recovered": euros(0)}
    for cpam, month, pos, neg in due:
        item = totals.setdefault((cpam, month), {"cpam_code": cpam, "month": month, **zero})
        item["due"], item["to_recover"] = euros(pos), euros(neg)
    for cpam, month, pos, neg in paid:
        item = totals.setdefault((cpam, month), {"cpam_code": cpam, "month": month, **zero})
        item["paid"], item["recovered"] = euros(pos), euros(neg)
    return [totals[k] for k in sorted(totals)]
