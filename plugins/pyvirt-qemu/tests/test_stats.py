"""``domstats`` on a real QEMU guest: libvirt's field names, values read from QEMU, /proc and the tap."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyvirt
from pyvirt.domain_state import DomainState


def test_domstats_of_a_running_and_a_stopped_guest(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> None:
    image = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "32M"], check=True)
    xml = f"""<domain type='{virt_type}'><name>statsy</name><memory unit='MiB'>64</memory>
<currentMemory unit='MiB'>48</currentMemory><vcpu>2</vcpu><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/></disk>
<interface type='ethernet'><mac address='52:54:00:5e:02:03'/><target dev='pvstat0'/><model type='virtio'/></interface>
</devices></domain>"""
    dom = conn.define_domain(xml)
    stopped = dict(dom.get_stats())
    assert stopped["state.state"] == DomainState.SHUTOFF and "cpu.time" not in stopped
    assert stopped["balloon.maximum"] == 65536 and stopped["balloon.current"] == 49152
    assert stopped["vcpu.maximum"] == 2 and stopped["block.0.name"] == "vda" and stopped["block.0.capacity"] == 32 << 20
    dom.create()
    try:
        subprocess.run(["ip", "link", "set", "pvstat0", "up"], check=True)
        with open("/sys/class/net/pvstat0/statistics/rx_bytes") as f:
            host_rx = int(f.read())
        running = dict(dom.get_stats())
        assert running["state.state"] == DomainState.RUNNING and int(running["cpu.time"]) > 0
        assert running["net.count"] == 1 and running["net.0.name"] == "pvstat0"
        assert int(running["net.0.tx.bytes"]) >= host_rx, "the tap's rx is the guest's tx"
        assert running["block.count"] == 1 and running["block.0.path"] == str(image)
        assert running["block.0.capacity"] == 32 << 20 and "block.0.rd.reqs" in running
        only_state = dom.get_stats(1)
        assert [k for k, _ in only_state] == ["state.state", "state.reason"]
    finally:
        dom.destroy()
        dom.undefine()
