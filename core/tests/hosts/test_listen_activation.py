"""Network sockets handed over by systemd (``pyvirtd-tls.socket``, ``pyvirtd-tcp.socket``), as libvirtd takes them.

The test plays systemd: it binds the sockets, starts pyvirtd with them as
descriptors 3, 4, 5 and ``LISTEN_PID``/``LISTEN_FDS``/``LISTEN_FDNAMES``, and
then connects as a client would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from hosts_pki import TestCA

import pyvirt
from pyvirt.daemon.sockets import daemon_paths
from pyvirt.util.unix_socket import bind_unix


def _activated(root: Path, inet_name: str, *args: str) -> tuple[subprocess.Popen[bytes], int, list[socket.socket]]:
    """pyvirtd --root ROOT started with a read-write, a read-only and a TCP socket, as systemd starts it."""
    paths = daemon_paths(root=str(root))
    Path(paths.run_dir).mkdir(parents=True, exist_ok=True)
    socks = []
    for path in (paths.rw_socket, paths.ro_socket):
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bind_unix(unix, path)
        unix.listen(8)
        socks.append(unix)
    inet = socket.socket()
    inet.bind(("127.0.0.1", 0))
    inet.listen(8)
    socks.append(inet)
    names = f"pyvirtd.socket:pyvirtd-ro.socket:{inet_name}"
    fds = [s.fileno() for s in socks]
    # dup the sockets to 3, 4, 5 and exec pyvirtd in the same process, so LISTEN_PID is its pid
    script = (
        "import os, sys\n"
        f"for n, fd in enumerate({fds}): os.dup2(fd, 3 + n)\n"
        f"os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='3', LISTEN_FDNAMES={names!r})\n"
        f"os.execv(sys.executable, [sys.executable, '-m', 'pyvirt.daemon', '--root', {str(root)!r}, *{list(args)!r}])\n"
    )
    log = open(root / "pyvirtd.log", "wb")  # noqa: SIM115 - the daemon keeps its own copy
    with log:
        proc = subprocess.Popen([sys.executable, "-c", script], pass_fds=fds, stdout=log, stderr=log)
    return proc, int(inet.getsockname()[1]), socks


def _stop(proc: subprocess.Popen[bytes], socks: list[socket.socket]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for s in socks:
        s.close()


def test_tls_socket_from_systemd(ca: TestCA, tmp_path: Path) -> None:
    root = tmp_path / "root"
    ca.server(root, ["127.0.0.1"])
    pki = ca.client(tmp_path / "pki", "client-1")
    proc, port, socks = _activated(root, "pyvirtd-tls.socket")
    try:
        # the socket already listens (the test bound it): the handshake waits in its backlog until pyvirtd serves
        with pyvirt.open(f"test+tls://127.0.0.1:{port}/default?pkipath={pki}") as conn:
            assert conn.list_all_domains()[0].name == "test"
    finally:
        _stop(proc, socks)


def test_tcp_socket_from_systemd_needs_auth_none(tmp_path: Path) -> None:
    proc, _, socks = _activated(tmp_path, "pyvirtd-tcp.socket")
    try:
        assert proc.wait(60) == 1
        assert "auth_tcp: unsupported auth sasl" in (tmp_path / "pyvirtd.log").read_text()
    finally:
        _stop(proc, socks)


def test_listen_is_refused_with_activation(tmp_path: Path) -> None:
    proc, _, socks = _activated(tmp_path, "pyvirtd-tls.socket", "--listen")
    try:
        assert proc.wait(60) == 1
        assert (
            "--listen parameter not permitted with systemd activation sockets" in (tmp_path / "pyvirtd.log").read_text()
        )
    finally:
        _stop(proc, socks)
