"""``CONVENTIONS_DATABASE_URL``: one setting names the PostgreSQL database of a deployment; the
``store`` and ``postgres_*`` settings follow from it, and a bad URL stops the process with a message
that names the setting and never shows the password (docs/deployment.md)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.settings import DatabaseUrl, DatabaseUrlError, Settings, parse_database_url

SECRET = "hunter2-s3cret"


def test_a_full_url_sets_every_connection_setting() -> None:
    s = Settings(database_url=f"postgresql://cpam:{SECRET}@db.cnam.local:6543/conventions?schema=prod_2031")
    assert (s.store, s.postgres_host, s.postgres_port, s.postgres_user) == ("postgres", "db.cnam.local", 6543, "cpam")
    assert (s.postgres_password, s.postgres_dbname, s.postgres_schema) == (SECRET, "conventions", "prod_2031")
    assert s.database() == "postgresql://cpam:***@db.cnam.local:6543/conventions?schema=prod_2031"


def test_the_port_defaults_to_5432_the_schema_to_none_and_postgres_is_an_alias() -> None:
    url = parse_database_url("postgres://cpam@db/conventions")
    assert url == DatabaseUrl(host="db", port=5432, user="cpam", password="", dbname="conventions", schema="")
    assert Settings(database_url="postgres://cpam@db/conventions").postgres_schema == ""


def test_percent_encoded_parts_are_decoded() -> None:
    url = parse_database_url("postgresql://agent%40cpam:p%40ss%2Fw%3Ard@db/base%2Dx?schema=s1")
    assert (url.user, url.password, url.dbname) == ("agent@cpam", "p@ss/w:rd", "base-x")


def test_the_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVENTIONS_DATABASE_URL", "postgresql://cpam@db:5433/conventions?schema=caen")
    s = Settings()
    assert (s.store, s.postgres_port, s.postgres_schema) == ("postgres", 5433, "caen")


def test_without_the_url_sqlite_stays_the_default_and_the_old_settings_still_work() -> None:
    assert Settings().store == "sqlite" and Settings().database_url is None
    old = Settings(store="postgres", postgres_host="db", postgres_dbname="c", postgres_schema="caen")
    assert (old.store, old.postgres_host, old.postgres_schema) == ("postgres", "db", "caen")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"mysql://cpam:{SECRET}@db/conventions", "protocole « mysql:// » non pris en charge"),
        (f"sqlite:///{SECRET}/events.sqlite", "protocole « sqlite:// » non pris en charge"),
        (f"cpam:{SECRET}@db/conventions", "non pris en charge"),  # no scheme at all
        (f"postgresql://cpam:{SECRET}@db:port/conventions", "port non numérique"),
        (f"postgresql://cpam:{SECRET}@db:99999/conventions", "port non numérique"),
        (f"postgresql://cpam:{SECRET}@db", "nom de base manquant"),
        (f"postgresql://cpam:{SECRET}@db/a/b", "nom de base manquant ou invalide"),
        (f"postgresql://:{SECRET}@db/conventions", "utilisateur manquant"),
        (f"postgresql://cpam:{SECRET}@/conventions", "hôte manquant"),
        (f"postgresql://cpam:{SECRET}@db/conventions?sslmode=require", "paramètre(s) inconnu(s) : sslmode"),
        (f"postgresql://cpam:{SECRET}@db/conventions?schema=Prod-1", "schema « Prod-1 »"),
        (f"postgresql://cpam:{SECRET}@db/conventions?schema=a;drop", "schema « a;drop »"),
        (f"postgresql://cpam:{SECRET}@db/conventions?schema", "paramètres illisibles"),
        (f"postgresql://cpam:{SECRET}@db/conventions#x", "fragment"),
    ],
)
def test_a_bad_url_is_an_error_naming_the_setting_without_the_password(url: str, why: str) -> None:
    with pytest.raises(DatabaseUrlError) as parsed:
        parse_database_url(url)
    assert why in str(parsed.value) and str(parsed.value).startswith("CONVENTIONS_DATABASE_URL invalide")
    with pytest.raises(ValidationError) as loaded:
        Settings(database_url=url)
    assert "CONVENTIONS_DATABASE_URL" in str(loaded.value) and why in str(loaded.value)
    assert SECRET not in str(loaded.value) and SECRET not in repr(loaded.value)


def test_the_url_and_a_contradicting_setting_are_refused() -> None:
    url = f"postgresql://cpam:{SECRET}@db/conventions?schema=caen"
    with pytest.raises(ValidationError, match="CONVENTIONS_STORE vaut « sqlite »") as store:
        Settings(database_url=url, store="sqlite")
    with pytest.raises(ValidationError, match="CONVENTIONS_POSTGRES_SCHEMA se contredisent") as schema:
        Settings(database_url=url, postgres_schema="rouen")
    assert SECRET not in str(store.value) + str(schema.value)
    same = Settings(database_url=url, store="postgres", postgres_schema="caen")  # agreeing is fine
    assert same.postgres_schema == "caen"


def test_the_password_is_in_no_repr() -> None:
    s = Settings(database_url=f"postgresql://cpam:{SECRET}@db/conventions")
    assert SECRET not in repr(s) and SECRET not in str(s) and SECRET not in repr(parse_database_url(s.database_url))
    assert SECRET not in repr(Settings(store="postgres", postgres_password=SECRET))


def test_an_unquotable_schema_is_refused_in_the_old_setting_too() -> None:
    with pytest.raises(ValidationError, match="CONVENTIONS_POSTGRES_SCHEMA"):
        Settings(store="postgres", postgres_schema="public; drop table x")


def test_connect_arguments_put_the_schema_first_on_the_search_path() -> None:
    s = Settings(database_url=f"postgresql://cpam:{SECRET}@db:5433/conventions?schema=caen")
    assert s.postgres_connect_kwargs() == {
        "host": "db", "port": 5433, "user": "cpam", "dbname": "conventions", "password": SECRET,
        "options": "-c search_path=caen",
    }  # fmt: skip
    assert "options" not in s.postgres_connect_kwargs(search_path=False)
