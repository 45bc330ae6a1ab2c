"""Real processes of one deployment for the fault tests: ``serve``, ``project --follow``, ``scheduler``,
and a TCP proxy in front of PostgreSQL that a test cuts and restores (the shared server itself is
never stopped: other tests use it).

Every process logs JSON lines to a file (never to a pipe nobody reads); tests wait for a logged
event or a port answering, never for a guessed time. Processes are ended by their own pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from adapters.settings import Settings
from tests.helpers import free_port, wait_healthy
from tests.waiting import DEADLINE, wait_until

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from adapters.cli import main; main()"]


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The ``CONVENTIONS_`` environment of ``settings`` (SQLite or PostgreSQL), JSON logs, plus ``extra``."""
    env = dict(os.environ, CONVENTIONS_LOG_FORMAT="json", CONVENTIONS_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    env.update(CONVENTIONS_STORE=settings.store, CONVENTIONS_DATA_DIR=str(settings.data_dir))
    if settings.store == "postgres":
        env.update(
            CONVENTIONS_POSTGRES_HOST=settings.postgres_host, CONVENTIONS_POSTGRES_PORT=str(settings.postgres_port),
            CONVENTIONS_POSTGRES_USER=settings.postgres_user, CONVENTIONS_POSTGRES_DBNAME=settings.postgres_dbname,
            CONVENTIONS_POSTGRES_SCHEMA=settings.postgres_schema, CONVENTIONS_POSTGRES_POOL_SIZE="2",
        )  # fmt: skip
    env.update(extra)
    return env


class Proc:
    """A ``conventions ...`` subprocess whose JSON log lines a test can wait for."""

    def __init__(self, log: Path, env: dict[str, str], *args: str) -> None:
        self.log = log
        self.handle = log.open("w")
        self.p = subprocess.Popen([*CLI, *args], env=env, cwd=ROOT, stdout=self.handle, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.p.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in self.text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == name:
                out.append(record)
        return out

    def wait_for(self, name: str, count: int = 1) -> dict[str, Any]:
        """The ``count``-th log line of event ``name``; fails at once if the process exits first."""

        def logged() -> dict[str, Any] | None:
            if len(found := self.events(name)) >= count:
                return found[count - 1]
            if self.p.poll() is not None:
                raise AssertionError(f"exited {self.p.returncode} before {name}:\n{self.text()[-4000:]}")
            return None

        return wait_until(logged, lambda: f"{name} in the log:\n{self.text()[-4000:]}", interval=0.05)

    def kill9(self) -> None:
        """SIGKILL, by its own pid: no clean-up of any kind runs in the process."""
        os.kill(self.p.pid, signal.SIGKILL)
        assert self.p.wait(DEADLINE) == -signal.SIGKILL

    def terminate(self) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(30)
        finally:
            self.close()

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        self.handle.close()


class Server(Proc):
    """``conventions serve`` on a free port of 127.0.0.1, answering /health before the test goes on."""

    def __init__(self, log: Path, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        super().__init__(log, env, "serve", "--host", "127.0.0.1", "--port", str(self.port))
        wait_healthy(self.p, self.url, f"serve on port {self.port}", lambda: self.text()[-4000:], 0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {token}"})


class TcpProxy:
    """A loopback TCP proxy to ``target`` (PostgreSQL) in a thread: ``cut()`` closes every connection
    and refuses new ones (the database is gone for the clients), ``restore()`` lets them in again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.peers: dict[socket.socket, socket.socket] = {}
        self.up = True
        self.accepted = 0
        self.refused = 0
        self._commands: list[str] = []
        self._wake_r, self._wake_w = socket.socketpair()
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tcp-proxy", daemon=True)
        self.thread.start()

    def _tell(self, command: str) -> None:
        done = threading.Event()
        with self._lock:
            self._commands.append(command)
            self._done = done
        self._wake_w.send(b"x")
        done.wait(10)

    def cut(self) -> None:
        self._tell("cut")

    def restore(self) -> None:
        self._tell("restore")

    def close(self) -> None:
        self._tell("stop")
        self.thread.join(10)

    def _drop(self, sock: socket.socket) -> None:
        other = self.peers.pop(sock, None)
        for s in (sock, other):
            if s is None:
                continue
            self.peers.pop(s, None)
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(s)
            s.close()

    def _loop(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.data == "wake":
                    self._wake_r.recv(64)
                    with self._lock:
                        commands, self._commands = self._commands, []
                        done = self._done
                    for command in commands:
                        if command == "stop":
                            for s in list(self.peers):
                                self._drop(s)
                            self.listener.close()
                            done.set()
                            return
                        if command == "cut":
                            self.up = False
                            for s in list(self.peers):
                                self._drop(s)
                        else:
                            self.up = True
                    done.set()
                elif key.fileobj is self.listener:
                    self._accept()
                else:
                    self._relay(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except BlockingIOError:
            return
        if not self.up:
            self.refused += 1
            client.close()  # the client sees the server close the connection at once
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        self.accepted += 1
        for s in (client, upstream):
            s.setblocking(False)
        self.peers[client], self.peers[upstream] = upstream, client
        self.selector.register(client, selectors.EVENT_READ, "peer")
        self.selector.register(upstream, selectors.EVENT_READ, "peer")

    def _relay(self, sock: socket.socket) -> None:
        other = self.peers.get(sock)
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data or other is None:
            self._drop(sock)
            return
        try:
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)
        except OSError:
            self._drop(sock)
