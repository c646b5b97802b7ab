"""``<reconnect enabled='yes' timeout='N'/>`` on a connecting socket: QEMU keeps trying instead of failing.

It was left off QEMU's command line (libvirt writes ``reconnect=N``, or ``reconnect=0`` for ``enabled='no'``).
The story: a guest whose channel connects to a service that is not up yet starts, and connects once the
service listens; without reconnecting, the same guest fails to start with QEMU's reason.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import Error

GUEST = """<domain type='{virt}'><name>reconnect</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<channel type='unix'><source mode='connect' path='{path}'>{reconnect}</source>
  <target type='virtio' name='org.example.late'/></channel>
<memballoon model='none'/></devices></domain>"""


def test_a_channel_waits_for_its_service(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    path = tmp_path / "late.sock"
    dom = conn.define_domain(GUEST.format(virt=virt_type, path=path,
                                          reconnect="<reconnect enabled='yes' timeout='1'/>"))  # fmt: skip
    dom.create()
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
            server.listen(1)
            server.settimeout(30)
            client, _ = server.accept()  # QEMU comes back within its one-second retry
            client.close()
    finally:
        dom.destroy()


def test_without_reconnect_the_missing_service_stops_the_start(conn: pyvirt.Connection, virt_type: str,
                                                               tmp_path: Path) -> None:  # fmt: skip
    dom = conn.define_domain(GUEST.format(virt=virt_type, path=tmp_path / "none.sock",
                                          reconnect="<reconnect enabled='no'/>"))  # fmt: skip
    start = time.monotonic()
    with pytest.raises(Error) as err:
        dom.create()
    assert "none.sock" in str(err.value) and time.monotonic() - start < 60
    assert not dom.is_active()
