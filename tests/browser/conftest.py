"""A real headless Chromium (Debian's, driven by Playwright) on the application served by uvicorn
on 127.0.0.1, over a SQLite store in a temporary directory, under a fixed today.

Without /usr/bin/chromium the tests are skipped with that reason, except under CI=true where it
is a failure (``.ci/run`` installs it). Screenshots of every page and the accessibility (axe)
results go to ``test-artefacts/browser/`` (not committed).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import uvicorn

from adapters.http.app import create_app
from adapters.settings import Settings
from domain.application import ConventionsApp
from domain.convention import CommandMeta
from tests.conftest import FixedClock
from tests.helpers import free_port
from tests.waiting import wait_until

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--lang=fr-FR",
]  # fmt: skip
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "browser"
TODAY = date(2026, 11, 30)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is absent (apt-get install -y chromium): browser tests not run"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the browser: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Site:
    """The served application: its address, its users' tokens and its application service."""

    url: str
    app: ConventionsApp
    tokens: dict[str, str] = field(default_factory=dict)

    def sign(self, number: str = "2025-0001", cpam: str = "281", **over: Any) -> UUID:
        """A convention signed (and what fell due recorded) behind the pages' back, as another operator would."""
        meta = CommandMeta(actor="collegue", reason="signature")
        terms = {
            "number": number, "cpam_code": cpam, "rpps": "10000000009", "doctor_name": "Dr Martin",
            "specialty": "general_practice", "sector": 1, "option": "FULL", "percentile": 50,
            "initial_patients": 1000, "target_patients": 1100, "signed_on": date(2025, 2, 15),
            "effective_from": date(2025, 3, 1), **over,
        }  # fmt: skip
        cid = UUID(self.app.sign(meta, **terms)["id"])
        self.app.record_due(cid, meta, today=TODAY)
        return cid

    def events(self, cid: UUID, kind: str) -> int:
        return sum(type(e).__name__ == kind for e in self.app.history(cid))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = Settings(store="sqlite", data_dir=tmp_path / "data", today=TODAY, web_secret="browser-tests")
    api = create_app(settings, FixedClock(TODAY))
    users = api.state.services.users
    tokens = {
        "op281": users.add("op281", "operator", ["281"])[1],
        "op282": users.add("op282", "operator", ["282"])[1],
        "auditrice": users.add("auditrice", "auditor", [])[1],
        "gestion": users.add("gestion", "manager", ["281"])[1],
    }
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "uvicorn to start", interval=0.02)
    try:
        yield Site(f"http://127.0.0.1:{port}", api.state.services.app, tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def page(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) on a 1366x768 laptop screen, in French."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR", base_url=site.url)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    tab.test_name = request.node.name
    try:
        yield tab
    finally:
        context.close()


def sign_in(page: Any, site: Site, name: str) -> None:
    page.goto("/web/connexion")
    page.get_by_label("Nom d'utilisateur").fill(name)
    page.get_by_label("Jeton personnel").fill(site.tokens[name])
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/web/conventions")


def checked(page: Any, name: str) -> None:
    """Screenshot the page, and fail on any serious or critical accessibility violation (axe-core)."""
    from axe_playwright_python.sync_playwright import Axe

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    stem = f"{page.test_name}-{name}"
    page.screenshot(path=str(ARTEFACTS / f"{stem}.png"), full_page=True)
    results = Axe().run(page)
    violations = results.response["violations"]
    (ARTEFACTS / f"{stem}-axe.json").write_text(json.dumps(violations, indent=1, ensure_ascii=False))
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations
           if v["impact"] in ("serious", "critical")]  # fmt: skip
    assert not bad, f"accessibility violations on {name}: {bad}"
