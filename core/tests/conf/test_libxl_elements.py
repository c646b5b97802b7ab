"""Domain XML the libxl driver reads that the QEMU driver had not needed: read, written back, refused as libvirt does.

``<interface><bandwidth>``, ``<os><acpi><table>``, ``<features><xen>``,
``<timer mode>``, ``<hostdev><driver>`` with ``<source writeFiltering>``,
``<interface type='hostdev' managed>`` with its PCI ``<source><address>``
and the ``xen:`` namespace's ``<xen:commandline>``. The whole documents come
from libvirt 9.0's xlconfigtest data (plugins/pyvirt-xen's conformance);
here each element's round trip and each of libvirt's refusals.
"""

from __future__ import annotations

import pytest

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error, ErrorCode

BASE = """<domain type='xen'{ns}>
  <name>x</name>
  <uuid>c7a5fdb2-cdaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>524288</memory>
  <os><type arch='x86_64' machine='xenfv'>hvm</type>{os}</os>
  {features}
  <clock offset='utc'>{timers}</clock>
  <devices>{devices}</devices>
  {tail}
</domain>"""
XEN_NS = " xmlns:xen='http://libvirt.org/schemas/domain/xen/1.0'"


def doc(ns: str = "", os: str = "", features: str = "", timers: str = "", devices: str = "", tail: str = "") -> str:
    return BASE.format(ns=ns, os=os, features=features, timers=timers, devices=devices, tail=tail)


def round_trip(xml: str) -> str:
    return format_domain(parse_domain(xml), 2)


def test_bandwidth_rates_come_back_in_libvirts_order() -> None:
    nic = ("<interface type='network'><source network='default'/>"
           "<bandwidth><outbound burst='5' average='100' peak='200'/><inbound floor='10' average='50'/></bandwidth>"
           "</interface>")  # fmt: skip
    out = round_trip(doc(devices=nic))
    assert "<bandwidth>\n        <inbound average='50' floor='10'/>\n" in out
    assert "<outbound average='100' peak='200' burst='5'/>\n      </bandwidth>" in out


@pytest.mark.parametrize(
    ("bandwidth", "iface", "code", "message"),
    [
        ("<outbound peak='10'/>", "network", ErrorCode.XML_DETAIL, "Missing mandatory average or floor attributes"),
        ("<outbound floor='10' peak='20'/>", "network", ErrorCode.CONFIG_UNSUPPORTED,
         "'peak' and 'burst' require 'average' attribute"),
        ("<outbound average='1x'/>", "network", ErrorCode.CONFIG_UNSUPPORTED,
         "could not convert bandwidth average value '1x'"),
        ("<outbound average='1' floor='2'/>", "network", ErrorCode.CONFIG_UNSUPPORTED,
         "'floor' attribute allowed only in <inbound> element"),
        ("<inbound average='1' floor='2'/>", "bridge", ErrorCode.CONFIG_UNSUPPORTED,
         "floor attribute is not supported for this config"),
        ("<inbound average='1'/><inbound average='2'/>", "network", ErrorCode.XML_DETAIL,
         "Only one child <inbound> element allowed"),
    ],
)  # fmt: skip
def test_bandwidth_refusals_are_libvirts(bandwidth: str, iface: str, code: ErrorCode, message: str) -> None:
    source = "<source network='default'/>" if iface == "network" else "<source bridge='br0'/>"
    with pytest.raises(Error) as err:
        parse_domain(doc(devices=f"<interface type='{iface}'>{source}<bandwidth>{bandwidth}</bandwidth></interface>"))
    assert err.value.code == code
    assert message in err.value.message


def test_acpi_table_and_its_refusals() -> None:
    out = round_trip(doc(os="<acpi><table type='slic'>/var/lib/slic.dat</table></acpi><boot dev='hd'/>"))
    assert "<acpi>\n      <table type='slic'>/var/lib/slic.dat</table>\n    </acpi>\n    <boot dev='hd'/>" in out
    for table, message in (
        ("<table type='slic'>/a</table><table type='slic'>/b</table>", "Only one acpi table is supported"),
        ("<table>/a</table>", "Missing acpi table type"),
        ("<table type='msdm'>/a</table>", "Unknown acpi table type: msdm"),
    ):
        with pytest.raises(Error) as err:
            parse_domain(doc(os=f"<acpi>{table}</acpi>"))
        assert err.value.code == ErrorCode.XML_ERROR and message in err.value.message


def test_xen_features_and_tsc_mode() -> None:
    features = "<features><xen><e820_host state='on'/><passthrough state='on' mode='share_pt'/></xen></features>"
    out = round_trip(doc(features=features, timers="<timer name='tsc' present='yes' mode='native'/>"))
    assert "<xen>\n      <e820_host state='on'/>\n      <passthrough state='on' mode='share_pt'/>\n    </xen>" in out
    assert "<timer name='tsc' present='yes' mode='native'/>" in out


def test_pci_passthrough_driver_and_hostdev_interface() -> None:
    devices = ("<interface type='hostdev' managed='yes'><mac address='00:16:3e:2e:e7:fc'/><driver name='xen'/>"
               "<source><address type='pci' domain='0x0000' bus='0x0a' slot='0x10' function='0x0'/></source>"
               "</interface>"
               "<hostdev mode='subsystem' type='pci' managed='no'><driver name='xen'/><source writeFiltering='no'>"
               "<address domain='0x0000' bus='0x01' slot='0x1a' function='0x1'/></source></hostdev>")  # fmt: skip
    out = round_trip(doc(devices=devices))
    assert "<interface type='hostdev' managed='yes'>" in out
    assert "<address type='pci' domain='0x0000' bus='0x0a' slot='0x10' function='0x0'/>" in out
    assert "<hostdev mode='subsystem' type='pci' managed='no'>\n      <driver name='xen'/>\n" in out
    assert "<source writeFiltering='no'>" in out


def test_xen_commandline_namespace() -> None:
    tail = "<xen:commandline><xen:arg value='-debugcon'/><xen:arg value='file:/tmp/d.log'/></xen:commandline>"
    out = round_trip(doc(ns=XEN_NS, tail=tail))
    assert out.startswith(f"<domain type='xen'{XEN_NS}>\n")  # declared after the type, as libvirt writes it
    assert out.endswith("  <xen:commandline>\n    <xen:arg value='-debugcon'/>\n"
                        "    <xen:arg value='file:/tmp/d.log'/>\n  </xen:commandline>\n</domain>\n")  # fmt: skip
    assert "xmlns:xen" not in round_trip(doc())  # no namespace data, no declaration
    with pytest.raises(Error) as err:
        parse_domain(doc(ns=XEN_NS, tail="<xen:commandline><xen:arg/></xen:commandline>"))
    assert err.value.code == ErrorCode.INTERNAL_ERROR
    assert "No device model command-line argument specified" in err.value.message


def test_vlan_tags_and_trunk_as_libvirt_writes_them() -> None:
    nic = "<interface type='bridge'><source bridge='ovsbr0'/><vlan>{}</vlan></interface>"
    out = round_trip(doc(devices=nic.format("<tag id='42'/><tag id='43' nativeMode='untagged'/>")))
    assert "<vlan trunk='yes'>\n        <tag id='42'/>\n        <tag id='43' nativeMode='untagged'/>\n" in out
    assert "<vlan>\n        <tag id='7'/>\n      </vlan>" in round_trip(doc(devices=nic.format("<tag id='7'/>")))
    no_trunk = nic.replace("<vlan>", "<vlan trunk='no'>").format("<tag id='7'/>")
    assert "<vlan>\n        <tag id='7'/>" in round_trip(doc(devices=no_trunk))  # trunk='no' is discarded


@pytest.mark.parametrize(
    ("vlan", "message"),
    [
        ("<vlan/>", "missing tag id - each <vlan> must have at least one <tag id='n'/> subelement"),
        ("<vlan><tag id='4096'/></vlan>", "vlan tag id 4096 too large (maximum 4095)"),
        ("<vlan><tag id='1' nativeMode='tagged'/><tag id='2' nativeMode='untagged'/></vlan>",
         "duplicate native vlan setting"),
        ("<vlan trunk='no'><tag id='1'/><tag id='2'/></vlan>",
         "invalid \"trunk='no'\" in <vlan> - trunk='yes' is required for more than one vlan tag"),
        ("<vlan trunk='no'><tag id='1' nativeMode='tagged'/></vlan>",
         "invalid configuration in <vlan> - \"trunk='no'\" is not allowed with a native vlan id"),
    ],
)  # fmt: skip
def test_vlan_refusals_are_libvirts(vlan: str, message: str) -> None:
    with pytest.raises(Error) as err:
        parse_domain(doc(devices=f"<interface type='bridge'><source bridge='br0'/>{vlan}</interface>"))
    assert err.value.code == ErrorCode.XML_ERROR
    assert message in err.value.message


def test_virtualport_generates_missing_ids_and_normalises_numbers() -> None:
    nic = "<interface type='bridge'><source bridge='ovsbr0'/>{}</interface>"
    ovs = parse_domain(doc(devices=nic.format("<virtualport type='openvswitch'/>")))
    assert ovs.devices is not None and ovs.devices.interfaces[0].virtualport is not None
    generated = ovs.devices.interfaces[0].virtualport.interfaceid
    assert generated is not None and len(generated) == 36  # VIR_VPORT_XML_GENERATE_MISSING_DEFAULTS
    qbg = nic.format("<virtualport type='802.1Qbg'><parameters managerid='0x11' typeid='010' typeidversion='1' "
                     "instanceid='C7A5FDB2-CDAF-9455-926A-D65C16DB1809'/></virtualport>")  # fmt: skip
    out = round_trip(doc(devices=qbg))
    assert ("<parameters managerid='17' typeid='8' typeidversion='1' "
            "instanceid='c7a5fdb2-cdaf-9455-926a-d65c16db1809'/>") in out  # fmt: skip


@pytest.mark.parametrize(
    ("virtualport", "iface", "code", "message"),
    [
        ("<virtualport type='ovs'/>", "bridge", ErrorCode.CONFIG_UNSUPPORTED, "unknown virtualport type ovs"),
        ("<virtualport type='openvswitch'><parameters managerid='1'/></virtualport>", "bridge",
         ErrorCode.XML_ERROR, "extra managerid unsupported in <virtualport type='openvswitch'>"),
        ("<virtualport type='802.1Qbg'><parameters managerid='256'/></virtualport>", "bridge",
         ErrorCode.XML_ERROR, "value of managerid out of range"),
        ("<virtualport type='802.1Qbg'><parameters typeid='x'/></virtualport>", "bridge",
         ErrorCode.XML_ERROR, "cannot parse value of typeid parameter"),
        ("<virtualport type='openvswitch'><parameters interfaceid='nope'/></virtualport>", "bridge",
         ErrorCode.XML_ERROR, "cannot parse interfaceid parameter as a uuid"),
        ("<virtualport type='openvswitch'/>", "user", ErrorCode.CONFIG_UNSUPPORTED,
         "<virtualport> element unsupported for <interface type='user'>"),
    ],
)  # fmt: skip
def test_virtualport_refusals_are_libvirts(virtualport: str, iface: str, code: ErrorCode, message: str) -> None:
    source = "<source bridge='br0'/>" if iface == "bridge" else ""
    with pytest.raises(Error) as err:
        parse_domain(doc(devices=f"<interface type='{iface}'>{source}{virtualport}</interface>"))
    assert err.value.code == code
    assert message in err.value.message


def test_vlan_trunk_is_read_case_blind_and_anything_else_refused() -> None:
    nic = "<interface type='bridge'><source bridge='b'/><vlan trunk='{}'><tag id='7'/></vlan></interface>"
    assert "<vlan trunk='yes'>" in round_trip(doc(devices=nic.format("YES")))
    with pytest.raises(Error) as err:
        parse_domain(doc(devices=nic.format("maybe")))
    assert err.value.message == "XML error: invalid \"trunk='maybe'\" in <vlan> - must be yes or no"
