"""Portfolio dashboard: counts and funded ETP by CPAM, status, option and tier; aid due, paid and to
recover by calendar year and CPAM; reviews held on time or late; attainment distribution in years
3+; running suspensions; and a forecast of the aid still to pay over the next 5 calendar years.

Money is summed into ``pf_money`` as the events arrive (integer cents). The forecast is computed
when asked, from each convention's stored basis and the rules themselves (``tier_amount``,
``plan_year``, the calendar), at full attainment: no amount is copied here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from domain.amounts import FIRST_MODULATED_YEAR
from domain.calendar import Pause, contract_years
from domain.events import (
    AssistantHired,
    AttainmentRecorded,
    InstalmentCancelled,
    InstalmentDue,
    OptionChanged,
    PaymentRecorded,
    Reactivated,
    ReviewDue,
    ReviewHeld,
    Signed,
    Suspended,
    Terminated,
    YearStarted,
    status_after,
)  # fmt: skip
from domain.regimes import tier_amount
from domain.schedule import PlannedInstalment, plan_year, year_instalment_ids
from domain.values import Modulation, Option, Tier
from projections.base import Item, StatefulModel, cents, euros
from projections.calendar import CONVENTIONS as CALENDAR_CONVENTIONS
from projections.calendar import Calendar, describe_error
from projections.engine.store import ProjectionStore, Table, Tx
from projections.scope import Scope, scope_condition

FORECAST_YEARS = 5  # this calendar year and the next four
NO_PLAN = 0  # plan_year of a terminated convention: nothing left to plan, in any year
CONVENTIONS = Table.of(
    "pf_conventions",
    "convention_id TEXT NOT NULL, cpam_code TEXT NOT NULL, status TEXT NOT NULL, option TEXT NOT NULL, "
    "tier TEXT NOT NULL, fte_milli INTEGER NOT NULL, suspended_since TEXT, state TEXT NOT NULL, "
    # What the schedule still has to pay in cents, for the calendar years plan_year .. plan_year + 4
    # (instalments not yet recorded): written empty by the read model, filled by the first dashboard
    # that needs it, emptied again whenever the state changes.
    "plan_year INTEGER, plan_0 BIGINT, plan_1 BIGINT, plan_2 BIGINT, plan_3 BIGINT, plan_4 BIGINT",
    key="convention_id",
    indexes="status; plan_year",
    memo="plan_year, plan_0, plan_1, plan_2, plan_3, plan_4",
)
PLAN_COLUMNS = [f"plan_{i}" for i in range(FORECAST_YEARS)]
# Per CPAM and calendar year. open_cents: instalments due that year not yet paid nor cancelled.
MONEY = Table.of(
    "pf_money",
    "cpam_code TEXT NOT NULL, year INTEGER NOT NULL, due_cents BIGINT NOT NULL, "
    "to_recover_cents BIGINT NOT NULL, paid_cents BIGINT NOT NULL, recovered_cents BIGINT NOT NULL, "
    "open_cents BIGINT NOT NULL",
    key="cpam_code, year",
)
# Reviews fallen due (ReviewDue), not held, of conventions not terminated; deadline = due date + grace.
OPEN_REVIEWS = Table.of(
    "pf_open_reviews",
    "convention_id TEXT NOT NULL, due_date TEXT NOT NULL, cpam_code TEXT NOT NULL, deadline TEXT NOT NULL",
    key="convention_id, due_date",
    indexes="cpam_code, deadline",
)
# Per CPAM: reviews held by their deadline and after it; attainments of modulated years per bucket.
REVIEWS_HELD = Table.of(
    "pf_reviews_held_count",
    "cpam_code TEXT NOT NULL, on_time INTEGER NOT NULL, late INTEGER NOT NULL",
    key="cpam_code",
)
ATTAINMENTS = Table.of(
    "pf_attainment_count",
    "cpam_code TEXT NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL",
    key="cpam_code, bucket",
)


class _Graces(dict[int, timedelta]):
    """Review grace days -> timedelta, each built once (two reviews in five events of the log)."""

    def __missing__(self, days: int) -> timedelta:
        self[days] = timedelta(days=days)
        return self[days]


BUCKETS = ((0, 2500, "0-24 %"), (2500, 5000, "25-49 %"), (5000, 7500, "50-74 %"), (7500, 10000, "75-99 %"),
           (10000, 10001, "100 %"))  # fmt: skip


class Portfolio(StatefulModel):
    name = "portfolio"
    main = CONVENTIONS
    tables = (CONVENTIONS, MONEY, OPEN_REVIEWS, REVIEWS_HELD, ATTAINMENTS)
    retired = ("pf_reviews", "pf_reviews_held", "pf_attainments")  # rows per review: counted now

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        self.load(tx, (cid for _, _, cid, _ in items))
        money, cache, touched = self.money, self.cache, self.touched
        reviews = self.reviews  # (convention, due date) -> open review row, or None once held / closed
        for _, e, cid, _ in items:
            kind = type(e)
            if kind is Signed:
                self.create(cid, {
                    "cpam_code": e.cpam_code, "status": status_after(kind), "option": e.option.value,
                    "tier": e.tier.value, "suspended_since": None, "effective_from": e.effective_from.isoformat(),
                    "pause_clock": e.policies.pause_clock, "modulation": e.policies.modulation.value,
                    "grace_days": e.policies.review_grace_days, "options": [], "pauses": [], "hired_on": None,
                    "years": {}, "open": {}, "closed": "", "terminated_on": None, "open_reviews": [],
                    "held_early": [],
                })  # fmt: skip
                continue
            st = cache.get(cid)
            if st is None:
                continue
            cpam = st["cpam_code"]
            if kind is AttainmentRecorded:  # counted, the state does not change
                if e.year >= FIRST_MODULATED_YEAR:  # the dashboard's attainments of modulated years
                    self.buckets[(cpam, _bucket(int(e.attainment * 10000)))] += 1
                continue
            touched.add(cid)
            if kind is ReviewDue or kind is ReviewHeld:
                self._review(e, cid, st)
                continue
            st["status"] = status_after(kind, st["status"])
            if kind is InstalmentDue:
                amount = cents(e.amount)
                if (was := st["open"].get(e.instalment_id)) is not None:  # re-dated or re-priced
                    money[(cpam, int(was[1][:4]))][4] -= was[0]
                st["open"][e.instalment_id] = [amount, e.due_date.isoformat()]
                row = money[(cpam, e.due_date.year)]
                row[0 if amount >= 0 else 1] += abs(amount)
                row[4] += amount
            elif kind is PaymentRecorded:
                amount = cents(e.amount)
                if (inst := st["open"].pop(e.instalment_id, None)) is not None:
                    st["closed"] += " " + e.instalment_id
                    money[(cpam, int(inst[1][:4]))][4] -= inst[0]
                money[(cpam, e.effective_date.year)][2 if amount >= 0 else 3] += abs(amount)
            elif kind is YearStarted:
                st["years"][str(e.year)] = [e.effective_date.isoformat(), e.regime, str(e.full_amount)]
                st["option"] = e.option.value
            elif kind is InstalmentCancelled:
                if (inst := st["open"].pop(e.instalment_id, None)) is not None:
                    st["closed"] += " " + e.instalment_id
                    row = money[(cpam, int(inst[1][:4]))]
                    row[0 if inst[0] >= 0 else 1] -= abs(inst[0])
                    row[4] -= inst[0]
            elif kind is AssistantHired:
                st["hired_on"] = st["hired_on"] or e.effective_date.isoformat()
            elif kind is OptionChanged:
                st["options"].append([e.effective_date.isoformat(), e.option.value])
            elif kind is Suspended:
                st["suspended_since"] = e.effective_date.isoformat()
                st["pauses"].append([e.effective_date.isoformat(), None])
            elif kind is Reactivated:
                st["suspended_since"] = None
                if st["pauses"]:
                    st["pauses"][-1][1] = e.effective_date.isoformat()
            elif kind is Terminated:
                st["terminated_on"] = e.effective_date.isoformat()
                for due in st["open_reviews"]:  # no longer anyone's work (as in the work queue)
                    reviews[(cid, due)] = None
                st["open_reviews"] = []
        self._write_reviews(tx)

    def _review(self, e: ReviewDue | ReviewHeld, cid: str, st: dict[str, Any]) -> None:
        """A review fallen due opens (unless held already, up to 60 days early); one held closes and
        counts as held on time or late."""
        grace = self.graces[st["grace_days"]]
        if isinstance(e, ReviewDue):
            due = e.effective_date.isoformat()
            if due in st["held_early"]:
                st["held_early"].remove(due)
            else:
                st["open_reviews"].append(due)
                self.reviews[(cid, due)] = (cid, due, st["cpam_code"], (e.effective_date + grace).isoformat())
            return
        due = e.due_date.isoformat()
        if due in st["open_reviews"]:
            st["open_reviews"].remove(due)
            self.reviews[(cid, due)] = None
        else:  # held before the nightly job recorded it due
            st["held_early"].append(due)
        self.held[st["cpam_code"]][0 if e.effective_date <= e.due_date + grace else 1] += 1

    def _write_reviews(self, tx: Tx) -> None:
        """The open reviews' changes of the batch: the last change of each review wins."""
        opened = [row for row in self.reviews.values() if row is not None]
        closed = [key for key, row in self.reviews.items() if row is None]
        tx.upsert(OPEN_REVIEWS, opened)
        tx.executemany(f"DELETE FROM {tx.t(OPEN_REVIEWS.name)} WHERE convention_id = ? AND due_date = ?", closed)
        self.reviews.clear()

    def reset(self, *, empty: bool) -> None:
        super().reset(empty=empty)
        self.money: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        self.held: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.buckets: dict[tuple[str, int], int] = defaultdict(int)
        self.reviews: dict[tuple[str, str], tuple[str, str, str, str] | None] = {}
        self.graces = _Graces()

    def flush(self, tx: Tx) -> None:
        """Convention rows, then the counters added up since the last flush."""
        _add(tx, MONEY, [(cpam, year, *v) for (cpam, year), v in sorted(self.money.items())])
        _add(tx, REVIEWS_HELD, [(cpam, *v) for cpam, v in sorted(self.held.items())])
        _add(tx, ATTAINMENTS, [(*key, n) for key, n in sorted(self.buckets.items())])
        self.money.clear()
        self.held.clear()
        self.buckets.clear()
        super().flush(tx)

    def row(self, cid: str, st: dict[str, Any]) -> tuple[Any, ...]:
        terminated = st["status"] == "terminated"
        fte = 0 if terminated else int(Option(st["option"]).fte * 1000)
        plan = (NO_PLAN, *[0] * FORECAST_YEARS) if terminated else (None,) * (FORECAST_YEARS + 1)
        return (cid, st["cpam_code"], st["status"], st["option"], st["tier"], fte, st["suspended_since"],
                orjson.dumps(st).decode(), *plan)  # fmt: skip


def _add(tx: Tx, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Add counters to the stored ones (a row per key, created at zero)."""
    t, key = tx.t(table.name), table.key
    counters = [c for c in table.column_names if c not in key]
    tx.executemany(
        f"INSERT INTO {t} ({', '.join(table.column_names)}) VALUES ({', '.join('?' * len(table.columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(f"{c} = {t}.{c} + excluded.{c}" for c in counters),
        rows,
    )


def _bucket(attainment_bp: int) -> int:
    """The rank in ``BUCKETS`` of an attainment in basis points (100 % and beyond: the last)."""
    return next((rank for rank, (_, hi, _) in enumerate(BUCKETS) if attainment_bp < hi), len(BUCKETS) - 1)


# ---------------------------------------------------------------------- queries
def _scope(cpams: Scope, params: list[Any], column: str = "cpam_code") -> str:
    in_scope = scope_condition(cpams, column, params)
    return "" if in_scope is None else f" WHERE {in_scope}"


def dashboard(store: ProjectionStore, today: date, cpams: Scope = None, *, remember: bool = True) -> dict[str, Any]:
    """Everything the portfolio dashboard shows, for the CPAMs in ``cpams`` (None: all).

    ``remember``: keep the plans it had to compute (False where a follower process alone writes the
    read models: it keeps them itself, ``plan_ahead``)."""
    first = today.year
    with store.reading_live(Portfolio) as tx:
        p: list[Any] = []
        scope = _scope(cpams, p)
        day = today.isoformat()
        queries = [
            (f"SELECT cpam_code, status, option, tier, COUNT(*), SUM(fte_milli) FROM {tx.t(CONVENTIONS.name)}{scope} "
             "GROUP BY cpam_code, status, option, tier ORDER BY cpam_code, status, option, tier", p),
            (f"SELECT cpam_code, year, due_cents, to_recover_cents, paid_cents, recovered_cents, open_cents "
             f"FROM {tx.t(MONEY.name)}{scope} ORDER BY year, cpam_code", p),
            (f"SELECT cpam_code, on_time, late FROM {tx.t(REVIEWS_HELD.name)}{scope}", p),
            ("SELECT cpam_code, SUM(CASE WHEN deadline < ? THEN 1 ELSE 0 END), "
             f"SUM(CASE WHEN deadline >= ? THEN 1 ELSE 0 END) FROM {tx.t(OPEN_REVIEWS.name)}{scope} GROUP BY cpam_code",
             [day, day, *p]),
            (f"SELECT cpam_code, bucket, n FROM {tx.t(ATTAINMENTS.name)}{scope} ORDER BY cpam_code, bucket", p),
            (f"SELECT convention_id, cpam_code, suspended_since FROM {tx.t(CONVENTIONS.name)} "
             "WHERE status = 'suspended'" + _also(cpams, p) + " ORDER BY suspended_since, convention_id", p),
            (f"SELECT cpam_code, {', '.join(f'SUM({c})' for c in PLAN_COLUMNS)} FROM {tx.t(CONVENTIONS.name)} "
             "WHERE plan_year = ?" + _also(cpams, p) + " GROUP BY cpam_code", [first, *p]),
            # Terminated conventions have no plan (their unpaid instalments are in open_cents).
            (f"SELECT convention_id, state FROM {tx.t(CONVENTIONS.name)} "
             f"WHERE (plan_year IS NULL OR (plan_year <> {NO_PLAN} AND plan_year <> ?))"
             + _also(cpams, p) + " ORDER BY convention_id", [first, *p]),
        ]  # fmt: skip
        counts, money, held, open_, attainment, suspended, planned, to_plan = tx.fetch_each(queries)
    reviews = _review_counts(held, open_)
    plans, unprocessable = _plans(to_plan, first)
    if plans and remember:
        _remember(store, first, plans)
    forecast, arrears = _forecast_totals(money, planned, plans, unprocessable, first)
    return {
        "today": today,
        "conventions": [
            {"cpam_code": c, "status": s, "option": o, "tier": ti, "count": int(n),
             "funded_etp": Decimal(int(f or 0)) / 1000}
            for c, s, o, ti, n, f in counts
        ],
        "money": [
            {"cpam_code": c, "year": y, "due": euros(a), "to_recover": euros(b), "paid": euros(pd),
             "recovered": euros(r)}
            for c, y, a, b, pd, r, _ in money
        ],
        "reviews": [
            {"cpam_code": c, "held_on_time": a, "held_late": b, "overdue": o, "pending": pn}
            for c, (a, b, o, pn) in sorted(reviews.items())
        ],
        "attainment_years_3_plus": [
            {"cpam_code": c, "bucket": BUCKETS[int(b)][2], "count": int(n)} for c, b, n in attainment if n
        ],
        "suspensions": [
            {"convention_id": i, "cpam_code": c, "since": date.fromisoformat(s),
             "days": (today - date.fromisoformat(s)).days}
            for i, c, s in suspended
        ],
        "forecast": forecast,
        "arrears": arrears,
        "unprocessable": _named(store, unprocessable),
    }  # fmt: skip


def _also(cpams: Scope, params: list[Any], column: str = "cpam_code") -> str:
    """The CPAM condition after a WHERE (its parameters are already in ``params``)."""
    in_scope = scope_condition(cpams, column, [])
    return "" if in_scope is None else f" AND {in_scope}"


def _plans(
    bases: Sequence[tuple[str, str]], first: int
) -> tuple[list[tuple[str, str, str, list[int]]], list[dict[str, Any]]]:
    """What the schedule still has to pay of each convention whose plan is not known for ``first``:
    (id, stored state, CPAM, cents per year), and the conventions the rules cannot project."""
    plans: list[tuple[str, str, str, list[int]]] = []
    unprocessable: list[dict[str, Any]] = []
    for cid, state in bases:
        try:
            st = orjson.loads(state)
            totals: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
            if st["terminated_on"] is None:
                _plan_future(st, first, date(first + FORECAST_YEARS - 1, 12, 31), totals)
            years = [cents(totals.get((st["cpam_code"], first + i), Decimal(0))) for i in range(FORECAST_YEARS)]
        except Exception as error:  # noqa: BLE001 - one convention must not hide the others' figures
            code, message = describe_error(error)
            unprocessable.append({"id": cid, "number": None, "cpam_code": _cpam_of(state), "code": code,
                                  "message": message, "open": _open_of(state)})  # fmt: skip
            continue
        plans.append((cid, state, st["cpam_code"], years))
    return plans, unprocessable


def plan_ahead(store: ProjectionStore, today: date, limit: int = 2_000) -> int:
    """Compute and keep the plans of up to ``limit`` conventions that lack them for this year (the
    projection follower's work when the log is quiet, so dashboards find them kept). Returns how many."""
    with store.reading_live(Portfolio) as tx:
        rows = tx.fetchall(
            f"SELECT convention_id, state FROM {tx.t(CONVENTIONS.name)} "
            f"WHERE plan_year IS NULL OR (plan_year <> {NO_PLAN} AND plan_year <> ?) LIMIT {int(limit)}",
            [today.year],
        )
    plans, _ = _plans(rows, today.year)  # one the rules cannot project stays to compute: the dashboard names it
    if plans:
        _remember(store, today.year, plans)
    return len(plans)


def _remember(store: ProjectionStore, first: int, plans: list[tuple[str, str, str, list[int]]]) -> None:
    """Keep the plans computed for the next dashboards: only on rows whose state is still the one
    they were computed from (the read model may have moved on meanwhile, emptying the plan)."""
    with store.transaction() as tx:
        store.resolve(tx, Portfolio.name, Portfolio.tables)
        tx.executemany(
            f"UPDATE {tx.t(CONVENTIONS.name)} SET plan_year = ?, {', '.join(f'{c} = ?' for c in PLAN_COLUMNS)} "
            "WHERE convention_id = ? AND state = ?",
            [(first, *years, cid, state) for cid, state, _, years in plans],
        )


def _forecast_totals(
    money: list[tuple[Any, ...]],
    planned: list[tuple[Any, ...]],
    plans: list[tuple[str, str, str, list[int]]],
    unprocessable: list[dict[str, Any]],
    first: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The forecast per CPAM and year, and the arrears per CPAM, in euros.

    Instalments already recorded count at their recorded amount unless paid or cancelled
    (``open_cents`` by due year); unpaid ones due before this year are ``arrears``, not a forecast
    year. Then what the schedule still has to pay (the plans). A convention the rules cannot
    project counts for nothing, its recorded instalments included: it is named apart.
    """
    last = first + FORECAST_YEARS - 1
    totals: dict[tuple[str, int], int] = defaultdict(int)
    late: dict[str, int] = defaultdict(int)
    for cpam, year, *_, open_cents in money:
        if year < first:
            late[cpam] += int(open_cents)
        elif year <= last:
            totals[(cpam, year)] += int(open_cents)
    for cpam, *years in planned:
        for i, amount in enumerate(years):
            totals[(cpam, first + i)] += int(amount or 0)
    for _, _, cpam, years in plans:
        for i, amount in enumerate(years):
            totals[(cpam, first + i)] += amount
    for u in unprocessable:
        for amount, due in u.pop("open"):
            year = int(due[:4])
            if year < first:
                late[u["cpam_code"]] -= amount
            elif year <= last:
                totals[(u["cpam_code"], year)] -= amount
    forecast = [{"cpam_code": c, "year": y, "amount": euros(a)} for (c, y), a in sorted(totals.items()) if a]
    arrears = [{"cpam_code": c, "amount": euros(a)} for c, a in sorted(late.items()) if a]
    return forecast, arrears


def _review_counts(held: list[tuple[Any, ...]], open_: list[tuple[Any, ...]]) -> dict[str, list[int]]:
    """Per CPAM: reviews held on time, held late, overdue and pending (not held, deadline to come)."""
    reviews: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c, on_time, late in held:
        reviews[c][0:2] = [int(on_time), int(late)]
    for c, overdue, pending in open_:
        reviews[c][2:4] = [int(overdue), int(pending)]
    return reviews


def _open_of(state: str) -> list[tuple[int, str]]:
    """The (cents, due date) of a stored state's instalments not yet paid nor cancelled."""
    try:
        return [(int(amount), due) for amount, due in orjson.loads(state)["open"].values()]
    except Exception:  # noqa: BLE001 - the state itself may be what cannot be read
        return []


def forecast(states: Sequence[dict[str, Any]], today: date, years: int = 5) -> list[dict[str, Any]]:
    """Aid still to pay per CPAM and calendar year (this year and the next ``years - 1``), assuming
    full attainment from year 3. Raises on a convention the rules cannot project (``dashboard``
    isolates it instead)."""
    totals: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for st in states:
        _forecast_one(st, today.year, today.year + years - 1, totals, defaultdict(Decimal))
    return [{"cpam_code": c, "year": y, "amount": a} for (c, y), a in sorted(totals.items()) if a]


def _forecast_one(
    st: dict[str, Any], first: int, last: int, totals: dict[tuple[str, int], Decimal], late: dict[str, Decimal]
) -> None:
    cpam = st["cpam_code"]
    for amount, due in st["open"].values():
        y = int(due[:4])
        if y < first:
            late[cpam] += euros(amount)
        elif y <= last:
            totals[(cpam, y)] += euros(amount)
    if st["terminated_on"] is None:
        _plan_future(st, first, date(last, 12, 31), totals)


def _cpam_of(state: str) -> str | None:
    try:
        return orjson.loads(state)["cpam_code"]
    except Exception:  # noqa: BLE001 - the state itself may be what cannot be read
        return None


def _named(store: ProjectionStore, unprocessable: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conventions' numbers, from the calendar read model (the portfolio does not keep them)."""
    if not unprocessable:
        return unprocessable
    try:
        with store.reading_live(Calendar) as tx:
            rows = tx.select_in(CALENDAR_CONVENTIONS, "convention_id", [u["id"] for u in unprocessable],
                                "convention_id, number")  # fmt: skip
    except LookupError:  # the calendar was never built: ids only
        rows = []
    numbers = dict(rows)
    return [{**u, "number": numbers.get(u["id"])} for u in unprocessable]


def _plan_future(st: dict[str, Any], first: int, horizon: date, totals: dict[tuple[str, int], Decimal]) -> None:
    """What the schedule (``plan_year``) still has to pay of each contract year up to ``horizon``."""
    fd = date.fromisoformat
    pauses = tuple(Pause(fd(s), e and fd(e)) for s, e in st["pauses"])
    hired = st["hired_on"] and fd(st["hired_on"])
    tier, modulation = Tier(st["tier"]), Modulation(st["modulation"])
    recorded = set(st["open"]) | set(st["closed"].split())
    years = {int(n): known for n, known in st["years"].items()}  # started years carry their start date
    starts = {n: fd(known[0]) for n, known in years.items()}
    for n, start, end in contract_years(fd(st["effective_from"]), pauses, st["pause_clock"], starts):
        known = years.get(n)
        if known is not None and recorded.issuperset(year_instalment_ids(n, known[1])):
            continue  # a started year whose instalments are all recorded has nothing left
        if start > horizon:
            return
        if known is not None:
            _, regime, full = known
            full = Decimal(full)
        else:
            option = Option(_option_on(st, start))
            regime, full = _tier_amount(option, tier, n, start)
        for p in _plan_year(n, start, end, regime, full, hired if n == 1 else None, modulation):
            if p.instalment_id in recorded or p.due_date is None or p.amount is None:
                continue
            if first <= p.due_date.year <= horizon.year:
                totals[(st["cpam_code"], p.due_date.year)] += p.amount


# The forecast asks the same questions for many conventions (same effective dates, same tiers):
# the rules' answers are memoised, not copied.
@lru_cache(maxsize=10_000)
def _tier_amount(option: Option, tier: Tier, n: int, start: date) -> tuple[str, Decimal]:
    return tier_amount(option, tier, n, start)


@lru_cache(maxsize=200_000)
def _plan_year(n: int, start: date, end: date | None, regime: str, full: Decimal, hired: date | None,
               modulation: Modulation) -> tuple[PlannedInstalment, ...]:  # fmt: skip
    """The year's plan at full attainment (``hired`` matters for year 1 only, R6)."""
    return tuple(plan_year(
        year=n, start=start, end=end, regime=regime, full_amount=full, hired_on=hired,
        attainment=Decimal(1) if n >= FIRST_MODULATED_YEAR else None, attainment_recorded_on=end,
        modulation=modulation,
    ))  # fmt: skip


def _option_on(st: dict[str, Any], day: date) -> str:
    """The option of a year starting on ``day``: the latest started year's, then amendments."""
    option = st["option"]
    for start, changed in st["options"]:
        if date.fromisoformat(start) <= day:
            option = changed
    return option
