"""Payment ledger: every instalment with its convention, year, kind, due date, amount, payment date
and reference; totals per CPAM and month. What finance exports (flat rows, amounts in euros).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import orjson

from domain import events as ev
from projections.base import Item, StatefulModel, cents, euros
from projections.store import ProjectionStore, Table, Tx

CONVENTIONS = Table(
    "ledger_conventions",
    (("convention_id", "TEXT NOT NULL"), ("number", "TEXT NOT NULL"), ("cpam_code", "TEXT NOT NULL"),
     ("state", "TEXT NOT NULL")),
    ("convention_id",),
)  # fmt: skip
INSTALMENTS = Table(
    "ledger_instalments",
    (
        ("convention_id", "TEXT NOT NULL"), ("instalment_id", "TEXT NOT NULL"), ("number", "TEXT NOT NULL"),
        ("cpam_code", "TEXT NOT NULL"), ("year", "INTEGER NOT NULL"), ("kind", "TEXT NOT NULL"),
        ("fell_due_on", "TEXT NOT NULL"), ("due_date", "TEXT NOT NULL"), ("amount_cents", "BIGINT NOT NULL"),
        ("basis", "TEXT NOT NULL"), ("status", "TEXT NOT NULL"), ("paid_on", "TEXT"), ("paid_cents", "BIGINT"),
        ("payment_reference", "TEXT"), ("cancelled_on", "TEXT"),
    ),
    ("convention_id", "instalment_id"),
    (("cpam_code", "due_date"), ("due_date",), ("paid_on",)),
)  # fmt: skip
COLUMNS = INSTALMENTS.column_names


class Ledger(StatefulModel):
    name = "ledger"
    main = CONVENTIONS
    tables = (CONVENTIONS, INSTALMENTS)

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        self.load(tx, {cid for _, e, cid, _ in items if isinstance(e, ev.InstalmentDue)})
        new: dict[tuple[str, str], list[Any]] = {}
        paid: list[tuple[Any, ...]] = []
        cancelled: list[tuple[Any, ...]] = []
        for _, e, cid, _ in items:
            kind = type(e)
            if kind is ev.Signed:
                self.create(cid, {"number": e.number, "cpam_code": e.cpam_code})
            elif kind is ev.InstalmentDue:
                st = self.cache[cid]
                new[(cid, e.instalment_id)] = [
                    cid, e.instalment_id, st["number"], st["cpam_code"], e.year, e.kind.value,
                    e.effective_date.isoformat(), e.due_date.isoformat(), cents(e.amount), e.basis, "due",
                    None, None, None, None,
                ]  # fmt: skip
            elif kind is ev.PaymentRecorded:
                row = new.get((cid, e.instalment_id))
                if row is not None:
                    row[10:14] = ["paid", e.effective_date.isoformat(), cents(e.amount), e.payment_reference]
                else:
                    paid.append(
                        (e.effective_date.isoformat(), cents(e.amount), e.payment_reference, cid, e.instalment_id)
                    )
            elif kind is ev.InstalmentCancelled:
                row = new.get((cid, e.instalment_id))
                if row is not None:
                    row[10], row[14] = "cancelled", e.effective_date.isoformat()
                else:
                    cancelled.append((e.effective_date.isoformat(), cid, e.instalment_id))
        table = tx.t(INSTALMENTS.name)
        tx.upsert(INSTALMENTS, list(new.values()))
        tx.executemany(
            f"UPDATE {table} SET status = 'paid', paid_on = ?, paid_cents = ?, payment_reference = ? "
            "WHERE convention_id = ? AND instalment_id = ?",
            paid,
        )
        tx.executemany(
            f"UPDATE {table} SET status = 'cancelled', cancelled_on = ? WHERE convention_id = ? AND instalment_id = ?",
            cancelled,
        )

    def row(self, cid: str, st: dict[str, Any]) -> tuple[Any, ...]:
        return (cid, st["number"], st["cpam_code"], orjson.dumps(st).decode())


def _where(cpams: Collection[str] | None, **filters: Any) -> tuple[str, list[Any]]:
    where, params = [], []
    if cpams is not None:
        values = sorted(cpams)
        where.append(f"cpam_code IN ({', '.join('?' * len(values))})" if values else "1 = 0")
        params += values
    ops = {"due_from": "due_date >= ?", "due_to": "due_date <= ?", "year": "year = ?", "status": "status = ?",
           "convention_id": "convention_id = ?"}  # fmt: skip
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
    cpams: Collection[str] | None = None,
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
    with store.reading() as tx:
        store.resolve(tx, Ledger.name, Ledger.tables)
        rows = tx.fetchall(
            f"SELECT {', '.join(COLUMNS)} FROM {tx.t(INSTALMENTS.name)}{clause} "
            "ORDER BY due_date, cpam_code, number, instalment_id",
            params,
        )
    out = []
    for r in rows:
        item = dict(zip(COLUMNS, r, strict=True))
        item["amount"] = euros(item.pop("amount_cents"))
        paid_cents = item.pop("paid_cents")
        item["paid_amount"] = None if paid_cents is None else euros(paid_cents)
        out.append(item)
    return out


def monthly_totals(store: ProjectionStore, *, cpams: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Per CPAM and month: due (by due date, cancelled excluded), of which to recover, and paid
    (by payment date), of which recovered. Amounts in euros."""
    clause, params = _where(cpams)
    with store.reading() as tx:
        store.resolve(tx, Ledger.name, Ledger.tables)
        t = tx.t(INSTALMENTS.name)
        extra = " AND " if clause else " WHERE "
        due = tx.fetchall(
            f"SELECT cpam_code, substr(due_date, 1, 7) AS m, "
            f"SUM(CASE WHEN amount_cents > 0 THEN amount_cents ELSE 0 END), "
            f"SUM(CASE WHEN amount_cents < 0 THEN -amount_cents ELSE 0 END) "
            f"FROM {t}{clause}{extra}status <> 'cancelled' GROUP BY cpam_code, substr(due_date, 1, 7)",
            params,
        )
        paid = tx.fetchall(
            f"SELECT cpam_code, substr(paid_on, 1, 7) AS m, "
            f"SUM(CASE WHEN paid_cents > 0 THEN paid_cents ELSE 0 END), "
            f"SUM(CASE WHEN paid_cents < 0 THEN -paid_cents ELSE 0 END) "
            f"FROM {t}{clause}{extra}paid_on IS NOT NULL GROUP BY cpam_code, substr(paid_on, 1, 7)",
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
