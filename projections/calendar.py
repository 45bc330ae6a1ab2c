"""Calendar and work queue: what falls due next on each convention, and what operators must do.

Per convention we keep a ``domain.due.CalendarState`` (as JSON) and store its ``next_due_on()`` in
an indexed column, so the scheduler asks ``conventions_due(store, until)`` instead of loading every
convention. Alerts (attainment missing, review overdue, no assistant, training deadline, balance
waiting for attainment, end of term) are rows with the date from which they show, indexed too.

Computing ``next_due_on`` and the alerts costs far more than applying an event, so during a long
catch-up a touched convention is only marked ``dirty`` (its state saved) and both are computed in
the batch that reaches the end of the log. ``conventions_due`` returns dirty conventions as due:
the scheduler may then tick one for nothing (``record_due`` is idempotent), never miss one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import orjson
import structlog

from domain import events as ev
from domain.amounts import FIRST_MODULATED_YEAR
from domain.calendar import add_months, end_of_term
from domain.convention import SECRETARY_DELAY_MONTHS
from domain.due import CalendarState
from domain.french import dd_mm_yyyy as d
from domain.schedule import attainment_balance
from domain.values import ALERT_POLICY, Policies
from projections.base import Item, StatefulModel
from projections.engine.store import ProjectionStore, Table, Tx
from projections.scope import Scope, scope_condition

log = structlog.get_logger()

CONVENTIONS = Table.of(
    "cal_conventions",
    "convention_id TEXT NOT NULL, number TEXT NOT NULL, cpam_code TEXT NOT NULL, status TEXT NOT NULL, "
    "next_due_on TEXT, dirty INTEGER NOT NULL, state TEXT NOT NULL",
    key="convention_id",
    indexes="next_due_on; dirty",
)
ALERTS = Table.of(
    "cal_alerts",
    "convention_id TEXT NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL, number TEXT NOT NULL, "
    "cpam_code TEXT NOT NULL, date TEXT NOT NULL, starts_on TEXT NOT NULL, overdue_on TEXT",
    key="convention_id, kind, ref",
    indexes="starts_on; cpam_code, starts_on",
)

# Events neither CalendarState nor the alerts look at (a unit test checks CalendarState ignores them):
# skipped without touching the convention. Payments are the most frequent event of the log.
IGNORED = frozenset({ev.PaymentRecorded, ev.ObjectiveSet, ev.OptionChanged, ev.InstalmentCancelled})


@dataclass
class Entry:
    """What the calendar knows of one convention."""

    number: str
    cpam_code: str
    cal: CalendarState
    status: str = ev.status_after(ev.Signed)
    grace_days: int = Policies().review_grace_days  # the convention's own, from its Signed (R11)
    term: int = 1
    training_deadline: date | None = None  # of the assistant in post, while not trained
    held: set[date] = field(default_factory=set)  # due dates of reviews held before they fell due
    pending: set[date] = field(default_factory=set)  # due dates of the reviews raised, not held
    year_starts: dict[int, date] = field(default_factory=dict)
    next_due_on: date | None = None
    secretary_due: date | None = None  # R28: a new secretary due by then, until declared

    def dump(self) -> str:
        """The entry as JSON (orjson writes dates as ISO text itself: a rebuild dumps every entry)."""
        c = self.cal
        cal = {
            "effective_from": c.effective_from, "pause_clock": c.pause_clock,
            "pauses": [[p.start, p.end] for p in c.pauses],
            "years_started": c.years_started, "first_regime": c.first_regime, "reviews_raised": c.reviews_raised,
            "first_hired_on": c.first_hired_on, "attainments": dict(sorted(c.attainments.items())),
            "instalments": sorted(c.instalments), "terminated_on": c.terminated_on, "term": c.term,
        }  # fmt: skip
        return orjson.dumps({
            "number": self.number, "cpam_code": self.cpam_code, "status": self.status, "grace_days": self.grace_days,
            "term": self.term, "training_deadline": self.training_deadline, "held": sorted(self.held),
            "pending": sorted(self.pending), "year_starts": dict(sorted(self.year_starts.items())), "cal": cal,
            "secretary_due": self.secretary_due,
        }, option=orjson.OPT_NON_STR_KEYS).decode()  # fmt: skip

    @classmethod
    def load(cls, text: str, next_due_on: str | None) -> Entry:
        s = orjson.loads(text)
        return cls(
            s["number"], s["cpam_code"], CalendarState.from_json(s["cal"]), s["status"], s["grace_days"], s["term"],
            s["training_deadline"] and date.fromisoformat(s["training_deadline"]),
            {date.fromisoformat(x) for x in s["held"]}, {date.fromisoformat(x) for x in s["pending"]},
            {int(k): date.fromisoformat(v) for k, v in s["year_starts"].items()},
            next_due_on and date.fromisoformat(next_due_on),
            s.get("secretary_due") and date.fromisoformat(s["secretary_due"]),  # absent from older entries
        )  # fmt: skip

    def apply(self, e: ev.Event) -> None:
        self.cal.apply(e)
        kind = type(e)
        if kind is ev.InstalmentDue or kind is ev.AttainmentRecorded:  # frequent, and only CalendarState's
            return
        self.status = ev.status_after(kind, self.status)
        if kind is ev.ReviewDue:  # both sets stay small: a date leaves one when it would enter the other
            if e.effective_date in self.held:
                self.held.discard(e.effective_date)
            else:
                self.pending.add(e.effective_date)
        elif kind is ev.ReviewHeld:
            if e.due_date in self.pending:
                self.pending.discard(e.due_date)
            else:
                self.held.add(e.due_date)
        elif kind is ev.YearStarted:
            self.year_starts[e.year] = e.effective_date
        elif kind is ev.AssistantHired:
            self.training_deadline = e.training_deadline
            if e.was_practice_secretary:
                self.secretary_due = add_months(e.effective_date, SECRETARY_DELAY_MONTHS)
        elif kind is ev.SecretaryHired:
            self.secretary_due = None
        elif kind is ev.AssistantLeft or kind is ev.TrainingCompleted:
            self.training_deadline = None
        elif kind is ev.Renewed:
            self.term = max(self.term, e.term)

    def alerts(self) -> list[tuple[str, str, date, date, date | None]]:
        """(kind, ref, date, shows from, overdue from) of what an operator must see, when the
        domain's ``ALERT_POLICY`` says so."""
        c, policy = self.cal, ALERT_POLICY
        if self.status == "terminated":
            return []
        out: list[tuple[str, str, date, date, date | None]] = []
        if c.first_hired_on is None:
            when = add_months(c.effective_from, policy.no_assistant_months)
            out.append(("no_assistant", "", when, when, when))
        if self.training_deadline is not None and self.status == "active":
            dl = self.training_deadline
            out.append(("training_deadline", "", dl, dl - policy.training_warning, policy.overdue_from(dl)))
        if self.secretary_due is not None:  # R28: shown from the hire, overdue after 6 months
            due = self.secretary_due
            shows = add_months(due, -SECRETARY_DELAY_MONTHS)
            out.append(("secretary_replacement", "", due, shows, policy.overdue_from(due)))
        for due in sorted(self.pending):
            out.append(("review", due.isoformat(), due, due, policy.overdue_from(due, self.grace_days)))
        # Attainment is asked for from year 3 only: years 1 and 2 are paid in full, whatever the
        # patient list did (R4), so no operator must chase a figure for them.
        for year in range(FIRST_MODULATED_YEAR, c.years_started + 1):
            if year in c.attainments:
                continue
            end = self.year_starts.get(year + 1) or c.anniversary(year)
            if end is None:
                continue
            late = policy.overdue_from(end, self.grace_days)
            out.append(("attainment_missing", str(year), end, end, late))
            if attainment_balance(year) not in c.instalments:
                out.append(("balance_waiting", str(year), end, end, late))
        end = end_of_term(c.effective_from, self.term, c.pauses, c.pause_clock)
        if end is not None:
            out.append(("end_of_term", str(self.term), end, end - policy.end_of_term_warning, None))
        return out


MESSAGES = {
    "no_assistant": f"Aucun assistant embauché {ALERT_POLICY.no_assistant_months} mois après la prise d'effet "
    "(depuis le {date}).",
    "training_deadline": "Formation de l'assistant à achever avant le {date}.",
    "training_deadline!": "Formation de l'assistant non achevée : échéance du {date} dépassée.",
    "review": "Point semestriel dû le {date} à tenir.",
    "review!": "Point semestriel dû le {date} non tenu : en retard.",
    "attainment_missing": "Atteinte de l'année {ref} à saisir (année terminée le {date}).",
    "attainment_missing!": "Atteinte de l'année {ref} manquante : année terminée le {date}, en retard.",
    "balance_waiting": "Solde de l'année {ref} en attente de l'atteinte (année terminée le {date}).",
    "balance_waiting!": "Solde de l'année {ref} bloqué : atteinte non saisie depuis le {date}.",
    "end_of_term": "Fin de la période {ref} le {date} : reconduction tacite sauf résiliation.",
    "secretary_replacement": "L'assistant était la secrétaire du cabinet : nouvelle secrétaire à embaucher "
    "avant le {date} (à déclarer).",
    "secretary_replacement!": "Nouvelle secrétaire non déclarée : échéance du {date} dépassée.",
}


class Calendar(StatefulModel[Entry]):
    """One ``Entry`` per convention, cached and written like every stateful read model (``base``);
    what differs is when the costly part is computed (see the module docstring)."""

    name = "calendar"
    main = CONVENTIONS
    tables = (CONVENTIONS, ALERTS)
    state_columns = "state, next_due_on"
    settling = False  # this flush computes the next due dates and alerts (the log is caught up)

    def decode(self, state: str, *more: Any) -> Entry:
        return Entry.load(state, *more)

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        self.load(tx, (cid for _, _, cid, _ in items))
        cache, touched = self.cache, self.touched
        for _, e, cid, _ in items:
            kind = type(e)
            if kind in IGNORED:
                continue
            if kind is ev.Signed:
                cache[cid] = Entry(
                    e.number, e.cpam_code, CalendarState.from_signed(e), grace_days=e.policies.review_grace_days
                )
            else:
                entry = cache.get(cid)
                if entry is None:
                    continue
                entry.apply(e)
            touched.add(cid)

    def finish(self, tx: Tx, caught_up: bool) -> None:
        """Before the log is caught up, states are saved and marked dirty; once it is, the dirty
        ones of earlier batches are computed with the touched ones."""
        self.settling = caught_up
        if caught_up:
            dirty = {r[0] for r in tx.fetchall(f"SELECT convention_id FROM {tx.t(CONVENTIONS.name)} WHERE dirty = 1")}
            self.load(tx, dirty)
            self.touched |= dirty
        super().finish(tx, caught_up)

    def write(self, tx: Tx, ids: list[str]) -> None:
        dirty = not self.settling
        rows, alerts, computed = [], [], []
        for cid in ids:
            entry = self.cache[cid]
            unprocessable = False
            if not dirty:
                try:
                    next_due_on, its_alerts = entry.cal.next_due_on(), entry.alerts()
                except Exception as error:  # noqa: BLE001 - one convention must not stop the read model
                    # Left "being recomputed" with its last alerts: conventions_due returns it, so the
                    # nightly run tries it (and records its failure for an operator if it fails too).
                    code, message = describe_error(error)
                    log.warning("calendar.unprocessable", convention_id=cid, number=entry.number, code=code,
                                message=message)  # fmt: skip
                    unprocessable = True
                else:
                    entry.next_due_on = next_due_on
                    computed.append(cid)
                    for kind, ref, when, starts, overdue in its_alerts:
                        alerts.append((cid, kind, ref, entry.number, entry.cpam_code, when.isoformat(),
                                       starts.isoformat(), overdue and overdue.isoformat()))  # fmt: skip
            nxt = entry.next_due_on and entry.next_due_on.isoformat()
            row_dirty = int(dirty or unprocessable)
            rows.append((cid, entry.number, entry.cpam_code, entry.status, nxt, row_dirty, entry.dump()))
        tx.upsert(CONVENTIONS, rows)
        if not dirty:
            tx.delete_keys(ALERTS, "convention_id", computed)
            tx.upsert(ALERTS, alerts)


def describe_error(error: BaseException) -> tuple[str, str]:
    """(code, message) of what went wrong with one convention: a domain error's own code, or the
    exception's class for anything else (a stored fact the rules cannot handle)."""
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if isinstance(code, str) and isinstance(message, str):
        return code, message
    return type(error).__name__, str(error) or type(error).__name__


# ---------------------------------------------------------------------- queries
def conventions_due(store: ProjectionStore, until: date) -> list[UUID]:
    """Conventions with something to record on or before ``until`` (index range scan), plus those
    whose date is being recomputed (dirty): ticking them is harmless."""
    with store.reading_live(Calendar) as tx:
        t = tx.t(CONVENTIONS.name)
        rows = tx.fetchall(
            f"SELECT convention_id FROM {t} WHERE next_due_on <= ? UNION SELECT convention_id FROM {t} WHERE dirty = 1",
            [until.isoformat()],
        )
    return sorted(UUID(r[0]) for r in rows)


def next_due(store: ProjectionStore, convention_id: UUID | str) -> dict[str, Any] | None:
    """What falls due next on one convention, and its open alerts (all dates)."""
    with store.reading_live(Calendar) as tx:
        rows = tx.fetchall(
            f"SELECT number, cpam_code, status, next_due_on, dirty FROM {tx.t(CONVENTIONS.name)} "
            "WHERE convention_id = ?",
            [str(convention_id)],
        )
        if not rows:
            return None
        alerts = tx.fetchall(
            f"SELECT kind, ref, date, starts_on, overdue_on FROM {tx.t(ALERTS.name)} "
            "WHERE convention_id = ? ORDER BY date",
            [str(convention_id)],
        )
    number, cpam, status, nxt, dirty = rows[0]
    return {
        "convention_id": str(convention_id), "number": number, "cpam_code": cpam, "status": status,
        "next_due_on": nxt and date.fromisoformat(nxt), "recomputing": bool(dirty),
        "alerts": [{"kind": k, "ref": r, "date": date.fromisoformat(w), "shows_from": date.fromisoformat(s),
                    "overdue_from": o and date.fromisoformat(o)} for k, r, w, s, o in alerts],
    }  # fmt: skip


def work_queue(store: ProjectionStore, today: date, cpams: Scope = None) -> list[dict[str, Any]]:
    """The operator's whole work queue on ``today`` (``work_queue_page`` without a page)."""
    return work_queue_page(store, today, cpams)[1]


QUEUE_COLUMNS = "convention_id, number, cpam_code, kind, ref, date, overdue_on, code, message, last_failed_on, runs"


def work_queue_page(
    store: ProjectionStore,
    today: date,
    cpams: Scope = None,
    *,
    overdue_only: bool = False,
    kind: str | None = None,
    page: int = 1,
    per_page: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """The operator's work queue on ``today``: (how many items, the items of ``page``), overdue first,
    then by date, CPAM, number and kind; French messages. Filtered, sorted and paged by the
    database, so a page costs the same whatever the size of the queue.

    Besides the calendar's alerts, each convention the nightly run could not process
    (``NightlyFailures``) is an overdue item of kind ``nightly_failure`` with the error's message."""
    t = today.isoformat()
    with store.reading_live(Calendar) as tx:
        union, params = _queue_union(tx, t, cpams)
        where, extra = ["1 = 1"], []
        if kind:
            where.append("kind = ?")
            extra.append(kind)
        if overdue_only:
            where.append("overdue = 1")
        query = f"FROM ({union}) q WHERE {' AND '.join(where)}"
        total = int(tx.fetchall(f"SELECT COUNT(*) {query}", [*params, *extra])[0][0])
        order = " ORDER BY overdue DESC, date, cpam_code, number, kind, ref, convention_id"
        limit = "" if per_page is None else " LIMIT ? OFFSET ?"
        window = [] if per_page is None else [per_page, (max(page, 1) - 1) * per_page]
        rows = tx.fetchall(f"SELECT {QUEUE_COLUMNS}, overdue {query}{order}{limit}", [*params, *extra, *window])
    return total, [_queue_item(row) for row in rows]


def _queue_union(tx: Tx, today: str, cpams: Scope) -> tuple[str, list[Any]]:
    """The alerts shown on ``today`` and the nightly failures, as one relation (same columns)."""
    params: list[Any] = [today, today]
    in_scope = scope_condition(cpams, "cpam_code", params)
    sql = (
        "SELECT convention_id, number, cpam_code, kind, ref, date, overdue_on, NULL AS code, NULL AS message, "
        "NULL AS last_failed_on, 0 AS runs, CASE WHEN overdue_on IS NOT NULL AND overdue_on <= ? THEN 1 ELSE 0 END "
        f"AS overdue FROM {tx.t(ALERTS.name)} WHERE starts_on <= ?" + ("" if in_scope is None else f" AND {in_scope}")
    )
    if not _failures_exist(tx):
        return sql, params
    params += ["?", today]  # "?": the CPAM of a convention the calendar does not know (a parameter: "?" is one)
    # A failure on a convention the calendar does not know (no CPAM) shows only to those who see all.
    in_scope = scope_condition(cpams, "c.cpam_code", params)
    sql += (
        " UNION ALL SELECT f.convention_id, COALESCE(c.number, f.convention_id), COALESCE(c.cpam_code, ?), "
        f"'{FAILURE_KIND}', '', f.first_failed_on, NULL, f.code, f.message, f.last_failed_on, f.runs, 1 "
        f"FROM {FAILURES} f LEFT JOIN {tx.t(CONVENTIONS.name)} c ON c.convention_id = f.convention_id "
        "WHERE f.first_failed_on <= ?" + ("" if in_scope is None else f" AND {in_scope}")
    )
    return sql, params


def _queue_item(row: tuple[Any, ...]) -> dict[str, Any]:
    cid, number, cpam, kind, ref, when, _overdue_on, code, message, last, runs, overdue = row
    day = date.fromisoformat(when)
    if kind == FAILURE_KIND:
        text = (f"Convention {number} (CPAM {cpam}) : l'échéancier nocturne échoue depuis le {d(day)} "
                f"({runs} passage(s), dernier le {d(date.fromisoformat(last))}) : {message.rstrip('.')} "
                f"[{code}]. Rien n'y est enregistré tant qu'elle n'est pas corrigée.")  # fmt: skip
    else:
        said = MESSAGES.get(kind + "!" if overdue else kind, MESSAGES[kind]).format(date=d(day), ref=ref)
        text = f"Convention {number} (CPAM {cpam}) : {said}"
    return {"convention_id": UUID(cid), "number": number, "cpam": cpam, "kind": kind, "date": day,
            "overdue": bool(overdue), "message": text}  # fmt: skip


# ---------------------------------------------------------------------- nightly failures
FAILURES = "nightly_failures"
FAILURE_KIND = "nightly_failure"


class NightlyFailures:
    """The conventions the nightly run could not process, shown in the operators' work queue.

    Not a read model: that a run failed on a convention is not in the event log (the convention
    could not be saved), so the table has one generation only, which ``rebuild`` and ``verify``
    leave alone. The job writes a row when recording what fell due on a convention raises, and
    deletes it when a later run processes that convention; every run retries the conventions
    listed here, so the alert goes away by itself once the convention can be processed.
    """

    def __init__(self, store: ProjectionStore) -> None:
        self.store = store
        self._ready = False

    def _ensure(self) -> None:
        if self._ready:
            return
        with self.store.transaction() as tx:
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {FAILURES} (convention_id TEXT NOT NULL PRIMARY KEY, "
                "code TEXT NOT NULL, message TEXT NOT NULL, first_failed_on TEXT NOT NULL, "
                "last_failed_on TEXT NOT NULL, runs INTEGER NOT NULL)"
            )
        self._ready = True

    def ids(self) -> list[UUID]:
        """The conventions whose last run failed (the next run retries them)."""
        self._ensure()
        with self.store.reading() as tx:
            return [UUID(r[0]) for r in tx.fetchall(f"SELECT convention_id FROM {FAILURES} ORDER BY convention_id")]

    def record(self, convention_id: UUID, code: str, message: str, today: date) -> None:
        """One more failed run on a convention (committed at once: a later crash keeps it)."""
        self._ensure()
        with self.store.transaction() as tx:
            tx.execute(
                f"INSERT INTO {FAILURES} (convention_id, code, message, first_failed_on, last_failed_on, runs) "
                "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (convention_id) DO UPDATE SET code = excluded.code, "
                f"message = excluded.message, last_failed_on = excluded.last_failed_on, runs = {FAILURES}.runs + 1",
                [str(convention_id), code, message, today.isoformat(), today.isoformat()],
            )

    def clear(self, convention_id: UUID) -> None:
        """A run processed the convention: its alert goes."""
        self._ensure()
        with self.store.transaction() as tx:
            tx.execute(f"DELETE FROM {FAILURES} WHERE convention_id = ?", [str(convention_id)])


def _failures_exist(tx: Tx) -> bool:
    """No run has failed yet on a store where the table was never created: nothing to show."""
    if tx.store.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = "SELECT to_regclass(CAST(? AS TEXT))"
    rows = tx.fetchall(sql, [FAILURES])
    return bool(rows) and rows[0][0] is not None
