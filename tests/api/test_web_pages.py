"""The web pages' safety, without a browser: the session cookie, CSRF, sign-out, revocation,
redirects that stay on the site, roles and CPAM scope, and a form for every command model."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import escape

from adapters.settings import Settings
from adapters.web.routes_forms import BY_RESOURCE
from tests.api.conftest import ON_EACH_STORE, RPPS, TODAY, Api, make_api, seed_convention
from tests.conftest import FixedClock


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def signed_in(api: Api, who: str, base: str = "http://testserver") -> Any:
    client = api.client
    client.base_url = base  # type: ignore[misc]
    client.cookies.clear()
    form = client.get(f"{base}/web/connexion")
    data = {"name": who, "token": api.tokens[who], "csrf": csrf_of(form.text)}
    answer = client.post(f"{base}/web/connexion", data=data, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(api: Api) -> None:
    cookie = signed_in(api, "op281").headers["set-cookie"]
    assert "cpam_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie and "Max-Age=28800" in cookie
    assert "Secure" in signed_in(api, "op281", "https://testserver").headers["set-cookie"]


def test_cookies_are_always_secure_when_tls_ends_at_a_proxy(tmp_path: Any) -> None:
    """Behind a proxy that terminates TLS the server sees plain HTTP: CONVENTIONS_WEB_SECURE_COOKIES=true
    still marks the session and sign-in cookies Secure."""
    settings = Settings(store="memory", data_dir=tmp_path / "data", web_secure_cookies=True)
    api = make_api(settings, FixedClock(TODAY))
    form = api.client.get("/web/connexion")
    sign_in_cookie = form.headers["set-cookie"]
    assert sign_in_cookie.startswith("cpam_sign_in=") and "Secure" in sign_in_cookie
    api.client.cookies.clear()  # a Secure cookie is not sent back over plain HTTP: the proxy's browser would
    data = {"name": "op281", "token": api.tokens["op281"], "csrf": csrf_of(form.text)}
    answer = api.client.post("/web/connexion", data=data, headers={"cookie": sign_in_cookie.split(";")[0]},
                             follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and "cpam_session=" in answer.headers["set-cookie"]
    assert "Secure" in answer.headers["set-cookie"]


def test_a_wrong_token_or_a_missing_csrf_token_signs_nobody_in(api: Api) -> None:
    page = api.client.get("/web/connexion")
    wrong = api.client.post("/web/connexion", data={"name": "op281", "token": api.tokens["op751"],
                                                     "csrf": csrf_of(page.text)})  # fmt: skip
    assert wrong.status_code == 401 and "Nom ou jeton inconnu" in wrong.text
    api.client.cookies.clear()
    forged = api.client.post("/web/connexion", data={"name": "op281", "token": api.tokens["op281"], "csrf": "x"})
    assert forged.status_code == 403 and "cpam_session" not in forged.headers.get("set-cookie", "")


def test_after_sign_in_only_pages_of_this_site(api: Api) -> None:
    page = api.client.get("/web/connexion?suite=https://evil.example/")
    assert 'name="suite" value=""' in page.text
    answer = api.client.post("/web/connexion", data={"name": "op281", "token": api.tokens["op281"],
                                                      "csrf": csrf_of(page.text), "suite": "//evil.example/"},
                             follow_redirects=False)  # fmt: skip
    assert answer.headers["location"] == "/web/conventions"


def test_every_post_needs_the_sessions_csrf_token(api: Api) -> None:
    signed_in(api, "op281")
    form = api.client.get(f"/web/conventions/{api.a}/hires")
    body = {"key": "k-00000001", "hired_on": "2025-03-01", "fte": "1", "profile": "nurse"}
    refused = api.client.post(f"/web/conventions/{api.a}/hires", data={**body, "csrf": "forged"})
    assert refused.status_code == 403 and not [e for e in api.events(api.a) if type(e).__name__ == "AssistantHired"]
    done = api.client.post(f"/web/conventions/{api.a}/hires", data={**body, "csrf": csrf_of(form.text)},
                           follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and re.search(r"\?fait=hires&v=\d+$", done.headers["location"])
    assert api.client.post("/web/deconnexion", data={"csrf": "forged"}).status_code == 403


def test_the_recorded_banner_is_shown_only_for_what_the_user_recorded(api: Api) -> None:
    """ "Enregistré" says what this user just recorded: a link that only says ?fait=, names another
    version, or someone else's event, shows no banner."""
    signed_in(api, "op281")
    form = api.client.get(f"/web/conventions/{api.a}/hires")
    body = {"key": "k-00000002", "hired_on": "2025-03-01", "fte": "1", "profile": "nurse", "csrf": csrf_of(form.text)}
    done = api.client.post(f"/web/conventions/{api.a}/hires", data=body, follow_redirects=False)
    landed = api.client.get(done.headers["location"])
    assert 'data-testid="done"' in landed.text and "Enregistré" in landed.text
    version = int(done.headers["location"].rsplit("=", 1)[1])
    for crafted in ("?fait=hires", f"?fait=hires&v={version - 1}", "?fait=hires&v=999", "?fait=hires&v=x"):
        assert 'data-testid="done"' not in api.client.get(f"/web/conventions/{api.a}{crafted}").text, crafted
    signed_in(api, "admin")  # another user following the same link
    assert 'data-testid="done"' not in api.client.get(done.headers["location"]).text


@ON_EACH_STORE  # a revocation goes through the users table
def test_sign_out_and_revocation_end_the_session(api: Api) -> None:
    signed_in(api, "op281")
    page = api.client.get("/web/conventions")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    out = api.client.post("/web/deconnexion", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and 'cpam_session=""' in out.headers["set-cookie"]
    signed_in(api, "op751")
    api.client.app.state.services.users.revoke("op751")  # type: ignore[attr-defined] # signed out at the next click
    gone = api.client.get("/web/conventions", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/web/connexion?suite=")


def test_roles_and_scope(api: Api) -> None:
    signed_in(api, "manager")
    assert api.client.get(f"/web/conventions/{api.a}").status_code == 200
    assert "Historique" not in api.client.get(f"/web/conventions/{api.a}").text  # no HISTORY permission
    assert api.client.get("/web/conventions/nouvelle").status_code == 403
    signed_in(api, "op281")
    assert api.client.get(f"/web/conventions/{api.b}").status_code == 404
    assert api.client.get(f"/web/conventions/{api.b}/hires").status_code == 404
    assert api.client.get("/web/conventions/pas-un-id").status_code == 404
    listed = api.client.get("/web/conventions").text
    assert "A-281" in listed and "B-751" not in listed
    assert "B-751" not in api.client.get("/web/a-traiter").text


def test_every_command_has_its_form(api: Api) -> None:
    signed_in(api, "op281")
    for resource, model in BY_RESOURCE.items():
        page = api.client.get(f"/web/conventions/{api.a}/{resource}")
        assert page.status_code == 200, resource
        assert str(escape(model.label)) in page.text
        assert 'name="key"' in page.text and 'name="version" value="' in page.text
    assert api.client.get(f"/web/conventions/{api.a}/nothing").status_code == 404
    assert api.client.get("/web/conventions/nouvelle").status_code == 200


@ON_EACH_STORE
def test_the_dashboard_is_recomputed_when_something_is_recorded(api: Api) -> None:
    signed_in(api, "admin")
    before = api.client.get("/web/tableau-de-bord").text
    assert api.client.get("/web/tableau-de-bord").text == before  # nothing new: the same answer
    seed_convention(api.app, "C-281", "281", RPPS[2])
    after = api.client.get("/web/tableau-de-bord").text
    assert re.search(r'data-testid="total">(\d+)<', before).group(1) == "2"  # type: ignore[union-attr]
    assert re.search(r'data-testid="total">(\d+)<', after).group(1) == "3"  # type: ignore[union-attr]


def test_an_operator_signs_only_for_his_or_her_cpams(api: Api) -> None:
    signed_in(api, "op281")
    form = api.client.get("/web/conventions/nouvelle")
    choices = re.search(r'<select[^>]*name="cpam_code".*?</select>', form.text, re.S).group(0)  # type: ignore[union-attr]
    assert re.findall(r'<option value="(\d+)"', choices) == ["281"]
    body = {"csrf": csrf_of(form.text), "key": "k-00000002", "number": "X-1", "cpam_code": "751", "rpps": RPPS[3],
            "doctor_name": "Dr X", "specialty": "general_practice", "sector": "1", "option": "FULL",
            "percentile": "50", "initial_patients": "1000", "target_patients": "1100", "signed_on": "2025-02-15",
            "effective_from": "2025-03-01", "dedicated_room": "on"}  # fmt: skip
    refused = api.client.post("/web/conventions/nouvelle", data=body)
    assert refused.status_code == 403 and "Vous n&#39;êtes pas habilité pour la CPAM 751." in refused.text
    assert list(api.app.convention_ids()) == [api.a, api.b]


def test_a_session_opened_with_a_revoked_token_does_not_outlive_a_new_token(api: Api) -> None:
    """A user revoked then added again (a new token) does not inherit the old token's sessions."""
    signed_in(api, "op751")
    assert api.client.get("/web/conventions", follow_redirects=False).status_code == 200
    users = api.client.app.state.services.users  # type: ignore[attr-defined]
    users.revoke("op751")
    users.add("op751", "operator", ["751"])  # the same name, a new token
    gone = api.client.get("/web/conventions", follow_redirects=False)  # the old cookie, still in the client
    assert gone.status_code == 303 and gone.headers["location"].startswith("/web/connexion?suite=")


def test_a_state_as_of_date_out_of_range_is_refused_next_to_its_field(api: Api) -> None:
    signed_in(api, "op281")
    page = api.client.get(f"/web/conventions/{api.a}", params={"etat_au": "31/12/9999"})
    assert page.status_code == 200
    assert "Date attendue (JJ/MM/AAAA) entre le 01/01/1950 et le 31/12/2199." in page.text


def test_a_page_whose_data_cannot_be_read_now_is_a_page_not_json(tmp_path: Any) -> None:
    """With a follower writing the read models and none built yet, the list cannot be read: the
    operator gets a 503 page of the site saying so (and when to retry), not the API's JSON."""
    settings = Settings(store="sqlite", data_dir=tmp_path / "data", projections="follower")
    api = make_api(settings, FixedClock(TODAY))
    signed_in(api, "op281")
    answer = api.client.get("/web/conventions")
    assert answer.status_code == 503 and answer.headers["content-type"].startswith("text/html")
    assert "Service momentanément indisponible" in answer.text and "Réessayer" in answer.text
    assert (
        api.client.get("/conventions", headers=api.h("op281"))
        .headers["content-type"]
        .startswith("application/problem+json")
    )  # the API itself still answers JSON
