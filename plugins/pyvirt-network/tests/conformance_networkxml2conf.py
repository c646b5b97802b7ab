"""libvirt 9.0.0's networkxml2conftest through pyvirt-network's dnsmasq configuration.

``python plugins/pyvirt-network/tests/conformance_networkxml2conf.py`` (run by
``nox -s conformance``) runs each case exactly as libvirt's test program runs
it: the cases are the ``DO_TEST`` lines of ``tests/networkxml2conftest.c``;
the network XML is parsed (libvirt's virNetworkDefParse, no driver checks),
the configuration is built with no pid file and libvirt's dnsmasq directory
``/var/lib/libvirt/dnsmasq``, and the text is compared byte for byte with the
``.conf`` file, the DHCP hosts text with the ``.hostsfile`` file (which must
exist exactly when there are hosts). ``test_networkxml2conf.py`` holds the
pass count at its floor.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pyvirt_network.dnsmasq import conf_contents, hosts_file_paths

from pyvirt.conf.network import parse_network
from pyvirt.errors import Error
from pyvirt.testing.sources import libvirt_source

LIBVIRT_DNSMASQ_DIR = "/var/lib/libvirt/dnsmasq"


def source_tree() -> Path | None:
    return libvirt_source()


def case_names(src: Path) -> list[str]:
    """The DO_TEST names of libvirt's networkxml2conftest.c, in its order."""
    return re.findall(r'^\s*DO_TEST\("([^"]+)"', (src / "tests" / "networkxml2conftest.c").read_text(), re.M)


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    why: str = ""


def run_case(src: Path, name: str) -> Outcome:
    data = src / "tests" / "networkxml2confdata"
    try:
        net = parse_network((data / f"{name}.xml").read_bytes())
        hostsfile_path, addnhosts_path = hosts_file_paths(LIBVIRT_DNSMASQ_DIR, net.name or "")
        conf, hosts, _addn = conf_contents(net, net.bridge_name or "", None, hostsfile_path, addnhosts_path)
    except Error as exc:
        return Outcome(name, False, f"rejected: {exc.message.splitlines()[0]}")
    actual = "".join(f"{line}\n" for line in conf)
    if actual != (data / f"{name}.conf").read_text():
        return Outcome(name, False, "configuration differs")
    hostsfile = data / f"{name}.hostsfile"
    hosts_text = "".join(f"{line}\n" for line in hosts) or None  # libvirt's empty buffer is no text at all
    if hostsfile.exists() != (hosts_text is not None):
        return Outcome(name, False, "hosts file expected" if hostsfile.exists() else "hosts written, none expected")
    if hosts_text is not None and hosts_text != hostsfile.read_text():
        return Outcome(name, False, "hosts file differs")
    return Outcome(name, True)


def run_all(src: Path) -> list[Outcome]:
    return [run_case(src, name) for name in case_names(src)]


def main() -> int:
    src = source_tree()
    if src is None:
        print("libvirt 9.0.0 source is not available (pyvirt.testing.sources cannot fetch it here)")
        return 1
    outcomes = run_all(src)
    passed = sum(o.passed for o in outcomes)
    print(f"networkxml2conf (dnsmasq configuration): {passed}/{len(outcomes)}")
    for o in outcomes:
        if not o.passed:
            print(f"    {o.name}: {o.why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
