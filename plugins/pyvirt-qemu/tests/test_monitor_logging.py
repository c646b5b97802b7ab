"""A QEMU that dies while its monitor connects is reported once, by the caller, not again by qemu.qmp.

qemu.qmp logs every failed connection at error level before raising it;
pyvirt turns the exception into libvirt's error, so the library's record
is only debug detail. A destroy racing a start makes this happen under
load, and the daemon's log then filled with errors for nothing wrong.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

import pytest
from pyvirt_qemu.monitor import Monitor

from pyvirt.errors import Error, ErrorCode


def _hang_up(server: socket.socket, count: int) -> None:
    """Accept ``count`` connections and close each at once, as a QEMU killed mid-greeting does."""
    for _ in range(count):
        conn, _ = server.accept()
        conn.close()


def test_a_monitor_hung_up_on_logs_no_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = str(tmp_path / "qmp.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(8)
        acceptor = threading.Thread(target=_hang_up, args=(server, 3), daemon=True)
        acceptor.start()
        monitor = Monitor("dying")
        tries = iter(range(3))
        caplog.set_level(logging.DEBUG)
        try:
            with pytest.raises(Error) as err:
                monitor.connect(path, timeout=5.0, alive=lambda: next(tries, None) is not None)
        finally:
            monitor.close()
        acceptor.join(5)
    assert err.value.code == ErrorCode.OPERATION_FAILED
    qmp = [r for r in caplog.records if r.name.startswith("qemu.qmp")]
    assert qmp, "qemu.qmp logged nothing: the connection attempts did not happen"
    assert all(r.levelno == logging.DEBUG for r in qmp), [(r.levelname, r.getMessage()) for r in qmp]


def test_an_eof_nobody_retrieved_in_the_monitor_loop_is_debug_detail(caplog: pytest.LogCaptureFixture) -> None:
    """qemu.qmp gathers its reader and writer; when QEMU exits mid-session the gathered EOF is never retrieved
    and asyncio logs it with a traceback at error level (CI's 64-client load test found one in pyvirtd's log).
    Other unretrieved exceptions still reach asyncio's default handler."""
    monitor = Monitor("gone")
    caplog.set_level(logging.DEBUG)
    try:
        loop = monitor._loop
        for exc in (EOFError(), ConnectionResetError(104, "Connection reset by peer")):
            loop.call_exception_handler({"message": "_GatheringFuture exception was never retrieved", "exception": exc})
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        loop.call_exception_handler({"message": "Task exception was never retrieved", "exception": ValueError("bug")})
        assert [r.name for r in caplog.records if r.levelno >= logging.ERROR] == ["asyncio"]
    finally:
        monitor.close()
