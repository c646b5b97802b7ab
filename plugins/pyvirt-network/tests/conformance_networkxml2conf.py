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
from pathlib import Path

from pyvirt_network.dnsmasq import conf_contents, hosts_file_paths

from pyvirt.conf.network import parse_network
from pyvirt.errors import Error
from pyvirt.testing.corpus import Outcome, run_corpora

LIBVIRT_DNSMASQ_DIR = "/var/lib/libvirt/dnsmasq"


def case_names(src: Path) -> list[str]:
    """The DO_TEST names of libvirt's networkxml2conftest.c, in its order."""
    return re.findall(r'^\s*DO_TEST\("([^"]+)"', (src / "tests" / "networkxml2conftest.c").read_text(), re.M)


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
    return run_corpora({"networkxml2conf (dnsmasq configuration)": run_all})


if __name__ == "__main__":
    sys.exit(main())
