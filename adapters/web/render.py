"""Templates and the French way of writing things on the pages: the CLI's formatting
(``adapters.cli.formatting``: ``38 000,00 €``, ``30/11/2026``, French words for codes) as Jinja
filters, the read models' freshness as a sentence, and the dashboard as charts with tables."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

from adapters.cli import formatting as fmt
from adapters.web.charts import Chart, bars
from adapters.web.forms import CHOICE_LABELS

TEMPLATES = Path(__file__).parent / "templates"
STATUS_COLOURS = {"active": "success", "suspended": "warning", "terminated": "error"}


def templates(timezone: str) -> Jinja2Templates:
    """The page templates with the French filters, dates and times shown in ``timezone``."""
    tz = ZoneInfo(timezone)
    env = Jinja2Templates(directory=str(TEMPLATES))
    env.env.filters.update(
        euros=fmt.euros, date=fmt.fr_date, number=fmt.number, percent=fmt.percent,
        label=lambda value, kind: fmt.label(kind, value), choice=lambda v: CHOICE_LABELS.get(str(v), str(v)),
        moment=lambda value: local_moment(value, tz),
    )  # fmt: skip
    env.env.globals["STATUS_COLOURS"] = STATUS_COLOURS
    return env


def local_moment(value: datetime | str | None, tz: ZoneInfo) -> str:
    """``30/11/2026 à 14:02`` in the deployment's time zone (events are recorded in UTC)."""
    if value is None or value == "":
        return fmt.NONE
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(tz)
    return f"{fmt.fr_date(local)} à {local:%H:%M}"


def freshness_text(freshness: dict[str, Any] | None, timezone: str) -> str:
    """« Données à jour au 30/11/2026 à 14:02 », and how many events are not yet in when behind."""
    if not freshness:
        return ""
    if freshness.get("as_of") is None:
        return "Aucune donnée enregistrée pour l'instant."
    text = f"Données à jour au {local_moment(freshness['as_of'], ZoneInfo(timezone))}"
    lag = int(freshness.get("lag") or 0)
    if lag:
        text += f" ; {fmt.number(lag)} événement{'s' if lag > 1 else ''} pas encore pris en compte"
    return text + "."


def _sum_by(rows: list[dict[str, Any]], key: str, value: str) -> dict[Any, Decimal]:
    totals: dict[Any, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row[key]] += Decimal(str(row[value]))
    return dict(sorted(totals.items()))


def dashboard_charts(data: dict[str, Any]) -> list[Chart]:
    """The portfolio read model (``/reports/dashboard``) as the dashboard's charts."""
    conventions = data["conventions"]
    cpams = sorted({row["cpam_code"] for row in conventions})
    statuses = ("active", "suspended", "terminated")
    count = {(r["cpam_code"], r["status"]): 0 for r in conventions}
    for row in conventions:
        count[(row["cpam_code"], row["status"])] += row["count"]
    money = data["money"]
    years = sorted({row["year"] for row in money})
    per_year = {k: _sum_by(money, "year", k) for k in ("paid", "due", "to_recover")}
    forecast = _sum_by(data["forecast"], "year", "amount")
    reviews = data["reviews"]
    buckets: dict[str, int] = {}
    for row in data["attainment_years_3_plus"]:
        buckets[row["bucket"]] = buckets.get(row["bucket"], 0) + row["count"]
    etp = _sum_by(conventions, "cpam_code", "funded_etp")
    whole = lambda v: fmt.number(v)  # noqa: E731
    return [
        bars("status", "Conventions par CPAM et statut", [f"CPAM {c}" for c in cpams],
             [(fmt.label("status", s), [count.get((c, s), 0) for c in cpams]) for s in statuses], whole),
        bars("etp", "ETP financés par CPAM", [f"CPAM {c}" for c in etp], [("ETP", list(etp.values()))],
             lambda v: fmt.number(v, 2)),
        bars("money", "Aide par année : payée, due, à récupérer", [f"Année {y}" for y in years],
             [("payée", [per_year["paid"].get(y, 0) for y in years]),
              ("due", [per_year["due"].get(y, 0) for y in years]),
              ("à récupérer", [per_year["to_recover"].get(y, 0) for y in years])], fmt.euros),
        bars("forecast", "Prévision sur 5 ans (aide restant à verser)", [str(y) for y in forecast],
             [("montant", list(forecast.values()))], fmt.euros),
        bars("reviews", "Points semestriels", [f"CPAM {r['cpam_code']}" for r in reviews],
             [("tenus à temps", [r["held_on_time"] for r in reviews]),
              ("tenus en retard", [r["held_late"] for r in reviews]),
              ("en retard, non tenus", [r["overdue"] for r in reviews]),
              ("à venir", [r["pending"] for r in reviews])], whole),
        bars("attainment", "Atteinte des objectifs (années 3 et suivantes)", list(buckets),
             [("conventions", list(buckets.values()))], whole),
    ]  # fmt: skip
