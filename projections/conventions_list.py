"""Conventions list: search by number, RPPS or doctor name; filter by CPAM, status, option, tier and
contract year; sorted and paged. The operator's entry point, and what the API scopes by CPAM.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import orjson

from domain import events as ev
from projections.base import Item, StatefulModel
from projections.engine.store import ProjectionStore, Table, Tx
from projections.scope import Scope, scope_condition

CONVENTIONS = Table.of(
    "lst_conventions",
    "convention_id TEXT NOT NULL, number TEXT NOT NULL, cpam_code TEXT NOT NULL, rpps TEXT NOT NULL, "
    "doctor_name TEXT NOT NULL, name_key TEXT NOT NULL, specialty TEXT NOT NULL, status TEXT NOT NULL, "
    "option TEXT NOT NULL, tier TEXT NOT NULL, contract_year INTEGER NOT NULL, "
    "effective_from TEXT NOT NULL, signed_on TEXT NOT NULL, assistant_fte TEXT, suspended_since TEXT, "
    "terminated_on TEXT, version INTEGER NOT NULL, state TEXT NOT NULL",
    key="convention_id",
    indexes="cpam_code, number; number; rpps; name_key; status",
)

# Events that only move the version shown (most of the log): no other column to look at.
UNREAD = frozenset({ev.ReviewDue, ev.ReviewHeld, ev.InstalmentDue, ev.PaymentRecorded, ev.AttainmentRecorded})
SORTS = {
    "number": "number", "cpam": "cpam_code", "name": "name_key", "status": "status", "option": "option",
    "tier": "tier", "year": "contract_year", "effective": "effective_from", "signed": "signed_on",
}  # fmt: skip
COLUMNS = [c for c in CONVENTIONS.column_names if c not in ("state", "name_key")]


def name_key(name: str) -> str:
    """Case- and accent-insensitive search key (SQLite's lower() knows only ASCII)."""
    return "".join(c for c in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(c))


class ConventionsList(StatefulModel):
    name = "conventions_list"
    main = CONVENTIONS
    tables = (CONVENTIONS,)

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        self.load(tx, (cid for _, _, cid, _ in items))
        cache, touched = self.cache, self.touched
        for _, e, cid, _ in items:
            kind = type(e)
            if kind is ev.Signed:
                st = self.create(cid, {
                    "number": e.number, "cpam_code": e.cpam_code, "rpps": e.rpps, "doctor_name": e.doctor_name,
                    "specialty": e.specialty, "status": ev.status_after(kind), "option": e.option.value,
                    "tier": e.tier.value, "contract_year": 0, "effective_from": e.effective_from.isoformat(),
                    "signed_on": e.effective_date.isoformat(), "assistant_fte": None, "suspended_since": None,
                    "terminated_on": None, "version": e.originator_version,
                })  # fmt: skip
                continue
            st = cache.get(cid)
            if st is None:
                continue  # a convention this model never saw signed (cannot happen on a full log)
            touched.add(cid)
            st["version"] = e.originator_version
            if kind in UNREAD:
                continue
            st["status"] = ev.status_after(kind, st["status"])
            if kind is ev.YearStarted:
                st["contract_year"] = max(st["contract_year"], e.year)
                st["option"] = e.option.value
            elif kind is ev.AssistantHired:
                st["assistant_fte"] = str(e.fte)
            elif kind is ev.AssistantLeft:
                st["assistant_fte"] = None
            elif kind is ev.Suspended:
                st["suspended_since"] = e.effective_date.isoformat()
            elif kind is ev.Reactivated:
                st["suspended_since"] = None
            elif kind is ev.Terminated:
                st["terminated_on"] = e.effective_date.isoformat()

    def row(self, cid: str, st: dict[str, Any]) -> tuple[Any, ...]:
        return (
            cid, st["number"], st["cpam_code"], st["rpps"], st["doctor_name"], name_key(st["doctor_name"]),
            st["specialty"], st["status"], st["option"], st["tier"], st["contract_year"], st["effective_from"],
            st["signed_on"], st["assistant_fte"], st["suspended_since"], st["terminated_on"], st["version"],
            orjson.dumps(st).decode(),
        )  # fmt: skip


def _like(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '\\'``: ``%`` and ``_`` are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    store: ProjectionStore,
    *,
    q: str | None = None,
    number: str | None = None,
    rpps: str | None = None,
    name: str | None = None,
    cpams: Scope = None,
    status: str | None = None,
    option: str | None = None,
    tier: str | None = None,
    contract_year: int | None = None,
    sort: str = "number",
    descending: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """A page of conventions and the total count. ``cpams``: the CPAMs the caller may see (None: all).

    ``q`` matches a number prefix, an RPPS or part of the doctor's name; ``name`` part of the name.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    where: list[str] = []
    params: list[Any] = []
    if q:
        where.append("(number LIKE ? ESCAPE '\\' OR rpps = ? OR name_key LIKE ? ESCAPE '\\')")
        params += [f"{_like(q.strip())}%", q.strip(), f"%{_like(name_key(q.strip()))}%"]
    if number:
        where.append("number = ?")
        params.append(number)
    if rpps:
        where.append("rpps = ?")
        params.append(rpps)
    if name:
        where.append("name_key LIKE ? ESCAPE '\\'")
        params.append(f"%{_like(name_key(name.strip()))}%")
    if (in_scope := scope_condition(cpams, "cpam_code", params)) is not None:
        where.append(in_scope)
    for column, value in (("status", status), ("option", option), ("tier", tier), ("contract_year", contract_year)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    page, per_page = max(page, 1), min(max(per_page, 1), 1000)
    order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'}, cpam_code, number"
    with store.reading_live(ConventionsList) as tx:
        table = tx.t(CONVENTIONS.name)
        total = tx.fetchall(f"SELECT COUNT(*) FROM {table}{clause}", params)[0][0]
        rows = tx.fetchall(
            f"SELECT {', '.join(COLUMNS)} FROM {table}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, per_page, (page - 1) * per_page],
        )
    return {
        "total": int(total), "page": page, "per_page": per_page,
        "items": [dict(zip(COLUMNS, r, strict=True)) for r in rows],
    }  # fmt: skip
