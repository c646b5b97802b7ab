"""Xen guests through the driver's xl path, on a real hypervisor: these run inside the nested dom0.

``../test_nested_xen.py`` boots Xen under QEMU/TCG and runs this module in
its dom0 (see ``nested_xen.py``); anywhere else it is skipped. The guest is
Debian's kernel as a PV guest with a busybox initramfs that prints
``pyvirt-xen-guest: up`` on its console (xenconsoled logs it to
``/var/log/xen/console/guest-NAME.log``) and powers off on a PV shutdown
request.
"""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.errors import Error, ErrorCode
from pyvirt.events import DomainEvent, Started, Stopped, Suspended

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nested_xen import in_dom0

pytestmark = pytest.mark.skipif(not in_dom0(), reason="runs inside the nested Xen dom0 (test_nested_xen.py boots it)")

KERNEL = os.environ.get("PYVIRT_XEN_GUEST_KERNEL", "")
INITRD = os.environ.get("PYVIRT_XEN_GUEST_INITRD", "")
CONSOLE_LOGS = Path("/var/log/xen/console")


def guest_xml(name: str, kernel: str = KERNEL, memory_mib: int = 192) -> str:
    return f"""<domain type='xen'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type>linux</type><kernel>{kernel}</kernel><initrd>{INITRD}</initrd><cmdline>console=hvc0 quiet</cmdline></os>
</domain>"""


def xl_names() -> list[str]:
    out = subprocess.run(["xl", "list"], capture_output=True, text=True, check=True).stdout
    return [line.rsplit(None, 5)[0] for line in out.splitlines()[1:] if line.strip()]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(1)


def console_says_up(name: str) -> bool:
    log = CONSOLE_LOGS / f"guest-{name}.log"
    return log.exists() and "pyvirt-xen-guest: up" in log.read_text(errors="replace")


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"xen:///embed?root={tmp_path}") as c:
        yield c


def test_start_pause_resume_destroy(conn: pyvirt.Connection, tmp_path: Path) -> None:
    events: list[tuple[str, int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.domain.name, ev.event, ev.detail)))
    dom = conn.define_domain(guest_xml("pv-life"))
    dom.create()
    domid = int(subprocess.run(["xl", "domid", "pv-life"], capture_output=True, text=True, check=True).stdout)
    assert dom.id == domid > 0
    assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED)
    assert conn.lookup_domain_by_id(domid).name == "pv-life"
    assert f"<domain type='xen' id='{domid}'>" in dom.xml_desc()
    assert (tmp_path / "run" / "libxl" / "pv-life.xml").exists()  # the status file a later process reads
    wait_for("the guest's console to say it is up", lambda: console_says_up("pv-life"))
    info = dom.info()
    assert info.state == DomainState.RUNNING and info.memory_kib == 192 * 1024 and info.cpu_time_ns > 0

    dom.suspend()
    assert dom.state() == (DomainState.PAUSED, PausedReason.USER)
    xl_flags = subprocess.run(["xl", "list", "pv-life"], capture_output=True, text=True, check=True).stdout
    assert xl_flags.splitlines()[1].split()[4][2] == "p"
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)

    dom.destroy()
    assert "pv-life" not in xl_names()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.DESTROYED)
    assert not (tmp_path / "run" / "libxl" / "pv-life.xml").exists()
    wait_for("the events", lambda: len(events) >= 5, 10)
    assert [(e, d) for n, e, d in events if n == "pv-life"][1:] == [
        (DomainEvent.STARTED, Started.BOOTED), (DomainEvent.SUSPENDED, Suspended.PAUSED),
        (DomainEvent.RESUMED, 0), (DomainEvent.STOPPED, Stopped.DESTROYED)]  # fmt: skip


def test_guest_shuts_down_when_asked(conn: pyvirt.Connection) -> None:
    events: list[tuple[str, int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.domain.name, ev.event, ev.detail)))
    dom = conn.define_domain(guest_xml("pv-shut"))
    dom.create()
    wait_for("the guest's console to say it is up", lambda: console_says_up("pv-shut"))
    dom.shutdown()
    wait_for("the guest to power off", lambda: dom.state()[0] == DomainState.SHUTOFF)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SHUTDOWN)
    assert "pv-shut" not in xl_names()
    assert (DomainEvent.STOPPED, Stopped.SHUTDOWN) in [(e, d) for n, e, d in events if n == "pv-shut"]


def test_refused_start_leaves_nothing(conn: pyvirt.Connection, tmp_path: Path) -> None:
    dom = conn.define_domain(guest_xml("pv-nokernel", kernel="/nonexistent/vmlinuz"))
    with pytest.raises(Error) as err:
        dom.create()
    assert err.value.code == ErrorCode.INTERNAL_ERROR
    assert err.value.message.startswith("internal error: libxenlight failed to create new domain 'pv-nokernel'")
    assert xl_names() == ["Domain-0"]
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.UNKNOWN)
    assert sorted(os.listdir(tmp_path / "run" / "libxl")) == []


def test_a_later_process_finds_the_running_guest(conn: pyvirt.Connection, tmp_path: Path) -> None:
    dom = conn.define_domain(guest_xml("pv-again"))
    dom.create()
    domid = dom.id
    script = (
        "import pyvirt, sys\n"
        f"with pyvirt.open('xen:///embed?root={tmp_path}') as c:\n"
        "    d = c.lookup_domain_by_name('pv-again')\n"
        "    print(d.id, d.state()[0])\n"
        "    d.destroy()\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(domid), str(int(DomainState.RUNNING))]
    assert "pv-again" not in xl_names()
    assert dom.state()[0] == DomainState.SHUTOFF  # this process notices the guest left xl's list


def test_node_info_and_version_from_the_hypervisor(conn: pyvirt.Connection) -> None:
    """The harness boots Xen 4.17 on QEMU's -smp 2 -m 1536: what libvirt's driver reports for that host."""
    assert conn.get_version() == 4017000
    info = conn.get_node_info()
    assert (info.model, info.cpus, info.nodes, info.sockets) == ("x86_64", 2, 1, 1)
    assert info.cores * info.threads == 2
    assert 1400 * 1024 <= info.memory_kib <= 1536 * 1024
    assert info.mhz > 0


def talk_to(dom: pyvirt.Domain, words: bytes) -> None:
    """Type a line on the guest's console and wait for its answer."""
    fd = dom.open_console()
    try:
        os.write(fd, words + b"\r")
        seen = b""
        deadline = time.monotonic() + 60
        while b"pyvirt-xen-guest: echo " + words not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                seen += os.read(fd, 4096)
    finally:
        os.close(fd)


def test_console_reaches_the_guest_both_ways(conn: pyvirt.Connection) -> None:
    dom = conn.define_domain(guest_xml("pv-console"))
    dom.create()
    wait_for("the guest's console to say it is up", lambda: console_says_up("pv-console"))
    try:
        talk_to(dom, b"hello from pyvirt")
    finally:
        dom.destroy()
    with pytest.raises(Error) as err:
        dom.open_console()
    assert err.value.code == ErrorCode.OPERATION_INVALID


def test_reboot_keeps_the_guest_running_under_its_new_id(conn: pyvirt.Connection) -> None:
    dom = conn.define_domain(guest_xml("pv-reboot"))
    dom.create()
    first = dom.id
    wait_for("the guest's console to say it is up", lambda: console_says_up("pv-reboot"))
    dom.reboot()

    def rebuilt() -> bool:
        out = subprocess.run(["xl", "domid", "pv-reboot"], capture_output=True, text=True, check=False).stdout
        return out.strip().isdigit() and int(out) != first

    wait_for("xl to rebuild the guest under a new id", rebuilt)
    again = conn.lookup_domain_by_name("pv-reboot")
    assert again.id == int(
        subprocess.run(["xl", "domid", "pv-reboot"], capture_output=True, text=True, check=True).stdout
    )
    # xl builds the new domain paused, then unpauses it
    wait_for("the rebuilt guest to run", lambda: again.state()[0] == DomainState.RUNNING, 60)
    again.destroy()
    assert "pv-reboot" not in xl_names()


def test_transient_guest_is_forgotten_when_it_stops(conn: pyvirt.Connection, tmp_path: Path) -> None:
    dom = conn.create_domain(guest_xml("pv-transient"))
    assert dom.state()[0] == DomainState.RUNNING and not dom.is_persistent()
    assert "pv-transient" in xl_names()
    assert not (tmp_path / "etc" / "libxl" / "pv-transient.xml").exists()
    dom.destroy()
    assert "pv-transient" not in xl_names()
    assert [d.name for d in conn.list_all_domains()] == []


def test_save_and_restore_in_libvirts_image_format(conn: pyvirt.Connection, tmp_path: Path) -> None:
    events: list[tuple[str, int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.domain.name, ev.event, ev.detail)))
    dom = conn.define_domain(guest_xml("pv-saved", memory_mib=128))
    dom.create()
    wait_for("the guest's console to say it is up", lambda: console_says_up("pv-saved"))
    image = tmp_path / "pv-saved.img"
    dom.save(str(image))
    assert "pv-saved" not in xl_names()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)
    head = image.read_bytes()[:64]
    magic, version, xml_len = struct.unpack("=16sII40x", head)
    assert (magic, version) == (b"libvirt-xml\n \0 \r", 2)
    with open(image, "rb") as f:
        f.seek(64)
        xml = f.read(xml_len)
    assert xml.endswith(b"</domain>\n\0") and b"<name>pv-saved</name>" in xml
    assert sorted(os.listdir(tmp_path / "lib" / "libxl" / "save")) == []  # xl's own file is gone

    restored = conn.restore_domain(str(image))
    assert restored.state() == (DomainState.RUNNING, RunningReason.RESTORED)
    assert restored.id == int(subprocess.run(["xl", "domid", "pv-saved"], capture_output=True, text=True,
                                             check=True).stdout)  # fmt: skip
    talk_to(restored, b"still here after restore")  # the guest's own state came back, not a new boot
    restored.destroy()
    image.unlink()  # dom0's /tmp is a tmpfs in its 768 MiB: the next save needs the room
    wait_for("the events", lambda: len(events) >= 4, 10)
    assert [(e, d) for n, e, d in events if n == "pv-saved"][1:] == [
        (DomainEvent.STARTED, Started.BOOTED), (DomainEvent.STOPPED, Stopped.SAVED),
        (DomainEvent.STARTED, Started.RESTORED), (DomainEvent.STOPPED, Stopped.DESTROYED)]  # fmt: skip


def xs_read(domid: int, key: str) -> str:
    """A value under the guest's xenstore directory, where libxl asks the guest to balloon or bring vCPUs up."""
    argv = ["xenstore-read", f"/local/domain/{domid}/{key}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else f"<{out.stderr.strip()}>"


def test_setmem_and_setvcpus_reach_the_running_guest(conn: pyvirt.Connection, tmp_path: Path) -> None:
    xml = guest_xml("pv-tune", memory_mib=192).replace(
        "<vcpu>1</vcpu>", "<currentMemory unit='MiB'>128</currentMemory><vcpu current='1'>2</vcpu>"
    )
    dom = conn.define_domain(xml)
    dom.create()
    try:
        wait_for("the guest's console to say it is up", lambda: console_says_up("pv-tune"))
        domid = dom.id
        dom.set_memory(160 * 1024)  # flags 0 on a running guest: live only
        assert xs_read(domid, "memory/target") == str(160 * 1024)
        assert "<currentMemory unit='KiB'>163840</currentMemory>" in dom.xml_desc()
        assert "<currentMemory unit='KiB'>131072</currentMemory>" in dom.xml_desc(2)
        dom.set_memory(150 * 1024, 3)  # LIVE | CONFIG
        assert xs_read(domid, "memory/target") == str(150 * 1024)
        assert "<currentMemory unit='KiB'>153600</currentMemory>" in dom.xml_desc(2)
        with pytest.raises(Error) as err:
            dom.set_memory(256 * 1024)
        assert err.value.message == "invalid argument: cannot set memory higher than max memory"
        dom.set_max_memory(256 * 1024, 1)  # LIVE: the hypervisor's ceiling (xl mem-max)
        dom.set_max_memory(256 * 1024, 2)  # CONFIG: the definition's
        assert "<memory unit='KiB'>262144</memory>" in dom.xml_desc(2)

        assert xs_read(domid, "cpu/1/availability") == "offline"
        dom.set_vcpus(2)
        assert xs_read(domid, "cpu/1/availability") == "online"
        assert "<vcpu placement='static'>2</vcpu>" in dom.xml_desc()
        assert "<vcpu placement='static' current='1'>2</vcpu>" in dom.xml_desc(2)
        with pytest.raises(Error) as err:
            dom.set_vcpus(3, 1)
        assert err.value.message == (
            "invalid argument: requested vcpus is greater than max allowable vcpus for the domain: 3 > 2")  # fmt: skip
        dom.set_vcpus(2, 6)  # CONFIG | MAXIMUM: within the host's 2 CPUs (xl info)
        with pytest.raises(Error) as err:
            dom.set_vcpus(3, 6)
        assert err.value.message.endswith("for the domain: 3 > 2")
        talk_to(dom, b"still answering after the changes")
    finally:
        dom.destroy()


def test_managed_save_then_start_restores_the_guest(conn: pyvirt.Connection, tmp_path: Path) -> None:
    events: list[tuple[str, int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.domain.name, ev.event, ev.detail)))
    dom = conn.define_domain(guest_xml("pv-managed", memory_mib=96))
    dom.create()
    wait_for("the guest's console to say it is up", lambda: console_says_up("pv-managed"))
    dom.managed_save()
    image = tmp_path / "lib" / "libxl" / "save" / "pv-managed.save"
    assert image.exists() and image.read_bytes()[:16] == b"libvirt-xml\n \0 \r"
    assert dom.has_managed_save() and "pv-managed" not in xl_names()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)

    dom.create()  # restores the image instead of booting
    assert dom.state() == (DomainState.RUNNING, RunningReason.RESTORED)
    assert not image.exists() and not dom.has_managed_save()
    talk_to(dom, b"back from managed save")  # the same running system, not a new boot
    dom.destroy()
    wait_for("the events", lambda: len([e for e in events if e[0] == "pv-managed"]) >= 5, 10)
    assert [(e, d) for n, e, d in events if n == "pv-managed"][1:] == [
        (DomainEvent.STARTED, Started.BOOTED), (DomainEvent.STOPPED, Stopped.SAVED),
        (DomainEvent.STARTED, Started.RESTORED), (DomainEvent.STOPPED, Stopped.DESTROYED)]  # fmt: skip


def test_a_guest_that_powers_off_by_itself_is_reported_without_asking(conn: pyvirt.Connection) -> None:
    """The STOPPED event comes from xenstore's @releaseDomain watch: nothing here asks for the state."""
    events: list[tuple[str, int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.domain.name, ev.event, ev.detail)))
    dom = conn.define_domain(guest_xml("pv-watched", memory_mib=96))
    dom.create()
    wait_for("the guest's console to say it is up", lambda: console_says_up("pv-watched"))
    # the guest powers itself off (xl shutdown goes straight to the guest, around the driver)
    subprocess.run(["xl", "shutdown", "pv-watched"], check=True, capture_output=True)
    wait_for("the STOPPED event", lambda: (DomainEvent.STOPPED, Stopped.SHUTDOWN) in [(e, d) for _, e, d in events], 60)
    assert "pv-watched" not in xl_names()


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


def test_start_changes_and_destroy_leave_libvirts_audit_trail(tmp_path: Path) -> None:
    """VIRT_RESOURCE and VIRT_CONTROL records as the QEMU driver writes them, virt=xen (no guest pid: -1)."""
    from pyvirt.util.audit import AuditReader, read_audit_status

    before = read_audit_status().enabled
    subprocess.run(["auditctl", "-e", "1"], check=True, stdout=subprocess.DEVNULL)
    uuid = "0b6c2a10-5d3e-4c1f-9e7a-8f2d1c3b4a50"
    try:
        # the driver opens its audit socket when the connection's table is made: after audit is on
        with pyvirt.open(f"xen:///embed?root={tmp_path}") as c, AuditReader() as reader:
            xml = guest_xml("pv-audit", memory_mib=96).replace("<name>", f"<uuid>{uuid}</uuid><name>")
            dom = c.define_domain(xml)
            dom.create()
            dom.set_memory(80 * 1024)
            dom.destroy()
            got = [t for rtype, t in reader.records(2.0) if 2500 <= rtype <= 2502 and f"uuid={uuid}" in t]
    finally:
        subprocess.run(["auditctl", "-e", str(before)], check=True, stdout=subprocess.DEVNULL)
    bodies = [t.split("msg='", 1)[1].split(" exe=", 1)[0] for t in got]
    vm = f'vm="pv-audit" uuid={uuid}'
    assert bodies == [
        f"virt=xen resrc=mem reason=start {vm} old-mem=0 new-mem=98304",
        f"virt=xen resrc=vcpu reason=start {vm} old-vcpu=0 new-vcpu=1",
        f"virt=xen op=start reason=booted {vm} vm-pid=-1",
        f"virt=xen resrc=mem reason=update {vm} old-mem=98304 new-mem=81920",
        f"virt=xen op=stop reason=destroyed {vm} vm-pid=-1",
    ], got
    assert all(t.endswith("res=success'") for t in got)
