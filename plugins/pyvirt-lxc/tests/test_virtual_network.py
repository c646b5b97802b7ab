"""A container on a virtual network (pyvirt-network): its veth joins the network's bridge, dnsmasq leases it an address."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.plugin.entry_point_index import entry_point_value

pytestmark = pytest.mark.skipif(
    entry_point_value("pyvirt.hypervisor", "network") is None or not shutil.which("dnsmasq") or not shutil.which("nft"),
    reason="pyvirt-network with dnsmasq and nftables is needed",
)


def test_container_gets_a_dhcp_lease_on_a_nat_network(
    conn: pyvirt.Connection, lxc_root: Path, make_rootfs: Callable[..., Path]
) -> None:
    before = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    net = conn.define_network("""<network><name>lxcnat</name><forward mode='nat'/><bridge name='pvlxcnat0'/>
<ip address='192.168.254.1' prefix='24'><dhcp><range start='192.168.254.10' end='192.168.254.20'/></dhcp></ip>
</network>""")  # the lxc:/// connection reaches the network driver of the same root
    net.create()
    try:
        rootfs = make_rootfs("""\
            udhcpc -i eth0 -n -q -t 10 -T 1 -s /bin/true > /out/dhcp 2>&1
            echo "done=$?" >> /out/dhcp
            exec sleep 1000
            """)
        dom = conn.create_domain(f"""<domain type='lxc'><name>lxcdhcp</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem>
<interface type='network'><source network='lxcnat'/><mac address='52:54:00:aa:fe:01'/></interface>
<console type='pty'/></devices></domain>""")
        out = rootfs / "out" / "dhcp"
        deadline = time.monotonic() + 40
        while "done=" not in (out.read_text() if out.exists() else ""):
            assert time.monotonic() < deadline, "udhcpc never finished"
            time.sleep(0.1)
        text = out.read_text()
        assert "done=0" in text and "obtained from 192.168.254.1" in text, text
        assert "bridge='pvlxcnat0'" in dom.xml_desc().replace('"', "'")
        # domifaddr --source lease: the network's dnsmasq lease for the container's MAC, on its host-side veth
        leased = [lease.ipaddr for lease in conn.lookup_network_by_name("lxcnat").dhcp_leases("52:54:00:aa:fe:01")]
        assert len(leased) == 1 and f"lease of {leased[0]} obtained" in text, (leased, text)
        veth = dom.xml_desc().replace('"', "'").split("<target dev='")[1].split("'")[0]
        assert dom.interface_addresses(0) == [(veth, "52:54:00:aa:fe:01", (("ipv4", leased[0], 24),))]
        with pytest.raises(pyvirt.Error) as err:
            dom.interface_addresses(1)  # containers have no guest agent, as in libvirt's LXC driver
        assert err.value.code == ErrorCode.ARGUMENT_UNSUPPORTED and err.value.message.endswith("data source 1")
        dom.destroy()
    finally:
        net.destroy()
        subprocess.run(["ip", "link", "del", "pvlxcnat0"], capture_output=True, check=False)
        after = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
        for line in set(after.splitlines()) - set(before.splitlines()):
            subprocess.run(["nft", "delete", "table", *line.split()[1:]], capture_output=True, check=False)
    assert "pvlxcnat0" not in subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout
