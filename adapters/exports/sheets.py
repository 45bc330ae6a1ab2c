"""What each export holds: its columns (French header, cell type, width) and its rows, read from
the projections (``projections.exports``). One definition serves both formats and both callers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from adapters.cli.formatting import label
from domain.values import Option
from projections import exports
from projections.engine.store import ProjectionStore
from projections.scope import Scope

CellType = Literal["text", "date", "euros", "int", "fte", "flag"]
KINDS = ("conventions", "ledger", "work-queue")
TITLES = {"conventions": "Conventions", "ledger": "Grand livre", "work-queue": "À traiter"}
LEDGER_STATUS = {"due": "à régler", "paid": "réglée", "cancelled": "annulée"}
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Column:
    header: str
    type: CellType
    width: int  # characters, for the XLSX column
    value: Callable[[dict[str, Any]], Any]


@dataclass
class Sheet:
    """One export: a title, its columns and its rows (dicts from the projections)."""

    kind: str
    title: str
    columns: tuple[Column, ...]
    rows: Iterable[dict[str, Any]]

    def values(self) -> Iterator[list[Any]]:
        """The typed cells of each row, in column order (``None``: an empty cell)."""
        getters = [c.value for c in self.columns]
        for row in self.rows:
            yield [get(row) for get in getters]


def _key(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[name]


def _label(kind: str, name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: label(kind, row[name])


def _positive(name: str) -> Callable[[dict[str, Any]], Decimal | None]:
    """The amount when it is owed to the doctor (zero included), else empty."""
    return lambda row: row[name] if row[name] is not None and row[name] >= 0 else None


def _negated(name: str) -> Callable[[dict[str, Any]], Decimal | None]:
    """An amount the CPAM recovers (stored negative), as a positive figure; else empty."""
    return lambda row: -row[name] if row[name] is not None and row[name] < 0 else None


def _funded_fte(row: dict[str, Any]) -> Decimal:
    """The ETP the option funds (R3), none once terminated: what the dashboard sums."""
    return ZERO if row["status"] == "terminated" else Option(row["option"]).fte


def _task(row: dict[str, Any]) -> str:
    return str(row["message"]).removeprefix(f"Convention {row['number']} (CPAM {row['cpam']}) : ")


CONVENTIONS = (
    Column("N° de convention", "text", 16, _key("number")),
    Column("CPAM", "text", 7, _key("cpam_code")),
    Column("RPPS", "text", 13, _key("rpps")),
    Column("Médecin", "text", 28, _key("doctor_name")),
    Column("Spécialité", "text", 18, _key("specialty")),
    Column("Statut", "text", 10, _label("status", "status")),
    Column("Option", "text", 8, _key("option")),
    Column("Niveau", "text", 8, _key("tier")),
    Column("Année de contrat", "int", 9, _key("contract_year")),
    Column("Signée le", "date", 11, _key("signed_on")),
    Column("Prise d'effet", "date", 11, _key("effective_from")),
    Column("ETP financés", "fte", 9, _funded_fte),
    Column("ETP de l'assistant", "fte", 9, _key("assistant_fte")),
    Column("Suspendue depuis", "date", 11, _key("suspended_since")),
    Column("Résiliée le", "date", 11, _key("terminated_on")),
    Column("Version", "int", 8, _key("version")),
    Column("Identifiant", "text", 37, _key("convention_id")),
)
LEDGER = (
    Column("N° de convention", "text", 16, _key("number")),
    Column("CPAM", "text", 7, _key("cpam_code")),
    Column("Échéance", "text", 13, _key("instalment_id")),
    Column("Année de contrat", "int", 9, _key("year")),
    Column("Nature", "text", 12, _label("instalment_kind", "kind")),
    Column("Échue le", "date", 11, _key("fell_due_on")),
    Column("À payer le", "date", 11, _key("due_date")),
    Column("Montant dû (€)", "euros", 14, _positive("amount")),
    Column("À récupérer (€)", "euros", 14, _negated("amount")),
    Column("Statut", "text", 10, lambda row: LEDGER_STATUS.get(row["status"], row["status"])),
    Column("Réglée le", "date", 11, _key("paid_on")),
    Column("Réglé (€)", "euros", 14, _positive("paid_amount")),
    Column("Récupéré (€)", "euros", 14, _negated("paid_amount")),
    Column("Référence du paiement", "text", 20, _key("payment_reference")),
    Column("Annulée le", "date", 11, _key("cancelled_on")),
    Column("Base de calcul", "text", 40, _key("basis")),
    Column("Identifiant", "text", 37, _key("convention_id")),
)
WORK_QUEUE = (
    Column("Date", "date", 11, _key("date")),
    Column("En retard", "flag", 9, _key("overdue")),
    Column("Nature", "text", 22, _label("alert", "kind")),
    Column("N° de convention", "text", 16, _key("number")),
    Column("CPAM", "text", 7, _key("cpam")),
    Column("Ce qu'il faut faire", "text", 70, _task),
    Column("Identifiant", "text", 37, lambda row: str(row["convention_id"])),
)


def build(kind: str, store: ProjectionStore, *, today: date, cpams: Scope = None, year: int | None = None) -> Sheet:
    """The sheet of ``kind`` (one of ``KINDS``) for the CPAMs of ``cpams`` (None: all), rows read
    now from caught-up read models; ``today`` dates the work queue."""
    if kind == "conventions":
        return Sheet(kind, TITLES[kind], CONVENTIONS, exports.conventions(store, cpams, year))
    if kind == "ledger":
        return Sheet(kind, TITLES[kind], LEDGER, exports.instalments(store, cpams, year))
    if kind == "work-queue":
        return Sheet(kind, TITLES[kind], WORK_QUEUE, exports.work_queue(store, today, cpams, year))
    raise ValueError(f"unknown export {kind!r}: one of {', '.join(KINDS)}")
