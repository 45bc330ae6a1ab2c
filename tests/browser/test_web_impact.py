"""The policy impact page in a real browser (issue 12): a manager of CPAM 281 opens it from the
dashboard, chooses a policy and reads the table; the page passes axe-core (``checked``)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Site, checked, sign_in


def test_a_manager_reads_the_impact_of_steps_from_the_dashboard(page: Any, site: Site) -> None:
    site.sign()  # a convention of CPAM 281
    site.sign("2025-0002", cpam="282", rpps="10000000017")  # another CPAM's: not the manager's
    sign_in(page, site, "gestion")
    page.get_by_role("link", name="Tableau de bord").click()
    page.get_by_test_id("impact-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Impact d'un changement de politique")
    checked(page, "impact-formulaire")
    page.get_by_label("Modulation de l'aide (R4)").select_option("steps")
    page.get_by_role("button", name="Calculer l'impact").click()
    expect(page.get_by_test_id("impact-table")).to_contain_text("281")
    expect(page.get_by_test_id("impact-table")).not_to_contain_text("282")
    expect(page.get_by_test_id("impact-conventions")).to_have_text("1")
    checked(page, "impact")
