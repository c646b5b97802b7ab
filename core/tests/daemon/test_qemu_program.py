"""pyvirtd's libvirt-qemu program (qemu_protocol.x, 0x20008087) on a driver without those entry points.

Debian's virsh sends ``qemu-monitor-command`` and ``qemu-agent-command`` to
libvirt-qemu's program, not the remote one. Through pyvirtd on the test
driver, which has neither API (as libvirt's), virsh must print what it prints
on libvirt's own test driver, byte for byte: the program is served and the
driver's NO_SUPPORT comes back, not "Cannot find program". A procedure the
program does not serve (QEMU_PROC_DOMAIN_ATTACH) answers NO_SUPPORT in
libvirt's words, and a call before CONNECT_OPEN is refused.
"""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode
from pyvirt.remote import _qemu
from pyvirt.remote.client import RemoteClient

needs_virsh = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh is the reference")
LINE = ("qemu-monitor-command test query-status; qemu-monitor-command test --hmp info status; "
        "qemu-agent-command test '{\"execute\":\"guest-ping\"}'; qemu-monitor-command nosuch query-status")  # fmt: skip


def _virsh(uri: str) -> tuple[str, str, int]:
    done = subprocess.run(["virsh", "-c", uri, LINE], capture_output=True, text=True, timeout=60,
                          env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}, check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


@needs_virsh
def test_virsh_through_pyvirtd_gets_the_drivers_answer(pyvirtd: PrivateDaemon) -> None:
    expected = _virsh("test:///default")
    assert "this function is not supported by the connection driver: virDomainQemuMonitorCommand" in expected[1]
    assert _virsh(pyvirtd.uri()) == expected


def test_unserved_procedures_and_calls_before_open(pyvirtd: PrivateDaemon) -> None:
    attach = _qemu.PROCEDURES[_qemu.QEMU_PROC_DOMAIN_ATTACH]
    monitor = _qemu.PROCEDURES[_qemu.QEMU_PROC_DOMAIN_MONITOR_COMMAND]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(pyvirtd.socket))
    client = RemoteClient(sock)
    try:
        with pytest.raises(Error) as err:  # no CONNECT_OPEN yet: no driver connection to send it to
            client.call(monitor.number, monitor.pack_args, (("test", b"\0" * 16, 1), "{}", 0), monitor.unpack_ret,
                        prog=_qemu.PROGRAM, vers=_qemu.PROTOCOL_VERSION)  # fmt: skip
        assert (err.value.code, err.value.message) == (ErrorCode.INTERNAL_ERROR, "internal error: connection not open")
        with pytest.raises(Error) as err:
            client.call(attach.number, attach.pack_args, (1, 0), attach.unpack_ret, prog=_qemu.PROGRAM,
                        vers=_qemu.PROTOCOL_VERSION)  # fmt: skip
        assert err.value.code == ErrorCode.NO_SUPPORT
        assert err.value.message == "this function is not supported by the connection driver: virDomainQemuAttach"
    finally:
        client.close()
