"""Conventions list: search by number, RPPS or doctor name; filter by CPAM, status, option, tier and
contract year; sorted and paged. The operator's entry point, and what the API scopes by CPAM.

With the cipher key (``projections.engine.privacy``) the same columns hold no personal value:
``rpps`` is the RPPS's blind index, ``doctor_name`` the sealed pair (name, RPPS), ``name_key`` the
blind indexes of the name's words and of their prefixes of at least ``MIN_PREFIX`` letters, and
``state`` carries only those. A search then finds an exact RPPS and names by whole words or word
prefixes (no longer by any part of a word), and a sort by name is done on the opened names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import orjson

from domain import events as ev
from projections.base import Item, StatefulModel
from projections.engine.privacy import Sealer
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


IDENTITY = "lst_conventions.identity"  # what the sealed pair (name, RPPS) is sealed for
MIN_PREFIX = 3  # sealed: the shortest word prefix a name search finds (shorter: whole words only)
WORD = re.compile(r"[^\W_]+")


def name_key(name: str) -> str:
    """Case- and accent-insensitive search key (SQLite's lower() knows only ASCII)."""
    return "".join(c for c in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(c))


def name_tokens(sealer: Sealer, name: str) -> str:
    """The blind indexes of a name (sealed ``name_key``): each word whole, and each prefix of a word
    from ``MIN_PREFIX`` letters, space-separated and space-framed so that ``LIKE '% t %'`` finds one."""
    tokens = set()
    for word in WORD.findall(name_key(name)):
        tokens.add(sealer.token("name", word))
        tokens.update(sealer.token("name^", word[:i]) for i in range(MIN_PREFIX, len(word) + 1))
    return " " + " ".join(sorted(tokens)) + " "


def _sealed_name(sealer: Sealer, text: str, params: list[Any]) -> str | None:
    """The clause matching names that have every word of ``text`` as a word (or a word's prefix)."""
    words = WORD.findall(name_key(text))
    for w in words:
        params.append(f"% {sealer.token('name^' if len(w) >= MIN_PREFIX else 'name', w)} %")
    return "(" + " AND ".join(["name_key LIKE ?"] * len(words)) + ")" if words else None


def reveal(sealer: Sealer | None, item: dict[str, Any]) -> dict[str, Any]:
    """A row read back with its doctor's name and RPPS in clear (opened when sealed)."""
    if sealer is not None:
        item["doctor_name"], item["rpps"] = orjson.loads(sealer.open(IDENTITY, item["doctor_name"]))
    return item


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
                    "number": e.number, "cpam_code": e.cpam_code, **self._identity(e.doctor_name, e.rpps),
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

    def _identity(self, doctor_name: str, rpps: str) -> dict[str, str]:
        """The state's personal fields: in clear, or sealed once at signature (never re-sealed)."""
        if (sealer := self.sealer) is None:
            return {"rpps": rpps, "doctor_name": doctor_name}
        return {
            "rpps": sealer.token("rpps", rpps),
            "doctor_name": sealer.seal(IDENTITY, orjson.dumps([doctor_name, rpps]).decode()),
            "name_key": name_tokens(sealer, doctor_name),
        }

    def row(self, cid: str, st: dict[str, Any]) -> tuple[Any, ...]:
        key = st["name_key"] if self.sealer is not None else name_key(st["doctor_name"])
        return (
            cid, st["number"], st["cpam_code"], st["rpps"], st["doctor_name"], key,
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

    ``q`` matches a number prefix, an RPPS or part of the doctor's name; ``name`` part of the name
    (sealed: whole words or word prefixes, see the module's docstring).
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    sealer = store.sealer
    where, params = _filters(sealer, q=q, number=number, rpps=rpps, name=name, cpams=cpams)
    for column, value in (("status", status), ("option", option), ("tier", tier), ("contract_year", contract_year)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    page, per_page = max(page, 1), min(max(per_page, 1), 1000)
    order = f"{SORTS[sort]} {'DESC' if descending else 'ASC'}, cpam_code, number"
    with store.reading_live(ConventionsList) as tx:
        table = tx.t(CONVENTIONS.name)
        if sealer is not None and sort == "name":
            total, rows = _by_sealed_name(tx, sealer, clause, params, descending, page, per_page)
        else:
            counted, rows = tx.fetch_each([
                (f"SELECT COUNT(*) FROM {table}{clause}", params),
                (f"SELECT {', '.join(COLUMNS)} FROM {table}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
                 [*params, per_page, (page - 1) * per_page]),
            ])  # fmt: skip
            total = counted[0][0]
    return {
        "total": int(total), "page": page, "per_page": per_page,
        "items": [reveal(sealer, dict(zip(COLUMNS, r, strict=True))) for r in rows],
    }  # fmt: skip


def _filters(
    sealer: Sealer | None, *, q: str | None, number: str | None, rpps: str | None, name: str | None, cpams: Scope
) -> tuple[list[str], list[Any]]:
    """The WHERE clauses of the search's text criteria and of the scope, with their parameters."""
    where: list[str] = []
    params: list[Any] = []
    if q and q.strip():
        text = q.strip()
        params += [f"{_like(text)}%", text if sealer is None else sealer.token("rpps", text)]
        if sealer is None:
            params.append(f"%{_like(name_key(text))}%")
            where.append("(number LIKE ? ESCAPE '\\' OR rpps = ? OR name_key LIKE ? ESCAPE '\\')")
        else:
            names = _sealed_name(sealer, text, params)
            where.append("(number LIKE ? ESCAPE '\\' OR rpps = ?" + (f" OR {names})" if names else ")"))
    if number:
        where.append("number = ?")
        params.append(number)
    if rpps:
        where.append("rpps = ?")
        params.append(rpps if sealer is None else sealer.token("rpps", rpps.strip()))
    if name:
        if sealer is None:
            where.append("name_key LIKE ? ESCAPE '\\'")
            params.append(f"%{_like(name_key(name.strip()))}%")
        elif (names := _sealed_name(sealer, name, params)) is not None:
            where.append(names)
    if (in_scope := scope_condition(cpams, "cpam_code", params)) is not None:
        where.append(in_scope)
    return where, params


def _by_sealed_name(
    tx: Tx, sealer: Sealer, clause: str, params: list[Any], descending: bool, page: int, per_page: int
) -> tuple[int, list[tuple[Any, ...]]]:
    """(total, rows of the page) sorted by the opened names: the database cannot order ciphertexts,
    so every matching name is opened (cached by the sealer) and the page's rows are read by id."""
    table = tx.t(CONVENTIONS.name)
    found = tx.fetchall(f"SELECT convention_id, doctor_name, cpam_code, number FROM {table}{clause}", params)
    found.sort(key=lambda r: (r[2], r[3]))  # then by CPAM and number, as the SQL order does
    found.sort(key=lambda r: name_key(orjson.loads(sealer.open(IDENTITY, r[1]))[0]), reverse=descending)
    ids = [r[0] for r in found[(page - 1) * per_page : page * per_page]]
    rows = {r[0]: r for r in tx.select_in(CONVENTIONS, "convention_id", ids, ", ".join(COLUMNS))}
    return len(found), [rows[i] for i in ids]
