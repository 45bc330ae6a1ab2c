"""How French operators write amounts and dates: ``1 206 000,00 €``, ``30/11/2026``.

One place for the CLI's tables (``adapters/cli/formatting.py``), the history's sentences and the
work queue's messages (``projections``). Written by hand, not through the process's locale: the
server's locale is not the reader's, and ``strftime`` costs several times more.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

NNBSP = "\u202f"  # narrow no-break space: thousands separator, and before "€" / "%" in tables


def number(value: int | Decimal | str, places: int = 0) -> str:
    """``1 234`` or, with ``places``, ``0,50``: narrow no-break spaces, decimal comma."""
    text = f"{Decimal(str(value)):,.{places}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def euros(amount: int | Decimal | str, before_sign: str = NNBSP) -> str:
    """``1 206 000,00 €``; a negative amount (to recover) keeps its minus sign. ``before_sign``:
    the space before ``€`` (the history's sentences were written with an ordinary one)."""
    return f"{number(amount, 2)}{before_sign}€"


def dd_mm_yyyy(day: date) -> str:
    """``30/11/2026`` (a ``datetime`` gives its date)."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"
