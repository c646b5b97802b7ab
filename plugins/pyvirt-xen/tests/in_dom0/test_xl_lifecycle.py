"""Xen guests through the driver's xl path, on a real hypervisor: these run inside the nested dom0.

``../test_nested_xen.py`` boots Xen under QEMU/TCG and runs this module in
its dom0 (see ``nested_xen.py``); anywhere else it is skipped. The guests
here are started and stopped without waiting for them to boot (a boot costs
tens of seconds under TCG); ``test_one_guest.py`` follows a booted guest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.domain_state import DomainState, ShutoffReason
from pyvirt.errors import Error, ErrorCode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dom0_guest import guest_xml, owner, wait_for_backends, xl_names
from nested_xen import in_dom0

pytestmark = pytest.mark.skipif(not in_dom0(), reason="runs inside the nested Xen dom0 (test_nested_xen.py boots it)")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"xen:///embed?root={tmp_path}") as c:
        yield c


def test_refused_start_leaves_nothing(conn: pyvirt.Connection, tmp_path: Path) -> None:
    """xl refuses a "kernel" that is not one; the file's owner, changed for the start, is given back."""
    not_a_kernel = tmp_path / "vmlinuz"
    not_a_kernel.write_bytes(b"\0" * 4096)
    os.chown(not_a_kernel, 4242, 4343)
    dom = conn.define_domain(guest_xml("pv-nokernel", kernel=str(not_a_kernel)))
    with pytest.raises(Error) as err:
        dom.create()
    assert err.value.code == ErrorCode.INTERNAL_ERROR
    assert err.value.message.startswith("internal error: libxenlight failed to create new domain 'pv-nokernel'")
    assert xl_names() == ["Domain-0"]
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.UNKNOWN)
    assert sorted(os.listdir(tmp_path / "run" / "libxl")) == []
    assert owner(not_a_kernel) == (4242, 4343)


def test_a_later_process_finds_the_guest_and_gives_its_images_back(conn: pyvirt.Connection, tmp_path: Path) -> None:
    """A static DAC label: the image is the label's while the guest runs; another process, finding the guest
    from its status file, destroys it and gives the image its owner back from libvirt's xattrs."""
    image = tmp_path / "root.img"
    with open(image, "wb") as f:
        f.truncate(4 << 20)
    os.chown(image, 4242, 4343)
    # served by qemu-xen (qdisk): libxl's block script for blkback is too slow under TCG (test_one_guest.py)
    disk = (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{image}'/>"
            "<target dev='xvda'/></disk>")  # fmt: skip
    label = "<seclabel type='static' model='dac' relabel='yes'><label>+107:+108</label></seclabel>"
    dom = conn.define_domain(guest_xml("pv-again", devices=disk, extra=label))
    wait_for_backends()
    dom.create()
    domid = dom.id
    assert owner(image) == (107, 108)
    assert "<label>+107:+108</label>" in dom.xml_desc()
    assert os.getxattr(image, "trusted.libvirt.security.dac") == b"+4242:+4343"
    script = (
        "import pyvirt, sys\n"
        f"with pyvirt.open('xen:///embed?root={tmp_path}') as c:\n"
        "    d = c.lookup_domain_by_name('pv-again')\n"
        "    print(d.id, d.state()[0])\n"
        "    d.destroy()\n"
        "    print(*d.state())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(domid), str(int(DomainState.RUNNING)),
                           str(int(DomainState.SHUTOFF)), str(int(ShutoffReason.DESTROYED))]  # fmt: skip
    assert "pv-again" not in xl_names()
    assert dom.state()[0] == DomainState.SHUTOFF  # this process notices the guest left xl's list
    assert owner(image) == (4242, 4343)


def test_node_info_and_version_from_the_hypervisor(conn: pyvirt.Connection) -> None:
    """The harness boots Xen 4.17 on QEMU's -smp 2 -m 1536: what libvirt's driver reports for that host."""
    assert conn.get_version() == 4017000
    info = conn.get_node_info()
    assert (info.model, info.cpus, info.nodes, info.sockets) == ("x86_64", 2, 1, 1)
    assert info.cores * info.threads == 2
    assert 1400 * 1024 <= info.memory_kib <= 1536 * 1024
    assert info.mhz > 0


def test_capabilities_of_the_nested_host(conn: pyvirt.Connection) -> None:
    """The host as xl sees it (QEMU's -smp 2: one NUMA cell of 2 CPUs) and one guest per xen_caps entry."""
    from lxml import etree

    caps = etree.fromstring(conn.get_capabilities())
    assert caps.findtext("host/cpu/arch") == "x86_64" and caps.find("host/cpu/features/pae") is not None
    assert caps.find("host/topology/cells").get("num") == "1"
    assert [c.get("id") for c in caps.findall("host/topology/cells/cell/cpus/cpu")] == ["0", "1"]
    xen_caps = subprocess.run(["xl", "info", "xen_caps"], capture_output=True, text=True, check=True).stdout.split()
    guests = [(g.findtext("os_type"), g.find("arch").get("name"), g.findtext("arch/machine"))
              for g in caps.findall("guest")]  # fmt: skip
    assert ("xen", "x86_64", "xenpv") in guests
    assert (("hvm", "x86_64", "xenfv") in guests) == ("hvm-3.0-x86_64" in xen_caps)
    assert (("xenpvh", "x86_64", "xenpvh") in guests) == ("hvm-3.0-x86_64" in xen_caps)  # PVH beside each HVM


def test_a_transient_guest_leaves_libvirts_audit_trail_and_is_forgotten(tmp_path: Path) -> None:
    """VIRT_RESOURCE and VIRT_CONTROL records as the QEMU driver writes them, virt=xen (no guest pid: -1); the
    transient guest (create_domain) is gone from the driver once destroyed."""
    from pyvirt.util.audit import AuditReader, read_audit_status

    before = read_audit_status().enabled
    subprocess.run(["auditctl", "-e", "1"], check=True, stdout=subprocess.DEVNULL)
    uuid = "0b6c2a10-5d3e-4c1f-9e7a-8f2d1c3b4a50"
    try:
        # the driver opens its audit socket when the connection's table is made: after audit is on
        with pyvirt.open(f"xen:///embed?root={tmp_path}") as c, AuditReader() as reader:
            # room to balloon up into (112 MiB at most, booted with 96): a balloon taken down while the kernel
            # still unpacks its initrd can crash the guest, and xl's monitor then destroys it under the test
            xml = guest_xml("pv-audit", memory_mib=112).replace("<name>", f"<uuid>{uuid}</uuid><name>", 1)
            xml = xml.replace("</memory>", "</memory><currentMemory unit='MiB'>96</currentMemory>", 1)
            dom = c.create_domain(xml)
            assert dom.state()[0] == DomainState.RUNNING and not dom.is_persistent()
            assert "pv-audit" in xl_names()
            assert not (tmp_path / "etc" / "libxl" / "pv-audit.xml").exists()
            dom.set_memory(104 * 1024)
            dom.destroy()
            assert "pv-audit" not in xl_names()
            assert [d.name for d in c.list_all_domains()] == []
            assert sorted(os.listdir(tmp_path / "run" / "libxl")) == []
            got = [t for rtype, t in reader.records(2.0) if 2500 <= rtype <= 2502 and f"uuid={uuid}" in t]
    finally:
        subprocess.run(["auditctl", "-e", str(before)], check=True, stdout=subprocess.DEVNULL)
    bodies = [t.split("msg='", 1)[1].split(" exe=", 1)[0] for t in got]
    vm = f'vm="pv-audit" uuid={uuid}'
    assert bodies == [
        f"virt=xen resrc=mem reason=start {vm} old-mem=0 new-mem=114688",
        f"virt=xen resrc=vcpu reason=start {vm} old-vcpu=0 new-vcpu=1",
        f"virt=xen op=start reason=booted {vm} vm-pid=-1",
        f"virt=xen resrc=mem reason=update {vm} old-mem=98304 new-mem=106496",
        f"virt=xen op=stop reason=destroyed {vm} vm-pid=-1",
    ], got
    assert all(t.endswith("res=success'") for t in got)
