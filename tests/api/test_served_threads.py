"""The served app (what ``conventions serve`` runs) runs at most ``CONVENTIONS_HTTP_THREADS`` requests'
blocking work at once; the others wait their turn, and ``/health`` answers all the same."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio.from_thread
import anyio.to_thread
import httpx
import pytest
import uvicorn

from adapters.http.app import create_served_app
from adapters.settings import Settings
from tests.helpers import free_port
from tests.waiting import wait_until


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """The served app with one thread, under uvicorn in a thread of this process: (its URL, the app)."""
    api = create_served_app(Settings(data_dir=tmp_path / "data", http_threads=1))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "uvicorn started")
    yield f"http://127.0.0.1:{port}", api
    server.should_exit = True
    thread.join(timeout=60)


def test_one_thread_holds_the_others_wait_and_health_still_answers(served: tuple[str, Any]) -> None:
    url, api = served
    entered, release = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def held() -> None:  # /ready's check of the users' store, in the one worker thread
        limiter = anyio.from_thread.run_sync(anyio.to_thread.current_default_thread_limiter)
        seen["tokens"] = limiter.total_tokens
        seen["loop"] = anyio.from_thread.run_sync(asyncio.get_running_loop)
        entered.set()
        release.wait(120)

    async def waiting() -> int:
        return anyio.to_thread.current_default_thread_limiter().statistics().tasks_waiting

    api.state.services.users.ping = held
    with ThreadPoolExecutor(2) as clients:
        try:
            ready = clients.submit(httpx.get, f"{url}/ready", timeout=120)
            wait_until(entered.is_set, "/ready holding the one thread")
            assert seen["tokens"] == 1
            ping = clients.submit(httpx.get, f"{url}/ping", timeout=120)
            wait_until(lambda: asyncio.run_coroutine_threadsafe(waiting(), seen["loop"]).result(60) == 1,
                       "/ping waiting for a thread")  # fmt: skip
            assert not ping.done()
            assert httpx.get(f"{url}/health", timeout=60).json() == {"status": "ok"}  # no thread needed
        finally:
            release.set()
        assert ready.result().status_code in (200, 503) and ping.result().status_code == 204
