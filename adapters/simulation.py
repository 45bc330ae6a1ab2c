"""The portfolio simulator: conventions signed across CPAMs, then virtual time day by day.

Demo data and the benchmarks' load, not scheduling: it drives the application and the nightly job
the way a deployment's operators and scheduler would, so it sits above both, among the adapters.

Each simulated day runs the nightly job (``run_due``) and then the operators' actions of the day:
hires, training, payments a few days after an instalment falls due, reviews held on time or
late, attainment figures after each year ends, some suspensions and reactivations, a few
terminations. Actions react to the events read back from the log, so the simulator exercises
the same paths as a real deployment.

Deterministic: everything about a convention derives from its number (which derives from the
seed, the start date and its rank), and every command id from the number, the action and its
day. Running the same simulation again on the same store changes nothing (command receipts);
running it with a later window extends the portfolio and lets the existing conventions live on.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import structlog
from stdnum import luhn
from stdnum.fr import siret as stdnum_siret

from domain import events as ev
from domain.application import ConventionsApp
from domain.calendar import add_months
from domain.convention import CommandMeta
from domain.errors import DomainError
from domain.identifiers import convention_id
from domain.regimes import THIRD_CLOSED_ON
from domain.values import Option, Profile, SuspensionGround, TerminatedBy, Tier
from scheduler.due_index import MemoryDueIndex
from scheduler.jobs import CatchUp, run_due, scheduler_meta

log = structlog.get_logger()

PREFIX = "SIM"
ACTOR = "simulateur"
CPAMS = [("281", 3), ("751", 6), ("691", 4), ("131", 4), ("330", 3), ("590", 4)]
SPECIALTIES = [("general_practice", 80), ("paediatrics", 5), ("cardiology", 5), ("dermatology", 4), ("psychiatry", 6)]
PROFILES = [(Profile.NURSE, 35), (Profile.CARE_AIDE, 25), (Profile.SECRETARY, 33), (Profile.OTHER, 7)]
SURNAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefèvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guerin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
]


def _weighted(rng: random.Random, choices: list[tuple[Any, int]]) -> Any:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def rpps_for(rng: random.Random) -> str:
    """An 11-digit RPPS with a valid Luhn key (R19)."""
    body = "1" + "".join(str(rng.randrange(10)) for _ in range(9))
    return body + luhn.calc_check_digit(body)


def siret_for(rng: random.Random) -> str:
    """A SIRET (14 digits) valid for python-stdnum: a SIREN with its key, then a Luhn key."""
    while True:
        siren = "".join(str(rng.randrange(10)) for _ in range(8))
        siren += luhn.calc_check_digit(siren)
        body = siren + "".join(str(rng.randrange(10)) for _ in range(4))
        value = body + luhn.calc_check_digit(body)
        if stdnum_siret.is_valid(value):
            return value


# ---------------------------------------------------------------------------- the portfolio
@dataclass(frozen=True)
class Doctor:
    """One convention to sign: everything the signature needs, derived from its number."""

    number: str
    signed_on: date
    fields: dict[str, Any]


def portfolio(seed: int, start: date, end: date, count: int) -> list[Doctor]:
    """``count`` conventions with signatures spread over the first 60 % of the window."""
    span = max((end - start).days, 0)
    out = []
    for i in range(count):
        number = f"{PREFIX}{seed}-{start:%Y%m%d}-{i:04d}"
        rng = _rng(number, "sign")
        signed_on = start + timedelta(days=rng.randint(0, int(span * 0.6)))
        first_of_month = (signed_on.replace(day=1) + timedelta(days=32)).replace(day=1)
        effective = add_months(first_of_month, rng.choice([0, 0, 1, 2]))
        newly = rng.random() < 0.08
        percentile = (
            rng.randint(5, 45)
            if newly
            else _weighted(rng, [(rng.randint(30, 89), 70), (rng.randint(90, 94), 18), (rng.randint(95, 100), 12)])
        )
        specialty = _weighted(rng, SPECIALTIES)
        sector = 2 if rng.random() < 0.2 else 1
        if effective < THIRD_CLOSED_ON and rng.random() < 0.1:
            option = Option.THIRD
        else:
            option = Option.FULL if rng.random() < 0.5 else Option.HALF
        initial = max(150, int(300 + percentile * 14 + rng.gauss(0, 120)))
        if percentile >= 95:
            target = int(initial * 0.95)  # maintain (R5)
        elif newly:
            target = max(1045, initial + 200)
        else:
            target = int(initial * rng.uniform(1.05, 1.25))
        out.append(
            Doctor(
                number=number,
                signed_on=signed_on,
                fields={
                    "number": number,
                    "cpam_code": _weighted(rng, CPAMS),
                    "rpps": rpps_for(rng),
                    "doctor_name": f"{rng.choice(SURNAMES)} {rng.choice('ABCDEFGHJLMNPRSTV')}.",
                    "specialty": specialty,
                    "sector": sector,
                    "optam": sector == 2,
                    "ccam_share": None,
                    "newly_installed": newly,
                    "option": option,
                    "percentile": percentile,
                    "initial_patients": initial,
                    "target_patients": target,
                    "signed_on": signed_on,
                    "effective_from": effective,
                    "zip_area": rng.random() < 0.3,
                },  # fmt: skip
            )
        )
    return out


# ---------------------------------------------------------------------------- the simulation
@dataclass
class _Conv:
    """What the operators know of a convention, from the events they read."""

    number: str
    effective_from: date
    initial: int
    target: int
    tier: Tier
    option: Option
    status: str = ev.status_after(ev.Signed)
    in_post: bool = False
    trained: bool = True
    open_instalments: set[str] = field(default_factory=set)


@dataclass(order=True)
class _Action:
    on: date
    seq: int
    conv_id: UUID = field(compare=False)
    kind: str = field(compare=False)
    args: dict[str, Any] = field(compare=False, default_factory=dict)


@dataclass
class SimulationReport:
    start: date
    end: date
    days: int = 0
    signed: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    due_events: int = 0
    due_failures: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days,
            "signed": self.signed, "actions": dict(sorted(self.actions.items())),
            "refused": dict(sorted(self.refused.items())), "due_events": self.due_events,
            "due_failures": self.due_failures, "seconds": round(self.seconds, 2),
        }  # fmt: skip


class Simulator:
    """Let virtual time run over a portfolio; see the module docstring."""

    def __init__(
        self,
        app: ConventionsApp,
        *,
        seed: int,
        start: date,
        end: date,
        conventions: int,
        read_models: CatchUp | None = None,
        read_models_every: int = 30,
        actor: str = ACTOR,
        reason: str = "simulation",
    ) -> None:
        if end < start:
            raise ValueError("end before start")
        self.app = app
        self.actor, self.reason = actor, reason
        self.seed = seed
        self.start = start
        self.end = end
        self.doctors = portfolio(seed, start, end, conventions)
        self.read_models = read_models
        self.read_models_every = read_models_every
        self.index = MemoryDueIndex(app)
        self.index.listeners.append(self._on_event)
        self.convs: dict[UUID, _Conv] = {}
        self.agenda: list[_Action] = []
        self._seq = 0
        self.report = SimulationReport(start, end)

    # ------------------------------------------------------------------ main loop
    def run(self, progress: Callable[[date], None] | None = None) -> SimulationReport:
        began = time.perf_counter()
        saved_clock = self.app.clock
        self.today = self.start
        self.app.clock = lambda: self.today
        try:
            self.index.catch_up()  # the existing log: reactions dated before the start are past
            signatures: dict[date, list[Doctor]] = {}
            for d in self.doctors:
                signatures.setdefault(d.signed_on, []).append(d)
            day = self.start
            while day <= self.end:
                self.today = day
                self._day(day, signatures.get(day, []))
                self.report.days += 1
                if self.read_models is not None and self.report.days % self.read_models_every == 0:
                    self.read_models()
                if progress is not None:
                    progress(day)
                day += timedelta(days=1)
            if self.read_models is not None:
                self.read_models()
        finally:
            self.app.clock = saved_clock
        self.report.seconds = time.perf_counter() - began
        return self.report

    def _day(self, day: date, signatures: list[Doctor]) -> None:
        due = run_due(self.app, self.index.find_due, day, scheduler_meta(day), catch_up=self.index.catch_up)
        self.report.due_events += due.events
        self.report.due_failures += len(due.failures)
        for doctor in signatures:
            self._do("sign", convention_id(doctor.fields["cpam_code"], doctor.number), doctor.number, day,
                     lambda m, d=doctor: self.app.sign(m, **d.fields))  # fmt: skip
        self.index.catch_up()
        while self.agenda and self.agenda[0].on <= day:
            while self.agenda and self.agenda[0].on <= day:
                self._execute(heapq.heappop(self.agenda), day)
            self.index.catch_up()
        # Same-day consequences (an instalment due on the day of a hire...) wait for the night.

    # ------------------------------------------------------------------ reactions to events
    def _plan(self, on: date, conv_id: UUID, kind: str, **args: Any) -> None:
        if on < self.start or on > self.end:
            return  # before the start: done by a previous run; after the end: not simulated
        self._seq += 1
        heapq.heappush(self.agenda, _Action(on, self._seq, conv_id, kind, args))

    def _on_event(self, e: ev.Event) -> None:
        cid = e.originator_id
        if isinstance(e, ev.Signed):
            if e.number.startswith(PREFIX):
                self.convs[cid] = _Conv(e.number, e.effective_from, e.initial_patients, e.target_patients,
                                        e.tier, e.option)  # fmt: skip
                self._plan_life(cid, self.convs[cid])
            return
        c = self.convs.get(cid)
        if c is None:
            return
        rng = _rng(c.number, type(e).__name__, getattr(e, "instalment_id", ""), getattr(e, "k", ""),
                   getattr(e, "year", ""), e.effective_date)  # fmt: skip
        c.status = ev.status_after(type(e), c.status)
        if isinstance(e, ev.AssistantHired):
            c.in_post, c.trained = True, False
            r = rng.random()
            if r < 0.85:
                self._plan(e.effective_date + timedelta(days=rng.randint(120, 700)), cid, "train")
            elif r < 0.95:
                self._plan(e.effective_date + timedelta(days=rng.randint(740, 900)), cid, "train")  # late
        elif isinstance(e, ev.AssistantLeft):
            c.in_post = False
        elif isinstance(e, ev.TrainingCompleted):
            c.trained = True
        elif isinstance(e, ev.InstalmentDue):
            c.open_instalments.add(e.instalment_id)
            delay = rng.randint(3, 20) if e.amount >= 0 else rng.randint(25, 60)
            self._plan(e.effective_date + timedelta(days=delay), cid, "pay", instalment=e.instalment_id)
        elif isinstance(e, ev.PaymentRecorded | ev.InstalmentCancelled):
            c.open_instalments.discard(e.instalment_id)
        elif isinstance(e, ev.ReviewDue):
            r = rng.random()
            delay = rng.randint(0, 20) if r < 0.75 else rng.randint(31, 75) if r < 0.95 else rng.randint(90, 150)
            self._plan(e.effective_date + timedelta(days=delay), cid, "review", k=e.k)
        elif isinstance(e, ev.YearStarted) and e.year >= 2 and rng.random() < 0.92:
            self._plan(e.effective_date + timedelta(days=rng.randint(20, 75)), cid, "attainment", year=e.year - 1)

    def _plan_life(self, cid: UUID, c: _Conv) -> None:
        """The fate of a convention, drawn once from its number."""
        rng = _rng(c.number, "life")
        late_hire = rng.random() < 0.15
        self._plan(c.effective_from + timedelta(days=rng.randint(95, 200) if late_hire else rng.randint(0, 60)),
                   cid, "hire")  # fmt: skip
        if rng.random() < 0.12:
            on = c.effective_from + timedelta(days=rng.randint(200, 1200))
            self._plan(on, cid, "suspend", back_after=rng.randint(90, 240))
        if rng.random() < 0.04:
            on = c.effective_from + timedelta(days=rng.randint(400, 1500))
            self._plan(on, cid, "terminate", by=TerminatedBy.DOCTOR if rng.random() < 0.5 else TerminatedBy.CPAM)

    # ------------------------------------------------------------------ operator actions
    def _execute(self, a: _Action, day: date) -> None:
        c = self.convs[a.conv_id]
        if c.status == "terminated":
            return
        rng = _rng(c.number, a.kind, a.on, *a.args.values())
        app, cid = self.app, a.conv_id
        if a.kind == "hire":
            if c.in_post:
                return
            profile = _weighted(rng, PROFILES)
            siret = siret_for(rng) if rng.random() < 0.1 else None
            self._do("hire", cid, c.number, day, lambda m: app.hire(
                cid, m, hired_on=day, fte=c.option.fte, profile=profile, employer_siret=siret))  # fmt: skip
        elif a.kind == "train":
            if c.in_post and not c.trained:
                self._do("train", cid, c.number, day, lambda m: app.complete_training(cid, m, completed_on=day))
        elif a.kind == "pay":
            inst = a.args["instalment"]
            if inst in c.open_instalments:
                self._do(f"pay-{inst}", cid, c.number, day, lambda m: app.record_payment(
                    cid, m, instalment=inst, paid_on=day, reference=f"VIR-{c.number}-{inst}"))  # fmt: skip
        elif a.kind == "review":
            self._do(f"review-{a.args['k']}", cid, c.number, day, lambda m: app.hold_review(
                cid, m, held_on=day, notes="Point semestriel (simulation)"))  # fmt: skip
        elif a.kind == "attainment":
            year = a.args["year"]
            if c.tier is Tier.MAX:
                observed = int(c.initial * rng.uniform(0.9, 1.05))
            else:
                observed = int(c.initial + (c.target - c.initial) * rng.uniform(0.2, 1.3))
            self._do(f"attainment-{year}", cid, c.number, day, lambda m: app.record_attainment(
                cid, m, year=year, observed_patients=observed, on=day))  # fmt: skip
        elif a.kind == "suspend":
            if c.status != "active":
                return
            ground = SuspensionGround.LONG_ABSENCE if c.in_post else SuspensionGround.REPLACEMENT_DIFFICULTY
            if c.in_post:
                self._do("leave", cid, c.number, day, lambda m: app.assistant_left(cid, m, left_on=day))
            if self._do("suspend", cid, c.number, day, lambda m: app.suspend(
                    cid, m, from_date=day, ground=ground, agreement_date=day)):  # fmt: skip
                self._plan(day + timedelta(days=a.args["back_after"]), cid, "reactivate")
        elif a.kind == "reactivate":
            if c.status != "suspended":
                return
            if not c.in_post:
                profile = _weighted(rng, PROFILES)
                self._do("rehire", cid, c.number, day, lambda m: app.hire(
                    cid, m, hired_on=day, fte=c.option.fte, profile=profile))  # fmt: skip
            self._do("reactivate", cid, c.number, day, lambda m: app.reactivate(cid, m, from_date=day))
        elif a.kind == "terminate":
            by = a.args["by"]
            letter = add_months(day, -2) - timedelta(days=rng.randint(0, 20)) if by is TerminatedBy.DOCTOR else None
            ground = "Départ en retraite" if by is TerminatedBy.DOCTOR else "Déménagement hors du département"
            self._do("terminate", cid, c.number, day, lambda m: app.terminate(
                cid, m, on=day, by=by, ground=ground, letter_date=letter))  # fmt: skip
        # Whatever the action recorded feeds the operators' knowledge before the next one.
        self.index.catch_up()

    def _do(self, action: str, cid: UUID, number: str, day: date, command: Callable[[CommandMeta], Any]) -> bool:
        m = CommandMeta(actor=self.actor, reason=f"{self.reason} : {action}", command_id=f"sim:{number}:{action}:{day}")
        try:
            command(m)
        except DomainError as error:
            self.report.refused[error.code] += 1
            log.debug("simulate.refused", convention=number, action=action, code=error.code, error=error.message)
            return False
        if action == "sign":
            self.report.signed += 1
        self.report.actions[action.split("-")[0]] += 1
        return True
