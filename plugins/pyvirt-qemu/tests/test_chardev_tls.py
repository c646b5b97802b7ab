"""qemu.conf's chardev_tls: a TCP serial port wrapped in TLS, with the certificates of chardev_tls_x509_cert_dir."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from pyvirt_qemu.chardev_tls import ChardevTls
from pyvirt_qemu.command_line import build_command_line
from pyvirt_qemu.domain_defaults import apply_defaults

from pyvirt.conf.domain import parse_domain

GUEST = """<domain type='qemu'><name>tls</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<serial type='tcp'><source mode='{mode}' host='127.0.0.1' service='{port}'{tls}/><protocol type='raw'/></serial>
<memballoon model='none'/></devices></domain>"""


def _argv(mode: str, port: int, cfg: ChardevTls | None, tls: str = "") -> list[str]:
    dom = apply_defaults(parse_domain(GUEST.format(mode=mode, port=port, tls=tls)))
    return build_command_line(dom, "/tmp/m.sock", lib_dir="/tmp/lib", chardev_tls=cfg, hugepage_mounts=[],
                              host_nodes={0}).argv  # fmt: skip


def test_tls_follows_qemu_conf_and_the_source() -> None:
    on = ChardevTls(enabled=True, cert_dir="/etc/pki/libvirt-chardev", verify=False)
    argv = " ".join(_argv("connect", 5555, on))
    assert (
        '-object {"qom-type":"tls-creds-x509","id":"objcharserial0_tls0","dir":"/etc/pki/libvirt-chardev",'
        '"endpoint":"client","verify-peer":false} '
        "-chardev socket,id=charserial0,host=127.0.0.1,port=5555,tls-creds=objcharserial0_tls0"
    ) in argv
    assert '"endpoint":"server"' in " ".join(_argv("bind", 5555, on))  # a listening guest is the TLS server
    assert "tls-creds" not in " ".join(_argv("connect", 5555, on, " tls='no'"))  # the source opts out
    assert "tls-creds" not in " ".join(_argv("connect", 5555, None))  # qemu.conf's default: off
    assert "tls-creds" in " ".join(_argv("connect", 5555, None, " tls='yes'"))  # the source opts in


def _certificates(directory: Path) -> None:
    """A CA and a server certificate it signed, where QEMU's tls-creds-x509 looks for them."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
        "-subj", "/CN=pyvirt test CA", "-days", "1")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-out", "server-cert.pem", "-days", "1")  # fmt: skip


def test_qemu_serves_the_serial_port_over_tls(tmp_path: Path) -> None:
    """QEMU itself takes the options: a TLS client completes a handshake with the guest's listening port."""
    if not shutil.which("qemu-system-x86_64") or not shutil.which("openssl"):
        pytest.skip("needs Debian's qemu-system-x86 and openssl")
    _certificates(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = _argv("bind", port, ChardevTls(enabled=True, cert_dir=str(tmp_path), verify=False))
    wanted = [argv[i + j] for i, a in enumerate(argv) if a in ("-object", "-chardev") and "serial0" in argv[i + 1]
              for j in (0, 1)]  # fmt: skip
    qemu = subprocess.Popen(["qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none", "-S",
                             *wanted], stderr=subprocess.PIPE)  # fmt: skip
    try:
        context = ssl.create_default_context(cafile=str(tmp_path / "ca-cert.pem"))
        context.check_hostname = False
        deadline = time.monotonic() + 20
        while True:
            try:
                with (
                    socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                    context.wrap_socket(raw) as tls,
                ):
                    assert tls.version() is not None and tls.getpeercert()["subject"]
                break
            except ConnectionRefusedError:
                assert qemu.poll() is None, qemu.stderr.read().decode() if qemu.stderr else ""
                assert time.monotonic() < deadline, "QEMU never listened"
                time.sleep(0.1)
    finally:
        qemu.kill()
        qemu.wait()
        if qemu.stderr:
            qemu.stderr.close()
