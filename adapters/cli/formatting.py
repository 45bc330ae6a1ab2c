"""How every CLI table writes numbers, money, dates and codes: the way French operators write them.

One place for all tables (``show``, ``history``, ``list``, ``dashboard``, ``due``, ``estimate``,
``users list``): ``1 206 000,00 €`` (narrow no-break spaces, U+202F, as thousands separator and
before the sign), ``30/11/2026``, French words for statuses and kinds. JSON output does not come
here: machines read ISO dates, plain decimal strings and the codes.

Tables fit 80 columns: identifiers, amounts, dates and labels never wrap nor get cut (``key`` and
``num`` columns); only free text (``text`` columns: names, messages, reasons) wraps.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Column, Table

from domain import french
from domain.french import NNBSP, number

NONE = "—"

LABELS: dict[str, dict[str, str]] = {
    "status": {"active": "actif", "suspended": "suspendu", "terminated": "résilié"},
    "instalment_kind": {"full": "intégral", "advance": "avance", "balance": "solde", "settlement": "résiliation"},
    "alert": {
        "no_assistant": "sans assistant",
        "training_deadline": "formation",
        "review": "point semestriel",
        "attainment_missing": "atteinte à saisir",
        "balance_waiting": "solde en attente",
        "end_of_term": "fin de période",
        "secretary_replacement": "secrétaire à remplacer",
        "nightly_failure": "échéancier en échec",
    },
    "event": {
        "Signed": "signature",
        "YearStarted": "début d'année",
        "AssistantHired": "embauche",
        "AssistantLeft": "départ de l'assistant",
        "TrainingCompleted": "formation achevée",
        "ObjectiveSet": "objectif fixé",
        "AttainmentRecorded": "atteinte constatée",
        "InstalmentDue": "échéance",
        "InstalmentCancelled": "échéance annulée",
        "PaymentRecorded": "paiement",
        "Suspended": "suspension",
        "Reactivated": "réactivation",
        "ReviewDue": "point semestriel dû",
        "ReviewHeld": "point semestriel tenu",
        "ChainAnchored": "historique scellé (chaîne d'empreintes)",
        "Renewed": "reconduction",
        "OptionChanged": "changement d'option",
        "Terminated": "résiliation",
        "SecretaryHired": "nouvelle secrétaire",
    },
    "role": {"operator": "opérateur", "auditor": "auditeur", "manager": "gestionnaire", "admin": "administrateur"},
}


def label(kind: str, value: Any) -> str:
    """The French word for a code (``label("status", "active")`` is ``actif``); the code itself
    when there is none, so a new code shows rather than vanishes."""
    code = getattr(value, "value", value)
    return LABELS[kind].get(str(code), str(code))


def status_label(status: Any) -> str:
    return label("status", status)


def euros(amount: Decimal | int | str | None) -> str:
    """``1 206 000,00 €`` (``domain.french``), a dash when there is no amount."""
    return NONE if amount is None else french.euros(amount)


def percent(fraction: Decimal | str | None) -> str:
    """``40 %`` (``0.4``); one decimal when it is not a whole percentage."""
    if fraction is None:
        return NONE
    value = Decimal(str(fraction)) * 100
    return f"{number(value, 0 if value == value.to_integral_value() else 1)}{NNBSP}%"


def fr_date(value: date | datetime | str | None) -> str:
    """``30/11/2026``; ISO text is accepted (read models hand some dates as text)."""
    if value is None or value == "":
        return NONE
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    return french.dd_mm_yyyy(value)


def fr_datetime(value: datetime | str | None) -> str:
    """``30/11/2026 23:38``."""
    if value is None or value == "":
        return NONE
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{fr_date(value)} {value.hour:02d}:{value.minute:02d}"


def instalment_status(status: str, amount: Decimal, paid_on: date | None) -> str:
    """``payé le 24/10/2023``, ``à payer``; for a negative amount ``récupéré``, ``à récupérer``."""
    back = Decimal(str(amount)) < 0
    if status == "paid":
        return ("récupéré" if back else "payé") + (f" le {fr_date(paid_on)}" if paid_on else "")
    if status == "due":
        return "à récupérer" if back else "à payer"
    return {"cancelled": "annulé"}.get(status, status)


# ---------------------------------------------------------------- tables


def key(header: str) -> Column:
    """An identifier, a date, a code or a label: shown whole, never wrapped (folded, not cut, as a last resort)."""
    return Column(header, no_wrap=True, overflow="fold")


def num(header: str) -> Column:
    """A count or an amount: right-aligned, shown whole."""
    return Column(header, no_wrap=True, overflow="fold", justify="right")


def text(header: str) -> Column:
    """Free text: the only kind of column that wraps when the terminal is narrow."""
    return Column(header, overflow="fold")


def table(*columns: Column, title: str | None = None, footer: bool = False) -> Table:
    """A table in the one house style: a rule under the header (and above the footer), two spaces
    between columns, no frame, so more of 80 columns goes to the figures."""
    return Table(
        *columns, title=title, title_justify="left", title_style="bold", box=box.SIMPLE, show_edge=False,
        pad_edge=False, padding=(0, 1, 0, 0), show_footer=footer, footer_style="bold",
    )  # fmt: skip


def console() -> Console:
    """The terminal's width (``COLUMNS`` when set); 160 columns when printing to a pipe or a
    file without ``COLUMNS`` (rich would assume 80)."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit():
        return Console()
    return Console(width=160)
