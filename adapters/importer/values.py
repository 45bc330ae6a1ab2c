"""One cell's text as a value, or a ``CellError`` saying in French what is wrong with it.

Spreadsheets write numbers and dates the French way: ``38 000,00``, ``0,5``, ``31/01/2025``; they
are read as such, alongside ``38000.00`` and ``2025-01-31``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_FRENCH = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_TRUE = {"oui", "o", "yes", "y", "true", "vrai", "1", "x"}
_FALSE = {"non", "n", "no", "false", "faux", "0"}


class CellError(ValueError):
    """A cell that cannot be read: its column, its text and why (French)."""

    def __init__(self, column: str, value: str, message: str) -> None:
        super().__init__(message)
        self.column, self.value, self.message = column, value, message


def day(text: str, column: str) -> date:
    """``AAAA-MM-JJ`` or ``JJ/MM/AAAA``, a date that exists."""
    iso, french = _ISO.fullmatch(text), _FRENCH.fullmatch(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if french:
            return date(int(french[3]), int(french[2]), int(french[1]))
    except ValueError:
        raise CellError(column, text, f"la date « {text} » n'existe pas.") from None
    raise CellError(column, text, f"« {text} » n'est pas une date (AAAA-MM-JJ ou JJ/MM/AAAA attendu).")


def boolean(text: str, column: str, default: bool) -> bool:
    if not text:
        return default
    folded = text.casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CellError(column, text, f"« {text} » : oui ou non attendu.")


def integer(text: str, column: str) -> int:
    """A whole number, blanks as thousands separators allowed; never negative."""
    plain = _unspaced(text)
    if re.fullmatch(r"-[0-9]+", plain):
        raise CellError(column, text, f"« {text} » : un nombre négatif n'a pas de sens ici.")
    if not re.fullmatch(r"[0-9]{1,9}", plain):
        raise CellError(column, text, f"« {text} » n'est pas un nombre entier.")
    return int(plain)


def amount(text: str, column: str) -> Decimal:
    """A non-negative decimal (``38 000,00`` or ``38000.00``), at most two decimals for money."""
    plain = _unspaced(text).replace(",", ".")
    try:
        value = Decimal(plain)
    except InvalidOperation:
        raise CellError(column, text, f"« {text} » n'est pas un nombre.") from None
    if not value.is_finite() or not re.fullmatch(r"-?[0-9]{1,12}(\.[0-9]{1,3})?", plain):
        raise CellError(column, text, f"« {text} » n'est pas un nombre (ex. 38000,00).")
    if value < 0:
        raise CellError(
            column, text, f"montant négatif « {text} » : écrire les montants sans signe (un indu récupéré aussi)."
        )
    return value


def choice(text: str, column: str, accepted: dict[str, str], what: str) -> str:
    """One of ``accepted`` (keys folded to lower case; values are the domain's codes)."""
    found = accepted.get(text.casefold())
    if found is None:
        codes = ", ".join(dict.fromkeys(accepted.values()))
        raise CellError(column, text, f"{what} « {text} » inconnu(e) ; valeurs acceptées : {codes}.")
    return found


def items(text: str) -> list[str]:
    """A list cell: items separated by ``;`` (blanks ignored)."""
    return [part.strip() for part in text.split(";") if part.strip()]


def _unspaced(text: str) -> str:
    return text.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
