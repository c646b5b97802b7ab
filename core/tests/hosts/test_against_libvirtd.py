"""pyvirt's client against Debian's libvirtd 9.0 with ``--listen``: TLS with libvirt's checks, and plain TCP.

A private libvirtd on loopback (its own mount namespace with a tmpfs on
/run/libvirt, no driver modules: the test driver is built in), with the
same certificates pyvirtd uses in the other tests. Its
``tls_allowed_dn_list`` is written in the DN form of pyvirtd's tests, so
an accepted client also shows that pyvirtd reads DNs as GnuTLS writes them.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_pki import TestCA

import pyvirt
from pyvirt.connection import Connection
from pyvirt.errors import Error

LIBVIRTD = "/usr/sbin/libvirtd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def libvirtd(ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    if not os.path.exists(LIBVIRTD) or shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and Debian's libvirtd 9.0 (libvirt-daemon)")
    work = tmp_path_factory.mktemp("libvirtd")
    ca.server(work, ["127.0.0.1"])
    pki = work / "etc" / "pki"
    (work / "sock").mkdir()
    (work / "drivers").mkdir()
    tls_port, tcp_port = _free_port(), _free_port()
    conf = work / "libvirtd.conf"
    conf.write_text(
        f'unix_sock_dir = "{work / "sock"}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
        f'listen_tls = 1\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\nauth_tcp = "none"\n'
        f'tls_port = "{tls_port}"\ntcp_port = "{tcp_port}"\n'
        f'ca_file = "{pki}/CA/cacert.pem"\ncert_file = "{pki}/libvirt/servercert.pem"\n'
        f'key_file = "{pki}/libvirt/private/serverkey.pem"\n'
        'tls_allowed_dn_list = ["C=GB,O=pyvirt tests,CN=client*"]\n'
    )
    script = f"mount -t tmpfs tmpfs /run/libvirt && exec {LIBVIRTD} --listen --config {conf} --pid-file {work}/pid"
    os.makedirs("/run/libvirt", exist_ok=True)
    with open(work / "libvirtd.log", "wb") as log:
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LIBVIRT_DRIVER_DIR": str(work / "drivers")},
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (_listening(tls_port) and _listening(tcp_port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("libvirtd did not start: " + (work / "libvirtd.log").read_text())
            time.sleep(0.05)
        yield tls_port, tcp_port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _open_within(uri: str, seconds: float = 30) -> Connection:
    """Open on a thread: a client whose calls libvirtd never answers must fail the test, not hang it."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(pyvirt.open, uri).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)


def test_pyvirt_client_over_tls_and_tcp_to_libvirtd(libvirtd: tuple[int, int], ca: TestCA, tmp_path: Path) -> None:
    tls_port, tcp_port = libvirtd
    pki = ca.client(tmp_path / "pki", "client-7")
    # The open sends three calls at once (one round trip); over TLS each must be its own record, or
    # libvirtd reads the first and leaves the others in GnuTLS's buffer unanswered.
    with _open_within(f"test+tls://127.0.0.1:{tls_port}/default?pkipath={pki}") as conn:
        assert [d.name for d in conn.list_all_domains()] == ["test"]
    with pyvirt.open(f"test+tcp://127.0.0.1:{tcp_port}/default") as conn:
        assert [d.name for d in conn.list_all_domains()] == ["test"]


def test_libvirtd_refuses_a_dn_not_on_its_list(libvirtd: tuple[int, int], ca: TestCA, tmp_path: Path) -> None:
    pki = ca.client(tmp_path / "pki", "intruder")
    with pytest.raises(Error, match=r"server verification \(of our certificate or IP address\) failed"):
        pyvirt.open(f"test+tls://127.0.0.1:{libvirtd[0]}/default?pkipath={pki}")


def test_libvirtd_server_checked_by_our_client(libvirtd: tuple[int, int], tmp_path: Path) -> None:
    stranger = TestCA(tmp_path / "ca", "some other CA")
    pki = stranger.client(tmp_path / "pki", "client-1")
    with pytest.raises(Error, match="Failed to verify peer's certificate: Certificate failed validation"):
        pyvirt.open(f"test+tls://127.0.0.1:{libvirtd[0]}/default?pkipath={pki}")
