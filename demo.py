"""pyvirt demo: the test:/// hypervisor, a real KVM guest (its disk a pool volume, its NIC on a NAT network)
and a real container through pyvirsh, then the host.

Run through ``./bootstrap demo``. Every step is checked: the first that fails stops
the demo (what it started is cleaned up) with exit status 1 and a last line saying
which step failed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable

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


class DemoStepError(Exception):
    """A demo step failed; the message is the one-line summary printed at the end."""


def pyvirsh(*args: str) -> None:
    """Run pyvirsh as a user would, show its output, and stop the demo if any of its commands failed.

    A failure is a non-zero exit status or an ``error:`` line: pyvirsh, like
    virsh, goes on after a failed command in a ``"cmd1; cmd2"`` line and
    exits with the last command's status, which once let the demo report
    success while every KVM step had failed. Both streams come through one
    pipe, in the order pyvirsh wrote them.
    """
    line = shlex.join(args)
    print(f"$ pyvirsh {line}", flush=True)
    proc = subprocess.Popen([sys.executable, "-m", "pyvirt.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    assert proc.stdout is not None
    errors = []
    with proc.stdout:
        for out in proc.stdout:
            print(out, end="", flush=True)
            if out.startswith("error: "):
                errors.append(out.strip())
    status = proc.wait()
    if status != 0 or errors:
        why = "".join(f": {e.removeprefix('error: ')}" for e in errors)  # virsh's "Failed to X" then the reason
        raise DemoStepError(f"'pyvirsh {line}' failed (exit status {status}){why}")


def pyvirsh_each(uri: str, *commands: str) -> None:
    """``pyvirsh -c URI`` once per command, in order: the first failure stops the rest."""
    for command in commands:
        pyvirsh("-c", uri, *shlex.split(command))


def run(demo: Callable[[], None]) -> int:
    """Run ``demo``; the first failed step stops it with status 1 and one line saying what failed.

    The demo's own ``finally`` blocks (networks, pools, guests) have run by
    the time the summary is printed.
    """
    try:
        demo()
    except DemoStepError as exc:
        summary = str(exc)
    except pyvirt.Error as exc:
        summary = f"{type(exc).__name__}: {exc.message}"
    else:
        print("== demo finished: every step succeeded ==", flush=True)
        return 0
    print(f"demo failed: {summary}", file=sys.stderr, flush=True)
    return 1


def _test_driver() -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(GUEST)
    try:  # test:/// keeps its state per process: one pyvirsh run for the whole story
        pyvirsh("-c", "test:///default", f"list --all; define {f.name}; start demo; list --all; dominfo demo")
    finally:
        os.unlink(f.name)


def _python_api() -> None:
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


def _clean_up(uri: str) -> None:
    """Stop what the demo started on ``uri``: guests, networks (a bridge, dnsmasq, firewall tables are host-wide), pools."""
    with pyvirt.open(uri) as conn:
        for dom in conn.list_all_domains():
            if dom.is_active():
                dom.destroy()
        if uri.startswith("qemu:"):
            for net in conn.list_all_networks():
                if net.is_active():
                    net.destroy()
            for pool in conn.list_all_storage_pools():
                if pool.is_active():
                    pool.destroy()


def _host(tmp: str) -> None:
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
        pyvirsh_each(uri,
                     f"pool-create {files['pool']} --build", "vol-create-as demo-images demo.qcow2 64M --format qcow2",
                     "vol-list demo-images --details", f"net-create {files['net']}", "net-list",
                     f"define {files['kvm']}", "start demo-kvm", "list --all", "dominfo demo-kvm", "domblklist demo-kvm",
                     "domiflist demo-kvm", "vncdisplay demo-kvm", "domstats --block demo-kvm",
                     "snapshot-create-as demo-kvm first", "snapshot-list demo-kvm", "destroy demo-kvm",
                     "undefine demo-kvm --snapshots-metadata")  # fmt: skip
    finally:
        _clean_up(uri)
    print("== a container sharing the host's root read-only ==")
    lxc = f"lxc:///embed?root={tmp}/lxc"
    try:
        pyvirsh_each(lxc, f"create {files['ct']}", "list", "dominfo demo-ct", "destroy demo-ct")
    finally:
        _clean_up(lxc)


def _demo() -> None:
    _test_driver()
    _python_api()
    with tempfile.TemporaryDirectory(prefix="pyvirt-demo-", dir="/var/tmp") as tmp:
        _host(tmp)
    print("== pyvirsh drivers ==")
    pyvirsh("drivers")
    print("== pyvirsh host-validate ==")
    pyvirsh("host-validate", "--failures")


def main() -> int:
    return run(_demo)


if __name__ == "__main__":
    sys.exit(main())
