"""History: a human-readable timeline per convention, one French sentence per event, for auditors.

Each line says when it took effect, who recorded it and when, what happened and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import resolve_topic

from domain import events as ev
from domain.events import upcast
from domain.french import dd_mm_yyyy, euros
from projections.base import Item, ReadModel
from projections.engine.store import ProjectionStore, Table, Tx

LINES = Table.of(
    "hist_events",
    "convention_id TEXT NOT NULL, version INTEGER NOT NULL, topic TEXT NOT NULL, state TEXT NOT NULL",
    key="convention_id, version",
    append_only=True,
)
TIMELINE = ("version", "event_type", "effective_date", "recorded_at", "actor", "reason", "command_id", "sentence")

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
    """dd/mm/yyyy, ``?`` for a date not recorded."""
    return "?" if day is None else dd_mm_yyyy(day)


def money(amount: Any) -> str:
    """Euros as the sentences have always written them (an ordinary space before ``€``)."""
    return euros(amount, before_sign=" ")


def _signed(e: ev.Signed) -> str:
    return (
        f"signature de la convention n° {e.number} (CPAM {e.cpam_code}) avec le Dr {e.doctor_name} "
        f"(RPPS {e.rpps}), option {e.option.value}, palier {e.tier.value} (P{e.percentile}), "
        f"prise d'effet le {d(e.effective_from)}, objectif {e.target_patients} patients (initial {e.initial_patients}, "
        f"{e.patient_measure.label})" + (f" : {e.objective_reason}" if e.objective_basis.value != "given" else "")
    )


def _hired(e: ev.AssistantHired) -> str:
    what = "remplacement de l'assistant par" if e.replacement else "embauche d'"
    return (
        f"{what} un assistant {PROFILES.get(e.profile.value, e.profile.value)} à {e.fte} ETP, "
        f"formation {e.training} à achever avant le {d(e.training_deadline)}"
        + (f", employeur SIRET {e.employer_siret}" if e.employer_siret else "")
        + (", auparavant secrétaire du cabinet (nouvelle secrétaire à embaucher sous 6 mois)"
           if e.was_practice_secretary else "")
    )  # fmt: skip


def _instalment(e: ev.InstalmentDue) -> str:
    what = "montant à récupérer (indu)" if e.amount < 0 else KINDS.get(e.kind.value, e.kind.value)
    return (
        f"échéance {e.instalment_id} ({what}) de l'année {e.year} : {money(e.amount)}, "
        f"à payer au plus tard le {d(e.due_date)}"
    )


def _attainment(e: ev.AttainmentRecorded) -> str:
    observed = f"{e.observed_patients} patients observés pour un objectif de {e.target_patients}"
    return f"atteinte de l'année {e.year} : {observed} (initial {e.initial_patients}), soit {e.attainment:.0%}"


def _payment(e: ev.PaymentRecorded) -> str:
    what = "recouvrement" if e.amount < 0 else "paiement"
    return f"{what} de l'échéance {e.instalment_id} : {money(e.amount)}, référence {e.payment_reference}"


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
    ev.AttainmentRecorded: _attainment,
    ev.YearStarted: lambda e: (
        f"début de l'année de contrat {e.year} (régime {e.regime}, option {e.option.value}, "
        f"montant annuel {money(e.full_amount)})"
    ),
    ev.InstalmentDue: _instalment,
    ev.InstalmentCancelled: lambda e: f"échéance {e.instalment_id} annulée (remplacée par le solde de résiliation)",
    ev.PaymentRecorded: _payment,
    ev.Suspended: lambda e: (
        f"suspension ({GROUNDS.get(e.ground.value, e.ground.value)}), accord du médecin du {d(e.agreement_date)}"
    ),
    ev.Reactivated: lambda e: f"réactivation après {e.suspended_days} jours de suspension",
    ev.ReviewDue: lambda e: f"point semestriel n° {e.k} dû",
    ev.ReviewHeld: lambda e: f"point semestriel du {d(e.due_date)} tenu" + (f" ({e.notes})" if e.notes else ""),
    ev.Renewed: lambda e: f"reconduction tacite : période {e.term} de 5 ans",
    ev.OptionChanged: lambda e: f"changement d'option : {e.option.value} pour les années suivantes",
    ev.Terminated: _terminated,
    ev.SecretaryHired: lambda e: "embauche d'une nouvelle secrétaire au cabinet déclarée",
    ev.ChainAnchored: lambda e: f"historique scellé : empreinte des versions 1 à {e.versions} enregistrée",
}


def sentence(e: ev.Event) -> str:
    """One French sentence: when, who, what, why."""
    what = WHAT.get(type(e), lambda x: type(x).__name__)(e)
    why = f" Motif : {e.reason}." if e.reason else ""
    ts = e.timestamp
    return (
        f"Le {d(e.effective_date)}, {e.actor} : {what}.{why} "
        f"(Enregistré le {d(ts)} à {ts.hour:02d}:{ts.minute:02d} UTC.)"
    )


class History(ReadModel):
    """Stores each event's JSON state (as the log holds it, decrypted) and writes the sentence when
    asked: rendering 1 000 000 sentences during a rebuild would cost more than the rest together,
    and the sentence is a pure function of the event, so the answer is the same.

    With the cipher key the state is kept as the log holds it, encrypted (base64 of the stored
    bytes, which the runner passes as is), and opened on read: names, notes, reasons and actors
    are never in clear here, and the rebuild saves the JSON it would otherwise write."""

    name = "history"
    tables = (LINES,)

    def apply(self, tx: Tx, items: Sequence[Item]) -> None:
        tx.insert(LINES, [(cid, e.originator_version, e.TOPIC, state) for _, e, cid, state in items])


def decode(convention_id: str, version: int, topic: str, state: str | bytes) -> ev.Event:
    """The event back from its stored state (upcast like the application's mapper does)."""
    cls = resolve_topic(topic)
    data = orjson.loads(state)
    upcast(cls, data)
    return cls(originator_id=UUID(convention_id), originator_version=version, **data)


def line(e: ev.Event) -> dict[str, Any]:
    return {
        "version": e.originator_version, "event_type": type(e).__name__, "effective_date": e.effective_date,
        "recorded_at": e.timestamp, "actor": e.actor, "reason": e.reason, "command_id": e.command_id,
        "sentence": sentence(e),
    }  # fmt: skip


def timeline(store: ProjectionStore, convention_id: UUID | str) -> list[dict[str, Any]]:
    """The convention's history in order, one French sentence per event."""
    with store.reading_live(History) as tx:
        rows = tx.fetchall(
            f"SELECT convention_id, version, topic, state FROM {tx.t(LINES.name)} WHERE convention_id = ? "
            "ORDER BY version",
            [str(convention_id)],
        )
    sealer = store.sealer
    if sealer is not None:
        return [line(decode(cid, version, topic, sealer.open_event(state))) for cid, version, topic, state in rows]
    return [line(decode(*row)) for row in rows]
