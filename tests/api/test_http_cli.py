"""``conventions users add/list/revoke`` and ``conventions serve`` (one worker and several)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.http.app import create_app
from adapters.settings import Settings
from adapters.users import build_user_store, hash_token
from tests.helpers import free_port, wait_healthy

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

runner = CliRunner()


def _cli(*args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_users_add_list_revoke(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    token = _cli("users", "add", "Alice", "--role", "operator", "--cpam", "281", "--cpam", "282", "--data-dir", data)
    token = token.strip()
    assert token.startswith("cpam_") and len(token) > 40
    stored = (tmp_path / "data" / "users.sqlite").read_bytes()
    assert token.encode() not in stored and hash_token(token).encode() in stored  # only the hash is kept
    listed = json.loads(_cli("users", "list", "--json", "--data-dir", data))
    assert listed == [
        {"name": "alice", "role": "operator", "cpams": ["281", "282"], "created_at": listed[0]["created_at"],
         "revoked_at": None}
    ]  # fmt: skip
    api = TestClient(create_app(Settings(store="sqlite", data_dir=Path(data))))
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/conventions", headers=headers).status_code == 200
    _cli("users", "revoke", "alice", "--data-dir", data)
    assert api.get("/conventions", headers=headers).status_code == 401
    assert json.loads(_cli("users", "list", "--json", "--data-dir", data)) == []
    assert json.loads(_cli("users", "list", "--all", "--json", "--data-dir", data))[0]["revoked_at"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["bob", "--role", "operator"], "cpam_required"),
        (["bob", "--role", "king"], "invalid_role"),
        (["b o b", "--role", "admin"], "invalid_user_name"),
        (["bob", "--role", "auditor", "--cpam", "28"], "invalid_cpam"),
    ],
)
def test_users_add_refusals(tmp_path: Path, args: list[str], code: str) -> None:
    result = runner.invoke(cli, ["users", "add", *args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"error[{code}]" in result.output


def test_a_name_is_unique_until_revoked(tmp_path: Path) -> None:
    data = str(tmp_path)
    _cli("users", "add", "carol", "--role", "admin", "--data-dir", data)
    again = runner.invoke(cli, ["users", "add", "carol", "--role", "admin", "--data-dir", data])
    assert again.exit_code == 1 and "error[user_exists]" in again.output
    _cli("users", "revoke", "carol", "--data-dir", data)
    assert _cli("users", "add", "carol", "--role", "manager", "--data-dir", data).strip().startswith("cpam_")
    missing = runner.invoke(cli, ["users", "revoke", "nobody", "--data-dir", data])
    assert missing.exit_code == 1 and "error[unknown_user]" in missing.output


def test_users_in_postgres(pg_settings: Settings) -> None:
    store, other = build_user_store(pg_settings), build_user_store(pg_settings)
    try:
        user, token = store.add("dave", "auditor")
        assert other.authenticate(token) == user  # another API process sees the user at once
        assert store.authenticate(token + "x") is None
        store.revoke("dave")
        assert other.authenticate(token) is None
        assert other.list(include_revoked=True)[0].revoked_at is not None
    finally:
        store.close()
        other.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_serve(tmp_path: Path, workers: int) -> None:
    data = tmp_path / "data"
    token = _cli("users", "add", "eve", "--role", "admin", "--data-dir", str(data)).strip()
    port = free_port()
    exe = Path(sys.executable).parent / "conventions"
    env = {**os.environ, "CONVENTIONS_LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", str(workers), "--data-dir", str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        wait_healthy(
            proc, f"http://127.0.0.1:{port}", f"the server to answer /health on port {port}",
            lambda: f"the server exited ({proc.returncode})", interval=0.1,
        )  # fmt: skip
        r = httpx.get(f"http://127.0.0.1:{port}/conventions", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["total"] == 0
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"].startswith("CPAM")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert any(
        e.get("event") == "request" and e.get("path") == "/conventions" and e.get("actor") == "eve" for e in lines
    )
