"""The managers' policy impact page (``/web/impact``, issue 12): it renders, keeps to the user's CPAMs,
refuses a bad policy, and computes once per (policies, CPAMs, log head, day)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from adapters.web import routes_impact
from domain.convention import CommandMeta
from tests.api.conftest import Api
from tests.api.test_web_pages import signed_in


@pytest.fixture
def managers(api: Api) -> Api:
    users = api.client.app.state.services.users  # type: ignore[attr-defined]
    api.tokens["man281"] = users.add("man281", "manager", ["281"])[1]
    return api


def rows_of(html: str) -> list[str]:
    body = html.split('data-testid="impact-table"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [cell.split("</th>", 1)[0] for cell in body.split('<th scope="row">')[1:]]


def test_a_manager_of_every_cpam_sees_them_all(managers: Api) -> None:
    signed_in(managers, "manager")
    page = managers.client.get("/web/impact?modulation=steps")
    assert page.status_code == 200, page.text
    assert "(R4) : par paliers (100/75/50/0 %)" in page.text
    assert sorted(set(rows_of(page.text))) == ["281", "751"]
    assert 'data-testid="impact-conventions">2<' in page.text
    assert "<svg" in page.text and 'data-testid="table-impact-due"' in page.text


def test_a_manager_sees_only_his_cpams(managers: Api) -> None:
    signed_in(managers, "man281")
    page = managers.client.get("/web/impact?modulation=steps&pause_clock=off")
    assert page.status_code == 200, page.text
    assert set(rows_of(page.text)) == {"281"} and 'data-testid="impact-conventions">1<' in page.text
    other = managers.client.get("/web/impact?modulation=steps&cpam=751")  # another CPAM: nothing of it
    assert other.status_code == 200 and 'data-testid="impact-conventions">0<' in other.text
    assert rows_of(other.text) == []


def test_the_form_alone_then_a_bad_value_is_refused(managers: Api) -> None:
    signed_in(managers, "manager")
    form = managers.client.get("/web/impact")
    assert form.status_code == 200 and "impact-table" not in form.text and "— comme signée —" in form.text
    bad = managers.client.get("/web/impact?modulation=cubic")
    assert bad.status_code == 400 and 'data-testid="impact-error"' in bad.text and "impact-table" not in bad.text


def test_the_dashboard_links_to_it(managers: Api) -> None:
    signed_in(managers, "manager")
    assert 'href="/web/impact"' in managers.client.get("/web/tableau-de-bord").text


def test_computed_once_per_log_head(managers: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = routes_impact.impact

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(routes_impact, "impact", counted)
    signed_in(managers, "manager")
    for _ in range(2):
        assert managers.client.get("/web/impact?modulation=steps").status_code == 200
    assert len(calls) == 1
    managers.app.record_payment(managers.a, CommandMeta(actor="op", reason="paiement"), instalment="y1-full",
                                paid_on=date(2025, 5, 1), reference="VIR-1")  # fmt: skip
    assert managers.client.get("/web/impact?modulation=steps").status_code == 200
    assert len(calls) == 2  # something new was recorded: computed again


def test_needs_the_reports_permission(managers: Api) -> None:
    signed_in(managers, "op281")  # operators may read reports too: the page answers within their CPAM
    page = managers.client.get("/web/impact?modulation=steps")
    assert page.status_code == 200 and set(rows_of(page.text)) == {"281"}


def test_on_sqlite_the_page_reads_the_events_file_as_the_command_does(tmp_path: Any) -> None:
    from adapters.settings import Settings
    from tests.api.conftest import TODAY, make_api
    from tests.conftest import FixedClock

    api = make_api(Settings(store="sqlite", data_dir=tmp_path / "data"), FixedClock(TODAY))
    signed_in(api, "manager")
    page = api.client.get("/web/impact?pause_clock=off")
    assert page.status_code == 200 and sorted(set(rows_of(page.text))) == ["281", "751"]
