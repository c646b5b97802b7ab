"""iface-define / -undefine / -start / -destroy and the iface-begin / -commit / -rollback transaction beside
Debian's virsh on test:///default.

libvirt 9.0's test driver keeps host interfaces in a list: a defined one is
inactive, one redefined keeps its state, start/destroy refuse an interface
already up/down with a bare "Requested operation is not valid", and the
transaction saves a copy of the definitions only, so a rollback leaves every
interface inactive. virsh names an interface by MAC address when the word
parses as one. Through pyvirtd, virsh itself defines, starts and rolls back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

from pyvirt.daemon.instance import PrivateDaemon

_ETH2 = "<interface type='ethernet' name='eth2'><mac address='52:54:00:aa:bb:cc'/></interface>"
# the fixture's eth1, redefined with another MTU and no IP configuration
_ETH1 = ("<interface type='ethernet' name='eth1'><start mode='none'/><mtu size='9000'/>"
         "<mac address='aa:bb:cc:dd:ee:ff'/></interface>")  # fmt: skip
# valid XML, but not an interface libvirt's schema accepts (no name)
_NO_NAME = "<interface type='ethernet'><mac address='52:54:00:aa:bb:cd'/></interface>"
# a bridge over an ethernet and a bond (members keep only what libvirt keeps: no start, MTU or MAC but an
# ethernet's), a vlan, and refusals in libvirt's words
_BRIDGE = ("<interface type='bridge' name='br7'><start mode='onboot'/><mtu size='1500'/><mac address='52:54:00:0:0:1'/>"
           "<bridge stp='on' delay='0.5'><interface type='ethernet' name='eth7'><start mode='none'/>"
           "<mac address='52:54:00:aa:bb:07'/></interface><interface type='bond' name='bond7'>"
           "<bond mode='802.3ad'><miimon freq='0100' downdelay='0' updelay='20' carrier='netif'/>"
           "<interface type='ethernet' name='eth8'/></bond></interface></bridge></interface>")  # fmt: skip
_VLAN = ("<interface type='vlan' name='eth7.9'><protocol family='ipv6'/><link state='up'/>"
         "<vlan tag='9'><interface name='eth7'/></vlan></interface>")  # fmt: skip
_BAD = {
    "bondbridge": "<interface type='bond' name='b'><bond><interface type='bridge' name='x'/></bond></interface>",
    "notag": "<interface type='vlan' name='v'><vlan><interface name='eth7'/></vlan></interface>",
    "mode": "<interface type='bond' name='b'><bond mode='fast'/></interface>",
    "nobridge": "<interface type='bridge' name='b'/>",
    "arp": "<interface type='bond' name='b'><bond><arpmon interval='x' target='1.2.3.4'/></bond></interface>",
    # libvirt's parser stops at a bad stp without failing: the bridge is defined empty
    "stp": "<interface type='bridge' name='b2'><bridge stp='maybe'><interface type='ethernet' name='e'/></bridge>"
    "</interface>",
}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    out = {}
    named = {"eth2": _ETH2, "eth1": _ETH1, "noname": _NO_NAME, "junk": "<interface", "bridge": _BRIDGE,
             "vlan": _VLAN, **_BAD}  # fmt: skip
    for name, text in named.items():
        (tmp_path / f"{name}.xml").write_text(text)
        out[name] = str(tmp_path / f"{name}.xml")
    return out


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "iface-define {eth2}; iface-list --all; iface-start 52:54:00:AA:BB:CC; iface-list --all; iface-destroy eth2; "
        "iface-undefine 52:54:00:aa:bb:cc; iface-list --all; iface-undefine eth2; iface-start 1:2:3:4:5:6",
        "iface-start eth1; iface-destroy eth1; iface-destroy eth1; iface-start eth1; iface-undefine eth1; "
        "iface-list --all; iface-start eth1",
        "iface-destroy eth1; iface-define {eth1}; iface-dumpxml eth1; iface-list --all",
        "iface-list --all; iface-begin; iface-begin; iface-destroy eth1; iface-rollback; iface-list --all; "
        "iface-commit; iface-rollback; iface-start eth1; iface-dumpxml eth1",
        "iface-begin; iface-define {eth2}; iface-define {eth1}; iface-undefine eth1; iface-list --all; "
        "iface-rollback; iface-list --all; iface-dumpxml eth1; iface-dumpxml eth2",
        "iface-begin; iface-define {eth2}; iface-commit; iface-list --all; iface-commit",
        "iface-define /nonexistent/if.xml; iface-define {junk}; iface-define --validate {noname}; "
        "iface-define --validate {eth2}; iface-list --all",
        "iface-define {bridge}; iface-define {vlan}; iface-list --all; iface-dumpxml br7; iface-dumpxml eth7.9; "
        "iface-mac eth7.9; iface-start br7; iface-undefine eth7.9; iface-list --all",
        "iface-define {bondbridge}; iface-define {notag}; iface-define {mode}; iface-define {nobridge}; "
        "iface-define {arp}; iface-define {stp}; iface-dumpxml b2; iface-list --all",
        "help iface-define; help iface-undefine; help iface-start; help iface-destroy; help iface-begin; "
        "help iface-commit; help iface-rollback",
    ],
)
def test_same_words_as_virsh(line: str, files: dict[str, str]) -> None:
    assert VIRSH is not None
    line = line.format(**files)
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
def test_quiet_drops_the_extra_lines(files: dict[str, str]) -> None:
    line = f"iface-begin; iface-define {files['eth2']}; iface-start eth2; iface-destroy eth2; iface-undefine eth2; iface-commit"
    assert run_line([*PYVIRSH, "-q"], line) == ("", "", 0)
    assert VIRSH is not None
    assert run_line([VIRSH, "-q"], line) == ("", "", 0)


def test_virsh_through_pyvirtd_defines_starts_and_rolls_back(tmp_path: Path, files: dict[str, str]) -> None:
    """The daemon's dispatch of the seven procedures, with virsh as the client."""
    if VIRSH is None:
        pytest.skip(SKIP_WITHOUT_VIRSH)
    line = (f"iface-begin; iface-define {files['eth2']}; iface-start eth2; iface-list --all; iface-destroy eth1; "
            "iface-destroy eth1; iface-rollback; iface-list --all; iface-begin; iface-undefine eth1; iface-commit; "
            "iface-list --all; iface-commit")  # fmt: skip
    expected = run_line([VIRSH], line)
    assert "Network config change transaction rolled back" in expected[0]
    with PrivateDaemon(tmp_path) as daemon:
        assert run_line([VIRSH], line, uri=daemon.uri()) == expected
