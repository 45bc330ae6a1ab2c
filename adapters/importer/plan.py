"""A row as the commands an operator would have issued, in date order (docs/import-format.md).

``plan_row`` reads every cell (``values``), checks it with the command models (pydantic) and the
domain's own identifier and text checks (R19, R29), and orders the commands: the signature, then
each fact on its date (hire, training, objectives, suspensions and reactivations, attainments,
reviews, payments), with ``RecordDue`` up to the date of a suspension, reactivation, attainment,
review or payment first (what the nightly job would have recorded by then), and a last
``RecordDue`` up to today. Every command gets the reason ``import FILE, ligne N : ...`` and an
idempotency key derived from the CPAM, the number and the row's content. Nothing here touches the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from adapters.importer import values as v
from adapters.importer.columns import BY_NAME
from adapters.importer.reader import Row
from domain import commands as c
from domain.convention import CommandMeta
from domain.errors import InvalidInput
from domain.identifiers import check_am_number, check_contract_number, check_cpam_code, check_rpps, check_siret
from domain.text import NAME_MAX, check_text
from domain.values import SPECIALTIES, Modulation, Option, Profile, SuspensionGround

OPTIONS = {o.value.casefold(): o.value for o in Option} | {"1 etp": "FULL", "0,5 etp": "HALF", "1/3 etp": "THIRD"}
SPECIALTY = {s: s for s in SPECIALTIES}
PROFILES = {p.value: p.value for p in Profile}
GROUNDS = {g.value: g.value for g in SuspensionGround} | {"absence": "long_absence", "remplacement":
                                                         "replacement_difficulty"}  # fmt: skip
MODULATIONS = {m.value: m.value for m in Modulation}
PARTS = {"full": "full", "total": "full", "advance": "advance", "avance": "advance", "balance": "balance",
         "solde": "balance", "settlement": "settlement", "reglement": "settlement"}  # fmt: skip
SECTORS = {"1": "1", "2": "2", "3": "3"}

# the command field -> the column it comes from (to name the column of a refusal)
FIELD_COLUMN = {
    "number": "number", "cpam_code": "cpam", "rpps": "rpps", "am_number": "am_number", "doctor_name": "name",
    "name": "name", "specialty": "specialty", "sector": "sector", "optam": "optam", "ccam_share": "ccam_share",
    "newly_installed": "newly_installed", "mep": "mep", "zip_area": "zip_area", "option": "option",
    "percentile": "percentile", "initial_patients": "patients", "patients": "patients", "target_patients": "target",
    "target": "target", "aged_65_or_more": "aged_65", "signed_on": "signed", "signed": "signed",
    "effective_from": "effective", "effective": "effective", "dedicated_room": "dedicated_room",
    "policies": "modulation", "cpam": "cpam", "siret": "siret", "employer_siret": "siret",
}  # fmt: skip
PRIORITY = {"hired": 0, "trained": 1, "objectives": 2, "reactivation": 3, "suspensions": 4, "attainments": 5,
            "reviews": 6, "payments": 7}  # fmt: skip


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    value: str
    message: str


@dataclass(frozen=True)
class Context:
    file_name: str
    actor: str
    today: date


@dataclass
class Fact:
    on: date
    column: str
    command: c.Command


@dataclass
class RowPlan:
    row: Row
    cpam: str = ""
    number: str = ""
    key: str = ""
    steps: list[tuple[c.Command, CommandMeta]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # the column each step comes from
    payments: dict[int, Decimal] = field(default_factory=dict)  # step index -> amount written
    errors: list[RowError] = field(default_factory=list)

    @property
    def sign_command_id(self) -> str:
        return self.steps[0][1].command_id


class _Row:
    """Reading one row: cells, errors gathered (every bad cell is reported, not only the first)."""

    def __init__(self, row: Row, ctx: Context) -> None:
        self.row, self.ctx, self.errors = row, ctx, list[RowError]()
        self.reason = f"import {ctx.file_name}, ligne {row.line}"

    def cell(self, column: str) -> str:
        return self.row.values.get(column, "")

    def error(self, column: str, value: str, message: str) -> None:
        self.errors.append(RowError(self.row.line, column, value, message))

    def read(self, column: str, parse: Callable[[str], Any], *, required: bool = False) -> Any:
        """The cell parsed, or None when empty (an error when required) or unreadable."""
        text = self.cell(column)
        if not text:
            if required or BY_NAME[column].required:
                self.error(column, "", f"colonne « {column} » obligatoire : la remplir.")
            return None
        try:
            return parse(text)
        except v.CellError as e:
            self.error(e.column, e.value, e.message)
        except InvalidInput as e:
            self.error(column, text, e.message)
        return None

    def fact_day(self, text: str, column: str) -> date:
        """A fact's date: a real date, not after today (R21)."""
        day = v.day(text, column)
        if day > self.ctx.today:
            raise v.CellError(column, text, f"le {day:%d/%m/%Y} est après aujourd'hui ({self.ctx.today:%d/%m/%Y}).")
        return day

    def model(self, model: type[c.Command], column: str, text: str, **fields: Any) -> c.Command | None:
        """The command model, checked like any operator input (pydantic)."""
        try:
            return model.model_validate({**fields, "reason": f"{self.reason} : {model.default_reason}"})
        except ValidationError as error:
            first = error.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else column
            self.error(FIELD_COLUMN.get(name, column), text, f"{name} : {first['msg']}")
            return None


def plan_row(row: Row, ctx: Context) -> RowPlan:
    """The row's commands in date order, or its errors (``RowPlan.errors``)."""
    r = _Row(row, ctx)
    plan = RowPlan(row)
    sign = _sign(r)
    facts = _assistant(r) + _objectives(r) + _attainments(r) + _suspensions(r) + _reviews(r)
    payments = _payments(r)
    plan.errors = r.errors
    if r.errors or sign is None:
        return plan
    assert isinstance(sign, c.Sign)
    plan.cpam, plan.number = sign.cpam_code, sign.number
    plan.key = row_key(row)
    ordered: list[tuple[c.Command, str, Decimal | None]] = [(sign, "signed", None)]
    ticked = date.min
    facts += [Fact(on, "payments", cmd) for on, cmd, _ in payments]
    amounts = {id(cmd): amt for _, cmd, amt in payments}
    for fact in sorted(facts, key=lambda f: (f.on, PRIORITY[f.column])):
        if fact.column not in ("hired", "trained", "objectives") and fact.on > ticked:
            ordered.append((c.RecordDue(until=fact.on, reason=f"{r.reason} : échéancier"), fact.column, None))
            ticked = fact.on
        column = "suspensions" if fact.column == "reactivation" else fact.column
        ordered.append((fact.command, column, amounts.get(id(fact.command))))
    ordered.append((c.RecordDue(reason=f"{r.reason} : échéancier"), "effective", None))
    for index, (command, column, amt) in enumerate(ordered):
        cid = f"import:{plan.cpam}:{plan.number}:{plan.key}:{index}"
        plan.steps.append((command, CommandMeta(actor=ctx.actor, command_id=cid)))
        plan.columns.append(column)
        if amt is not None:
            plan.payments[index] = amt
    return plan


def row_key(row: Row) -> str:
    """The row's content, whatever its line or the columns' order: what makes its idempotency keys."""
    content = "\x1f".join(f"{name}={row.values.get(name, '')}" for name in BY_NAME)
    return hashlib.sha256(content.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- the signature
def _sign(r: _Row) -> c.Command | None:
    b = lambda col, default=False: r.read(col, lambda t: v.boolean(t, col, default))  # noqa: E731
    fields: dict[str, Any] = {
        "number": r.read("number", check_contract_number),
        "cpam_code": r.read("cpam", check_cpam_code),
        "rpps": r.read("rpps", check_rpps),
        "doctor_name": r.read(
            "name", lambda t: check_text(t, "name", "Nom du médecin", max_length=NAME_MAX, required=True)
        ),  # fmt: skip
        "specialty": r.read("specialty", lambda t: v.choice(t, "specialty", SPECIALTY, "spécialité")),
        "sector": r.read("sector", lambda t: int(v.choice(t, "sector", SECTORS, "secteur"))),
        "option": r.read("option", lambda t: v.choice(t, "option", OPTIONS, "option")),
        "percentile": r.read("percentile", lambda t: _percentile(t)),
        "initial_patients": r.read("patients", lambda t: v.integer(t, "patients")),
        "signed_on": r.read("signed", lambda t: r.fact_day(t, "signed")),
        "effective_from": r.read("effective", lambda t: v.day(t, "effective")),
    }
    optional: dict[str, Any] = {
        "optam": b("optam"), "newly_installed": b("newly_installed"), "mep": b("mep"), "zip_area": b("zip_area"),
        "aged_65_or_more": b("aged_65"), "dedicated_room": b("dedicated_room", True),
        "am_number": r.read("am_number", check_am_number),
        "ccam_share": r.read("ccam_share", lambda t: float(v.amount(t, "ccam_share"))),
        "target_patients": r.read("target", lambda t: v.integer(t, "target")),
    }  # fmt: skip
    modulation = r.read("modulation", lambda t: v.choice(t, "modulation", MODULATIONS, "modulation"))
    pause_clock = b("pause_clock", True)
    if any(value is None for value in fields.values()) or r.errors:
        return None
    fields |= {k: value for k, value in optional.items() if value is not None}
    if modulation is not None or pause_clock is False:
        fields["policies"] = {"modulation": modulation or "proportional", "pause_clock": pause_clock is not False}
    return r.model(c.Sign, "number", r.cell("number"), **fields)


def _percentile(text: str) -> int:
    value = v.integer(text, "percentile")
    if value > 100:
        raise v.CellError("percentile", text, f"rang « {text} » : entre 0 et 100.")
    return value


# ----------------------------------------------------------------------------- the facts
def _assistant(r: _Row) -> list[Fact]:
    hired = r.read("hired", lambda t: r.fact_day(t, "hired"))
    if hired is None:
        for column in ("fte", "profile", "siret", "trained"):
            if r.cell(column):
                r.error(column, r.cell(column), "renseigné sans date d'embauche (colonne hired).")
        return []
    fte = r.read("fte", lambda t: v.amount(t, "fte"), required=True)
    profile = r.read("profile", lambda t: v.choice(t, "profile", PROFILES, "profil"), required=True)
    siret = r.read("siret", check_siret)
    was_secretary = r.read("was_secretary", lambda t: v.boolean(t, "was_secretary", False))
    facts: list[Fact] = []
    if fte is not None and profile is not None:
        fields = {"hired_on": hired, "fte": fte, "profile": profile, "employer_siret": siret,
                  "was_practice_secretary": bool(was_secretary)}  # fmt: skip
        if (hire := r.model(c.Hire, "hired", r.cell("hired"), **fields)) is not None:
            facts.append(Fact(hired, "hired", hire))
    trained = r.read("trained", lambda t: r.fact_day(t, "trained"))
    if trained is not None and (cmd := r.model(c.CompleteTraining, "trained", r.cell("trained"), completed_on=trained)):
        facts.append(Fact(trained, "trained", cmd))
    return facts


def _triples(r: _Row, column: str, model: type[c.Command], names: tuple[str, str]) -> list[Fact]:
    """``année:nombre:date;...`` (objectives, attainments)."""
    facts: list[Fact] = []
    for item in v.items(r.cell(column)):
        parts = item.split(":")
        try:
            if len(parts) != 3:
                raise v.CellError(column, item, f"« {item} » : année:nombre:date attendu.")
            year, count = v.integer(parts[0], column), v.integer(parts[1], column)
            on = r.fact_day(parts[2], column)
        except v.CellError as e:
            r.error(column, item, e.message)
            continue
        if (cmd := r.model(model, column, item, **{names[0]: year, names[1]: count, "on": on})) is not None:
            facts.append(Fact(on, column, cmd))
    return facts


def _objectives(r: _Row) -> list[Fact]:
    return _triples(r, "objectives", c.SetObjective, ("from_year", "target_patients"))


def _attainments(r: _Row) -> list[Fact]:
    return _triples(r, "attainments", c.RecordAttainment, ("year", "observed_patients"))


def _reviews(r: _Row) -> list[Fact]:
    facts: list[Fact] = []
    for item in v.items(r.cell("reviews")):
        try:
            on = r.fact_day(item, "reviews")
        except v.CellError as e:
            r.error("reviews", item, e.message)
            continue
        if (cmd := r.model(c.HoldReview, "reviews", item, held_on=on)) is not None:
            facts.append(Fact(on, "reviews", cmd))
    return facts


def _suspensions(r: _Row) -> list[Fact]:
    """``début..fin[:motif[:accord]]``: suspended from ``début`` to ``fin`` included, reactivated the
    next day (R16: 2026-05-01..2026-08-31 is 123 days); no ``fin``: still suspended."""
    facts: list[Fact] = []
    items = v.items(r.cell("suspensions"))
    for n, item in enumerate(items):
        try:
            span, *rest = item.split(":")
            start_text, sep, end_text = span.partition("..")
            if not sep or len(rest) > 2:
                raise v.CellError("suspensions", item, f"« {item} » : début..fin[:motif[:accord]] attendu.")
            start = r.fact_day(start_text.strip(), "suspensions")
            ground = v.choice(rest[0], "suspensions", GROUNDS, "motif") if rest and rest[0] else "long_absence"
            agreement = r.fact_day(rest[1], "suspensions") if len(rest) > 1 else start
            end = r.fact_day(end_text.strip(), "suspensions") if end_text.strip() else None
            if end is None and n != len(items) - 1:
                raise v.CellError("suspensions", item, "seule la dernière suspension peut être en cours (sans fin).")
            if end is not None and end < start:
                raise v.CellError("suspensions", item, f"« {item} » : la fin précède le début.")
            if end is not None and end + timedelta(days=1) > r.ctx.today:
                raise v.CellError("suspensions", item, "la réactivation (lendemain de la fin) est après aujourd'hui.")
        except v.CellError as e:
            r.error("suspensions", item, e.message)
            continue
        cmd = r.model(c.Suspend, "suspensions", item, from_date=start, ground=ground, agreement_date=agreement)
        if cmd is not None:
            facts.append(Fact(start, "suspensions", cmd))
        if end is not None and (back := r.model(c.Reactivate, "suspensions", item, from_date=end + timedelta(days=1))):
            facts.append(Fact(end + timedelta(days=1), "reactivation", back))
    return facts


def _payments(r: _Row) -> list[tuple[date, c.Command, Decimal]]:
    """``date:échéance:montant[:référence]``; an échéance is ``y1-full`` or ``1/full`` (``1/total``,
    ``3/avance``, ``3/solde``). Each échéance is paid once (R7)."""
    out: list[tuple[date, c.Command, Decimal]] = []
    seen: set[str] = set()
    for item in v.items(r.cell("payments")):
        parts = item.split(":")
        try:
            if len(parts) not in (3, 4):
                raise v.CellError("payments", item, f"« {item} » : date:échéance:montant[:référence] attendu.")
            on = r.fact_day(parts[0], "payments")
            instalment = _instalment(parts[1].strip(), item)
            paid = v.amount(parts[2], "payments")
            if instalment in seen:
                raise v.CellError("payments", item, f"l'échéance {instalment} est payée deux fois (R7 : une seule).")
            seen.add(instalment)
        except v.CellError as e:
            r.error("payments", e.value if e.value != item else item, e.message)
            continue
        reference = parts[3].strip() if len(parts) == 4 and parts[3].strip() else f"IMPORT-{instalment}"
        cmd = r.model(c.RecordPayment, "payments", item, instalment=instalment, paid_on=on, reference=reference)
        if cmd is not None:
            out.append((on, cmd, paid))
    return out


def _instalment(text: str, item: str) -> str:
    folded = text.casefold().replace("é", "e")
    if folded.startswith("y") and "-" in folded:
        year, _, part = folded[1:].partition("-")
    else:
        year, _, part = folded.partition("/")
    if not year.isdigit() or part not in PARTS or not 1 <= int(year) <= 100:
        raise v.CellError(
            "payments", item, f"échéance « {text} » inconnue : y1-full, y3-advance, 3/avance, 3/solde... attendu."
        )
    return f"y{int(year)}-{PARTS[part]}"
