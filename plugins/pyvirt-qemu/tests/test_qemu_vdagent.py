"""``<channel type='qemu-vdagent'>``: QEMU's built-in guest agent channel (clipboard, client-side mouse).

It was refused by name; libvirt writes ``-chardev qemu-vdagent,...,clipboard=on,mouse=on``. A started guest
has the chardev behind its virtio-serial port.
"""

from __future__ import annotations

from typing import Any

import pyvirt

GUEST = """<domain type='{virt}'><name>vdagent</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<channel type='qemu-vdagent'><source><clipboard copypaste='yes'/><mouse mode='client'/></source>
  <target type='virtio' name='com.redhat.spice.0'/></channel>
<graphics type='vnc' autoport='yes'/>
<memballoon model='none'/></devices></domain>"""


def _monitor(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process.monitor
    raise AssertionError(f"{dom.name} is not running")


def test_the_guest_gets_qemus_own_agent_channel(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type))
    dom.create()
    try:
        mon = _monitor(dom)
        chardevs = {c["label"]: c["filename"] for c in mon.execute("query-chardev")}
        assert chardevs["charchannel0"] == "qemu-vdagent"
        port = mon.execute("qom-get", {"path": "/machine/peripheral/channel0", "property": "chardev"})
        assert port == "charchannel0"
    finally:
        dom.destroy()
