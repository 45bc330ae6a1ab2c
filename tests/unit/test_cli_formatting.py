"""The CLI's one formatting module: French money, dates and words, tables that fit 80 columns."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from rich.console import Console

from adapters.cli import formatting as fmt

S = fmt.NNBSP


def test_euros_have_thousands_separators_a_decimal_comma_and_the_sign_after() -> None:
    assert fmt.euros(Decimal("1206000")) == f"1{S}206{S}000,00{S}€"
    assert fmt.euros(Decimal("-6290.41")) == f"-6{S}290,41{S}€"
    assert fmt.euros("38000.00") == f"38{S}000,00{S}€"
    assert fmt.euros(0) == f"0,00{S}€"
    assert fmt.euros(None) == "—"


def test_numbers_and_percentages() -> None:
    assert fmt.number(1234) == f"1{S}234"
    assert fmt.number(Decimal("0.5"), 2) == "0,50"
    assert fmt.percent(Decimal("0.4")) == f"40{S}%"
    assert fmt.percent(Decimal("0.4167")) == f"41,7{S}%"


def test_one_date_format_for_dates_datetimes_and_iso_text() -> None:
    assert fmt.fr_date(date(2026, 11, 30)) == "30/11/2026"
    assert fmt.fr_date("2026-11-30") == "30/11/2026"
    assert fmt.fr_date(datetime(2026, 11, 30, 23, 38)) == "30/11/2026"
    assert fmt.fr_date("2026-11-30T23:38:00+00:00") == "30/11/2026"
    assert fmt.fr_date(None) == "—"
    assert fmt.fr_datetime(datetime(2026, 1, 2, 3, 4)) == "02/01/2026 03:04"


def test_codes_get_french_words_and_an_unknown_code_shows_as_is() -> None:
    assert [fmt.status_label(s) for s in ("active", "suspended", "terminated")] == ["actif", "suspendu", "résilié"]
    assert fmt.label("instalment_kind", "balance") == "solde"
    assert fmt.label("event", "PaymentRecorded") == "paiement"
    assert fmt.label("alert", "review") == "point semestriel"
    assert fmt.label("status", "brand_new") == "brand_new"


def test_every_event_and_value_type_has_a_french_word() -> None:
    from domain import events as ev
    from domain.values import InstalmentKind, Status

    events = {c.__name__ for c in vars(ev).values() if isinstance(c, type) and issubclass(c, ev.Event)}
    assert events - {"Event"} <= set(fmt.LABELS["event"])
    assert {s.value for s in Status} == set(fmt.LABELS["status"])
    assert {k.value for k in InstalmentKind} == set(fmt.LABELS["instalment_kind"])


def test_every_work_queue_kind_has_a_french_word() -> None:
    from projections.calendar import FAILURE_KIND, MESSAGES

    assert {k.rstrip("!") for k in MESSAGES} | {FAILURE_KIND} == set(fmt.LABELS["alert"])


def test_instalment_status_says_paid_or_recovered_with_the_date() -> None:
    assert fmt.instalment_status("paid", Decimal("100"), date(2023, 10, 24)) == "payé le 24/10/2023"
    assert fmt.instalment_status("paid", Decimal("-100"), date(2023, 10, 24)) == "récupéré le 24/10/2023"
    assert fmt.instalment_status("due", Decimal("-100"), None) == "à récupérer"
    assert fmt.instalment_status("cancelled", Decimal("100"), None) == "annulé"


def test_a_table_at_80_columns_wraps_text_but_never_cuts_keys_or_amounts() -> None:
    t = fmt.table(fmt.key("numéro"), fmt.key("RPPS"), fmt.text("médecin"), fmt.num("montant"), title="t")
    t.add_row("SIM1-20230101-0001", "13468123456", "Jean-Christophe de la Fontaine-Lefebvre " * 2,
              fmt.euros(Decimal("1206000")))  # fmt: skip
    console = Console(width=80, record=True)
    console.print(t)
    out = console.export_text()
    assert "SIM1-20230101-0001" in out and "13468123456" in out and f"1{S}206{S}000,00{S}€" in out
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
