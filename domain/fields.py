"""The types of what an operator enters, shared by every command model (``domain.commands``).

They are strict the way a form or a JSON body must be: an integer is an integer (not ``"12"``,
``12.0`` or ``true``), a boolean a boolean, a date a ``date`` or a ``"YYYY-MM-DD"`` string only (not
a number, which lax parsing would read as seconds since 1970); ``fte`` is a number or a plain
decimal string. Dates are bounded (1950-2199) so no input can overflow the calendar rules; free
text refuses NUL and lone surrogates, which no store could keep. The rules themselves (R1-R29)
stay in the aggregate: these types only say what a well-formed value is.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from domain.values import SPECIALTIES

MIN_DAY = date(1950, 1, 1)
MAX_DAY = date(2199, 12, 31)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DECIMAL_PATTERN = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,12})?")


def kind_of(value: Any) -> str:
    """How a value is named in messages."""
    return {bool: "un booléen", int: "un entier", float: "un nombre", str: "une chaîne", type(None): "null"}.get(
        type(value), "un objet ou une liste"
    )


def _iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD``: a number (``0``, read as 1970-01-01) or a date-time is refused."""
    if (isinstance(value, date) and not isinstance(value, datetime)) or (
        isinstance(value, str) and _ISO_DAY.fullmatch(value)
    ):
        return value
    raise PydanticCustomError("date_type", "Date attendue au format AAAA-MM-JJ, reçu {kind}.", {"kind": kind_of(value)})


def _day_in_range(value: date) -> date:
    if not MIN_DAY <= value <= MAX_DAY:
        raise ValueError(f"date hors limites ({MIN_DAY.isoformat()} .. {MAX_DAY.isoformat()})")
    return value


def _json_int(value: Any) -> Any:
    if type(value) is int:
        return value
    raise PydanticCustomError("int_type", "Entier JSON attendu (ex. 12), reçu {kind}.", {"kind": kind_of(value)})


def _decimal_in(value: Any) -> Any:
    """A number or a plain decimal string (``"0.5"``): no boolean, exponent, sign or blank."""
    if (
        type(value) in (int, float)
        or isinstance(value, Decimal)
        or (isinstance(value, str) and DECIMAL_PATTERN.fullmatch(value))
    ):
        return value
    raise PydanticCustomError(
        "decimal_type",
        'Nombre JSON ou chaîne décimale attendu (ex. 0.5 ou "0.5"), reçu {kind}.',
        {"kind": kind_of(value)},
    )


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("caractère NUL interdit")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("texte non représentable en UTF-8") from None
    return value


DECIMAL_IN = BeforeValidator(_decimal_in)
DAY_SCHEMA = {
    "pattern": f"^{_ISO_DAY.pattern}$",
    "formatMinimum": MIN_DAY.isoformat(),
    "formatMaximum": MAX_DAY.isoformat(),
}
Day = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(_day_in_range),
    Field(
        examples=["2025-03-01"],
        description=f"Date AAAA-MM-JJ entre {MIN_DAY.isoformat()} et {MAX_DAY.isoformat()}.",
        json_schema_extra=DAY_SCHEMA,
    ),
]
Text = Annotated[str, AfterValidator(_storable)]
Reason = Annotated[Text, Field(max_length=1000, description="Pourquoi : enregistré sur chaque événement.")]
Specialty = Literal[SPECIALTIES]  # type: ignore[valid-type]
Sector = Annotated[Literal[1, 2, 3], BeforeValidator(_json_int)]  # not true, 1.0 or "1"
Patients = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]  # strict: an integer, not "12" or 12.0
ContractYear = Annotated[int, Field(strict=True, ge=1, le=100)]
Siret = Annotated[str, Field(pattern=r"^[0-9]{14}$", description="SIRET du groupement employeur (R19).")]
Fte = Annotated[
    Decimal,
    Field(gt=0, le=2, max_digits=5, decimal_places=3),
    DECIMAL_IN,
    Field(
        examples=["0.5"],
        description='Nombre ou chaîne décimale (0.5 ou "0.5"), 0 < ETP ≤ 2, trois décimales au plus.',
        json_schema_extra={
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
                {"type": "string", "pattern": f"^{DECIMAL_PATTERN.pattern}$"},
            ]
        },
    ),
]
