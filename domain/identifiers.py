"""Identifier checks (R19): RPPS, SIRET, numéro AM, CPAM code, and deterministic ids."""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from stdnum import luhn
from stdnum.fr import siret as stdnum_siret

from domain.errors import InvalidInput

NAMESPACE = uuid5(NAMESPACE_URL, "https://cpam-conventions.invalid/conventions")


def check_rpps(value: str) -> str:
    """RPPS: 11 digits, the last a Luhn check digit. Digits are ASCII: ``\\d`` would accept any script's."""
    value = value.strip()
    if not re.fullmatch(r"[0-9]{11}", value):
        raise InvalidInput("invalid_rpps", f"RPPS « {value} » : 11 chiffres attendus.", "rpps")
    if not luhn.is_valid(value):
        raise InvalidInput("invalid_rpps", f"RPPS « {value} » : clé de contrôle (Luhn) incorrecte.", "rpps")
    return value


def check_siret(value: str) -> str:
    """SIRET of the assistant's employer (groupement d'employeurs): 14 digits, Luhn."""
    value = value.strip().replace(" ", "")
    if not re.fullmatch(r"[0-9]{14}", value) or not stdnum_siret.is_valid(value):
        raise InvalidInput("invalid_siret", f"SIRET « {value} » : 14 chiffres avec une clé valide.", "siret")
    return value


def check_am_number(value: str) -> str:
    """Numéro AM of the doctor: 9 digits."""
    value = value.strip()
    if not re.fullmatch(r"[0-9]{9}", value):
        raise InvalidInput("invalid_am_number", f"Numéro AM « {value} » : 9 chiffres.", "am_number")
    return value


def check_cpam_code(value: str) -> str:
    """CPAM code: 3 digits (281 for Eure-et-Loir)."""
    value = value.strip()
    if not re.fullmatch(r"[0-9]{3}", value):
        raise InvalidInput("invalid_cpam", f"Code CPAM « {value} » : 3 chiffres.", "cpam_code")
    return value


def check_contract_number(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,39}", value):
        raise InvalidInput(
            "invalid_number",
            f"Numéro de convention « {value} » : 1 à 40 lettres, chiffres, . _ / -.",
            "number",
        )
    return value


def convention_id(cpam_code: str, number: str) -> UUID:
    """A convention's id derives from its CPAM and its contract number."""
    return uuid5(NAMESPACE, f"convention:{cpam_code}:{number}")


def doctor_registration_id(rpps: str) -> UUID:
    """One registration per doctor: it says which convention, if any, is active."""
    return uuid5(NAMESPACE, f"doctor:{rpps}")


def command_receipt_id(command_id: str) -> UUID:
    """A command id maps to one receipt; saving it twice fails atomically."""
    return uuid5(NAMESPACE, f"command:{command_id}")


def instalment_id(year: int, kind: str) -> str:
    """An instalment is identified by (convention, year, kind): ``y3-advance``."""
    return f"y{year}-{kind}"
