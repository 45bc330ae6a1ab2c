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

CONVENTIONS = Table.of(
    "pf_conventions",
    "convention_id TEXT NOT NULL, cpam_code TEXT NOT NULL, status TEXT NOT NULL, option TEXT NOT NULL, "
    "tier TEXT NOT NULL, fte_milli INTEGER NOT NULL, suspended_since TEXT, state TEXT NOT NULL",
    key="convention_id",
    indexes="status",
)
MONEY = Table.of(
    "pf_money",
    "cpam_code TEXT NOT NULL, year INTEGER NOT NULL, due_cents BIGINT NOT NULL, "
    "to_recover_cents BIGINT NOT NULL, paid_cents BIGINT NOT NULL, recovered_cents BIGINT NOT NULL",
    key="cpam_code, year",
)
# reviews fallen due (ReviewDue); deadline = due date + grace days
REVIEWS = Table.of(
    "pf_reviews",
    "convention_id TEXT NOT NULL, due_date TEXT NOT NULL, cpam_code TEXT NOT NULL, deadline TEXT NOT NULL",
    key="convention_id, due_date",
    append_only=True,
)
# reviews held (ReviewHeld), possibly before they fell due
HELD = Table.of(
    "pf_reviews_held",
    "convention_id TEXT NOT NULL, due_date TEXT NOT NULL, cpam_code TEXT NOT NULL, deadline TEXT NOT NULL, "
    "held_on TEXT NOT NULL",
    key="convention_id, due_date",
    append_only=True,
)
ATTAINMENTS = Table.of(
    "pf_attainments",
    "convention_id TEXT NOT NULL, year INTEGER NOT NULL, cpam_code TEXT NOT NULL, attainment_bp INTEGER NOT NULL",
    key="convention_id, year",
    append_only=True,
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
    tables = (CONVENTIONS, MONEY, REVIEWS, HELD, ATTAINMENTS)

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        self.load(tx, (cid for _, _, cid, _ in items))
        money, cache, touched, graces = self.money, self.cache, self.touched, self.graces
        reviews_due: list[tuple[Any, ...]] = []
        reviews_held: list[tuple[Any, ...]] = []
        attainments: list[tuple[Any, ...]] = []
        for _, e, cid, _ in items:
            kind = type(e)
            if kind is Signed:
                self.create(cid, {
                    "cpam_code": e.cpam_code, "status": status_after(kind), "option": e.option.value,
                    "tier": e.tier.value, "suspended_since": None, "effective_from": e.effective_from.isoformat(),
                    "pause_clock": e.policies.pause_clock, "modulation": e.policies.modulation.value,
                    "grace_days": e.policies.review_grace_days, "options": [], "pauses": [], "hired_on": None,
                    "years": {}, "open": {}, "closed": "", "terminated_on": None,
                })  # fmt: skip
                continue
            st = cache.get(cid)
            if st is None:
                continue
            cpam = st["cpam_code"]
            # Most frequent first. Reviews and attainments only add rows: the state is not marked touched.
            if kind is ReviewDue:
                due = e.effective_date
                grace = graces[st["grace_days"]]
                reviews_due.append((cid, due.isoformat(), cpam, (due + grace).isoformat()))
                continue
            if kind is ReviewHeld:
                due = e.due_date
                grace = graces[st["grace_days"]]
                held_on = e.effective_date.isoformat()
                reviews_held.append((cid, due.isoformat(), cpam, (due + grace).isoformat(), held_on))
                continue
            if kind is AttainmentRecorded:
                if e.year >= FIRST_MODULATED_YEAR:  # the dashboard's attainments of modulated years
                    attainments.append((cid, e.year, cpam, int(e.attainment * 10000)))
                continue
            touched.add(cid)
            st["status"] = status_after(kind, st["status"])
            if kind is InstalmentDue:
                amount = cents(e.amount)
                st["open"][e.instalment_id] = [amount, e.due_date.isoformat()]
                money[(cpam, e.due_date.year)][0 if amount >= 0 else 1] += abs(amount)
            elif kind is PaymentRecorded:
                amount = cents(e.amount)
                if st["open"].pop(e.instalment_id, None) is not None:
                    st["closed"] += " " + e.instalment_id
                money[(cpam, e.effective_date.year)][2 if amount >= 0 else 3] += abs(amount)
            elif kind is YearStarted:
                st["years"][str(e.year)] = [e.effective_date.isoformat(), e.regime, str(e.full_amount)]
                st["option"] = e.option.value
            elif kind is InstalmentCancelled:
                if (inst := st["open"].pop(e.instalment_id, None)) is not None:
                    st["closed"] += " " + e.instalment_id
                    money[(cpam, int(inst[1][:4]))][0 if inst[0] >= 0 else 1] -= abs(inst[0])
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
        for table, rows in ((REVIEWS, reviews_due), (HELD, reviews_held), (ATTAINMENTS, attainments)):
            tx.insert(table, rows)

    def reset(self, *, empty: bool) -> None:
        super().reset(empty=empty)
        self.money: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.graces = _Graces()

    def flush(self, tx: Tx) -> None:
        """Convention rows, then the money counters added up since the last flush."""
        t = tx.t(MONEY.name)
        tx.executemany(
            f"INSERT INTO {t} (cpam_code, year, due_cents, to_recover_cents, paid_cents, recovered_cents) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cpam_code, year) DO UPDATE SET "
            f"due_cents = {t}.due_cents + excluded.due_cents, "
            f"to_recover_cents = {t}.to_recover_cents + excluded.to_recover_cents, "
            f"paid_cents = {t}.paid_cents + excluded.paid_cents, "
            f"recovered_cents = {t}.recovered_cents + excluded.recovered_cents",
            [(cpam, year, *v) for (cpam, year), v in sorted(self.money.items())],
        )
        self.money.clear()
        super().flush(tx)

    def row(self, cid: str, st: dict[str, Any]) -> tuple[Any, ...]:
        fte = 0 if st["status"] == "terminated" else int(Option(st["option"]).fte * 1000)
        return (cid, st["cpam_code"], st["status"], st["option"], st["tier"], fte, st["suspended_since"],
                orjson.dumps(st).decode())  # fmt: skip


# ---------------------------------------------------------------------- queries
def _scope(cpams: Scope, params: list[Any], column: str = "cpam_code") -> str:
    in_scope = scope_condition(cpams, column, params)
    return "" if in_scope is None else f" WHERE {in_scope}"


def dashboard(store: ProjectionStore, today: date, cpams: Scope = None) -> dict[str, Any]:
    """Everything the portfolio dashboard shows, for the CPAMs in ``cpams`` (None: all)."""
    with store.reading_live(Portfolio) as tx:
        p: list[Any] = []
        scope = _scope(cpams, p)
        counts = tx.fetchall(
            f"SELECT cpam_code, status, option, tier, COUNT(*), SUM(fte_milli) FROM {tx.t(CONVENTIONS.name)}{scope} "
            "GROUP BY cpam_code, status, option, tier ORDER BY cpam_code, status, option, tier",
            p,
        )
        money = tx.fetchall(
            f"SELECT cpam_code, year, due_cents, to_recover_cents, paid_cents, recovered_cents "
            f"FROM {tx.t(MONEY.name)}{scope} ORDER BY year, cpam_code",
            p,
        )
        reviews = _review_counts(tx, today, cpams)
        attainment = _attainment_buckets(tx, cpams)
        sp: list[Any] = []
        suspended = tx.fetchall(
            f"SELECT convention_id, cpam_code, suspended_since FROM {tx.t(CONVENTIONS.name)} WHERE status = 'suspended'"
            + _scope(cpams, sp).replace(" WHERE", " AND")
            + " ORDER BY suspended_since, convention_id",
            sp,
        )
        # Terminated conventions too: their settlement and unpaid instalments are still to pay.
        bases = tx.fetchall(
            f"SELECT convention_id, state FROM {tx.t(CONVENTIONS.name)}{scope} ORDER BY convention_id", p
        )
    planned, arrears, unprocessable = _forecast(bases, today)
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
            for c, y, a, b, pd, r in money
        ],
        "reviews": [
            {"cpam_code": c, "held_on_time": a, "held_late": b, "overdue": o, "pending": pn}
            for c, (a, b, o, pn) in sorted(reviews.items())
        ],
        "attainment_years_3_plus": [
            {"cpam_code": c, "bucket": BUCKETS[int(b)][2], "count": int(n)} for c, b, n in attainment
        ],
        "suspensions": [
            {"convention_id": i, "cpam_code": c, "since": date.fromisoformat(s),
             "days": (today - date.fromisoformat(s)).days}
            for i, c, s in suspended
        ],
        "forecast": planned,
        "arrears": arrears,
        "unprocessable": _named(store, unprocessable),
    }  # fmt: skip


def _review_counts(tx: Tx, today: date, cpams: Scope) -> dict[str, list[int]]:
    """Per CPAM: reviews held on time, held late, overdue and pending (not held, deadline to come)."""
    p: list[Any] = []
    scope = _scope(cpams, p)
    held = tx.fetchall(
        "SELECT cpam_code, SUM(CASE WHEN held_on <= deadline THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN held_on > deadline THEN 1 ELSE 0 END) FROM {tx.t(HELD.name)}{scope} GROUP BY cpam_code",
        p,
    )
    r, h, t = tx.t(REVIEWS.name), tx.t(HELD.name), today.isoformat()
    # A terminated convention's reviews never held are no longer anyone's work (as in the work queue).
    open_ = tx.fetchall(
        "SELECT r.cpam_code, SUM(CASE WHEN r.deadline < ? THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN r.deadline >= ? THEN 1 ELSE 0 END) FROM {r} r LEFT JOIN {h} h "
        f"ON h.convention_id = r.convention_id AND h.due_date = r.due_date JOIN {tx.t(CONVENTIONS.name)} c "
        "ON c.convention_id = r.convention_id WHERE h.held_on IS NULL AND c.status <> 'terminated'"
        + _scope(cpams, [], "r.cpam_code").replace(" WHERE", " AND")
        + " GROUP BY r.cpam_code",
        [t, t, *p],
    )
    reviews: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c, on_time, late in held:
        reviews[c][0:2] = [int(on_time), int(late)]
    for c, overdue, pending in open_:
        reviews[c][2:4] = [int(overdue), int(pending)]
    return reviews


def _attainment_buckets(tx: Tx, cpams: Scope) -> list[tuple[Any, ...]]:
    """(cpam, bucket rank, count) of the attainments of modulated years (from year 3, R4)."""
    p: list[Any] = []
    scope = _scope(cpams, p)
    # Buckets by their rank, labelled by the caller: ordered as numbers (0-24, 25-49, ..., 100), not as text.
    case = " ".join(f"WHEN attainment_bp < {hi} THEN {rank}" for rank, (_, hi, _) in enumerate(BUCKETS))
    case += f" ELSE {len(BUCKETS) - 1}"
    return tx.fetchall(
        f"SELECT cpam_code, CASE {case} END AS bucket, COUNT(*) FROM {tx.t(ATTAINMENTS.name)}{scope} "
        f"GROUP BY cpam_code, CASE {case} END ORDER BY cpam_code, 2",
        p,
    )


def forecast(states: Sequence[dict[str, Any]], today: date, years: int = 5) -> list[dict[str, Any]]:
    """Aid still to pay per CPAM and calendar year (this year and the next ``years - 1``), assuming
    full attainment from year 3. Raises on a convention the rules cannot project (``dashboard``
    isolates it instead)."""
    totals: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for st in states:
        _forecast_one(st, today.year, today.year + years - 1, totals, defaultdict(Decimal))
    return [{"cpam_code": c, "year": y, "amount": a} for (c, y), a in sorted(totals.items()) if a]


def _forecast(
    bases: Sequence[tuple[str, str]], today: date, years: int = 5
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The forecast, the arrears and the conventions it could not compute, from ``(id, state)``.

    Instalments already recorded count at their recorded amount unless paid or cancelled; unpaid
    ones due before this year are ``arrears`` (per CPAM), not a forecast year. Conventions under an
    open suspension are projected only up to what is already dated. A convention whose stored
    facts the rules cannot project (an amendment to an option its regime does not offer...) counts
    for nothing and is named in ``unprocessable``: the others are still shown.
    """
    first, last = today.year, today.year + years - 1
    totals: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    late: dict[str, Decimal] = defaultdict(Decimal)
    unprocessable: list[dict[str, Any]] = []
    for cid, state in bases:
        mine: dict[tuple[str, int], Decimal] = defaultdict(Decimal)  # merged only once computed whole
        mine_late: dict[str, Decimal] = defaultdict(Decimal)
        try:
            st = orjson.loads(state)
            _forecast_one(st, first, last, mine, mine_late)
        except Exception as error:  # noqa: BLE001 - one convention must not hide the others' figures
            code, message = describe_error(error)
            unprocessable.append({"id": cid, "number": None, "cpam_code": _cpam_of(state), "code": code,
                                  "message": message})  # fmt: skip
            continue
        for key, amount in mine.items():
            totals[key] += amount
        for cpam, amount in mine_late.items():
            late[cpam] += amount
    planned = [{"cpam_code": c, "year": y, "amount": a} for (c, y), a in sorted(totals.items()) if a]
    arrears = [{"cpam_code": c, "amount": a} for c, a in sorted(late.items()) if a]
    return planned, arrears, unprocessable


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
