"""The finance exports as web downloads (issue 12): the session, the role and, above all, the CPAM
scope: an operator's export holds his or her CPAMs' rows only, whatever the address asks."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.api.conftest import Api
from tests.api.test_web_pages import signed_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def rows_of_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: French Excel reads the accents
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def numbers_in_xlsx(body: bytes, column: str) -> list[str]:
    ws = openpyxl.load_workbook(io.BytesIO(body)).active
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
    return [row[header.index(column)] for row in ws.iter_rows(min_row=2, values_only=True)]


@pytest.mark.parametrize("kind", ["conventions", "ledger", "work-queue"])
def test_an_operator_downloads_only_the_rows_of_his_or_her_cpam(api: Api, kind: str) -> None:
    signed_in(api, "op281")
    answer = api.client.get(f"/web/exports/{kind}.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith('attachment; filename="')
    assert answer.headers["cache-control"] == "no-store"
    rows = rows_of_csv(answer.content)
    cpam = rows[0].index("CPAM")
    assert len(rows) > 1 and {r[cpam] for r in rows[1:]} == {"281"}
    assert "B-751" not in answer.text
    xlsx = api.client.get(f"/web/exports/{kind}.xlsx?cpam=281")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    assert set(numbers_in_xlsx(xlsx.content, "CPAM")) == {"281"}
    assert "-281-" in xlsx.headers["content-disposition"]


def test_another_cpam_in_the_address_is_not_found(api: Api) -> None:
    signed_in(api, "op281")
    for kind in ("conventions", "ledger", "work-queue"):
        answer = api.client.get(f"/web/exports/{kind}.xlsx?cpam=751")
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
        assert "B-751" not in answer.text
    assert api.client.get("/web/exports/ledger.csv?cpam=7510").status_code == 400
    assert api.client.get("/web/exports/ledger.csv?annee=20x5").status_code == 400
    assert api.client.get("/web/exports/ledger.csv?annee=3000").status_code == 400
    assert api.client.get("/web/exports/payments.csv").status_code == 404
    assert api.client.get("/web/exports/ledger.pdf").status_code == 404


def test_auditors_and_managers_download_every_cpam_and_strangers_sign_in_first(api: Api) -> None:
    for who in ("auditor", "manager"):
        signed_in(api, who)
        rows = rows_of_csv(api.client.get("/web/exports/ledger.csv").content)
        assert {r[1] for r in rows[1:]} == {"281", "751"}
        only = rows_of_csv(api.client.get("/web/exports/conventions.csv?cpam=751").content)
        assert [r[0] for r in only[1:]] == ["B-751"]
    api.client.cookies.clear()
    away = api.client.get("/web/exports/ledger.csv", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/web/connexion?suite=")


def test_the_year_filters_the_ledger_and_the_pages_link_to_the_downloads(api: Api) -> None:
    """Both conventions took effect on 2025-03-01: their first instalment is due in 2025 (R6)."""
    signed_in(api, "admin")
    assert len(rows_of_csv(api.client.get("/web/exports/ledger.csv?annee=2025").content)) == 3
    assert len(rows_of_csv(api.client.get("/web/exports/ledger.csv?annee=2024").content)) == 1  # the header
    for page, kind in (("conventions", "conventions"), ("a-traiter", "work-queue"), ("tableau-de-bord", "ledger")):
        html = api.client.get(f"/web/{page}?cpam=281").text
        assert f'formaction="/web/exports/{kind}.xlsx"' in html and f'formaction="/web/exports/{kind}.csv"' in html
    assert 'name="cpam" value="281"' in api.client.get("/web/conventions?cpam=281").text
