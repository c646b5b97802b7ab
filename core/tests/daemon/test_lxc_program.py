"""pyvirtd's libvirt-lxc program (lxc_protocol.x, 0x68000) on a driver without virDomainLxcOpenNamespace.

Debian's virsh sends ``lxc-enter-namespace``'s call to libvirt-lxc's program.
Through pyvirtd on the test driver, which lacks the API as libvirt's does,
virsh must print what it prints on libvirt's own test driver, byte for byte
(the program is served, the driver's NO_SUPPORT comes back); a read-only
client is refused first, in libvirt's words, and a call before CONNECT_OPEN
is refused. The descriptors of a real container's reply are checked in
plugins/pyvirt-lxc/tests/test_enter_namespace.py.
"""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode
from pyvirt.remote import _lxc
from pyvirt.remote.client import RemoteClient

needs_virsh = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh is the reference")
LINE = "lxc-enter-namespace test -- /bin/true; lxc-enter-namespace nosuch -- /bin/true"


def _virsh(uri: str) -> tuple[str, str, int]:
    done = subprocess.run(["virsh", "-c", uri, LINE], capture_output=True, text=True, timeout=60,
                          env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}, check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


@needs_virsh
def test_virsh_through_pyvirtd_gets_the_drivers_answer(pyvirtd: PrivateDaemon) -> None:
    expected = _virsh("test:///default")
    assert "this function is not supported by the connection driver: virDomainLxcOpenNamespace" in expected[1]
    assert _virsh(pyvirtd.uri()) == expected
    _out, err, rc = _virsh(pyvirtd.uri(read_only=True))
    assert rc == 1 and "read only access prevents virDomainLxcOpenNamespace" in err, err


def test_a_call_before_open_is_refused(pyvirtd: PrivateDaemon) -> None:
    proc = _lxc.PROCEDURES[_lxc.LXC_PROC_DOMAIN_OPEN_NAMESPACE]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(pyvirtd.socket))
    client = RemoteClient(sock)
    try:
        with pytest.raises(Error) as err:  # no CONNECT_OPEN yet: no driver connection to send it to
            client.call_with_fds(proc.number, proc.pack_args, (("test", b"\0" * 16, 1), 0), proc.unpack_ret,
                                 prog=_lxc.PROGRAM, vers=_lxc.PROTOCOL_VERSION)  # fmt: skip
        assert (err.value.code, err.value.message) == (ErrorCode.INTERNAL_ERROR, "internal error: connection not open")
    finally:
        client.close()
