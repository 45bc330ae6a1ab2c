"""The web adapter's pure parts: forms drawn and read from the command models, French messages,
where a domain refusal lands, the charts, the freshness sentence and the session signing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from adapters.web import forms
from adapters.web.charts import bars
from adapters.web.render import freshness_text
from adapters.web.session import Sessions, same
from domain.commands import COMMANDS, Hire, RecordAttainment, Sign, Terminate
from domain.errors import InvalidInput


def test_every_command_model_has_a_form_with_every_field() -> None:
    for model in COMMANDS:
        names = {s.name for s in forms.specs(model)}
        assert {n for n in model.model_fields if n != "policies"} <= names, model.__name__
        assert [s.name for s in forms.specs(model)][-1] == "reason"  # the reason comes last


def test_field_kinds_follow_the_model_types() -> None:
    kinds = {s.name: s for s in forms.specs(Sign)}
    assert kinds["signed_on"].kind == "date" and kinds["signed_on"].required
    assert kinds["percentile"].kind == "int"
    assert kinds["ccam_share"].kind == "decimal" and not kinds["ccam_share"].required
    assert kinds["optam"].kind == "checkbox" and kinds["dedicated_room"].default is True
    assert kinds["specialty"].kind == "select"
    assert ("general_practice", "Médecine générale") in kinds["specialty"].choices
    assert [v for v, _ in kinds["sector"].choices] == ["1", "2", "3"]
    assert kinds["policies"].kind == "group"
    assert [c.name for c in kinds["policies"].children] == ["policies.modulation", "policies.pause_clock"]
    assert kinds["rpps"].label == "Numéro RPPS du médecin" and kinds["rpps"].hint == "11 chiffres"
    assert {s.name: s.kind for s in forms.specs(Terminate)}["ground"] == "textarea"


def test_a_submitted_form_becomes_the_model() -> None:
    form = {
        "hired_on": "01/03/2025", "fte": "0,5", "profile": "nurse", "employer_siret": "",
        "was_practice_secretary": "on", "reason": "",
    }  # fmt: skip
    command = Hire.model_validate(forms.parse(forms.specs(Hire), form))
    assert command.hired_on == date(2025, 3, 1) and command.fte == Decimal("0.5")
    assert command.employer_siret is None and command.was_practice_secretary is True and command.reason == ""
    sign = forms.parse(forms.specs(Sign), {"sector": "2", "percentile": "1 000", "policies.modulation": "steps"})
    assert sign["sector"] == 2 and sign["percentile"] == 1000
    assert sign["policies"] == {"modulation": "steps", "pause_clock": False} and sign["optam"] is False


def test_refusals_are_french_and_named_by_form_field() -> None:
    specs = forms.specs(Sign)
    with pytest.raises(ValidationError) as caught:
        Sign.model_validate(forms.parse(specs, {"rpps": "123", "percentile": "douze", "policies.modulation": "x"}))
    errors = forms.validation_errors(Sign, caught.value)
    assert errors["rpps"] == "Format invalide : Numéro RPPS du médecin (11 chiffres)."
    assert errors["percentile"] == "Nombre entier attendu."
    assert errors["number"] == "Champ obligatoire."
    assert errors["policies.modulation"] == "Choisir une valeur de la liste."
    with pytest.raises(ValidationError) as caught:
        Hire.model_validate(forms.parse(forms.specs(Hire), {"hired_on": "1/3/25", "fte": "3", "profile": "nurse"}))
    errors = forms.validation_errors(Hire, caught.value)
    assert errors == {"hired_on": "Date attendue (JJ/MM/AAAA).", "fte": "Au plus 2."}


def test_a_domain_refusal_lands_next_to_the_field_it_is_about() -> None:
    def where(model: type, field: str | None) -> str | None:
        return forms.domain_error_field(model, InvalidInput("code", "message", field))

    assert where(Sign, "rpps") == "rpps"
    assert where(Hire, "siret") == "employer_siret"
    assert where(Sign, "name") == "doctor_name"
    assert where(Sign, "patients") == "initial_patients"
    assert where(RecordAttainment, "patients") == "observed_patients"
    assert where(Sign, "effective") == "effective_from"
    assert where(Terminate, "date") == "on"
    assert where(Hire, "unheard_of") is None and where(Hire, None) is None  # shown above the form


def test_initial_values_are_the_defaults_then_the_link() -> None:
    values = forms.initial(forms.specs(Sign), {"cpam_code": "281", "unknown": "x"})
    assert values["cpam_code"] == "281" and values["dedicated_room"] is True and values["optam"] is False
    assert values["policies.modulation"] == "proportional" and "unknown" not in values


def test_a_chart_escapes_its_labels_and_keeps_its_figures_in_a_table() -> None:
    chart = bars("k", "Titre <b>", ["CPAM <281>"], [("payée", [Decimal("38000")]), ("due", [0])], lambda v: f"{v} €")
    assert "<b>" not in chart.svg and "&lt;281&gt;" in chart.svg and 'role="img"' in chart.svg
    assert chart.rows == [["CPAM <281>", "38000 €", "0 €"]] and chart.series == ["payée", "due"]
    assert bars("e", "vide", [], [("x", [])]).rows == []


def test_freshness_is_a_french_sentence_in_local_time() -> None:
    at = datetime(2026, 11, 30, 13, 2, tzinfo=UTC)
    assert freshness_text({"as_of": at, "lag": 0}, "Europe/Paris") == "Données à jour au 30/11/2026 à 14:02."
    assert freshness_text({"as_of": at, "lag": 2}, "Europe/Paris").endswith("; 2 événements pas encore pris en compte.")
    assert freshness_text({"as_of": None, "lag": 0}, "Europe/Paris") == "Aucune donnée enregistrée pour l'instant."


def test_session_values_are_signed_and_expire() -> None:
    sessions = Sessions("secret", minutes=1)
    value = sessions.serializer.dumps({"u": "op", "c": "t"})
    assert sessions._load(value, 60) == {"u": "op", "c": "t"}
    assert sessions._load(value[:-2] + "xx", 60) is None  # forged
    assert Sessions("another secret", 1)._load(value, 60) is None
    assert sessions._load(value, -1) is None  # an age limit already past: expired
    assert same("abc", "abc") and not same("abc", "abd") and not same("", "")


def test_the_first_refused_field_gets_the_focus() -> None:
    specs = forms.specs(Sign)
    assert forms.first_refused(specs, {"signed_on": "x", "rpps": "y"}) == "rpps"  # the form's order
    assert forms.first_refused(specs, {"policies.modulation": "x"}) == "policies.modulation"
    assert forms.first_refused(specs, {"__all__": "x"}) is None


def test_a_work_queue_line_links_to_the_form_that_clears_it() -> None:
    from adapters.web.routes import action_link

    message = "Convention N1 (CPAM 281) : Atteinte de l'année 3 à saisir (année terminée le 01/04/2026)."
    line = {"convention_id": "c", "kind": "attainment_missing", "message": message}
    assert action_link(line) == "/web/conventions/c/attainments?year=3"
    assert action_link({**line, "kind": "review"}) == "/web/conventions/c/reviews"
    assert action_link({**line, "kind": "end_of_term"}) is None  # nothing to record: the convention page
