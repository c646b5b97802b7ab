"""Hot-plug through pyvirtd of a NIC with a ``<filterref>`` and of a disk on descriptors a client associated.

One firmware-only guest in a private pyvirtd, driven by Debian's virsh and pyvirt's client as a user would:
- a NIC with a filter: its binding (``nwfilter-binding-list``) and nft table exist once it is plugged, a
  changed parameter (update-device) re-binds it, and an unplug removes them; a filter that is missing,
  or QEMU refusing the device once the binding was made, leave no binding and no tap;
- a disk with ``<source fdgroup='grp'/>``: refused before ``dom-fd-associate``, then plugged on the client's
  descriptor (QEMU's block layer on ``/dev/fdset/N``, the set in ``query-fdsets``), its set gone with it.

A firmware-only guest never answers an unplug request, so detach-device returns after libvirt's 5 s wait
and the removal ends on QEMU's DEVICE_DELETED, as for a slow guest. The guest's half is then played
by the host: the ACPI PCI hot-plug eject register (``0xae08``, slot bit, bus selected at ``0xae10``) written
with the human monitor's ``o`` command, which is what the guest's OS writes once it let the device go.
QEMU then really removes the device and says so; everything after that is the driver's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.flags import DomainQemuMonitorCommandFlags

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("pyvirt_nwfilter") is None, reason="needs pyvirt-nwfilter"),
    pytest.mark.skipif(not os.path.exists("/dev/net/tun"), reason="/dev/net/tun is missing: no tap devices"),
]
TAP = "pvnhf0"
TABLE = "pyvirt_nwf_" + TAP.encode().hex()  # the nwfilter driver's table of the port (pyvirt_nwfilter.nft)
MAC = "52:54:00:4e:48:01"


def nic(filterref: str, mac: str = MAC, tap: str = TAP, address: str = "") -> str:
    return (f"<interface type='ethernet'><mac address='{mac}'/><target dev='{tap}'/><model type='e1000'/>"
            f"{filterref}{address}</interface>")  # fmt: skip


def disk(image: Path) -> str:
    return (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{image}' fdgroup='grp'/>"
            "<target dev='vdb' bus='virtio'/></disk>")  # fmt: skip


def table() -> str:
    done = subprocess.run(["nft", "list", "table", "bridge", TABLE], capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""


def virsh(uri: str, line: str, redirect: str = "") -> tuple[str, str, int]:
    done = subprocess.run(["sh", "-c", f'virsh -c "$0" "$1" {redirect}', uri, line], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def wait_for(what: Callable[[], bool], message: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def qmp(dom: pyvirt.Domain, command: str) -> Any:
    return json.loads(dom.qemu_monitor_command(json.dumps({"execute": command})))["return"]


def eject_as_the_guest(dom: pyvirt.Domain, alias: str) -> None:
    """What the guest's ACPI code does once it let the device at ``alias`` go: the slot's bit in the eject
    register of the root bus (PIIX4 PCI hot-plug)."""
    xml = dom.xml_desc().replace('"', "'")
    match = re.search(rf"<alias name='{alias}'/>\s*<address type='pci' [^>]*slot='(0x[0-9a-f]+)'", xml)
    assert match is not None, f"{alias} has no PCI slot in {xml}"
    for line in ("o /w 0xae10 0", f"o /w 0xae08 {1 << int(match.group(1), 16)}"):
        dom.qemu_monitor_command(line, DomainQemuMonitorCommandFlags.HMP)


@pytest.fixture(scope="module")
def virt_type() -> str:
    """TCG for these guests, KVM or not. On this host's kvm-pvm a firmware-only guest can stop in QEMU's
    ``internal-error`` state when the hot-plug interrupt reaches SeaBIOS (KVM cannot emulate its 32-bit
    ``iret``: "emulation failure"), and QEMU 7.2 closes a descriptor set's removed descriptors only while the
    guest runs (monitor_fdset_cleanup), so the disk's set would outlive its ``remove-fd`` there."""
    return "qemu"


@pytest.fixture(scope="module")
def pyvirtd(module_qemu_root: Path) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(module_qemu_root) as daemon:
        yield daemon
        assert not daemon.tracebacks()


@pytest.fixture(scope="module")
def guest(pyvirtd: PrivateDaemon, virt_type: str) -> Iterator[pyvirt.Domain]:
    with pyvirt.open(pyvirtd.uri("qemu:///system")) as conn:
        dom = conn.create_domain(f"""<domain type='{virt_type}'><name>nhplug</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<memballoon model='none'/></devices></domain>""")
        try:
            yield dom
        finally:
            dom.destroy()


def test_a_filtered_nic_plugged_rebound_and_unplugged(pyvirtd: PrivateDaemon, guest: pyvirt.Domain,
                                                      tmp_path: Path) -> None:  # fmt: skip
    filters_uri = pyvirtd.uri("nwfilter:///system")
    with pyvirt.open(filters_uri) as filters:
        filters.define_nwfilter("<filter name='nh-no-arp' chain='arp'><rule action='drop' direction='out'>"
                                "<arp arpsrcipaddr='$IP'/></rule></filter>")  # fmt: skip
        ref = "<filterref filter='nh-no-arp'><parameter name='IP' value='10.9.8.7'/></filterref>"
        (tmp_path / "nic.xml").write_text(nic(ref))
        out, err, rc = virsh(pyvirtd.uri("qemu:///system"), f"attach-device nhplug {tmp_path / 'nic.xml'}")
        assert (err, rc) == ("", 0) and "Device attached successfully" in out
        listed = virsh(filters_uri, "nwfilter-binding-list")[0]
        assert re.search(rf"^ {TAP} +nh-no-arp$", listed, re.M), listed
        binding = filters.lookup_nwfilter_binding_by_port_dev(TAP).xml_desc()
        assert "<name>nhplug</name>" in binding and f"<mac address='{MAC}'/>" in binding
        assert f'iifname "{TAP}"' in table() and "arp saddr ip 10.9.8.7" in table()
        assert "nh-no-arp" in guest.xml_desc() and os.path.exists(f"/sys/class/net/{TAP}")

        # update-device with another parameter: the tap is bound again, to the new value
        guest.update_device(nic(ref.replace("10.9.8.7", "10.9.8.6")))
        assert "<parameter name='IP' value='10.9.8.6'/>" in filters.lookup_nwfilter_binding_by_port_dev(TAP).xml_desc()
        assert "arp saddr ip 10.9.8.6" in table() and "10.9.8.7" not in table()
        assert "value='10.9.8.6'" in guest.xml_desc().replace('"', "'")
        # a new filter that is missing: libvirt's words, and the tap bound to the old one again
        with pytest.raises(pyvirt.Error) as exc:
            guest.update_device(nic("<filterref filter='nosuch'/>"))
        assert exc.value.message == (
            f"operation failed: failed to add new filter rules to '{TAP}' - attempting to restore old rules"
        )
        assert "<parameter name='IP' value='10.9.8.6'/>" in filters.lookup_nwfilter_binding_by_port_dev(TAP).xml_desc()
        assert "arp saddr ip 10.9.8.6" in table() and "nosuch" not in guest.xml_desc()

        # a filter that is not there: refused before QEMU sees the NIC, its tap gone
        with pytest.raises(pyvirt.Error) as exc:
            guest.attach_device(nic("<filterref filter='nosuch'/>", "52:54:00:4e:48:02", "pvnhf1"))
        assert exc.value.message == "internal error: referenced filter 'nosuch' is missing"
        # QEMU refusing the device (slot 0 is the host bridge's) after the binding was made: one rollback
        # (a slot the definition holds, the ISA bridge's, is refused before: "Attempted double use of PCI Address")
        taken = "<address type='pci' domain='0x0000' bus='0x00' slot='0x00' function='0x0'/>"
        with pytest.raises(pyvirt.Error, match="device_add"):
            guest.attach_device(nic(ref, "52:54:00:4e:48:03", "pvnhf2", taken))
        assert [b.port_dev for b in filters.list_all_nwfilter_bindings()] == [TAP]
        assert not os.path.exists("/sys/class/net/pvnhf1") and not os.path.exists("/sys/class/net/pvnhf2")
        assert "52:54:00:4e:48:02" not in guest.xml_desc() and "52:54:00:4e:48:03" not in guest.xml_desc()

        guest.detach_device(nic(ref))  # returns after libvirt's wait: the guest has not answered
        eject_as_the_guest(guest, "net0")
        wait_for(lambda: MAC not in guest.xml_desc(), "the NIC stayed after QEMU removed it")
        assert filters.list_all_nwfilter_bindings() == [] and table() == ""
        wait_for(lambda: not os.path.exists(f"/sys/class/net/{TAP}"), f"{TAP} stayed after the unplug")


def test_a_disk_on_associated_descriptors_plugged_and_unplugged(pyvirtd: PrivateDaemon, guest: pyvirt.Domain,
                                                                tmp_path: Path) -> None:  # fmt: skip
    image = tmp_path / "disk.raw"
    image.write_bytes(b"NHDISK" + b"\0" * ((1 << 20) - 6))
    (tmp_path / "disk.xml").write_text(disk(image))
    uri = pyvirtd.uri("qemu:///system")
    before = virsh(uri, f"attach-device nhplug {tmp_path / 'disk.xml'}")
    assert before[1].strip() == (
        "error: Failed to attach device from " + str(tmp_path / "disk.xml") + "\n"
        "error: invalid argument: file descriptor group 'grp' was not associated with the domain"
    ), before
    # the group lives as long as virsh's connection; QEMU keeps its own copy after that
    line = (f"dom-fd-associate nhplug grp 3; attach-device nhplug {tmp_path / 'disk.xml'}; "
            "qemu-monitor-command nhplug query-fdsets")  # fmt: skip
    out, err, rc = virsh(uri, line, f"3<>'{image}'")
    assert (err, rc) == ("", 0) and "Device attached successfully" in out, (out, err)
    fdsets = json.loads(out[out.index("{") :])["return"]
    (fdset,) = [s for s in fdsets if any(f["opaque"].startswith("libvirt-") for f in s["fds"])]
    blocks = {b["qdev"].split("/")[3]: b for b in qmp(guest, "query-block")}
    inserted = blocks["virtio-disk1"]["inserted"]
    assert inserted["file"] == f"/dev/fdset/{fdset['fdset-id']}" and not inserted["ro"], inserted
    assert "fdgroup='grp'" in guest.xml_desc().replace('"', "'")

    guest.detach_device(disk(image))
    eject_as_the_guest(guest, "virtio-disk1")
    wait_for(lambda: "vdb" not in guest.xml_desc(), "the disk stayed after QEMU removed it")
    assert qmp(guest, "query-status")["status"] == "running"  # (a stopped QEMU keeps removed descriptors)
    assert qmp(guest, "query-fdsets") == [] and qmp(guest, "query-block") == []


def test_a_disk_on_a_group_nobody_associated_is_refused_as_libvirtd_does(
    pyvirtd: PrivateDaemon, shared_libvirtd: str, virt_type: str, tmp_path: Path
) -> None:
    """qemuDomainPrepareStorageSourceFDs' refusal, byte for byte with libvirtd 9.0 through Debian's virsh.

    (Given the group, libvirt 9.0 itself fails the plug: it sends QEMU no ``add-fd`` before its
    ``blockdev-add``, which QEMU answers "Could not dup FD for /dev/fdset/0"; pyvirt plugs the disk as
    libvirt 9.1 does, above.)
    """
    (tmp_path / "g.xml").write_text(f"""<domain type='{virt_type}'><name>nhcmp</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<memballoon model='none'/></devices></domain>""")
    (tmp_path / "disk.xml").write_text(disk(tmp_path / "disk.raw"))
    (tmp_path / "disk.raw").write_bytes(b"\0" * 4096)
    line = f"create {tmp_path / 'g.xml'}; attach-device nhcmp {tmp_path / 'disk.xml'}; destroy nhcmp"
    theirs = virsh(shared_libvirtd, line)
    assert "was not associated with the domain" in theirs[1], theirs
    assert virsh(pyvirtd.uri("qemu:///system"), line) == theirs
