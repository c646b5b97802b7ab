"""``<networkport>`` through pyvirt.conf.networkport, run as libvirt's virnetworkportxml2xmltest runs it.

Each case named by the test program's ``DO_TEST`` lines is parsed and formatted, and the output must be
the input file byte for byte (virTestCompareToFile). The refusals are libvirt's, in its words and codes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from libvirt_testdata import libvirt_source  # type: ignore[import-not-found]

from pyvirt.conf.networkport import format_port, parse_port
from pyvirt.errors import Error, ErrorCode

PORT = """<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid>
<owner><name>memtest</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>
<mac address='52:54:00:7b:35:93'/>{extra}</networkport>"""


def _cases() -> list[Path]:
    src = libvirt_source()
    if src is None:
        return []
    tests = src / "tests"
    names = re.findall(r'^\s*DO_TEST\("([^"]+)"\)', (tests / "virnetworkportxml2xmltest.c").read_text(), re.M)
    return [tests / "virnetworkportxml2xmldata" / f"{name}.xml" for name in names]


def test_libvirts_corpus_is_all_there() -> None:
    cases = _cases()
    if not cases:
        pytest.skip("libvirt 9.0's source is not available (tools/fetch-libvirt-source)")
    assert len(cases) == 7


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.stem)
def test_each_case_formats_back_to_itself(path: Path) -> None:
    assert format_port(parse_port(path.read_bytes())) == path.read_text()


@pytest.mark.parametrize(
    ("xml", "code", "message"),
    [
        ("<networkport><owner><name>a</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>"
         "<mac address='52:54:00:7b:35:93'/></networkport>", ErrorCode.INTERNAL_ERROR, "network port has no uuid"),
        (PORT.replace("<owner><name>memtest</name>", "<owner>"), ErrorCode.INTERNAL_ERROR,
         "network port has no owner name"),
        (PORT.replace("<mac address='52:54:00:7b:35:93'/>", ""), ErrorCode.INTERNAL_ERROR, "network port has no mac"),
        (PORT.replace("52:54:00:7b:35:93", "52:54:00:7b:35"), ErrorCode.INTERNAL_ERROR,
         "Unable to parse MAC '52:54:00:7b:35'"),
        (PORT.replace("5d744f21-ba4a", "zz"), ErrorCode.INTERNAL_ERROR, "Unable to parse UUID"),
        (PORT.format(extra="<plug type='bridge'/>"), ErrorCode.XML_ERROR, "Missing network port bridge name"),
        (PORT.format(extra="<plug type='bridge' bridge='b' macTableManager='default'/>"), ErrorCode.XML_ERROR,
         "Invalid macTableManager setting 'default' in network port"),
        (PORT.format(extra="<plug type='direct'/>"), ErrorCode.XML_ERROR, "Missing network port link device name"),
        (PORT.format(extra="<plug type='direct' dev='e' mode='x'/>"), ErrorCode.XML_ERROR,
         "Invalid mode setting 'x' in network port"),
        (PORT.format(extra="<plug type='hostdev-pci'/>"), ErrorCode.XML_ERROR, "Missing network port PCI address"),
    ],
)  # fmt: skip
def test_what_libvirt_refuses_is_refused_in_its_words(xml: str, code: ErrorCode, message: str) -> None:
    with pytest.raises(Error) as err:
        parse_port(xml.replace("{extra}", ""))
    assert err.value.code == code
    assert message in err.value.message


def test_a_direct_plug_writes_its_mode_and_an_upper_case_mac_comes_back_lower_case() -> None:
    out = format_port(parse_port(PORT.format(extra="<plug type='direct' dev='ens3'/>").replace("7b", "7B")))
    assert "<mac address='52:54:00:7b:35:93'/>" in out
    assert "<plug type='direct' dev='ens3' mode='vepa'/>" in out


def test_a_port_profile_keeps_only_the_ids_it_was_given() -> None:
    """virNetDevVPortProfileParse with flags 0: unlike a NIC's, a port's profile gets no generated ids."""
    out = format_port(parse_port(PORT.format(extra="<virtualport type='openvswitch'/>")))
    assert "<virtualport type='openvswitch'/>" in out


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("network='n' portid='5D744F21ba4a4d6ebdb230a35ff3207d'", "portid='5d744f21-ba4a-4d6e-bdb2-30a35ff3207d'"),
        ("network='n' portid='nope'", "'nope'. Expected UUID"),
        ("switchid='5d744f21-ba4a-4d6e-bdb2-30a35ff3207d' portid='12' portgroupid='pg' connectionid='3'", "portid='12'"),
        ("switchid='5d744f21-ba4a-4d6e-bdb2-30a35ff3207d' portid='x1' portgroupid='pg' connectionid='3'",
         "'x1'. Expected long long integer value"),
    ],
)  # fmt: skip
def test_a_nics_port_id_is_a_uuid_on_a_network_and_a_number_on_a_vds(source: str, expected: str) -> None:
    """The live XML of a guest NIC names its network port (``portid``); a vds NIC's portid is a switch port."""
    from lxml import etree

    from pyvirt.conf.domain_devices import Interface
    from pyvirt.conf.xmlmodel import format_model, parse_model

    kind = "network" if "network=" in source else "vds"
    elem = etree.fromstring(f"<interface type='{kind}'><source {source}/></interface>")
    try:
        nic = parse_model(Interface, elem)
    except Error as exc:
        assert exc.code == ErrorCode.XML_ERROR and expected in exc.message
        return
    out = etree.Element("interface")
    format_model(nic, out)
    assert expected in etree.tostring(out).decode().replace('"', "'")


def test_a_nics_port_is_not_configuration() -> None:
    """virDomainNetDefFormat writes ``portid`` into the live XML only, never with VIR_DOMAIN_XML_INACTIVE."""
    from pyvirt.conf.domain import format_domain, parse_domain

    dom = parse_domain("<domain type='qemu'><name>g</name><memory>65536</memory><os><type>hvm</type></os><devices>"
                       "<interface type='network'><source network='n' portid='5d744f21-ba4a-4d6e-bdb2-30a35ff3207d'/>"
                       "</interface></devices></domain>")  # fmt: skip
    assert "portid='5d744f21-ba4a-4d6e-bdb2-30a35ff3207d'" in format_domain(dom)
    assert "portid" not in format_domain(dom, 2)  # VIR_DOMAIN_XML_INACTIVE
