"""History: a human-readable timeline per convention, one French sentence per event, for auditors.

Each line says when it took effect, who recorded it and when, what happened and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from domain import events as ev
from projections.base import Item, ReadModel
from projections.store import ProjectionStore, Table, Tx

LINES = Table(
    "hist_lines",
    (
        ("convention_id", "TEXT NOT NULL"), ("version", "INTEGER NOT NULL"), ("effective_date", "TEXT NOT NULL"),
        ("recorded_at", "TEXT NOT NULL"), ("actor", "TEXT NOT NULL"), ("reason", "TEXT NOT NULL"),
        ("command_id", "TEXT NOT NULL"), ("event_type", "TEXT NOT NULL"), ("sentence", "TEXT NOT NULL"),
    ),
    ("convention_id", "version"),
)  # fmt: skip

PROFILES = {
    "nurse": "infirmier(e)", "care_aide": "aide-soignant(e)", "childcare_aide": "auxiliaire de puériculture",
    "secretary": "secrétaire", "other": "autre profil",
}  # fmt: skip
KINDS = {"full": "versement", "advance": "avance", "balance": "solde", "settlement": "solde de résiliation"}
GROUNDS = {
    "long_absence": "absence de l'assistant de plus de 3 mois",
    "replacement_difficulty": "difficulté de remplacement",
}


def d(day: date | None) -> str:
    return "?" if day is None else day.strftime("%d/%m/%Y")


def money(amount: Any) -> str:
    return f"{amount:,.2f} €".replace(",", "\u202f").replace(".", ",")


def _signed(e: ev.Signed) -> str:
    return (
        f"signature de la convention n° {e.number} (CPAM {e.cpam_code}) avec le Dr {e.doctor_name} "
        f"(RPPS {e.rpps}), option {e.option.value}, palier {e.tier.value} (P{e.percentile}), "
        f"prise d'effet le {d(e.effective_from)}, objectif {e.target_patients} patients (initial {e.initial_patients})"
    )


def _hired(e: ev.AssistantHired) -> str:
    what = "remplacement de l'assistant par" if e.replacement else "embauche d'"
    return (
        f"{what} un assistant {PROFILES.get(e.profile.value, e.profile.value)} à {e.fte} ETP, "
        f"formation {e.training} à achever avant le {d(e.training_deadline)}"
        + (f", employeur SIRET {e.employer_siret}" if e.employer_siret else "")
    )


def _instalment(e: ev.InstalmentDue) -> str:
    what = "montant à récupérer (indu)" if e.amount < 0 else KINDS.get(e.kind.value, e.kind.value)
    return (
        f"échéance {e.instalment_id} ({what}) de l'année {e.year} : {money(e.amount)}, "
        f"à payer au plus tard le {d(e.due_date)}"
    )


def _terminated(e: ev.Terminated) -> str:
    who = "par le médecin" if e.by.value == "doctor" else "par la CPAM"
    letter = f" (courrier du {d(e.letter_date)})" if e.letter_date else ""
    return f"résiliation {who}{letter}, motif : {e.ground}"


WHAT: dict[type, Callable[[Any], str]] = {
    ev.Signed: _signed,
    ev.AssistantHired: _hired,
    ev.AssistantLeft: lambda e: "départ de l'assistant",
    ev.TrainingCompleted: lambda e: "formation de l'assistant achevée",
    ev.ObjectiveSet: lambda e: f"objectif fixé à {e.target_patients} patients à partir de l'année {e.from_year}",
    ev.AttainmentRecorded: lambda e: (
        f"atteinte de l'année {e.year} : {e.observed_patients} patients observés pour un objectif de "
        f"{e.target_patients} (initial {e.initial_patients}), soit {e.attainment:.0%}"
    ),
    ev.YearStarted: lambda e: (
        f"début de l'année de contrat {e.year} (régime {e.regime}, option {e.option.value}, "
        f"montant annuel {money(e.full_amount)})"
    ),
    ev.InstalmentDue: _instalment,
    ev.InstalmentCancelled: lambda e: f"échéance {e.instalment_id} annulée (remplacée par le solde de résiliation)",
    ev.PaymentRecorded: lambda e: (
        f"{'recouvrement' if e.amount < 0 else 'paiement'} de l'échéance {e.instalment_id} : "
        f"{money(e.amount)}, référence {e.payment_reference}"
    ),
    ev.Suspended: lambda e: (
        f"suspension ({GROUNDS.get(e.ground.value, e.ground.value)}), accord du médecin du {d(e.agreement_date)}"
    ),
    ev.Reactivated: lambda e: f"réactivation après {e.suspended_days} jours de suspension",
    ev.ReviewDue: lambda e: f"point semestriel n° {e.k} dû",
    ev.ReviewHeld: lambda e: f"point semestriel du {d(e.due_date)} tenu" + (f" ({e.notes})" if e.notes else ""),
    ev.Renewed: lambda e: f"reconduction tacite : période {e.term} de 5 ans",
    ev.OptionChanged: lambda e: f"changement d'option : {e.option.value} pour les années suivantes",
    ev.Terminated: _terminated,
}


def sentence(e: ev.Event) -> str:
    """One French sentence: when, who, what, why."""
    what = WHAT.get(type(e), lambda x: type(x).__name__)(e)
    why = f" Motif : {e.reason}." if e.reason else ""
    return f"Le {d(e.effective_date)}, {e.actor} : {what}.{why} (Enregistré le {e.timestamp:%d/%m/%Y à %H:%M} UTC.)"


class History(ReadModel):
    name = "history"
    tables = (LINES,)

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        rows = [
            (cid, e.originator_version, e.effective_date.isoformat(), e.timestamp.isoformat(), e.actor, e.reason,
             e.command_id, type(e).__name__, sentence(e))
            for _, e, cid in items
        ]  # fmt: skip
        cols = LINES.column_names
        tx.executemany(
            f"INSERT INTO {tx.t(LINES.name)} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows
        )


def timeline(store: ProjectionStore, convention_id: UUID | str) -> list[dict[str, Any]]:
    """The convention's history in order, one sentence per event."""
    with store.reading() as tx:
        store.resolve(tx, History.name, History.tables)
        rows = tx.fetchall(
            f"SELECT {', '.join(LINES.column_names)} FROM {tx.t(LINES.name)} WHERE convention_id = ? ORDER BY version",
            [str(convention_id)],
        )
    return [dict(zip(LINES.column_names, r, strict=True)) for r in rows]
