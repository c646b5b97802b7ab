"""attach-device/detach-device on a real QEMU guest and in the persistent definition."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

DISK = "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{}'/><target dev='vdb' bus='virtio'/></disk>"
NIC = "<interface type='ethernet'><mac address='52:54:00:5e:04:05'/><target dev='pvhot0'/><model type='virtio'/></interface>"


@pytest.fixture
def running(conn: pyvirt.Connection, virt_type: str, tmp_path: Path) -> pyvirt.Domain:
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>hotty</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices/></domain>""")
    dom.create()
    return dom


def test_live_attach_of_a_disk_and_a_nic(running: pyvirt.Domain, tmp_path: Path) -> None:
    image = tmp_path / "extra.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "8M"], check=True)
    running.attach_device(DISK.format(image))
    running.attach_device(NIC)
    stats = dict(running.get_stats(16 | 32))
    assert stats["block.count"] == 1 and stats["block.0.name"] == "vdb" and stats["block.0.capacity"] == 8 << 20
    assert stats["net.count"] == 1 and stats["net.0.name"] == "pvhot0" and os.path.exists("/sys/class/net/pvhot0")
    live = running.xml_desc()
    assert "<alias name='virtio-disk1'/>" in live.replace('"', "'") and "<alias name='net0'/>" in live.replace('"', "'")
    assert "vdb" not in running.xml_desc(2), "a live attach leaves the persistent definition alone"
    with pytest.raises(Error) as exc:
        running.attach_device(DISK.format(image))
    assert exc.value.code == ErrorCode.OPERATION_INVALID and "target vdb already exists" in str(exc.value)
    running.destroy()
    assert not os.path.exists("/sys/class/net/pvhot0"), "the tap goes with QEMU"
    running.undefine()


def test_config_attach_and_detach_and_refusals(running: pyvirt.Domain, tmp_path: Path) -> None:
    image = tmp_path / "cfg.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "8M"], check=True)
    running.attach_device(DISK.format(image), 2)  # --config on a running guest
    assert "vdb" in running.xml_desc(2) and "vdb" not in running.xml_desc()
    running.detach_device(DISK.format(image), 2)
    assert "vdb" not in running.xml_desc(2)
    with pytest.raises(Error) as exc:
        running.detach_device(DISK.format(image), 2)
    assert exc.value.code == ErrorCode.OPERATION_FAILED and "no target device vdb" in str(exc.value)
    with pytest.raises(Error) as exc:
        running.attach_device(DISK.format(tmp_path / "missing.qcow2"), 1)
    assert exc.value.code == ErrorCode.OPERATION_FAILED and "Cannot access storage file" in str(exc.value)
    sata = DISK.format(image).replace("vdb' bus='virtio'", "sdb' bus='sata'")
    with pytest.raises(Error) as exc:
        running.attach_device(sata, 1)
    assert exc.value.code == ErrorCode.OPERATION_UNSUPPORTED
    assert "vdb" not in running.xml_desc() and "sdb" not in running.xml_desc(), "a refused attach changes nothing"
    running.destroy()
    with pytest.raises(Error) as exc:
        running.attach_device(DISK.format(image), 1)
    assert exc.value.code == ErrorCode.OPERATION_INVALID
    running.attach_device(DISK.format(image))  # current = config for a stopped domain
    assert "vdb" in running.xml_desc()
    running.undefine()


def test_update_device_changes_the_cdrom_medium_and_the_link_state(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    first, second = tmp_path / "first.iso", tmp_path / "second.iso"
    first.write_bytes(b"\\1" * 65536)
    second.write_bytes(b"\\2" * 65536)
    cdrom = ("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>{}"
             "<target dev='hdc' bus='ide'/><readonly/></disk>")  # fmt: skip
    nic = "<interface type='user'><mac address='52:54:00:5e:06:07'/><model type='virtio'/>{}</interface>"
    dom = conn.define_domain(f"""<domain type='{virt_type}'><name>mediac</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>{cdrom.format(f"<source file='{first}'/>")}
{nic.format("")}</devices></domain>""")
    dom.create()
    mon: Any = guest_monitor(dom)

    def medium() -> str | None:
        block = next(b for b in mon.execute("query-block") if b.get("qdev", "").endswith("ide0-1-0"))
        found: str | None = block.get("inserted", {}).get("file")
        return found

    assert medium() == str(first)
    dom.update_device(cdrom.format(f"<source file='{second}'/>"))
    assert medium() == str(second) and str(second) in dom.xml_desc() and str(first) in dom.xml_desc(2)
    dom.update_device(cdrom.format(""))  # eject
    assert medium() is None and "second.iso" not in dom.xml_desc()
    dom.update_device(nic.format("<link state='down'/>"))  # QMP set_link: QEMU refuses an unknown NIC name
    assert "<link state='down'/>" in dom.xml_desc().replace('"', "'")
    with pytest.raises(Exception, match="not found"):
        mon.execute("set_link", {"name": "no-such-nic", "up": True})
    with pytest.raises(Error) as exc:
        dom.update_device(nic.format("<link state='up'/>").replace("virtio", "e1000"))
    assert exc.value.code == ErrorCode.OPERATION_UNSUPPORTED
    dom.update_device(nic.format("<link state='up'/>"), 3)  # live and config
    assert "<link state='up'/>" in dom.xml_desc(2).replace('"', "'")
    dom.destroy()
    dom.undefine()


def test_rng_watchdog_and_usb_devices_reach_qemu(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    devices = """<controller type='usb' model='qemu-xhci'/><input type='tablet' bus='usb'/>
<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
<watchdog model='i6300esb' action='poweroff'/>"""
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>gadgets</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>{devices}</devices></domain>""")
    mon: Any = guest_monitor(dom)
    peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
    assert peripherals["usb"] == "child<qemu-xhci>" and peripherals["input0"] == "child<usb-tablet>"
    assert peripherals["rng0"] == "child<virtio-rng-pci>" and peripherals["watchdog0"] == "child<i6300esb>"
    rng = mon.execute("qom-get", {"path": "/objects/objrng0", "property": "filename"})
    assert rng == "/dev/urandom"
    dom.destroy()
    with pytest.raises(Error) as exc:
        conn.create_domain(f"""<domain type='{virt_type}'><name>gadgets2</name><memory unit='MiB'>64</memory>
<os><type>hvm</type></os><devices><controller type='usb' model='none'/><input type='tablet' bus='usb'/></devices>
</domain>""")
    assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED
    # libvirt's parser refuses a USB input device on a guest without USB in these words (qemuxml2argv's
    # usb-none-usbtablet.err)
    assert "Can't add USB input device. USB bus is disabled" in str(exc.value)
