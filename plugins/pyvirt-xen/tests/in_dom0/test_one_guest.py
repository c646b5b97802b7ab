"""One PV guest's life through the driver, on a real hypervisor: these run inside the nested dom0.

``../test_nested_xen.py`` boots Xen under QEMU/TCG and runs this module in
its dom0 (see ``nested_xen.py``); anywhere else it is skipped. Under TCG a
guest's boot costs tens of seconds, so the tests here follow one guest
through its life, in order, as an operator would: started, paused and
resumed, talked to, tuned, given a disk and a NIC and rid of them, saved and
restored, managed-saved and started again, rebooted, shut down. A test that
breaks the guest fails the ones after it; each says what it expected.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pyvirt
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.errors import Error
from pyvirt.events import DomainEvent, Started, Stopped, Suspended

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dom0_guest import (
    console_ups,
    guest_xml,
    owner,
    talk_to,
    wait_for,
    wait_for_backends,
    wait_in_guest,
    xl_names,
    xs_read,
)
from nested_xen import in_dom0

pytestmark = pytest.mark.skipif(not in_dom0(), reason="runs inside the nested Xen dom0 (test_nested_xen.py boots it)")

NAME = "pv-one"


@dataclass
class Guest:
    """The guest these tests follow, its connection, root directory, and the events seen so far."""

    conn: pyvirt.Connection
    dom: pyvirt.Domain
    root: Path
    events: list[tuple[int, int]] = field(default_factory=list)

    def events_since(self, start: int) -> list[tuple[int, int]]:
        return self.events[start:]


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    root = tmp_path_factory.mktemp("one-guest")
    image = root / "boot.img"
    with open(image, "wb") as f:
        f.truncate(4 << 20)
    os.chown(image, 4242, 4343)
    # a disk served by qemu-xen (qdisk): libxl starts the guest's device model for it, which a hotplugged
    # qdisk disk needs (libxl's block script for blkback does not finish within libxl's 40 s under TCG)
    disk = (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{image}'/>"
            "<target dev='xvda'/></disk>")  # fmt: skip
    with pyvirt.open(f"xen:///embed?root={root}") as conn:
        # 96 of 128 MiB and 1 of 2 vCPUs: room for the balloon and vCPU changes
        xml = guest_xml(NAME, memory_mib=128, devices=disk).replace(
            "<vcpu>1</vcpu>", "<currentMemory unit='MiB'>96</currentMemory><vcpu current='1'>2</vcpu>"
        )
        events: list[tuple[int, int]] = []
        conn.register_domain_event(lambda ev: events.append((ev.event, ev.detail)) if ev.domain.name == NAME else None)
        g = Guest(conn, conn.define_domain(xml), root, events)
        yield g
        if NAME in xl_names():
            g.dom.destroy()


def test_start_then_pause_and_resume(guest: Guest) -> None:
    dom = guest.dom
    wait_for("the DEFINED event", lambda: len(guest.events) >= 1, 10)
    dom.create()
    domid = int(subprocess.run(["xl", "domid", NAME], capture_output=True, text=True, check=True).stdout)
    assert dom.id == domid > 0
    assert dom.state() == (DomainState.RUNNING, RunningReason.BOOTED)
    assert guest.conn.lookup_domain_by_id(domid).name == NAME
    assert f"<domain type='xen' id='{domid}'>" in dom.xml_desc()
    assert (guest.root / "run" / "libxl" / f"{NAME}.xml").exists()  # the status file a later process reads
    info = dom.info()
    assert (info.state, info.max_memory_kib, info.memory_kib) == (DomainState.RUNNING, 128 * 1024, 96 * 1024)
    assert info.cpu_time_ns > 0
    assert owner(guest.root / "boot.img") == (0, 0)  # DAC: the image is the guest's (+0:+0) while it runs
    wait_for("the guest's console to say it is up", lambda: console_ups(NAME) == 1)

    dom.suspend()
    assert dom.state() == (DomainState.PAUSED, PausedReason.USER)
    xl_flags = subprocess.run(["xl", "list", NAME], capture_output=True, text=True, check=True).stdout
    assert xl_flags.splitlines()[1].split()[4][2] == "p"
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, RunningReason.UNPAUSED)
    wait_for("the events", lambda: len(guest.events) >= 4, 10)
    assert guest.events == [
        (DomainEvent.DEFINED, 0), (DomainEvent.STARTED, Started.BOOTED),
        (DomainEvent.SUSPENDED, Suspended.PAUSED), (DomainEvent.RESUMED, 0)]  # fmt: skip


def test_console_reaches_the_guest_both_ways(guest: Guest) -> None:
    talk_to(guest.dom, b"hello from pyvirt")


def test_setmem_and_setvcpus_reach_the_running_guest(guest: Guest) -> None:
    dom = guest.dom
    domid = dom.id
    dom.set_memory(112 * 1024)  # flags 0 on a running guest: live only
    assert xs_read(domid, "memory/target") == str(112 * 1024)
    assert "<currentMemory unit='KiB'>114688</currentMemory>" in dom.xml_desc()
    assert "<currentMemory unit='KiB'>98304</currentMemory>" in dom.xml_desc(2)
    dom.set_memory(104 * 1024, 3)  # LIVE | CONFIG
    assert xs_read(domid, "memory/target") == str(104 * 1024)
    assert "<currentMemory unit='KiB'>106496</currentMemory>" in dom.xml_desc(2)
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


@pytest.fixture
def bridge() -> Iterator[str]:
    """A bridge in dom0 for the guest's NIC (vif-bridge adds each vif to it), gone after the test."""
    subprocess.run(["ip", "link", "add", "name", "pvbr0", "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", "pvbr0", "up"], check=True)
    try:
        yield "pvbr0"
    finally:
        subprocess.run(["ip", "link", "del", "pvbr0"], check=False)


# vif-bridge's work in three commands: Debian's vif-bridge (sourcing four shell libraries, forking dozens of
# times) takes as long as libxl allows a hotplug script (40 s) in this dom0 under TCG, measured; libvirt's
# <script path='...'/> names the script xl runs
VIF_SCRIPT = """#!/bin/sh
bridge=$(xenstore-read "$XENBUS_PATH/bridge")
case "$1" in
  online) ip link set dev "$vif" master "$bridge" up && xenstore-write "$XENBUS_PATH/hotplug-status" connected ;;
  offline) ip link set dev "$vif" nomaster ;;
esac
"""


def test_disk_and_nic_hotplug_reach_the_guest(guest: Guest, tmp_path: Path, bridge: str) -> None:
    """attach-device/detach-device of a file-backed disk and a bridged NIC on the running guest.

    The disk is served by the guest's qemu-xen (qdisk, ``<driver name='qemu'/>``,
    through QMP): libxl's ``block`` script for blkback, which would run
    otherwise, does not finish within libxl's 40 s under TCG. The guest sees
    each device arrive and leave. The image is the guest's (DAC: root, the dynamic label) while
    attached and its owner's again after.
    """
    dom = guest.dom
    wait_for_backends()
    image = tmp_path / "data.img"
    with open(image, "wb") as f:
        f.truncate(8 << 20)
    os.chown(image, 4242, 4343)
    disk = (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{image}'/>"
            "<target dev='xvdb'/></disk>")  # fmt: skip
    dom.attach_device(disk)
    assert "<target dev='xvdb' bus='xen'/>" in dom.xml_desc()
    assert "xvdb" not in dom.xml_desc(2)  # live only: the definition is unchanged
    assert owner(image) == (0, 0)
    wait_in_guest(dom, "the guest to see xvdb", "ls /sys/block", lambda out: "xvdb" in out.split())

    script = tmp_path / "vif-test"
    script.write_text(VIF_SCRIPT)
    script.chmod(0o755)
    mac = "00:16:3e:aa:bb:01"
    dom.attach_device(f"<interface type='bridge'><mac address='{mac}'/><source bridge='{bridge}'/>"
                      f"<script path='{script}'/></interface>")  # fmt: skip
    assert f"<mac address='{mac}'/>" in dom.xml_desc()
    assert os.listdir(f"/sys/class/net/{bridge}/brif") == [f"vif{dom.id}.0"]
    wait_in_guest(dom, "the guest's NIC", "cat /sys/class/net/eth0/address", lambda out: out == mac)

    dom.detach_device(f"<interface type='bridge'><mac address='{mac}'/></interface>")
    assert mac not in dom.xml_desc()
    assert os.listdir(f"/sys/class/net/{bridge}/brif") == []
    wait_in_guest(dom, "the NIC to leave the guest", "ls /sys/class/net", lambda out: "eth0" not in out.split())

    dom.detach_device("<disk type='file' device='disk'><target dev='xvdb'/></disk>")
    assert "xvdb" not in dom.xml_desc()
    wait_in_guest(dom, "xvdb to leave the guest", "ls /sys/block", lambda out: "xvdb" not in out.split())
    assert owner(image) == (4242, 4343)


def test_save_and_restore_in_libvirts_image_format(guest: Guest, tmp_path: Path) -> None:
    dom, seen = guest.dom, len(guest.events)
    image = tmp_path / "saved.img"
    dom.save(str(image))
    assert NAME not in xl_names()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)
    head = image.read_bytes()[:64]
    magic, version, xml_len = struct.unpack("=16sII40x", head)
    assert (magic, version) == (b"libvirt-xml\n \0 \r", 2)
    with open(image, "rb") as f:
        f.seek(64)
        xml = f.read(xml_len)
    assert xml.endswith(b"</domain>\n\0") and f"<name>{NAME}</name>".encode() in xml
    assert sorted(os.listdir(guest.root / "lib" / "libxl" / "save")) == []  # xl's own file is gone

    restored = guest.conn.restore_domain(str(image))
    assert restored.state() == (DomainState.RUNNING, RunningReason.RESTORED)
    assert restored.id == int(subprocess.run(["xl", "domid", NAME], capture_output=True, text=True,
                                             check=True).stdout)  # fmt: skip
    talk_to(restored, b"still here after restore")  # the guest's own state came back, not a new boot
    assert console_ups(NAME) == 1
    image.unlink()  # dom0's /tmp is a tmpfs in its memory: the next save needs the room
    wait_for("the events", lambda: len(guest.events) >= seen + 2, 10)
    assert guest.events_since(seen) == [(DomainEvent.STOPPED, Stopped.SAVED), (DomainEvent.STARTED, Started.RESTORED)]


def test_managed_save_then_start_restores_the_guest(guest: Guest) -> None:
    dom, seen = guest.dom, len(guest.events)
    dom.managed_save()
    image = guest.root / "lib" / "libxl" / "save" / f"{NAME}.save"
    assert image.exists() and image.read_bytes()[:16] == b"libvirt-xml\n \0 \r"
    assert dom.has_managed_save() and NAME not in xl_names()
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SAVED)

    dom.create()  # restores the image instead of booting
    assert dom.state() == (DomainState.RUNNING, RunningReason.RESTORED)
    assert not image.exists() and not dom.has_managed_save()
    talk_to(dom, b"back from managed save")  # the same running system, not a new boot
    assert console_ups(NAME) == 1
    wait_for("the events", lambda: len(guest.events) >= seen + 2, 10)
    assert guest.events_since(seen) == [(DomainEvent.STOPPED, Stopped.SAVED), (DomainEvent.STARTED, Started.RESTORED)]


def test_reboot_keeps_the_guest_running_under_its_new_id(guest: Guest) -> None:
    dom = guest.dom
    first = dom.id
    dom.reboot()

    def rebuilt() -> bool:
        out = subprocess.run(["xl", "domid", NAME], capture_output=True, text=True, check=False).stdout
        return out.strip().isdigit() and int(out) != first

    wait_for("xl to rebuild the guest under a new id", rebuilt)
    again = guest.conn.lookup_domain_by_name(NAME)
    assert again.id == int(subprocess.run(["xl", "domid", NAME], capture_output=True, text=True, check=True).stdout)
    # xl builds the new domain paused, then unpauses it
    wait_for("the rebuilt guest to run", lambda: again.state()[0] == DomainState.RUNNING, 60)
    wait_for("the rebuilt guest to say it is up", lambda: console_ups(NAME) == 2)


def test_shutdown_is_reported_by_xenstores_watch_without_asking(guest: Guest) -> None:
    """The guest powers off when asked; the STOPPED event comes from the @releaseDomain watch (nothing here
    asks the driver for the state until it has come)."""
    dom, seen = guest.dom, len(guest.events)
    dom.shutdown()
    wait_for("the STOPPED event", lambda: (DomainEvent.STOPPED, Stopped.SHUTDOWN) in guest.events_since(seen), 120)
    assert dom.state() == (DomainState.SHUTOFF, ShutoffReason.SHUTDOWN)
    assert NAME not in xl_names()
    assert not (guest.root / "run" / "libxl" / f"{NAME}.xml").exists()
    assert owner(guest.root / "boot.img") == (4242, 4343)  # its owner's again
