"""Guest RAM on real QEMU: NUMA nodes, huge pages from a hugetlbfs mount, locked memory, host-node policy."""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import pyvirt
from pyvirt import ErrorCode
from pyvirt.util.caps import parse_capability, read_process_caps

NR_HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")


def _free_hugepages() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("HugePages_Free:"):
            return int(line.split()[1])
    return 0


@pytest.fixture
def hugetlbfs(tmp_path: Path, qemu_root: Path) -> Iterator[Path]:
    """64 MiB of 2 MiB pages reserved and a hugetlbfs mount that qemu.conf names; all undone afterwards."""
    if not NR_HUGEPAGES.exists():
        pytest.skip("this kernel has no huge page support")
    before = int(NR_HUGEPAGES.read_text())
    NR_HUGEPAGES.write_text(str(before + 32))
    mount = tmp_path / "hugepages"
    mount.mkdir()
    try:
        if _free_hugepages() < 32:
            pytest.skip("the kernel could not reserve 32 huge pages")
        subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "none", str(mount)], check=True)
        (qemu_root / "etc").mkdir(parents=True, exist_ok=True)
        (qemu_root / "etc" / "qemu.conf").write_text(f'hugetlbfs_mount = "{mount}"\n')
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        NR_HUGEPAGES.write_text(str(before))


def test_guest_numa_nodes_get_their_own_backends(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>numa</name><memory unit='MiB'>64</memory>
<vcpu>2</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu><numa><cell id='0' cpus='0' memory='24' unit='MiB'/><cell id='1' cpus='1' memory='40' unit='MiB'/></numa></cpu>
<numatune><memory mode='strict' nodeset='0'/></numatune><devices/></domain>""")
    mon = guest_monitor(dom)
    memdevs = {m["id"]: m for m in mon.execute("query-memdev")}
    assert {k: v["size"] for k, v in memdevs.items()} == {"ram-node0": 24 << 20, "ram-node1": 40 << 20}
    assert memdevs["ram-node0"]["policy"] == "bind" and memdevs["ram-node0"]["host-nodes"] == [0]
    nodes = {c["cpu-index"]: c["props"]["node-id"] for c in mon.execute("query-cpus-fast")}
    assert nodes == {0: 0, 1: 1}
    assert mon.execute("query-memory-size-summary")["base-memory"] == 64 << 20
    dom.destroy()


def test_locked_memory_and_huge_pages(
    hugetlbfs: Path, conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    # (hugetlbfs first: qemu.conf must exist before the connection reads it)
    free = _free_hugepages()
    # locking needs QEMU's RLIMIT_MEMLOCK raised, which needs CAP_SYS_RESOURCE (this sandboxed host's root lacks it)
    can_lock = resource.getrlimit(resource.RLIMIT_MEMLOCK)[1] == resource.RLIM_INFINITY or (
        parse_capability("CAP_SYS_RESOURCE") in read_process_caps().effective)  # fmt: skip
    locked = conn.define_domain(f"""<domain type='{virt_type}'><name>locked</name><memory unit='MiB'>32</memory>
<memoryBacking><locked/></memoryBacking><os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>""")
    if can_lock:
        locked.create()
        pid = int((Path(conn.uri.split("root=")[1]) / "run" / "qemu" / "locked.pid").read_text())
        status = Path(f"/proc/{pid}/status").read_text()
        assert int(status.split("VmLck:")[1].split()[0]) >= 32 << 10  # mem-lock=on took effect
        locked.destroy()
    else:
        with pytest.raises(pyvirt.Error) as err:
            locked.create()
        assert err.value.code == ErrorCode.OPERATION_FAILED and "CAP_SYS_RESOURCE" in err.value.message
        assert not locked.is_active()
    locked.undefine()
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>huge</name><memory unit='MiB'>32</memory>
<memoryBacking><hugepages/></memoryBacking>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices/></domain>""")
    dom.create()
    guest_dir = hugetlbfs / "libvirt" / "qemu" / f"{dom.id}-huge"
    assert guest_dir.is_dir()
    assert _free_hugepages() == free - 16  # all 32 MiB preallocated from the pool
    memdev = next(m for m in guest_monitor(dom).execute("query-memdev") if m["id"] == "pc.ram")
    assert memdev["prealloc"] is True and memdev["size"] == 32 << 20
    dom.destroy()
    assert not guest_dir.exists() and _free_hugepages() == free
    # a page size no mount offers: refused, and nothing is left on the mount
    broken = conn.define_domain(f"""<domain type='{virt_type}'><name>huge1g</name><memory unit='MiB'>32</memory>
<memoryBacking><hugepages><page size='1' unit='GiB'/></hugepages></memoryBacking>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>""")
    with pytest.raises(pyvirt.Error) as err:
        broken.create()
    assert err.value.code == ErrorCode.INTERNAL_ERROR and "hugetlbfs mount" in err.value.message
    assert list((hugetlbfs / "libvirt" / "qemu").iterdir()) == [] and os.listdir(hugetlbfs) == ["libvirt"]
    broken.undefine()
    dom.undefine()


def test_memory_devices_dimm_nvdimm_and_virtio_mem(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """maxMemory slots, a DIMM with an automatic slot, a file-backed NVDIMM and virtio-mem, as QEMU reports them."""
    nvdimm = tmp_path / "nvdimm.img"
    nvdimm.write_bytes(b"\0" * (8 << 20))
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>memdevs</name>
<maxMemory slots='4' unit='MiB'>1024</maxMemory><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa></cpu><devices>
<memory model='dimm'><target><size unit='MiB'>16</size><node>0</node></target></memory>
<memory model='nvdimm'><source><path>{nvdimm}</path></source><target><size unit='MiB'>8</size><node>0</node>
  <label><size unit='KiB'>128</size></label></target></memory>
<memory model='virtio-mem'><target><size unit='MiB'>32</size><node>0</node><block unit='MiB'>2</block>
  <requested unit='MiB'>8</requested></target></memory>
</devices></domain>""")
    defined = dom.xml_desc(2).replace('"', "'")
    assert "<address type='pci'" in defined.split("<memory model='virtio-mem'>")[1]  # placed on the PCI bus at define
    dom.create()
    mon = guest_monitor(dom)
    found = {d["data"]["id"]: (d["type"], d["data"]) for d in mon.execute("query-memory-devices")}
    assert found["dimm0"][0] == "dimm" and found["dimm0"][1]["size"] == 16 << 20 and found["dimm0"][1]["slot"] == 0
    assert found["nvdimm1"][0] == "nvdimm" and found["nvdimm1"][1]["size"] == (8 << 20) - (128 << 10)
    assert found["virtiomem0"][0] == "virtio-mem" and found["virtiomem0"][1]["requested-size"] == 8 << 20
    summary = mon.execute("query-memory-size-summary")
    assert summary["base-memory"] == 64 << 20 and summary["plugged-memory"] >= 16 << 20
    argv = Path(f"/proc/{_qemu_pid(dom)}/cmdline").read_bytes().split(b"\0")
    assert argv[argv.index(b"-m") + 1] == b"size=65536k,slots=4,maxmem=1048576k"
    dom.destroy()
    dom.undefine()
    # memory devices without maxMemory are refused as libvirt refuses them
    with pytest.raises(pyvirt.Error) as err:
        conn.create_domain(f"""<domain type='{virt_type}'><name>nomax</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa>
</cpu><devices><memory model='dimm'><target><size unit='MiB'>16</size><node>0</node></target></memory></devices>
</domain>""")
    assert "'maxMemory' is not defined" in err.value.message


def _qemu_pid(dom: pyvirt.Domain) -> int:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process.pid
    raise AssertionError(f"{dom.name} is not running")


def test_shared_memory_without_huge_pages_lives_in_the_backing_directory(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>shared</name><memory unit='MiB'>64</memory>
<memoryBacking><access mode='shared'/></memoryBacking>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>""")
    directory = qemu_root / "lib" / "qemu" / "ram" / f"{dom.id}-shared"
    assert (directory / "pc.ram").exists()  # the file QEMU maps, shared with anyone who opens it
    memdev = next(m for m in guest_monitor(dom).execute("query-memdev") if m["id"] == "pc.ram")
    assert memdev["share"] is True
    dom.destroy()
    assert not directory.exists()


def test_memory_hotplug_of_a_dimm(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    """attach-device of a <memory model='dimm'> into a running guest: QEMU gets the DIMM, <memory> grows."""
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>memhot</name>
<maxMemory slots='2' unit='MiB'>256</maxMemory><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<cpu><numa><cell id='0' cpus='0' memory='64' unit='MiB'/></numa></cpu><devices/></domain>""")
    dom.create()
    dimm = "<memory model='dimm'><target><size unit='MiB'>32</size><node>0</node></target></memory>"
    dom.attach_device(dimm, 3)  # live and config
    mon = guest_monitor(dom)
    found = {d["data"]["id"]: d["data"] for d in mon.execute("query-memory-devices")}
    assert found["dimm0"]["size"] == 32 << 20 and found["dimm0"]["hotplugged"] is True
    assert mon.execute("query-memory-size-summary")["plugged-memory"] == 32 << 20
    live = etree.fromstring(dom.xml_desc().encode())
    assert live.findtext("memory") == str(96 << 10) and live.find("devices/memory/alias").get("name") == "dimm0"  # type: ignore[union-attr]
    assert etree.fromstring(dom.xml_desc(2).encode()).findtext("memory") == str(96 << 10)  # the definition too
    with pytest.raises(pyvirt.Error) as err:  # beyond maxMemory
        dom.attach_device(dimm.replace("32", "512"))
    assert "would exceed domain's maxMemory" in err.value.message
    with pytest.raises(pyvirt.Error) as err:
        dom.detach_device(dimm)
    assert err.value.code == ErrorCode.OPERATION_UNSUPPORTED
    dom.destroy()
    dom.undefine()
