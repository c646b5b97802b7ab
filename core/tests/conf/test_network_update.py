"""virNetworkUpdate's rules on the network model: order, indexes, matching and refusals."""

from __future__ import annotations

import pytest

from pyvirt import ErrorCode
from pyvirt.conf.network import format_network, parse_network
from pyvirt.conf.network_update import COMMANDS, SECTIONS, update_network
from pyvirt.errors import Error

TWO_IPS = """<network><name>n</name><bridge name='br9'/>
<ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.10' end='10.0.0.20'/></dhcp></ip>
<ip address='10.0.1.1' prefix='24'/></network>"""


def _update(net: object, command: str, section: str, xml: str, parent: int = -1) -> None:
    update_network(net, COMMANDS[command], SECTIONS[section], parent, xml)  # type: ignore[arg-type]


def test_hosts_in_order_by_index_and_matching() -> None:
    net = parse_network(TWO_IPS)
    _update(net, "add", "ip-dhcp-host", "<host mac='52:54:00:00:00:01' ip='10.0.0.11'/>")  # the <ip> with DHCP
    _update(net, "add-first", "ip-dhcp-host", "<host name='first' ip='10.0.0.12'/>")
    _update(net, "add", "ip-dhcp-host", "<host mac='52:54:00:00:00:03' ip='10.0.1.5'/>", parent=1)
    ips = net.ips or []
    assert [h.name or h.mac for h in ips[0].dhcp_hosts or []] == ["first", "52:54:00:00:00:01"]
    assert [h.ip for h in ips[1].dhcp_hosts or []] == ["10.0.1.5"]
    with pytest.raises(Error) as err:  # both <ip> have DHCP now: which one must be said
        _update(net, "modify", "ip-dhcp-host", "<host mac='52:54:00:00:00:01' ip='10.0.0.13'/>")
    assert (
        err.value.code == ErrorCode.OPERATION_INVALID and "must specify which one via parentIndex" in err.value.message
    )
    _update(net, "modify", "ip-dhcp-host", "<host mac='52:54:00:00:00:01' ip='10.0.0.13'/>", parent=0)
    assert [h.ip for h in ips[0].dhcp_hosts or []] == ["10.0.0.12", "10.0.0.13"]
    _update(net, "delete", "ip-dhcp-host", "<host name='first'/>", parent=0)
    _update(net, "delete", "ip-dhcp-host", "<host mac='52:54:00:00:00:01'/>", parent=0)
    assert ips[0].dhcp_hosts is None and "<host" not in format_network(net).split("10.0.1.1")[0]
    with pytest.raises(Error) as err:
        _update(net, "add", "ip-dhcp-host", "<host mac='52:54:00:00:00:04' ip='10.0.0.14'/>", parent=5)
    assert "no <ip> element found at index 5" in err.value.message


def test_ranges_and_dns_hosts_are_added_and_deleted_not_modified() -> None:
    net = parse_network(TWO_IPS)
    _update(net, "add-first", "ip-dhcp-range", "<range start='10.0.0.30' end='10.0.0.40'/>")
    assert [(r.start, r.end) for r in (net.ips or [])[0].dhcp_ranges or []] == [
        ("10.0.0.30", "10.0.0.40"), ("10.0.0.10", "10.0.0.20")]  # fmt: skip
    with pytest.raises(Error) as err:
        _update(net, "add", "ip-dhcp-range", "<range start='10.0.0.30' end='10.0.0.40'/>")
    assert "there is an existing dhcp range entry" in err.value.message
    _update(net, "delete", "ip-dhcp-range", "<range start='10.0.0.10' end='10.0.0.20'/>")
    _update(net, "add", "dns-host", "<host ip='10.0.0.5'><hostname>a</hostname></host>")
    with pytest.raises(Error) as err:
        _update(net, "modify", "dns-host", "<host ip='10.0.0.5'><hostname>b</hostname></host>")
    assert err.value.code == ErrorCode.OPERATION_UNSUPPORTED
    _update(net, "delete", "dns-host", "<host ip='10.0.0.5'/>")
    with pytest.raises(Error) as err:
        _update(net, "delete", "dns-host", "<host ip='10.0.0.5'/>")
    assert err.value.message.endswith("couldn't locate a matching DNS HOST record in network n")
    assert net.dns_hosts is None and "<range start='10.0.0.30'" in format_network(net)


def test_sections_pyvirt_does_not_update_are_refused_by_name() -> None:
    net = parse_network(TWO_IPS)
    for section in ("forward-interface", "portgroup", "dns-txt", "dns-srv"):
        with pytest.raises(Error) as err:
            _update(net, "add", section, "<x/>")
        assert err.value.code == ErrorCode.OPERATION_UNSUPPORTED and f"'{section}'" in err.value.message
