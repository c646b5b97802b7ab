"""``<kvm><dirty-ring state='on' size='4096'/>``: KVM reports dirtied pages through per-vCPU rings.

It was refused by name; libvirt makes it an accelerator property (``-accel kvm,dirty-ring-size=4096``). A
KVM guest started with it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pyvirt

GUEST = """<domain type='kvm'><name>ring</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<features><kvm><dirty-ring state='{state}' size='4096'/></kvm></features>
<devices><memballoon model='none'/></devices></domain>"""


def _process(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process
    raise AssertionError(f"{dom.name} is not running")


@pytest.mark.parametrize(("state", "accel"), [("on", b"kvm,dirty-ring-size=4096"), ("off", b"kvm")])
def test_the_dirty_ring_reaches_kvm(conn: pyvirt.Connection, virt_type: str, state: str, accel: bytes) -> None:
    if virt_type != "kvm":
        pytest.skip("needs KVM")
    dom = conn.define_domain(GUEST.format(state=state))
    dom.create()
    try:
        process = _process(dom)
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert argv[argv.index(b"-accel") + 1] == accel
        assert process.monitor.execute("query-status")["status"] == "running"  # KVM took the ring
    finally:
        dom.destroy()
