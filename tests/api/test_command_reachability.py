"""Every command model is reachable from the HTTP API and from the CLI (issue 10).

Generated from ``domain.commands.COMMANDS``: a new intention that an entry point forgets fails here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.cli import app as cli
from adapters.cli.intentions import options, spelling
from adapters.http.schemas import REQUEST_BODIES
from domain.commands import COMMANDS, Command, ConventionCommand, Hire, Sign
from tests.api.conftest import ON_EACH_STORE, Api

SHARED_OPTIONS = {"--data-dir", "--actor", "--reason", "--command-id", "--json"}


def _route(api: Api, command: type[Command]) -> str:
    return "/conventions" if command is Sign else f"/conventions/{api.a}/{command.resource}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.__name__)
def test_the_http_body_is_the_command_model(api: Api, command: type[Command]) -> None:
    doc = api.client.get("/openapi.json").json()
    path = "/conventions" if command is Sign else f"/conventions/{{convention_id}}/{command.resource}"
    body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(schema["properties"]) == set(command.model_fields)
    assert set(schema.get("required", [])) == {n for n, f in command.model_fields.items() if f.is_required()}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.__name__)
def test_the_http_route_validates_with_the_model_and_records_nothing(api: Api, command: type[Command]) -> None:
    before = api.events(api.a)
    r = api.post(_route(api, command), {"unknown_field": 1}, "admin")
    assert r.status_code == 422
    named = {e["field"] for e in r.json()["errors"]}
    assert "unknown_field" in named
    assert {n for n, f in command.model_fields.items() if f.is_required()} <= named
    assert api.events(api.a) == before


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.__name__)
def test_the_cli_command_has_an_option_per_field(command: type[Command]) -> None:
    result = CliRunner().invoke(cli, [spelling(command).name, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    wanted = {opt.option for opt in options(command)} | SHARED_OPTIONS
    assert all(option in result.output for option in wanted), (wanted, result.output)
    covered = {opt.path[0] for opt in options(command)}
    assert covered == set(command.model_fields) - {"reason"}
    if issubclass(command, ConventionCommand):
        assert "CONVENTION" in result.output.upper()


WITH_REQUIRED = [c for c in COMMANDS if any(f.is_required() for f in c.model_fields.values())]


@pytest.mark.parametrize("command", WITH_REQUIRED, ids=lambda c: c.__name__)
def test_the_cli_command_requires_the_models_required_fields(command: type[Command], tmp_path: Path) -> None:
    convention = ["00000000-0000-0000-0000-000000000001"] if issubclass(command, ConventionCommand) else []
    result = CliRunner().invoke(cli, [spelling(command).name, *convention, "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2, result.output  # a usage error: nothing read or written
    assert not (tmp_path / "d").exists()


def test_the_cli_and_the_api_build_the_same_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same hire typed on the command line and posted as JSON is one and the same command model."""
    handled: list[Command] = []

    class FakeApp:
        def handle(self, command: Command, *_: object) -> dict[str, object]:
            handled.append(command)
            return {"id": "x", "version": 2, "recorded": 1, "value": None}

    monkeypatch.setattr("adapters.cli.intentions.open_app", lambda _data_dir: FakeApp())
    convention = "00000000-0000-0000-0000-000000000001"
    args = ["hire", convention, "--date", "2025-03-01", "--fte", "0.5", "--profile", "nurse", "--siret", "1" * 14]
    assert CliRunner().invoke(cli, args).exit_code == 0
    body = {"hired_on": "2025-03-01", "fte": "0.5", "profile": "nurse", "employer_siret": "1" * 14}
    posted = REQUEST_BODIES[Hire].model_validate(body).with_default_reason()
    assert handled == [Hire.model_validate(posted.model_dump())]
    assert handled[0].arguments() == posted.arguments() and handled[0].reason == posted.reason == "embauche"


@ON_EACH_STORE
def test_record_due_over_http_records_what_fell_due_once_and_never_the_future(api: Api) -> None:
    """RecordDue (POST /conventions/{id}/dues): up to today by default, idempotent, not after today (R21)."""
    api.clock.today = date(2026, 3, 15)  # year 2 started on 2026-03-01: y2-full, reviews...
    before = len(api.events(api.a))
    r = api.post(f"/conventions/{api.a}/dues", {}, "op281")
    assert r.status_code == 200 and r.json()["recorded"] > 0
    assert len(api.events(api.a)) == before + r.json()["recorded"] == r.json()["version"]
    assert api.events(api.a)[-1].actor == "op281" and api.events(api.a)[-1].reason == "échéancier"
    again = api.post(f"/conventions/{api.a}/dues", {}, "op281")
    assert again.status_code == 200 and again.json()["recorded"] == 0
    future = api.post(f"/conventions/{api.a}/dues", {"until": "2026-03-16"}, "op281")
    assert (future.status_code, future.json()["code"]) == (422, "date_in_future")
    assert api.post(f"/conventions/{api.b}/dues", {}, "op281").status_code == 404  # another CPAM's
    assert len(api.events(api.a)) == r.json()["version"]


@ON_EACH_STORE  # the receipt is an event of the log
def test_record_due_is_a_command_like_the_others_receipt_and_version(api: Api) -> None:
    api.clock.today = date(2026, 3, 15)
    version = len(api.events(api.a))
    stale = api.post(f"/conventions/{api.a}/dues", {}, "op281", **{"If-Match": f'"{version - 1}"'})
    assert (stale.status_code, stale.json()["code"]) == (412, "stale_version")
    assert len(api.events(api.a)) == version
    first = api.post(f"/conventions/{api.a}/dues", {}, "op281", **{"If-Match": f'"{version}"', "Idempotency-Key": "d1"})
    assert first.status_code == 200 and first.json()["recorded"] > 0
    replay = api.post(f"/conventions/{api.a}/dues", {}, "op281", **{"Idempotency-Key": "d1"})
    assert replay.json() == first.json()  # the first answer, nothing written again
    other = api.post(f"/conventions/{api.a}/dues", {"until": "2026-01-01"}, "op281", **{"Idempotency-Key": "d1"})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
