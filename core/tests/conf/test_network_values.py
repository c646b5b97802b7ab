"""The values of a network definition that reach dnsmasq, nftables and the kernel: libvirt's refusals, and ours.

Each refusal libvirt 9.0 makes at parse time is made with its code and words
(and compared with Debian's libvirt through libvirt-python on
``test:///default`` when it is installed). Where libvirt lets a control
character through into a value it later writes into dnsmasq's configuration
(``<domain name>``, DNS host names, DHCP host names, ``<tftp root>``,
``<bootp file>``, the bridge name), pyvirt refuses it with the words of
libvirt's own illegal-character check: with libvirt those values become
directives of their own in dnsmasq's configuration.
"""

from __future__ import annotations

import pytest
from libvirt_oracle import libvirt_available, libvirt_verdicts

from pyvirt import ErrorCode
from pyvirt.conf.network import check_network, format_network, parse_network
from pyvirt.errors import Error

BASE = dict(
    bridge="br5",
    domain="example.com",
    dnsip="192.168.5.1",
    hostname="gw",
    addr="192.168.5.1",
    netmask="255.255.255.0",
    tftp="/srv/tftp",
    start="192.168.5.2",
    end="192.168.5.9",
    mac="52:54:00:00:00:01",
    hname="h1",
    hip="192.168.5.3",
    hid="01:02",
    bootp="pxe.0",
    bserver="192.168.5.1",
    brmac="52:54:00:aa:bb:cc",
)
TEMPLATE = """<network><name>hostile</name><bridge name='{bridge}'/><mac address='{brmac}'/><domain name='{domain}'/>
<dns><host ip='{dnsip}'><hostname>{hostname}</hostname></host></dns>
<ip address='{addr}' netmask='{netmask}'><tftp root='{tftp}'/><dhcp><range start='{start}' end='{end}'/>
<host mac='{mac}' id='{hid}' name='{hname}' ip='{hip}'/><bootp file='{bootp}' server='{bserver}'/></dhcp></ip></network>"""

# (field, value, libvirt's code and message) for what libvirt 9.0 refuses while parsing
LIBVIRT_REFUSES = [
    ("hname", "-a", ErrorCode.XML_ERROR, "XML error: Cannot use host name '-a' in network 'hostile'"),
    ("hname", "&#10;a", ErrorCode.XML_ERROR, "XML error: Cannot use host name '\na' in network 'hostile'"),
    ("mac", "zz", ErrorCode.XML_ERROR, "XML error: Cannot parse MAC address 'zz' in network 'hostile'"),
    ("mac", "01:00:00:00:00:01", ErrorCode.XML_ERROR,
     "XML error: expected unicast mac address, found multicast '01:00:00:00:00:01' in network 'hostile'"),
    ("mac", "52:54:00:00:00:01,x", ErrorCode.XML_ERROR,
     "XML error: Cannot parse MAC address '52:54:00:00:00:01,x' in network 'hostile'"),
    ("hid", "01&#10;dhcp-script=/x", ErrorCode.XML_ERROR,
     "XML error: Invalid character '\n' in id '01\ndhcp-script=/x' of network 'hostile'"),
    ("hip", "192.168.5.3&#10;dhcp-script=/x", ErrorCode.XML_ERROR,
     "XML error: Invalid IP address in static host definition for network 'hostile'"),
    ("dnsip", "x&#10;y", ErrorCode.XML_DETAIL, "Invalid IP address in network 'hostile' DNS HOST record"),
    ("hostname", "", ErrorCode.XML_DETAIL, "Missing hostname in network 'hostile' DNS HOST record"),
    ("addr", "1.2.3.4&#10;x", ErrorCode.XML_ERROR, "XML error: Invalid address '1.2.3.4\nx' in network 'hostile'"),
    ("netmask", "x", ErrorCode.XML_ERROR, "XML error: Invalid netmask 'x' in network 'hostile'"),
    ("start", "192.168.5.2&#10;x", ErrorCode.SYSTEM_ERROR,
     "Cannot parse socket address '192.168.5.2\nx': Name or service not known"),
    ("bserver", "nope&#10;x", ErrorCode.SYSTEM_ERROR,
     "Cannot parse socket address 'nope\nx': Name or service not known"),
    ("brmac", "zz&#10;x", ErrorCode.XML_ERROR, "XML error: Invalid bridge mac address 'zz\nx' in network 'hostile'"),
    ("brmac", "01:00:00:00:00:00", ErrorCode.XML_ERROR,
     "XML error: Invalid multicast bridge mac address '01:00:00:00:00:00' in network 'hostile'"),
]  # fmt: skip

# <dns> records (each added to the template's <dns>), as libvirt 9.0 refuses them
DNS_REFUSED = [
    ("<txt name='a b' value='x'/>", ErrorCode.XML_DETAIL,
     "prohibited character in DNS TXT record name 'a b' of network hostile"),
    ("<txt name='a,b' value='x'/>", ErrorCode.XML_DETAIL,
     "prohibited character in DNS TXT record name 'a,b' of network hostile"),
    ("<txt value='x'/>", ErrorCode.XML_DETAIL, "missing required name attribute in DNS TXT record of network hostile"),
    ("<txt name='a'/>", ErrorCode.XML_DETAIL,
     "missing required value attribute in DNS TXT record named 'a' of network hostile"),
    ("<srv service='a.b' protocol='tcp'/>", ErrorCode.XML_DETAIL,
     "invalid character in service attribute 'a.b' in DNS SRV record of network 'hostile'"),
    ("<srv service='s' protocol='t&#10;dhcp-script=/x'/>", ErrorCode.XML_DETAIL,
     "invalid character in protocol attribute 't\ndhcp-script=/x' in DNS SRV record of network 'hostile'"),
    ("<srv protocol='tcp'/>", ErrorCode.XML_DETAIL,
     "missing required service attribute in DNS SRV record of network 'hostile'"),
    ("<srv service='s'/>", ErrorCode.XML_DETAIL,
     "missing required protocol attribute in DNS SRV record 's' of network 'hostile'"),
    (f"<srv service='{'s' * 483}' protocol='tcp'/>", ErrorCode.XML_DETAIL,
     f"service attribute '{'s' * 483}' in network 'hostile' is too long, limit is 482 bytes"),
    ("<srv service='s' protocol='tcp' port='53'/>", ErrorCode.XML_DETAIL,
     "DNS SRV port attribute not permitted without target for service 's' in network 'hostile'"),
    ("<srv service='s' protocol='tcp' target='t' port='0'/>", ErrorCode.XML_DETAIL,
     "invalid DNS SRV port attribute for service 's' in network 'hostile'"),
    ("<srv service='s' protocol='tcp' target='t' port='x'/>", ErrorCode.XML_DETAIL,
     "invalid DNS SRV port attribute for service 's' in network 'hostile'"),
    ("<srv service='s' protocol='tcp' target='t' priority='65536'/>", ErrorCode.XML_DETAIL,
     "Invalid DNS SRV priority attribute for service 's' in network 'hostile'"),
    ("<srv service='s' protocol='tcp' weight='-1'/>", ErrorCode.XML_DETAIL,
     "invalid DNS SRV weight attribute for service 's' in network 'hostile'"),
    ("<srv service='s' protocol='tcp' weight='7'/>", ErrorCode.XML_DETAIL,
     "DNS SRV weight attribute not permitted without target for service 's' in network 'hostile'"),
    ("<forwarder addr='x&#10;dhcp-script=/x'/>", ErrorCode.XML_ERROR,
     "XML error: Invalid forwarder IP address 'x\ndhcp-script=/x' in network 'hostile'"),
    ("<forwarder/>", ErrorCode.XML_ERROR,
     "XML error: Invalid forwarder element, must contain at least one of addr or domain"),
]  # fmt: skip

# values libvirt 9.0 accepts and then writes into dnsmasq's configuration verbatim: refused here
CONTROL_REFUSED = [
    ("domain", "example.com&#10;dhcp-script=/tmp/x", "domain name"),
    ("domain", "example.com&#13;dhcp-script=/tmp/x", "domain name"),
    ("hostname", "gw&#10;dhcp-script=/tmp/x", "hostname"),
    ("hostname", "gw&#9;other", "hostname"),
    ("hname", "h&#10;dhcp-script=/tmp/x", "host name"),
    ("tftp", "/srv&#10;dhcp-script=/tmp/x", "tftp root"),
    ("bootp", "pxe.0&#10;dhcp-script=/tmp/x", "bootp file"),
    ("bridge", "br5&#10;dhcp-script=/tmp/x", "bridge name"),
    ("domain", "example.com&#127;", "domain name"),
]
# <ip> attribute sets, as libvirt 9.0 refuses them
IP_REFUSED = [
    ("address='10.0.0.1' netmask='::1'", ErrorCode.CONFIG_UNSUPPORTED,
     "unsupported configuration: Invalid netmask '::1' for address '10.0.0.1' in network 'q' (both must be IPv4)"),
    ("address='10.0.0.1' netmask='255.255.255.0' prefix='24'", ErrorCode.CONFIG_UNSUPPORTED,
     "unsupported configuration: Network 'q' IP address cannot have both a prefix and a netmask"),
    ("address='10.0.0.1' prefix='33'", ErrorCode.CONFIG_UNSUPPORTED,
     "unsupported configuration: Invalid IPv4 prefix '33' in network 'q'"),
    ("netmask='255.255.255.0'", ErrorCode.XML_ERROR, "XML error: Missing required address attribute in network 'q'"),
    ("address='10.0.0.1' family='ipv5'", ErrorCode.XML_ERROR, "XML error: Unrecognized family 'ipv5' in network 'q'"),
    ("address='::1'", ErrorCode.CONFIG_UNSUPPORTED,
     "unsupported configuration: no family specified for non-IPv4 address '::1' in network 'q'"),
]  # fmt: skip
# DHCP ranges (ip attributes, start, end) as libvirt 9.0's virSocketAddrGetRange refuses them
RANGE_REFUSED = [
    ("address='192.168.5.1' netmask='255.255.255.0'", "192.168.5.9", "192.168.5.2",
     "internal error: range 192.168.5.9 - 192.168.5.2 is reversed "),
    ("address='192.168.5.1' netmask='255.255.255.0'", "192.168.6.2", "192.168.6.9",
     "internal error: range 192.168.6.2 - 192.168.6.9 is not entirely within network 192.168.5.1/24"),
    ("address='192.168.5.1' netmask='255.255.255.0'", "192.168.5.0", "192.168.5.9",
     "internal error: start of range 192.168.5.0 - 192.168.5.9 in network 192.168.5.1/24 is the network address"),
    ("address='192.168.5.1' netmask='255.255.255.0'", "192.168.5.2", "192.168.5.255",
     "internal error: end of range 192.168.5.2 - 192.168.5.255 in network 192.168.5.1/24 is the broadcast address"),
    ("address='10.0.0.1' prefix='8'", "10.0.0.2", "10.1.0.9",
     "internal error: range 10.0.0.2 - 10.1.0.9 is too large (> 65535)"),
    ("address='192.168.5.1' netmask='255.0.255.0'", "192.168.5.2", "192.168.5.9",
     "internal error: bad prefix -1 for network 192.168.5.1 when  checking range 192.168.5.2 - 192.168.5.9"),
    ("address='192.168.5.1' netmask='255.255.255.0'", "::2", "::9",
     "internal error: mismatch of address family in range ::2 - ::9 for network 192.168.5.1"),
    ("address='192.168.5.1' netmask='255.255.255.0'", "192.168.5.2", "::9",
     "internal error: mismatch of address family in range 192.168.5.2 - ::9"),
]  # fmt: skip
DNS_CONTROL_REFUSED = [
    ("<txt name='a' value='x&#10;dhcp-script=/tmp/x'/>", "TXT record value"),
    ("<srv service='s' protocol='tcp' domain='d&#10;dhcp-script=/tmp/x'/>", "SRV record domain"),
    ("<srv service='s' protocol='tcp' target='t&#10;dhcp-script=/tmp/x'/>", "SRV record target"),
    ("<forwarder domain='a&#10;dhcp-script=/tmp/x' addr='192.168.5.7'/>", "forwarder domain"),
]


def _xml(**changes: str) -> str:
    return TEMPLATE.format(**{**BASE, **changes})


def _refusal(xml: str) -> Error:
    with pytest.raises(Error) as info:
        parse_network(xml)
    return info.value


def test_the_template_itself_is_accepted_and_canonical() -> None:
    net = parse_network(_xml(brmac="52:54:00:AA:BB:C", hip="192.168.1", mac="52:54:00:00:00:01\n"))
    assert net.mac == "52:54:00:aa:bb:0c"  # virMacAddrFormat
    assert net.ips and net.ips[0].dhcp_hosts
    host = net.ips[0].dhcp_hosts[0]
    assert host.ip == "192.168.0.1"  # inet_aton's short form, written back in full as libvirt does
    assert host.mac == "52:54:00:00:00:01"  # what virMacAddrParse stops before never reaches dnsmasq
    assert "192.168.0.1" in format_network(net)


@pytest.mark.parametrize(("field", "value", "code", "message"), LIBVIRT_REFUSES)
def test_libvirt_refusals_keep_libvirt_code_and_words(field: str, value: str, code: ErrorCode, message: str) -> None:
    err = _refusal(_xml(**{field: value}))
    assert (err.code, err.message) == (code, message)


@pytest.mark.parametrize(("field", "value", "what"), CONTROL_REFUSED)
def test_control_characters_never_reach_a_configuration(field: str, value: str, what: str) -> None:
    err = _refusal(_xml(**{field: value}))
    assert err.code == ErrorCode.XML_DETAIL
    assert err.message.startswith(f"invalid char in {what}: ")


def _with_dns(record: str) -> str:
    return _xml().replace("<dns>", f"<dns>{record}")


@pytest.mark.parametrize(("record", "code", "message"), DNS_REFUSED)
def test_dns_record_refusals_as_libvirt(record: str, code: ErrorCode, message: str) -> None:
    err = _refusal(_with_dns(record))
    assert (err.code, err.message) == (code, message)


@pytest.mark.parametrize(("attrs", "code", "message"), IP_REFUSED)
def test_ip_refusals_as_libvirt(attrs: str, code: ErrorCode, message: str) -> None:
    err = _refusal(f"<network><name>q</name><ip {attrs}/></network>")
    assert (err.code, err.message) == (code, message)


def _range_doc(attrs: str, start: str, end: str) -> str:
    return f"<network><name>q</name><ip {attrs}><dhcp><range start='{start}' end='{end}'/></dhcp></ip></network>"


@pytest.mark.parametrize(("attrs", "start", "end", "message"), RANGE_REFUSED)
def test_dhcp_range_refusals_as_libvirt(attrs: str, start: str, end: str, message: str) -> None:
    err = _refusal(_range_doc(attrs, start, end))
    assert (err.code, err.message) == (ErrorCode.INTERNAL_ERROR, message)


@pytest.mark.parametrize(("record", "what"), DNS_CONTROL_REFUSED)
def test_dns_records_with_control_characters(record: str, what: str) -> None:
    err = _refusal(_with_dns(record))
    assert (err.code, err.message) == (ErrorCode.XML_DETAIL, f"invalid char in {what}: \n")


def test_dns_records_kept_as_libvirt_writes_them() -> None:
    net = parse_network(_with_dns("<forwarder addr='8.8.8.8'/><txt name='t' value='v, w'/>"
                                  "<srv service='s' protocol='tcp' target='t' port='+53' priority='0' weight='7'/>"))  # fmt: skip
    text = format_network(net)
    assert "<forwarder addr='8.8.8.8'/>" in text and "<txt name='t' value='v, w'/>" in text
    assert "<srv service='s' protocol='tcp' target='t' port='53' weight='7'/>" in text  # priority 0 is not written
    with pytest.raises(Error, match="Extra data in disabled network 'hostile'"):
        parse_network(_xml().replace("<dns>", "<dns enable='no'>"))


def test_an_updated_definition_is_checked_again() -> None:
    """net-update puts hosts into a parsed definition; check_network is what refuses them there."""
    net = parse_network(_xml())
    assert net.ips and net.ips[0].dhcp_hosts
    net.ips[0].dhcp_hosts[0].name = "h\ndhcp-script=/tmp/x"
    with pytest.raises(Error) as info:
        check_network(net)
    assert info.value.message == "invalid char in host name: \n"
    net.ips[0].dhcp_hosts[0].name = "h\0"
    with pytest.raises(Error, match="invalid char in host name"):
        check_network(net)


def test_dnsmasq_options_are_kept_as_libvirt_keeps_them_but_never_split_a_line() -> None:
    """libvirt's dnsmasq:options namespace passes lines to dnsmasq verbatim (networkxml2conf's dnsmasq-options
    case): kept, formatted back with the namespace on the root; a value with a newline would add a second
    directive, so control characters are refused there as in every other field dnsmasq sees."""
    xml = _xml().replace("<network>", "<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>")
    with_option = xml.replace(
        "</network>", "<dnsmasq:options><dnsmasq:option value='cname=a,b'/></dnsmasq:options></network>"
    )
    net = parse_network(with_option)
    assert net.dnsmasq_options == ["cname=a,b"]
    out = format_network(net)
    assert out.startswith("<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>")
    assert "<dnsmasq:option value='cname=a,b'/>" in out
    for bad in ("foo&#10;dhcp-script=/x", "a&#0;", ""):
        with pytest.raises(Error) as info:
            parse_network(with_option.replace("cname=a,b", bad))
        assert info.value.code in (ErrorCode.XML_DETAIL, ErrorCode.XML_ERROR)


@pytest.mark.skipif(not libvirt_available(), reason="Debian's python3-libvirt is needed for the comparison")
def test_same_refusals_as_libvirt() -> None:
    docs = [("network", _xml(**{field: value})) for field, value, _code, _message in LIBVIRT_REFUSES]
    docs += [("network", _with_dns(record)) for record, _code, _message in DNS_REFUSED]
    docs += [("network", f"<network><name>q</name><ip {attrs}/></network>") for attrs, _code, _message in IP_REFUSED]
    docs += [("network", _range_doc(attrs, start, end)) for attrs, start, end, _message in RANGE_REFUSED]
    docs.append(("network", _xml()))
    verdicts = libvirt_verdicts(docs)
    assert verdicts[-1] == (True, "")
    expected = [m for *_rest, m in LIBVIRT_REFUSES] + [m for *_rest, m in DNS_REFUSED] + [m for *_r, m in IP_REFUSED]
    expected += [m for *_rest, m in RANGE_REFUSED]
    assert verdicts[:-1] == [(False, message) for message in expected]
