"""``<channel type='qemu-vdagent'>``: QEMU's built-in guest agent channel (clipboard, client-side mouse).

It was refused by name; libvirt writes ``-chardev qemu-vdagent,...,clipboard=on,mouse=on``. A started guest
has the chardev behind its virtio-serial port.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyvirt

GUEST = """<domain type='{virt}'><name>vdagent</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<channel type='qemu-vdagent'><source><clipboard copypaste='yes'/><mouse mode='client'/></source>
  <target type='virtio' name='com.redhat.spice.0'/></channel>
<graphics type='vnc' autoport='yes'/>
<memballoon model='none'/></devices></domain>"""


def test_the_guest_gets_qemus_own_agent_channel(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type))
    dom.create()
    try:
        mon = guest_monitor(dom)
        chardevs = {c["label"]: c["filename"] for c in mon.execute("query-chardev")}
        assert chardevs["charchannel0"] == "qemu-vdagent"
        port = mon.execute("qom-get", {"path": "/machine/peripheral/channel0", "property": "chardev"})
        assert port == "charchannel0"
    finally:
        dom.destroy()
