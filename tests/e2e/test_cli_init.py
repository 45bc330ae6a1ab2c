"""``conventions init`` on both stores, a bad URL at start-up, and the backup and restore of
docs/deployment.md done for real: ``pg_dump`` of a live schema, ``pg_restore`` into another
database, ``conventions verify`` passes there and the restored store reads the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.composition import build_projection_store
from adapters.settings import Settings
from tests.conftest import PG, PG_URL, require_postgres, settings_env
from tests.helpers import cli_invoker

TODAY = "2026-11-30"
SIMULATE = ["simulate", "--from", "2024-01-01", "--to", TODAY, "--conventions", "6", "--seed", "3", "--json"]


def init(invoke: object) -> dict:
    return json.loads(invoke("init", "--json"))  # type: ignore[operator]


def test_init_creates_everything_once_then_has_nothing_to_do(store_settings: Settings) -> None:
    invoke = cli_invoker({**settings_env(store_settings), "CONVENTIONS_TODAY": TODAY})
    first = init(invoke)
    assert first["changed"] and first["tables_present"] == []
    assert set(first["read_models"].values()) == {"built"}
    tables = " ".join(first["tables_created"])
    for table in ("conventions_users", "nightly_failures", "projection_tracking", "pj_lst_conventions_g1"):
        assert table in tables
    assert ("stored_events" if store_settings.store == "sqlite" else "conventions_events") in tables
    again = init(invoke)
    assert not again["changed"] and again["tables_created"] == [] and again["events_applied"] == 0
    assert set(again["read_models"].values()) == {"present"}
    assert sorted(again["tables_present"]) == sorted(first["tables_created"])
    assert "Rien à faire" in invoke("init")  # a third time, as an operator reads it


def test_init_catches_the_read_models_up_and_rebuilds_one_whose_columns_changed(store_settings: Settings) -> None:
    invoke = cli_invoker({**settings_env(store_settings), "CONVENTIONS_TODAY": TODAY})
    init(invoke)
    invoke(*SIMULATE)
    store = build_projection_store(store_settings)
    try:
        with store.transaction() as tx:  # what a release that changes a read model's columns leaves behind
            tx.execute("ALTER TABLE pj_lst_conventions_g1 ADD COLUMN withdrawn_column TEXT")
    finally:
        store.close()
    upgraded = init(invoke)
    assert upgraded["read_models"]["conventions_list"] == "rebuilt" and upgraded["changed"]
    assert upgraded["read_models"]["history"] == "present"
    assert [t for t in upgraded["tables_created"] if "pj_lst_" in t][0].endswith("pj_lst_conventions_g2")
    assert json.loads(invoke("list", "--json"))["total"] == 6  # the rebuilt list has every convention
    assert not init(invoke)["changed"]


def test_a_bad_database_url_stops_every_command_without_showing_the_password(tmp_path: Path) -> None:
    env = {"CONVENTIONS_DATA_DIR": str(tmp_path), "CONVENTIONS_DATABASE_URL": "mysql://cpam:hunter2@db/conventions"}
    for command in (["init"], ["list"], ["scheduler", "--once"]):
        err = cli_invoker(env)(*command, code=2)
        assert err.startswith("error[invalid_settings]: CONVENTIONS_DATABASE_URL invalide") and "hunter2" not in err
    assert not any(tmp_path.iterdir())  # nothing opened, nothing written


@pytest.fixture
def restore_database() -> Iterator[str]:
    """An empty database to restore into, dropped afterwards."""
    require_postgres()
    import psycopg

    name = f"restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(autocommit=True, **PG) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        with psycopg.connect(autocommit=True, **PG) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump/pg_restore not installed")
def test_a_dump_of_a_live_schema_restores_into_another_database_and_verifies(
    pg_settings: Settings, restore_database: str, tmp_path: Path
) -> None:
    live = cli_invoker({**settings_env(pg_settings), "CONVENTIONS_TODAY": TODAY})
    init(live)
    live(*SIMULATE)
    schema, dump = pg_settings.postgres_schema, tmp_path / "conventions.dump"
    server = ["-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"]]
    # the commands of docs/deployment.md, « Sauvegarde et restauration »
    subprocess.run(["pg_dump", *server, "-Fc", "-n", schema, "-f", str(dump), PG["dbname"]], check=True)
    subprocess.run(["pg_restore", *server, "--no-owner", "-d", restore_database, str(dump)], check=True)

    restored_url = f"{PG_URL.rsplit('/', 1)[0]}/{restore_database}?schema={schema}"
    restored = cli_invoker({"CONVENTIONS_DATA_DIR": str(tmp_path / "r"), "CONVENTIONS_DATABASE_URL": restored_url,
                            "CONVENTIONS_POSTGRES_POOL_SIZE": "1", "CONVENTIONS_TODAY": TODAY})  # fmt: skip
    audit = json.loads(restored("verify", "--json", "--workers", "1"))
    assert audit["parts"] == ["books", "chain", "rules", "projections"]
    assert not init(restored)["changed"]  # the dump held the read models too: nothing to build
    for read in (["list", "--json"], ["dashboard", "--today", TODAY, "--json"]):
        assert json.loads(restored(*read)) == json.loads(live(*read))
    one = json.loads(live("list", "--json"))["items"][0]["id"]
    assert restored("history", one, "--json") == live("history", one, "--json")
