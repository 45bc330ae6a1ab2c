"""Waiting for evidence, never for a guess of time.

A test that needs another process (a runner, a server, a scheduler) to have reached some point
polls for the evidence that it has: a position moved, a line logged, a port answering, a file
opened. The deadline only turns "never happened" into a failure with a useful message; it never
decides when the test goes on, so a fast machine and a loaded one take the same path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 120.0  # seconds: generous, only ever reached when something is broken


def wait_until(
    predicate: Callable[[], T], what: str | Callable[[], str], timeout: float = DEADLINE, interval: float = 0.01
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    ``what`` says what was awaited (a callable is called only on failure, e.g. to add a log).
    ``predicate`` may raise ``AssertionError`` itself, e.g. when the awaited process has exited.
    """
    deadline = time.monotonic() + timeout
    while True:
        if value := predicate():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:.0f} s for {what() if callable(what) else what}")
        time.sleep(interval)


class OpenCounter:
    """Counts how many times a file is opened by any process (Linux inotify, ``IN_OPEN``).

    Evidence that a process polling a lock file has tried it again, without reading its logs.
    """

    IN_OPEN = 0x20
    IN_NONBLOCK = 0o4000
    HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)

    def __init__(self, path: Path) -> None:
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN) < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        self.count = 0

    def opened(self) -> int:
        """How many opens so far (reads the pending events)."""
        while True:
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                return self.count
            offset = 0
            while offset < len(data):
                _, mask, _, length = self.HEADER.unpack_from(data, offset)
                self.count += bool(mask & self.IN_OPEN)
                offset += self.HEADER.size + length

    def close(self) -> None:
        os.close(self.fd)
