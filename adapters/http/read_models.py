"""The reads behind the list, dashboard, ledger and work-queue endpoints, limited to a CPAM scope.

``ReadModels`` is what the routes need. ``ScanReadModels`` answers by replaying every convention
from the event store: always exact, fine for tests and small stores, linear in the portfolio.
The projections (issue 3) answer the same questions from their tables; the composition picks them
when they exist (see ``adapters.http.app.build_read_models``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from domain.application import ConventionsApp
from domain.convention import Convention
from domain.values import Status

Scope = frozenset[str] | None


@dataclass(frozen=True)
class ListQuery:
    q: str | None = None
    cpam: str | None = None
    status: str | None = None
    option: str | None = None
    tier: str | None = None
    contract_year: int | None = None
    sort: str = "number"
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True)
class LedgerQuery:
    cpam: str | None = None
    status: str | None = None
    due_from: date | None = None
    due_to: date | None = None
    offset: int = 0
    limit: int = 100


class ReadModels(Protocol):
    def conventions(self, scope: Scope, query: ListQuery) -> tuple[int, list[dict[str, Any]]]: ...

    def dashboard(self, scope: Scope, today: date) -> dict[str, Any]: ...

    def ledger(self, scope: Scope, query: LedgerQuery) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]: ...

    def work_queue(
        self, scope: Scope, today: date, until: date, overdue_only: bool, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]: ...

    def lag(self) -> dict[str, Any] | None: ...


def in_scope(scope: Scope, cpam_code: str) -> bool:
    return scope is None or cpam_code in scope


class ScanReadModels:
    """Exact answers computed from the aggregates themselves (no projection tables)."""

    def __init__(self, app: ConventionsApp) -> None:
        self.app = app

    def _conventions(self, scope: Scope) -> Iterator[Convention]:
        for cid in self.app.convention_ids():
            conv = self.app.get(cid)
            if in_scope(scope, conv.cpam_code):
                yield conv

    def conventions(self, scope: Scope, query: ListQuery) -> tuple[int, list[dict[str, Any]]]:
        rows = [_row(c) for c in self._conventions(scope)]
        if query.q:
            needle = query.q.casefold()
            rows = [r for r in rows if any(needle in str(r[k]).casefold() for k in ("number", "rpps", "doctor_name"))]
        for key in ("cpam", "status", "option", "tier", "contract_year"):
            wanted = getattr(query, key)
            if wanted is not None:
                column = "cpam_code" if key == "cpam" else key
                rows = [r for r in rows if r[column] == wanted]
        desc = query.sort.startswith("-")
        column = query.sort.lstrip("-")
        rows.sort(key=lambda r: (str(r[column]), r["id"]), reverse=desc)
        return len(rows), rows[query.offset : query.offset + query.limit]

    def dashboard(self, scope: Scope, today: date) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        fte = Decimal(0)
        money: dict[str, Decimal] = defaultdict(Decimal)
        total = 0
        for conv in self._conventions(scope):
            total += 1
            for key, value in (
                ("by_status", conv.status.value), ("by_option", conv.option_on(today).value),
                ("by_tier", conv.tier.value), ("by_cpam", conv.cpam_code),
            ):  # fmt: skip
                counts[key][value] += 1
            if conv.status is Status.ACTIVE:
                fte += conv.option_on(today).fte
            for inst in conv.instalments.values():
                if inst.status == "cancelled":
                    continue
                due, paid = ("due", "paid") if inst.amount >= 0 else ("to_recover", "recovered")
                money[due] += abs(inst.amount)
                if inst.status == "paid":
                    money[paid] += abs(inst.amount)
        return {
            "cpams": None if scope is None else sorted(scope),
            "conventions": {"total": total, **{k: dict(sorted(v.items())) for k, v in counts.items()}},
            "funded_fte": f"{fte:.2f}",
            "aid": {k: f"{money[k]:.2f}" for k in ("due", "paid", "to_recover", "recovered")},
        }

    def ledger(self, scope: Scope, query: LedgerQuery) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = []
        for conv in self._conventions(scope):
            if query.cpam is not None and conv.cpam_code != query.cpam:
                continue
            for inst in conv.instalments.values():
                row = {
                    "convention_id": str(conv.id), "number": conv.number, "cpam_code": conv.cpam_code,
                    "instalment_id": inst.instalment_id, "year": inst.year, "kind": inst.kind.value,
                    "due_date": inst.due_date, "amount": inst.amount, "status": inst.status,
                    "paid_on": inst.paid_on, "payment_reference": inst.payment_reference,
                }  # fmt: skip
                if query.status is not None and inst.status != query.status:
                    continue
                if query.due_from is not None and inst.due_date < query.due_from:
                    continue
                if query.due_to is not None and inst.due_date > query.due_to:
                    continue
                rows.append(row)
        rows.sort(key=lambda r: (r["due_date"], r["number"], r["instalment_id"]))
        totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for r in rows:
            if r["status"] == "cancelled":
                continue
            t = totals[(r["cpam_code"], r["due_date"].strftime("%Y-%m"))]
            if r["amount"] >= 0:
                t["due"] += r["amount"]
                if r["status"] == "paid":
                    t["paid"] += r["amount"]
            else:
                t["to_recover"] += -r["amount"]
        total_rows = [
            {"cpam_code": c, "month": m, "due": t["due"], "paid": t["paid"], "to_recover": t["to_recover"]}
            for (c, m), t in sorted(totals.items())
        ]
        return len(rows), rows[query.offset : query.offset + query.limit], total_rows

    def work_queue(
        self, scope: Scope, today: date, until: date, overdue_only: bool, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        items: list[dict[str, Any]] = []
        for conv in self._conventions(scope):
            base = {"convention_id": str(conv.id), "number": conv.number, "cpam_code": conv.cpam_code}
            grace = timedelta(days=conv.policies.review_grace_days)
            for review in conv.reviews.values():
                if review.held_on is None and review.k is not None:
                    late = review.due_date + grace < today
                    items.append({**base, "what": "review", "due_on": review.due_date, "overdue": late,
                                  "detail": f"point semestriel n° {review.k}"})  # fmt: skip
            for inst in conv.instalments.values():
                if inst.status == "due":
                    items.append({**base, "what": "instalment", "due_on": inst.due_date,
                                  "overdue": inst.due_date < today,
                                  "detail": f"{inst.instalment_id} : {inst.amount:.2f} €"})  # fmt: skip
            if (nxt := conv.next_due_on()) is not None:
                items.append({**base, "what": "next_due", "due_on": nxt, "overdue": nxt <= today,
                              "detail": "échéance du calendrier à enregistrer"})  # fmt: skip
        items = [i for i in items if i["due_on"] <= until and (i["overdue"] or not overdue_only)]
        items.sort(key=lambda i: (i["due_on"], i["number"], i["what"]))
        return len(items), items[offset : offset + limit]

    def lag(self) -> dict[str, Any] | None:
        return None


def _row(conv: Convention) -> dict[str, Any]:
    return {
        "id": str(conv.id), "number": conv.number, "cpam_code": conv.cpam_code,
        "doctor_name": conv.doctor_name, "rpps": conv.rpps, "status": conv.status.value,
        "option": conv.option.value if not conv.years else conv.years[max(conv.years)].option.value,
        "tier": conv.tier.value, "contract_year": conv.contract_year, "effective_date": conv.effective_from,
    }  # fmt: skip
