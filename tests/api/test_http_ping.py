"""``GET /ping``: the no-op the load benchmark (``bench/load.py``) measures as the HTTP stack's ceiling."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api


def test_ping_answers_204_without_token(api: Api) -> None:
    r = api.get("/ping", None)
    assert r.status_code == 204
    assert r.content == b""
    assert r.headers["X-Request-ID"]  # through the same middleware as every route


def test_ping_never_touches_the_store(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no services at all, /ping still answers: it measures the HTTP stack, not the store."""
    monkeypatch.setattr(api.client.app.state, "services", None)
    assert api.get("/ping", None).status_code == 204


def test_ping_takes_only_get(api: Api) -> None:
    r = api.client.post("/ping")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"
