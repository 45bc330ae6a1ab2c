"""Realistic import rows, for the documented sample, the benchmark and the tests.

A row's payments are the instalments the rules made fall due (decided on an in-memory application,
nothing saved), each paid some days later: so a generated file imports cleanly, with the amounts the
rules give. ``payments=False`` skips that (a large file for the validation alone).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum import luhn

from adapters.importer.columns import COLUMNS
from adapters.importer.plan import Context, plan_row
from adapters.importer.reader import Row
from domain.application import ConventionsApp
from domain.calendar import add_years

NAMES = ("Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
         "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier",
         "Girard")  # fmt: skip
CPAMS = ("281", "451", "751", "921", "931", "691")
SPECIALTIES = ("general_practice",) * 6 + ("paediatrics", "psychiatry", "cardiology", "dermatology")
SIRET = "73282932000074"  # a groupement d'employeurs (a SIRET with a valid key)


def rpps(n: int) -> str:
    base = f"1{n:09d}"
    return base + luhn.calc_check_digit(base)


def header() -> list[str]:
    return [c.name for c in COLUMNS]


def generate(n: int, today: date, *, seed: int = 1, payments: bool = True, app: ConventionsApp | None = None,
             start: int = 0) -> list[dict[str, str]]:  # fmt: skip
    """``n`` rows of conventions effective between 2019 and two months before ``today``."""
    rnd = random.Random(seed)
    rows = [_row(start + i, today, rnd) for i in range(n)]
    if payments:
        assert app is not None, "payments are computed on an (in-memory) application"
        for row in rows:
            _add_payments(row, today, app, rnd)
    return rows


def _row(i: int, today: date, rnd: random.Random) -> dict[str, str]:
    span = (today - timedelta(days=60) - date(2019, 1, 1)).days
    effective = date(2019, 1, 1) + timedelta(days=rnd.randrange(span))
    effective = effective.replace(day=1)
    signed = effective - timedelta(days=rnd.randrange(10, 45))
    percentile = rnd.choice((35, 45, 50, 60, 70, 80, 91, 93, 96))
    patients = rnd.randrange(800, 1800)
    hired = effective + timedelta(days=rnd.randrange(0, 50))
    row = {c.name: "" for c in COLUMNS} | {
        "number": f"C-{effective.year}-{i:05d}", "cpam": CPAMS[i % len(CPAMS)], "rpps": rpps(i),
        "name": f"Dr {NAMES[i % len(NAMES)]}", "specialty": rnd.choice(SPECIALTIES), "sector": "1",
        "option": rnd.choice(("FULL", "FULL", "HALF")), "percentile": str(percentile), "patients": str(patients),
        "target": "" if percentile >= 95 else str(int(patients * 1.1)),
        "signed": signed.isoformat(), "effective": effective.isoformat(),
        "zip_area": rnd.choice(("oui", "non")),
    }  # fmt: skip
    if hired <= today:
        row |= {"hired": hired.isoformat(), "fte": rnd.choice(("1", "1", "0,5")),
                "profile": rnd.choice(("nurse", "care_aide", "secretary"))}  # fmt: skip
        if rnd.random() < 0.2:
            row["siret"] = SIRET
        if (trained := hired + timedelta(days=rnd.randrange(90, 400))) <= today:
            row["trained"] = trained.isoformat()
    if rnd.random() < 0.1 and (start := add_years(effective, 1) + timedelta(days=40)) + timedelta(days=150) < today:
        row["suspensions"] = f"{start.isoformat()}..{(start + timedelta(days=120)).isoformat()}:long_absence"
    return row


def _add_payments(row: dict[str, str], today: date, app: ConventionsApp, rnd: random.Random) -> None:
    """Attainments of the years 3+ that ended, then every instalment fallen due paid 5-20 days later."""
    ctx = Context("sample", "import", today)
    decided = app.decide_all(plan_row(Row(2, row, []), ctx).steps)
    conv = decided.convention
    assert decided.refused is None and conv is not None, (row, decided.refused)
    attainments = []
    for year in range(3, conv.contract_year + 1):
        end = conv.anniversary(year)
        if end is not None and (on := end + timedelta(days=rnd.randrange(5, 30))) <= today:
            observed = int(int(row["patients"]) * rnd.uniform(0.98, 1.15))
            attainments.append(f"{year}:{observed}:{on.isoformat()}")
    row["attainments"] = ";".join(attainments)
    decided = app.decide_all(plan_row(Row(2, row, []), ctx).steps)
    conv = decided.convention
    assert decided.refused is None and conv is not None, (row, decided.refused)
    paid = []
    for inst in sorted(conv.instalments.values(), key=lambda x: x.fell_due_on):
        if inst.status == "due" and (on := inst.fell_due_on + timedelta(days=rnd.randrange(5, 20))) <= today:
            ref = f"VIR-{on:%Y%m%d}-{row['number'][-5:]}"
            paid.append(f"{on.isoformat()}:{inst.instalment_id}:{abs(inst.amount)}:{ref}")
    row["payments"] = ";".join(paid)
