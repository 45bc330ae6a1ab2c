"""Read models fed by the event log: conventions list, portfolio, ledger, calendar, history."""

from __future__ import annotations

from projections.base import ReadModel
from projections.calendar import Calendar
from projections.conventions_list import ConventionsList
from projections.history import History
from projections.ledger import Ledger
from projections.portfolio import Portfolio


def all_models() -> list[ReadModel]:
    """A fresh instance of every read model (each keeps a per-process cache)."""
    return [ConventionsList(), Portfolio(), Ledger(), Calendar(), History()]
