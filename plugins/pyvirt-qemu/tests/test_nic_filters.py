"""A NIC's ``<filterref>``: while the guest runs, a filter binding on its tap (libvirt's
virDomainConfNWFilterInstantiate/Teardown through the nwfilter driver of the same mode), gone when it stops."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
from lxml import etree

import pyvirt

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("pyvirt_nwfilter") is None, reason="needs pyvirt-nwfilter"),
    pytest.mark.skipif(not os.path.exists("/dev/net/tun"), reason="/dev/net/tun is missing: no tap devices"),
]
TAP = "pyvnwf0"
TABLE = "pyvirt_nwf_" + TAP.encode().hex()  # the nwfilter driver's table of the port (pyvirt_nwfilter.nft)


def nic_guest(virt_type: str, filterref: str, name: str = "nwf") -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><interface type='ethernet'><mac address='52:54:00:aa:bb:07'/>
<target dev='{TAP}'/><model type='e1000'/>{filterref}</interface></devices></domain>"""


def table() -> str:
    done = subprocess.run(["nft", "list", "table", "bridge", TABLE], capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""


def test_the_filter_binds_to_the_tap_while_the_guest_runs(conn: pyvirt.Connection, qemu_root: Path,
                                                          virt_type: str) -> None:  # fmt: skip
    with pyvirt.open(f"nwfilter:///embed?root={qemu_root}") as filters:
        filters.define_nwfilter("<filter name='no-arp' chain='arp'><rule action='drop' direction='out'>"
                                "<arp arpsrcipaddr='$IP'/></rule></filter>")  # fmt: skip
        ref = "<filterref filter='no-arp'><parameter name='IP' value='10.9.8.7'/></filterref>"
        dom = conn.define_domain(nic_guest(virt_type, ref))
        assert "<parameter name='IP' value='10.9.8.7'/>" in dom.xml_desc()
        dom.create()
        try:
            live = etree.fromstring(dom.xml_desc().encode())
            assert live.find("devices/interface/filterref").get("filter") == "no-arp"  # type: ignore[union-attr]
            (binding,) = filters.list_all_nwfilter_bindings()
            assert (binding.port_dev, binding.filter_name) == (TAP, "no-arp")
            xml = binding.xml_desc()
            assert "<name>nwf</name>" in xml and f"<uuid>{dom.uuid}</uuid>" in xml
            assert "<mac address='52:54:00:aa:bb:07'/>" in xml and "<parameter name='IP' value='10.9.8.7'/>" in xml
            assert f'iifname "{TAP}"' in table() and "arp saddr ip 10.9.8.7" in table()
            # a NIC this guest cannot take (no ACPI: its PCI bus has no hot-plug) was bound to its tap, and QEMU's
            # refusal undoes that (test_hotplug_filters_fdsets: plugging, unplugging and re-binding for real)
            with pytest.raises(pyvirt.Error, match="does not support hotplugging"):
                dom.attach_device(f"<interface type='ethernet'><target dev='{TAP}h'/><model type='e1000'/>"
                                  "<filterref filter='no-arp'><parameter name='IP' value='10.9.8.6'/></filterref>"
                                  "</interface>")  # fmt: skip
            assert [b.port_dev for b in filters.list_all_nwfilter_bindings()] == [TAP]
            assert not os.path.exists(f"/sys/class/net/{TAP}h")
        finally:
            dom.destroy()
        assert filters.list_all_nwfilter_bindings() == [] and table() == ""

        # a filter that is not there ends the start: no guest, no binding, no tap left behind
        missing = conn.define_domain(nic_guest(virt_type, "<filterref filter='nosuch'/>", "nwf2"))
        with pytest.raises(pyvirt.Error) as err:
            missing.create()
        assert err.value.message == "internal error: referenced filter 'nosuch' is missing"
        assert not missing.is_active() and filters.list_all_nwfilter_bindings() == [] and table() == ""
        assert not os.path.exists(f"/sys/class/net/{TAP}")
