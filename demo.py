"""pyvirt demo: the test:/// hypervisor through pyvirsh and the Python API, then the host.

Run through ``./bootstrap demo``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pyvirt
from pyvirt.domain_state import state_text

GUEST = """<domain type='test'>
  <name>demo</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/images/demo.qcow2'/><target dev='vda' bus='virtio'/></disk>
  </devices>
</domain>
"""


def pyvirsh(*args: str) -> None:
    print(f"$ pyvirsh {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "pyvirt.cli.main", *args], check=False)


def main() -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(GUEST)
    try:
        pyvirsh("-c", "test:///default", f"list --all; define {f.name}; start demo; list --all; dominfo demo")
    finally:
        os.unlink(f.name)
    print("== the same from Python ==")
    with pyvirt.open("test:///default") as conn:
        events: list[pyvirt.LifecycleEvent] = []
        conn.register_domain_event(events.append)
        dom = conn.define_domain(GUEST)
        dom.create()
        dom.suspend()
        print(f"  {dom.name}: {state_text(dom.state()[0])}, id {dom.id}, {dom.info().memory_kib} KiB")
        dom.destroy()
        print("  events:", ", ".join(f"{e.event}/{e.detail}" for e in events))
    print("== pyvirsh drivers ==")
    pyvirsh("drivers")
    print("== pyvirsh host-validate ==")
    pyvirsh("host-validate", "--failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
