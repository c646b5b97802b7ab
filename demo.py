"""pyvirt demo: the test:/// hypervisor, a real KVM guest and a real container through pyvirsh, then the host.

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


KVM_GUEST = """<domain type='{virt}'>
  <name>demo-kvm</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/>
      <target dev='vda' bus='virtio'/></disk>
    <serial type='pty'/>
  </devices>
</domain>
"""

CONTAINER = """<domain type='lxc'>
  <name>demo-ct</name>
  <memory unit='MiB'>64</memory>
  <os><type>exe</type><init>/bin/sleep</init><initarg>600</initarg></os>
  <devices><console type='pty'/></devices>
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
    with tempfile.TemporaryDirectory(prefix="pyvirt-demo-", dir="/var/tmp") as tmp:
        virt = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"  # TCG without /dev/kvm
        disk = os.path.join(tmp, "demo.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
        kvm_xml, ct_xml = os.path.join(tmp, "kvm.xml"), os.path.join(tmp, "ct.xml")
        with open(kvm_xml, "w") as f:
            f.write(KVM_GUEST.format(virt=virt, disk=disk))
        with open(ct_xml, "w") as f:
            f.write(CONTAINER)
        print(f"== a real {virt.upper()} guest on an embedded root (firmware only: no OS to install) ==")
        pyvirsh("-c", f"qemu:///embed?root={tmp}/qemu",
                f"define {kvm_xml}; start demo-kvm; list --all; dominfo demo-kvm; domstats --block demo-kvm; "
                "snapshot-create-as demo-kvm first; snapshot-list demo-kvm; destroy demo-kvm; "
                "undefine demo-kvm --snapshots-metadata")  # fmt: skip
        print("== a container sharing the host's root read-only ==")
        pyvirsh("-c", f"lxc:///embed?root={tmp}/lxc", f"create {ct_xml}; list; dominfo demo-ct; destroy demo-ct")
    print("== pyvirsh drivers ==")
    pyvirsh("drivers")
    print("== pyvirsh host-validate ==")
    pyvirsh("host-validate", "--failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
