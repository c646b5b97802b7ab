"""A monitor whose QEMU hangs up winds itself down, before anyone closes it.

QEMU's monitor socket closes as QEMU exits, milliseconds before the kernel
has torn the process down and its pidfd says so. The monitor's two threads
end in that window on their own; a destroy's ``close`` afterwards then has
nothing left to wait for while the client waits for its reply. Events QEMU
sent before it hung up still reach the handler, and a command issued after
the hang-up fails at once instead of waiting out its timeout.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pyvirt_qemu.monitor import Monitor

from pyvirt.errors import Error, ErrorCode

_GREETING = {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}
_EVENT = {"event": "SHUTDOWN", "data": {"guest": False, "reason": "host-signal"},
          "timestamp": {"seconds": 1, "microseconds": 0}}  # fmt: skip


def _read_request(conn: socket.socket) -> dict[str, Any]:
    """One JSON request (QMP needs no newline between messages, and qemu.qmp sends none)."""
    buf = b""
    while True:
        chunk = conn.recv(4096)
        assert chunk, "the monitor hung up during negotiation"
        buf += chunk
        try:
            request: dict[str, Any] = json.loads(buf)
        except ValueError:
            continue
        return request


def _qemu_that_exits(server: socket.socket, go: threading.Event) -> None:
    """Greet, negotiate, then (once told) send one event and hang up, as a QEMU ended by SIGTERM does."""
    conn, _ = server.accept()
    with conn:
        conn.sendall(json.dumps(_GREETING).encode() + b"\n")
        request = _read_request(conn)
        reply: dict[str, Any] = {"return": {}}
        if "id" in request:
            reply["id"] = request["id"]
        conn.sendall(json.dumps(reply).encode() + b"\n")
        go.wait(10)
        conn.sendall(json.dumps(_EVENT).encode() + b"\n")


def test_the_threads_end_when_qemu_hangs_up(tmp_path: Path) -> None:
    path = str(tmp_path / "qmp.sock")
    events: list[tuple[str, dict[str, Any]]] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        go = threading.Event()
        qemu = threading.Thread(target=_qemu_that_exits, args=(server, go), daemon=True)
        qemu.start()
        monitor = Monitor("exiting", on_event=lambda ev, data: events.append((ev, data)))
        try:
            monitor.connect(path, timeout=5.0)
            threads = [monitor._thread, monitor._dispatcher]
            assert all(t.is_alive() for t in threads)
            go.set()
            qemu.join(5)
            for t in threads:
                t.join(5)  # nobody called close(): they end because QEMU hung up
            assert not [t.name for t in threads if t.is_alive()], "the monitor's threads outlived QEMU's hang-up"
            assert events == [("SHUTDOWN", _EVENT["data"])], "the event sent before the hang-up was lost"
            started = time.monotonic()
            with pytest.raises(Error) as err:
                monitor.execute("query-status", timeout=20.0)
            assert time.monotonic() - started < 2, "a command after the hang-up waited for its timeout"
            assert err.value.code == ErrorCode.OPERATION_FAILED
            assert "was closed (QEMU is gone)" in str(err.value)
        finally:
            monitor.close()
    assert monitor._loop.is_closed()


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.005], ids=["at-once", "1ms", "5ms"])
def test_a_close_racing_the_wind_down_leaves_nothing_half_done(tmp_path: Path, delay: float) -> None:
    """The destroy's close often arrives while the monitor is still winding itself down after the hang-up;
    it must neither cut that short (tasks left pending on a closed loop) nor wait out a timeout."""
    import asyncio

    path = str(tmp_path / "qmp.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        go = threading.Event()
        qemu = threading.Thread(target=_qemu_that_exits, args=(server, go), daemon=True)
        qemu.start()
        monitor = Monitor("racing", on_event=lambda ev, data: None)
        monitor.connect(path, timeout=5.0)
        go.set()
        qemu.join(5)
        time.sleep(delay)
        started = time.monotonic()
        monitor.close()
        assert time.monotonic() - started < 2, "close waited out a timeout"
    assert not monitor._thread.is_alive() and not monitor._dispatcher.is_alive()
    assert monitor._loop.is_closed()
    pending = [t for t in asyncio.all_tasks(monitor._loop) if not t.done()]
    assert not pending, f"tasks left pending on the closed loop: {pending}"
