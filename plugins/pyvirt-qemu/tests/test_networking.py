"""Guest NICs on the host: taps created by the driver, plugged into a real bridge, gone after stop."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from pyroute2 import IPRoute

import pyvirt
from pyvirt import ErrorCode

BRIDGE = "pyvtestbr0"


@pytest.fixture
def bridge() -> Iterator[str]:
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("/dev/net/tun is missing: no tap devices on this host")
    with IPRoute() as ipr:
        ipr.link("add", ifname=BRIDGE, kind="bridge")
        (index,) = ipr.link_lookup(ifname=BRIDGE)
        ipr.link("set", index=index, state="up")
        try:
            yield BRIDGE
        finally:
            ipr.link("del", index=index)


def nic_guest(virt_type: str, nics: str) -> str:
    return f"""<domain type='{virt_type}'><name>net</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>{nics}</devices></domain>"""


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def test_bridge_and_ethernet_taps(bridge: str, conn: pyvirt.Connection, qemu_root: Path, virt_type: str) -> None:
    before = links()
    dom = conn.define_domain(
        nic_guest(
            virt_type,
            f"""
<interface type='bridge'><mac address='52:54:00:aa:bb:01'/><source bridge='{bridge}'/><model type='virtio'/></interface>
<interface type='ethernet'><mac address='52:54:00:aa:bb:02'/><target dev='pyvtap7'/><model type='e1000'/></interface>
<interface type='user'><model type='virtio'/></interface>""",
        )
    )
    dom.create()
    live = etree.fromstring(dom.xml_desc().encode())
    first, second, third = live.findall("devices/interface")
    tap = first.find("target").get("dev")  # type: ignore[union-attr]
    assert re.fullmatch(r"vnet\d+", tap or "") and second.find("target").get("dev") == "pyvtap7"  # type: ignore[union-attr]
    assert re.fullmatch(r"52:54:00(:[0-9a-f]{2}){3}", third.find("mac").get("address") or "")  # type: ignore[union-attr]
    # the tap is a port of the bridge, carries the guest MAC with 0xfe first, and is up
    assert os.path.realpath(f"/sys/class/net/{tap}/master").endswith(f"/{bridge}")
    assert Path(f"/sys/class/net/{tap}/address").read_text().strip() == "fe:54:00:aa:bb:01"
    assert Path(f"/sys/class/net/{tap}/operstate").read_text().strip() in ("up", "unknown")
    assert Path("/sys/class/net/pyvtap7/address").read_text().strip() == "fe:54:00:aa:bb:02"
    assert not os.path.exists("/sys/class/net/pyvtap7/master")
    pid = int((qemu_root / "run" / "qemu" / "net.pid").read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    taps = [a for a in cmdline if a.startswith(b'{"type":"tap"')]
    assert len(taps) == 2 and all(b'"fd":"' in a for a in taps)
    # QEMU holds the tap fds (its own copies); the driver process keeps none
    held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert "/dev/net/tun" in held
    ours = {
        os.readlink(f"/proc/self/fd/{fd}")
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    }
    assert "/dev/net/tun" not in ours
    if not os.path.exists("/dev/vhost-net"):
        assert all(b"vhost" not in a for a in taps)  # used when present, skipped (and logged) otherwise
    dom.destroy()
    assert links() == before  # the kernel removed both taps with QEMU's last fd
    dom.undefine()


def test_missing_bridge_is_refused_and_leaves_nothing(conn: pyvirt.Connection, qemu_root: Path, virt_type: str) -> None:
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("/dev/net/tun is missing: no tap devices on this host")
    before = links()
    dom = conn.define_domain(nic_guest(virt_type, "<interface type='bridge'><source bridge='nosuchbr9'/></interface>"))
    with pytest.raises(pyvirt.Error) as err:
        dom.create()
    assert err.value.code == ErrorCode.OPERATION_FAILED and "nosuchbr9" in err.value.message
    assert links() == before
    assert os.listdir(qemu_root / "run" / "qemu") == ["driver.pid"]  # (the open driver's own file)
    assert dom.state()[0] == pyvirt.DomainState.SHUTOFF
