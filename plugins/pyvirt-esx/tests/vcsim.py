"""A real vSphere simulator per test module: govmomi's vcsim on a free loopback port, TLS with its own certificate.

``esx_sim`` runs it as an ESX host (``-esx``), ``vpx_sim`` as a vCenter;
``libvirt_esx_sim`` runs the build libvirt 9.0's own ESX driver can read
(``vcsim-libvirt``, see build_vcsim.py), for comparisons with Debian's virsh.
``start_simulator`` is the same without pytest, for the benchmark.
vcsim removes its datastore directories on SIGTERM; the fixture sends it
and reaps the process. When vcsim cannot be built (no Go, no govmomi
package), the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from build_vcsim import build

USER = "root"
PASSWORD = "s3cret-pw"


@dataclass
class Simulator:
    host: str
    port: int
    cert: Path
    mode: str  # "esx" or "vpx"

    def uri(self, scheme: str | None = None, query: str = "no_verify=1", user: str = USER) -> str:
        return f"{scheme or self.mode}://{user}@{self.host}:{self.port}/?{query}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    return cert, key


def _start(tmp: Path, mode: str, variant: str = "vcsim") -> Iterator[Simulator]:
    try:
        binary = build(variant)
    except RuntimeError as err:
        pytest.skip(f"no vSphere simulator: {err}")
    yield from start_simulator(tmp, mode, binary)


def start_simulator(tmp: Path, mode: str, binary: Path) -> Iterator[Simulator]:
    """Run ``binary`` (a vcsim build) in ``mode`` under ``tmp`` until the generator is closed; then reap it."""
    cert, key = _certificate(tmp)
    port = _free_port()
    args = [str(binary), "-l", f"127.0.0.1:{port}", "-tlscert", str(cert), "-tlskey", str(key),
            "-username", USER, "-password", PASSWORD]  # fmt: skip
    if mode == "esx":
        args.insert(1, "-esx")
    log = open(tmp / "vcsim.log", "wb")  # noqa: SIM115 - closed after the process is reaped
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={"TMPDIR": str(tmp), "PATH": "/usr/bin"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"vcsim did not start: {(tmp / 'vcsim.log').read_text()[-2000:]}") from None
                time.sleep(0.05)
        yield Simulator("127.0.0.1", port, cert, mode)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def esx_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    yield from _start(tmp_path_factory.mktemp("vcsim-esx"), "esx")


@pytest.fixture(scope="module")
def vpx_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    yield from _start(tmp_path_factory.mktemp("vcsim-vpx"), "vpx")


@pytest.fixture(scope="module")
def libvirt_esx_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    yield from _start(tmp_path_factory.mktemp("vcsim-libvirt"), "esx", "vcsim-libvirt")


@pytest.fixture
def auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """libvirt's auth file with the simulator's password, as ``LIBVIRT_AUTH_FILE``."""
    path = tmp_path / "auth.conf"
    path.write_text(f"[credentials-sim]\nusername={USER}\npassword={PASSWORD}\n\n[auth-esx-127.0.0.1]\n"
                    "credentials=sim\n")  # fmt: skip
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(path))
    return path


__all__ = ["PASSWORD", "USER", "Simulator", "auth_file", "esx_sim", "libvirt_esx_sim", "start_simulator", "vpx_sim"]
