"""pyvirt demo: the test:/// hypervisor, a real KVM guest (its disk a pool volume, its NIC on a NAT network)
and a real container through pyvirsh, then the host.

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
    <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>
      <source pool='demo-images' volume='demo.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <interface type='network'><source network='demo-net'/><model type='virtio'/></interface>
    <serial type='pty'/>
    <graphics type='vnc' autoport='yes'/>
  </devices>
</domain>
"""

POOL = """<pool type='dir'><name>demo-images</name><target><path>{path}</path></target></pool>"""

NETWORK = """<network><name>demo-net</name><forward mode='nat'/><bridge name='pvdemo0'/>
  <ip address='192.168.199.1' prefix='24'><dhcp><range start='192.168.199.10' end='192.168.199.99'/></dhcp></ip>
</network>"""

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
        files = {name: os.path.join(tmp, f"{name}.xml") for name in ("kvm", "ct", "pool", "net")}
        for name, text in (("kvm", KVM_GUEST.format(virt=virt)), ("ct", CONTAINER),
                           ("pool", POOL.format(path=os.path.join(tmp, "images"))), ("net", NETWORK)):  # fmt: skip
            with open(files[name], "w") as out:
                out.write(text)
        uri = f"qemu:///embed?root={tmp}/qemu"
        print(f"== a real {virt.upper()} guest on an embedded root (firmware only: no OS to install), its disk a ==")
        print("== volume of a storage pool, its NIC on a NAT network with DHCP (pyvirt-storage, pyvirt-network) ==")
        try:
            pyvirsh("-c", uri,
                    f"pool-create {files['pool']} --build; vol-create-as demo-images demo.qcow2 64M --format qcow2; "
                    f"vol-list demo-images --details; net-create {files['net']}; net-list; "
                    f"define {files['kvm']}; start demo-kvm; list --all; dominfo demo-kvm; domblklist demo-kvm; "
                    "domiflist demo-kvm; vncdisplay demo-kvm; domstats --block demo-kvm; "
                    "snapshot-create-as demo-kvm first; snapshot-list demo-kvm; destroy demo-kvm; "
                    "undefine demo-kvm --snapshots-metadata")  # fmt: skip
        finally:  # the network's bridge, dnsmasq and firewall table are host-wide: never leave them behind
            with pyvirt.open(uri) as conn:
                for net in conn.list_all_networks():
                    if net.is_active():
                        net.destroy()
                for pool in conn.list_all_storage_pools():
                    if pool.is_active():
                        pool.destroy()
        print("== a container sharing the host's root read-only ==")
        pyvirsh("-c", f"lxc:///embed?root={tmp}/lxc", f"create {files['ct']}; list; dominfo demo-ct; destroy demo-ct")
    print("== pyvirsh drivers ==")
    pyvirsh("drivers")
    print("== pyvirsh host-validate ==")
    pyvirsh("host-validate", "--failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
