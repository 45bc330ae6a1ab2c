"""The managers' page of the policy impact (issue 12): ``/web/impact``, linked from the dashboard.

A small GET form chooses the policies (each left « comme signée » keeps every convention's own) and
a CPAM; the page shows what ``conventions replay`` prints, in the user's CPAM scope: per CPAM and
calendar year, due and to recover as recorded and under the policies, their difference, and a chart.
Replaying every convention takes time, so each answer is kept per (policies, CPAMs, log head, day):
a second view, or another manager's, is immediate while nothing new is recorded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from adapters.cli import formatting as fmt
from adapters.impact import Impact, impact
from adapters.settings import Settings
from adapters.users import Permission
from adapters.web.charts import Chart, bars
from adapters.web.pages import PREFIX, page, services, signed_in
from domain.application import ConventionsApp
from domain.errors import DomainError
from domain.replay_policies import accepted_values, choose_policies, policy_names
from projections.scope import narrow

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LABELS = {"modulation": "Modulation de l'aide (R4)", "pause_clock": "Horloge arrêtée pendant une suspension (R16)"}
VALUE_LABELS = {"proportional": "proportionnelle à l'atteinte", "steps": "par paliers (100/75/50/0 %)",
                "on": "oui", "off": "non"}  # fmt: skip
AS_SIGNED = "— comme signée —"


class ImpactCache:
    """The last answers, by (policies, CPAMs, log head, day). One replay at a time (it keeps a core
    busy for a while); a view already computed is answered at once, even while another computes."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._answers: OrderedDict[tuple[Any, ...], Impact] = OrderedDict()
        self._lock = threading.Lock()  # the answers
        self._computing = threading.Lock()  # never two replays at once

    def get(
        self,
        app: ConventionsApp,
        settings: Settings | None,
        chosen: dict[str, Any],
        scope: frozenset[str] | None,
        today: date,
    ) -> Impact:
        """The answer for these policies and CPAMs on the log as it stands (``settings``: read the SQLite
        events file directly, as the command does)."""
        key = (tuple(sorted((k, str(getattr(v, "value", v))) for k, v in chosen.items())), scope, app.head(), today)
        if (kept := self._kept(key)) is not None:
            return kept
        with self._computing:
            if (kept := self._kept(key)) is not None:  # computed meanwhile, for another request
                return kept
            answer = impact(settings, chosen, today, scope, workers=1, app=app)
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return answer

    def _kept(self, key: tuple[Any, ...]) -> Impact | None:
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None:
                self._answers.move_to_end(key)
            return kept


def _cache(request: Request) -> ImpactCache:
    state = request.app.state
    if getattr(state, "impact_cache", None) is None:
        state.impact_cache = ImpactCache()
    return state.impact_cache


@router.get("/impact")
def impact_page(request: Request, cpam: str = "") -> HTMLResponse:
    session = signed_in(request, Permission.REPORTS)
    svc = services(request)
    params = request.query_params
    given = {name: params.get(name, "").strip() for name in policy_names()}
    fields = [
        {"name": n, "label": LABELS.get(n, n), "value": given[n],
         "choices": [("", AS_SIGNED)] + [(v, VALUE_LABELS.get(v, v)) for v in accepted_values(n)]}
        for n in policy_names()
    ]  # fmt: skip
    mine = session.user.scope()
    asked = cpam if cpam.isdigit() and len(cpam) == 3 else None
    context: dict[str, Any] = {"fields": fields, "cpam": asked or "", "cpams": sorted(mine) if mine else [],
                               "error": "", "result": None}  # fmt: skip
    status = 200
    chosen_text = {k: v for k, v in given.items() if v}
    if chosen_text:
        try:
            chosen = choose_policies(chosen_text)
        except DomainError as error:
            context["error"], status = error.message, 400
        else:
            settings = getattr(request.app.state, "settings", None)
            result = _cache(request).get(svc.app, settings, chosen, _scope(narrow(mine, asked)), svc.clock())
            context.update(result=result, rows=result.rows(), totals=result.totals(), charts=charts(result),
                           described=_described(chosen))  # fmt: skip
    return page(request, "impact.html", session, status=status, nav="dashboard", freshness=None, **context)


def _scope(scope: Any) -> frozenset[str] | None:
    return None if scope is None else frozenset(scope)


def _described(chosen: dict[str, Any]) -> str:
    words = []
    for name, value in chosen.items():
        text = ("on" if value else "off") if isinstance(value, bool) else str(getattr(value, "value", value))
        words.append(f"{LABELS.get(name, name)} : {VALUE_LABELS.get(text, text)}")
    return " ; ".join(words)


def charts(result: Impact) -> list[Chart]:
    """Due and to recover per calendar year (every CPAM of the answer), recorded and under the policies."""
    years: dict[int, list[Decimal]] = {}
    for r in result.rows():
        sums = years.setdefault(r["year"], [Decimal(0)] * 4)
        for i, value in enumerate((r["actual"].due, r["replayed"].due, r["actual"].to_recover,
                                   r["replayed"].to_recover)):  # fmt: skip
            sums[i] += value
    labels = [f"Année {y}" for y in sorted(years)]
    column = [[years[y][i] for y in sorted(years)] for i in range(4)]
    return [
        bars("impact-due", "Aide due par année : enregistrée et sous la politique", labels,
             [("enregistrée", column[0]), ("sous la politique", column[1])], fmt.euros),
        bars("impact-recover", "À récupérer par année : enregistré et sous la politique", labels,
             [("enregistré", column[2]), ("sous la politique", column[3])], fmt.euros),
    ]  # fmt: skip
