"""Shared fixtures: most util tests need root, because they change identities; event listeners of the daemon tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the test changes uid/gid and capabilities of real children")


class EventListeners:
    """``event`` commands (Debian's virsh or pyvirsh) that print into files, each under a name.

    virsh flushes every event as it prints it (vshPrint), so a test sees the
    event it expects arrive (``printed``) and ends a ``--loop`` then with
    Ctrl-C (``interrupt``: virsh prints "event loop interrupted" and its
    count, as pyvirsh does) instead of waiting out a ``--timeout``.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.outs: dict[str, Path] = {}

    def start(self, name: str, argv: list[str]) -> None:
        out = self.base / f"listener{len(self.procs)}.out"
        with open(out, "w") as stdout:
            self.procs[name] = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                                env=dict(os.environ, LC_ALL="C"))  # fmt: skip
        self.outs[name] = out

    def printed(self, name: str, text: str, times: int = 1, timeout: float = 30) -> None:
        """Wait until ``text`` shows ``times`` times in what ``name`` printed; the test compares what it printed
        afterwards, where a missing event shows with the whole output."""
        deadline = time.monotonic() + timeout
        while self.outs[name].read_text().count(text) < times and time.monotonic() < deadline:
            time.sleep(0.05)

    def interrupt(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGINT)

    def results(self) -> dict[str, tuple[str, str, int]]:
        """Each listener's stdout, stderr and exit status, once every one has ended."""
        ended = {name: (proc.communicate(timeout=60)[1], proc.returncode) for name, proc in self.procs.items()}
        return {name: (self.outs[name].read_text(), err, status) for name, (err, status) in ended.items()}

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


@pytest.fixture
def event_listeners(tmp_path: Path) -> Iterator[EventListeners]:
    """Start ``event`` listeners that print into files (see EventListeners); any left running is ended."""
    listeners = EventListeners(tmp_path)
    try:
        yield listeners
    finally:
        listeners.close()
