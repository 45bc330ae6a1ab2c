"""The operators' pages in a real browser: what an operator, an auditor and a manager do and see.

Every wait is for evidence (Playwright's auto-waiting on a URL, a text, an element), never a
guessed time. Each page visited is screenshot and checked with axe-core (``checked``).
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Site, checked, sign_in

SIGNATURE = {
    "Numéro de convention": "2026-0042", "Numéro RPPS du médecin": "10000000009", "Nom du médecin": "Dr Lefèvre",
    "Rang national 0-100": "60", "Patientèle à la signature": "900", "Objectif": "1000",
    "Date de signature": "2026-02-10", "Date de prise d'effet": "2026-03-01",
}  # fmt: skip


def fill_signature(page: Any, **over: str) -> None:
    page.goto("/web/conventions/nouvelle")
    for label, value in {**SIGNATURE, **over}.items():
        page.get_by_label(label, exact=False).first.fill(value)
    page.get_by_label("Spécialité du médecin").select_option("general_practice")
    page.get_by_label("Secteur conventionnel").select_option("1")
    page.get_by_label("Option de l'aide").select_option("FULL")


def test_sign_in_sign_through_the_form_then_see_it_in_the_list_and_the_dashboard(page: Any, site: Site) -> None:
    page.goto("/web/conventions")
    expect(page).to_have_url(re.compile(r"/web/connexion\?suite="))  # signed out: to the sign-in page
    checked(page, "connexion")
    sign_in(page, site, "op281")
    expect(page.get_by_test_id("freshness")).to_be_visible()
    fill_signature(page)
    checked(page, "signature")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("done")).to_have_text("Enregistré : Signer une convention.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Convention 2026-0042")
    checked(page, "convention")

    page.get_by_role("link", name="Conventions", exact=True).click()
    page.get_by_role("searchbox").fill("Lefèvre")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_role("link", name="2026-0042")).to_be_visible()
    expect(page.get_by_test_id("list-total")).to_have_text("1 convention")
    as_of = re.compile(r"Données à jour au \d\d/\d\d/\d{4} à \d\d:\d\d")
    expect(page.get_by_test_id("freshness")).to_contain_text(as_of)
    checked(page, "liste")

    page.get_by_role("link", name="Tableau de bord").click()
    expect(page.get_by_test_id("total")).to_have_text("1")
    expect(page.get_by_test_id("table-status")).to_contain_text("CPAM 281")
    checked(page, "tableau-de-bord")

    page.get_by_role("link", name="À traiter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("À traiter au 30/11/2026")
    checked(page, "a-traiter")

    page.get_by_role("link", name="Simulateur").click()
    page.get_by_label("Option de l'aide").select_option("FULL")
    page.get_by_label("Niveau d'aide").select_option("BASE")
    page.get_by_label("Date de prise d'effet").fill("2025-03-01")
    page.get_by_role("button", name="Simuler").click()
    expect(page.get_by_test_id("estimate")).to_contain_text("€")
    checked(page, "simulateur")

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/web/connexion$"))
    page.goto("/web/conventions")
    expect(page).to_have_url(re.compile(r"/web/connexion\?suite="))


def test_hire_then_suspend_moves_the_anniversary(page: Any, site: Site) -> None:
    cid = site.sign()  # effective 01/03/2025: year 2 began 01/03/2026, year 3 begins 01/03/2027
    sign_in(page, site, "op281")
    page.goto(f"/web/conventions/{cid}")
    anniversary = page.get_by_test_id("anniversaries").locator("tbody tr").nth(2).locator("td").nth(1)
    expect(anniversary).to_have_text("01/03/2027")

    page.get_by_role("link", name="Embauche de l'assistant").click()
    page.get_by_label("Date d'embauche").fill("2025-03-01")
    page.get_by_label("Temps de travail en ETP").fill("0,5")
    page.get_by_label("Profil de l'assistant").select_option("nurse")
    checked(page, "embauche")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("done")).to_have_text("Enregistré : Embauche de l'assistant.")
    expect(page.get_by_test_id("assistant")).to_contain_text("0,50 ETP")

    page.get_by_role("link", name="Suspension (avenant)").click()
    page.get_by_label("Début de la suspension").fill("2026-06-01")
    page.get_by_label("Motif de l'absence de l'assistant").select_option("long_absence")
    page.get_by_label("Date de l'accord écrit du médecin").fill("2026-05-20")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("done")).to_have_text("Enregistré : Suspension (avenant).")
    expect(anniversary).to_have_text("suspendu : anniversaire reporté")

    page.get_by_role("link", name="Réactivation (avenant)").click()
    page.get_by_label("Date de reprise").fill("2026-08-01")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("done")).to_have_text("Enregistré : Réactivation (avenant).")
    expect(anniversary).to_have_text("01/05/2027")  # moved by the 61 days of suspension (R16)
    expect(page.get_by_test_id("timeline")).to_contain_text("op281")
    checked(page, "convention-suspendue")

    page.get_by_label("État au").fill("2026-07-01")  # the auditor's "state as of" selector
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_test_id("as-of")).to_contain_text("État au 01/07/2026")
    expect(anniversary).to_have_text("suspendu : anniversaire reporté")


def test_a_bad_rpps_is_shown_next_to_its_field_and_nothing_is_recorded(page: Any, site: Site) -> None:
    sign_in(page, site, "op281")
    fill_signature(page, **{"Numéro RPPS du médecin": "10000000001"})  # 11 digits, wrong Luhn key: the domain says
    page.get_by_role("button", name="Enregistrer").click()
    error = page.locator("[data-field=rpps] .fr-error-text")
    expect(error).to_contain_text("clé de contrôle (Luhn) incorrecte")
    expect(page.get_by_label("Nom du médecin")).to_have_value("Dr Lefèvre")  # what was typed is kept
    checked(page, "rpps-refuse")

    page.get_by_label("Numéro RPPS du médecin").fill("123")  # the model's own check
    page.get_by_role("button", name="Enregistrer").click()
    expect(error).to_have_text("Format invalide : Numéro RPPS du médecin (11 chiffres).")
    assert list(site.app.convention_ids()) == []


def fill_the_hire_form(page: Any, cid: str) -> None:
    """The hire form of a convention, filled (not sent): a nurse full time from 01/03/2025."""
    page.goto(f"/web/conventions/{cid}/hires")
    page.get_by_label("Date d'embauche").fill("2025-03-01")
    page.get_by_label("Temps de travail en ETP").fill("1")
    page.get_by_label("Profil de l'assistant").select_option("nurse")


def test_a_double_submit_records_once(page: Any, site: Site) -> None:
    """A review form sent twice (a double click, a network retry). Held on 15/01/2026, it settles the
    review due 01/09/2025, and a second one would settle the review due 01/03/2026 (R11 lets it be
    held 60 days early): without the form's own key the second submit would record it too."""
    cid = site.sign()
    sign_in(page, site, "op281")
    page.goto(f"/web/conventions/{cid}/reviews")
    page.get_by_label("Date du point semestriel").fill("2026-01-15")
    landed = page.evaluate(
        """async () => {
            const form = document.querySelector('form.web-form');
            const send = () => fetch(form.action, {method: 'POST', body: new URLSearchParams(new FormData(form))});
            const first = await send();
            const second = await send();
            return [first.url, second.url, first.status, second.status];
        }"""
    )
    assert landed[0] == landed[1] and "?fait=reviews&v=" in landed[0] and landed[2:] == [200, 200], landed
    assert site.events(cid, "ReviewHeld") == 1  # both requests were answered: no race left
    page.goto(f"/web/conventions/{cid}/reviews")  # a new form, a new key: a second review is recorded
    page.get_by_label("Date du point semestriel").fill("2026-01-16")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_test_id("done")).to_have_text("Enregistré : Point semestriel tenu.")
    assert site.events(cid, "ReviewHeld") == 2


def test_a_stale_page_is_refused_and_explained(page: Any, site: Site) -> None:
    cid = site.sign()
    sign_in(page, site, "op281")
    fill_the_hire_form(page, cid)
    other = page.context.new_page()  # meanwhile, in another tab, the objective changes
    other.goto(f"/web/conventions/{cid}/objectives")
    other.get_by_label("Première année de contrat concernée").fill("2")
    other.get_by_label("Objectif de patientèle").fill("1150")
    other.get_by_role("button", name="Enregistrer").click()
    expect(other.get_by_test_id("done")).to_be_visible()

    page.get_by_role("button", name="Enregistrer").click()
    stale = page.get_by_test_id("stale")
    expect(stale).to_contain_text("La convention a changé depuis l'ouverture de ce formulaire")
    expect(stale).to_contain_text("rien n'a été enregistré")
    expect(stale).to_contain_text("op281 : objectif fixé à 1150 patients")  # what changed, and who
    assert site.events(cid, "AssistantHired") == 0
    checked(page, "perime")
    page.get_by_role("button", name="Enregistrer").click()  # re-read, sent again on the new version
    expect(page.get_by_test_id("done")).to_have_text("Enregistré : Embauche de l'assistant.")
    assert site.events(cid, "AssistantHired") == 1


def test_an_auditor_and_a_manager_have_no_buttons_and_a_forged_post_is_refused(page: Any, site: Site) -> None:
    cid = site.sign()
    for name in ("auditrice", "gestion"):
        page.context.clear_cookies()
        sign_in(page, site, name)
        expect(page.get_by_role("link", name="Signer une convention")).to_have_count(0)
        page.goto(f"/web/conventions/{cid}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Convention 2025-0001")
        expect(page.get_by_role("heading", name="Actions")).to_have_count(0)
        expect(page.get_by_role("link", name="Embauche de l'assistant")).to_have_count(0)
        checked(page, f"convention-{name}")
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        forged = page.request.post(
            f"/web/conventions/{cid}/hires",
            form={"csrf": csrf, "key": "forged-0001", "hired_on": "2025-03-01", "fte": "1", "profile": "nurse"},
            max_redirects=0,
        )
        assert forged.status == 403, (name, forged.status)
        assert page.request.get(f"/web/conventions/{cid}/hires", max_redirects=0).status == 403
    assert site.events(cid, "AssistantHired") == 0


def test_an_operator_of_another_cpam_gets_not_found(page: Any, site: Site) -> None:
    cid = site.sign()
    sign_in(page, site, "op282")
    expect(page.get_by_test_id("list-total")).to_have_text("0 convention")
    response = page.goto(f"/web/conventions/{cid}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Convention introuvable")
    checked(page, "introuvable")
    unknown = page.goto("/web/conventions/00000000-0000-0000-0000-000000000000")
    assert unknown is not None and unknown.status == 404  # the very same answer as an unknown id
    page.goto("/web/a-traiter")
    expect(page.get_by_test_id("queue")).not_to_contain_text("2025-0001")
    page.goto("/web/tableau-de-bord")
    expect(page.get_by_test_id("total")).to_have_text("0")
