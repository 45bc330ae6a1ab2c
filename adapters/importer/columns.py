"""The import file's columns: one definition, read by the parser, the documentation test and the
benchmark. ``required`` columns must be present in the header and filled on every row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str
    format: str
    required: bool
    example: str


COLUMNS: tuple[Column, ...] = (
    Column("number", "Numéro de la convention (unique dans la CPAM)", "1 à 40 lettres, chiffres, . _ / -", True,
           "C-2024-0001"),
    Column("cpam", "Code de la CPAM signataire", "3 chiffres", True, "281"),
    Column("rpps", "RPPS du médecin", "11 chiffres, clé de Luhn", True, "10000000009"),
    Column("name", "Nom du médecin", "texte, 200 caractères au plus", True, "Dr Martin"),
    Column("specialty", "Spécialité", "general_practice, paediatrics, cardiology, dermatology, psychiatry, "
           "surgery, ent, gynaecology, other...", True, "general_practice"),
    Column("sector", "Secteur conventionnel", "1, 2 ou 3", True, "1"),
    Column("optam", "Adhérent OPTAM / OPTAM-ACO", "oui / non (vide : non)", False, "non"),
    Column("ccam_share", "Part des honoraires techniques CCAM (%)", "nombre 0-100", False, "12,5"),
    Column("newly_installed", "Médecin nouvellement installé", "oui / non", False, "non"),
    Column("mep", "Médecin à exercice particulier", "oui / non", False, "non"),
    Column("zip_area", "Cabinet en zone d'intervention prioritaire", "oui / non", False, "oui"),
    Column("aged_65", "Médecin de 65 ans ou plus", "oui / non", False, "non"),
    Column("am_number", "Numéro AM du médecin", "9 chiffres", False, "281234567"),
    Column("dedicated_room", "Pièce dédiée à l'assistant", "oui / non (vide : oui)", False, "oui"),
    Column("option", "Option de l'aide", "FULL (1 ETP), HALF (0,5 ETP), THIRD (1/3 ETP)", True, "FULL"),
    Column("percentile", "Rang national du médecin (fixe le palier)", "entier 0-100", True, "50"),
    Column("patients", "Patientèle à la signature", "entier", True, "1000"),
    Column("target", "Objectif de patientèle à la signature", "entier (vide : déduit si la règle le permet)",
           False, "1200"),
    Column("signed", "Date de signature", "AAAA-MM-JJ ou JJ/MM/AAAA", True, "2024-02-01"),
    Column("effective", "Date de prise d'effet", "AAAA-MM-JJ ou JJ/MM/AAAA", True, "2024-03-01"),
    Column("modulation", "Modulation de l'aide à partir de l'année 3", "proportional / steps (vide : proportional)",
           False, "proportional"),
    Column("pause_clock", "La suspension arrête l'horloge du contrat", "oui / non (vide : oui)", False, "oui"),
    Column("hired", "Date d'embauche de l'assistant", "date (vide : pas encore d'assistant)", False, "2024-03-01"),
    Column("fte", "Temps de travail de l'assistant (ETP)", "nombre, 0 < ETP ≤ 2 (requis avec hired)", False, "1"),
    Column("profile", "Profil de l'assistant", "nurse, care_aide, childcare_aide, secretary, other "
           "(requis avec hired)", False, "nurse"),
    Column("siret", "SIRET du groupement employeur", "14 chiffres, clé valide", False, "73282932000074"),
    Column("was_secretary", "L'assistant était la secrétaire du cabinet", "oui / non", False, "non"),
    Column("trained", "Fin de formation de l'assistant", "date", False, "2025-01-15"),
    Column("objectives", "Objectifs fixés par avenant", "année:objectif:date;...", False, "3:1250:2026-02-10"),
    Column("attainments", "Patientèle observée en fin d'année", "année:patients:date;...", False,
           "1:1080:2025-03-10"),
    Column("payments", "Paiements déjà faits", "date:échéance:montant[:référence];...", False,
           "2024-03-20:y1-full:38000,00:VIR-0001"),
    Column("suspensions", "Suspensions (avenants)", "début..fin[:motif[:accord]];... (fin vide : en cours)", False,
           "2025-05-01..2025-08-31:long_absence"),
    Column("reviews", "Points semestriels tenus", "date;date;...", False, "2024-09-02;2025-03-03"),
)  # fmt: skip

BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
ERROR_COLUMN = "erreur"  # the rejected file's column: ignored when the file is imported again
