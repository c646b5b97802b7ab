"""``<channel><target type='guestfwd' address='10.0.2.1' port='4600'/>``: a guest TCP address forwarded to a socket.

It was refused by name. libvirt gives QEMU the channel's chardev and a user-network netdev whose ``guestfwd``
sends connections the guest makes to 10.0.2.1:4600 to that chardev. A started guest has both, on the socket
the driver created.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyvirt

GUEST = """<domain type='{virt}'><name>guestfwd</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<channel type='unix'><source mode='bind' path='{sock}'/><target type='guestfwd' address='10.0.2.1' port='4600'/>
</channel><memballoon model='none'/></devices></domain>"""


def test_the_guests_address_is_forwarded_to_the_channel(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    sock = tmp_path / "fwd.sock"
    dom = conn.define_domain(GUEST.format(virt=virt_type, sock=sock))
    dom.create()
    try:
        mon = guest_monitor(dom)
        assert sock.is_socket()
        chardevs = {c["label"]: c["filename"] for c in mon.execute("query-chardev")}
        assert f"unix:{sock},server=on" in chardevs["charchannel0"]  # listening on the driver's socket
        network = mon.execute("human-monitor-command", {"command-line": "info network"})
        assert "channel0" in network and "user" in network
    finally:
        dom.destroy()
