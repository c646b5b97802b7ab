"""dnsmasq's three files per network, against libvirt's own expected outputs and against hostile values.

libvirt's networkxml2conftest gives, for a network XML, the configuration and
DHCP hosts file its dnsmasq gets: every case whose features pyvirt maps is
compared line for line (pyvirt adds its lease file and pid file). Then every
text field of the definition gets a value meant to add a directive: it is
refused at define, or the files written for it carry no directive of its
making, and real dnsmasq (``--test``) agrees that the result parses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pyvirt_network.config_file import MAX_LINE_BYTES, write_config
from pyvirt_network.dnsmasq import DnsmasqFiles, config_lines

from pyvirt import ErrorCode
from pyvirt.conf.network import Network, parse_network
from pyvirt.errors import Error
from pyvirt.local_driver.paths import embed_paths
from pyvirt.testing.sources import require

LIBVIRT_DIR = "/var/lib/libvirt/dnsmasq"


def _libvirt_source() -> Path:
    return require("libvirt") / "tests" / "networkxml2confdata"


def _render(net: Network, root: Path) -> tuple[list[str], list[str], list[str], DnsmasqFiles]:
    files = DnsmasqFiles(embed_paths(str(root)), net.name or "")
    conf, hosts, addn = config_lines(net, net.bridge_name or "", files)
    return conf, hosts, addn, files


def test_running_files_are_libvirts_with_the_networks_pid_file(tmp_path: Path) -> None:
    """What a running network gets is libvirt's configuration (networkxml2conf compares that byte for byte),
    in the driver's own directory, with the pid file libvirt's driver adds before ``except-interface``."""
    data = _libvirt_source()
    compared = []
    for xml in sorted(data.glob("*.xml")):
        net = parse_network(xml.read_text())
        conf, hosts, _addn, files = _render(net, tmp_path)
        theirs = xml.with_suffix(".conf").read_text().splitlines()
        theirs.insert(theirs.index("except-interface=lo"), f"pid-file={files.pidfile}")
        ours = [line.replace(os.path.dirname(files.conf), LIBVIRT_DIR) for line in conf]
        assert ours == theirs, xml.name
        hostsfile = xml.with_suffix(".hostsfile")
        assert hosts == (hostsfile.read_text().splitlines() if hostsfile.exists() else []), xml.name
        assert not any(line.startswith("dhcp-leasefile=") for line in conf), "the lease file is on the command line"
        compared.append(xml.stem)
    assert len(compared) == 27


def test_dns_hosts_go_to_the_addnhosts_file_as_libvirt_writes_it(tmp_path: Path) -> None:
    net = parse_network("""<network><name>dnsh</name><bridge name='pvcf0'/><dns>
      <host ip='192.168.122.1'><hostname>host</hostname><hostname>gateway</hostname></host>
      <host ip='192.168.122.2'><hostname>other</hostname></host>
      <host ip='192.168.122.1'><hostname>more</hostname></host></dns>
      <ip address='192.168.122.1' netmask='255.255.255.0'/></network>""")
    conf, hosts, addn, files = _render(net, tmp_path)
    assert addn == ["192.168.122.1\thost\tgateway\tmore\t", "192.168.122.2\tother\t"]  # addnhostsWrite's layout
    assert f"addn-hosts={files.addnhosts}" in conf and hosts == []
    assert not any("host" in line.split("=")[0] for line in conf if not line.startswith("addn-hosts="))


def test_per_network_pid_file_in_the_run_directory(tmp_path: Path) -> None:
    net = parse_network("<network><name>pidnet</name><bridge name='pvcf0'/><ip address='10.9.0.1'/></network>")
    conf, _hosts, _addn, files = _render(net, tmp_path)
    assert f"pid-file={tmp_path}/run/pidnet.pid" in conf
    assert files.pidfile == f"{tmp_path}/run/pidnet.pid"


# ---------------------------------------------------------------- hostile values

DIRECTIVE = "dhcp-script=/tmp/pyvirt-injected"
HOSTILE = [
    f"x&#10;{DIRECTIVE}",
    f"x&#13;{DIRECTIVE}",
    f"x&#10;&#10;{DIRECTIVE}&#10;",
    f"x,{DIRECTIVE}",
    f"x {DIRECTIVE}",
    f'"x&#10;{DIRECTIVE}"',
    f"x#&#10;{DIRECTIVE}",
    # dnsmasq reads 1024 bytes of a line at a time: the tail of a longer one is a line of its own
    "x" * 1200 + DIRECTIVE,
]
TEMPLATE = """<network><name>{name}</name><bridge name='{bridge}'/><mac address='{brmac}'/><domain name='{domain}'/>
<dns><forwarder domain='{fwddomain}' addr='{fwdaddr}'/><txt name='{txtname}' value='{txtvalue}'/>
<srv service='{service}' protocol='{protocol}' domain='{srvdomain}' target='{target}' port='{port}'/>
<host ip='{dnsip}'><hostname>{hostname}</hostname></host></dns>
<ip address='192.168.77.1' netmask='255.255.255.0'><tftp root='{tftp}'/><dhcp>
<range start='{start}' end='{end}'/><host mac='{mac}' id='{hid}' name='{hname}' ip='{hip}'/>
<bootp file='{bootp}' server='{bserver}'/></dhcp></ip></network>"""
FIELDS = dict(name="hostile", bridge="pvcf0", brmac="52:54:00:aa:bb:cc", domain="example.com", dnsip="192.168.77.1",
              hostname="gw", tftp="/srv/tftp", start="192.168.77.2", end="192.168.77.9", mac="52:54:00:00:00:01",
              hid="01:02", hname="h1", hip="192.168.77.3", bootp="pxe.0", bserver="192.168.77.1",
              fwddomain="corp.example", fwdaddr="192.168.77.53", txtname="info", txtvalue="some text",
              service="ldap", protocol="tcp", srvdomain="example.com", target="ldap.example.com", port="389")  # fmt: skip


def _directives(path: Path) -> list[str]:
    """dnsmasq's view of a file: one directive per line, at most 1024 bytes each (its fgets), comments dropped."""
    out = []
    for raw in path.read_bytes().split(b"\n"):
        for i in range(0, max(len(raw), 1), 1024):
            chunk = raw[i : i + 1024].decode(errors="replace").strip()
            if chunk and not chunk.startswith("#"):
                out.append(chunk)
    return out


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_are_refused_or_harmless(tmp_path: Path, field: str, value: str) -> None:
    """Every text field with every trick: refused with an error, or no line starts a directive of its making."""
    xml = TEMPLATE.format(**{**FIELDS, field: value})
    try:
        net = parse_network(xml)
        conf, hosts, addn, files = _render(net, tmp_path)
        os.makedirs(os.path.dirname(files.conf))
        for path, lines in ((files.conf, conf), (files.hostsfile, hosts), (files.addnhosts, addn)):
            write_config(path, lines)
    except Error as exc:
        assert exc.code in (ErrorCode.XML_ERROR, ErrorCode.XML_DETAIL, ErrorCode.SYSTEM_ERROR,
                            ErrorCode.NO_NAME, ErrorCode.CONFIG_UNSUPPORTED), exc  # fmt: skip
        return
    for path in (files.conf, files.hostsfile, files.addnhosts):
        for line in _directives(Path(path)):
            assert not line.startswith(DIRECTIVE), (field, path, line)
        assert b"\0" not in Path(path).read_bytes()
    if shutil.which("dnsmasq"):  # dnsmasq's parser on the same file: whatever it finds, never the directive
        done = subprocess.run(["dnsmasq", "--test", f"--conf-file={files.conf}"], capture_output=True, text=True,
                              check=False)  # fmt: skip
        assert "dhcp-script" not in done.stderr


def test_the_writer_refuses_what_would_end_or_cut_a_line(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    for value, why in (("a\nb", "a newline"), ("a\rb", "a carriage return"), ("a\0b", "a NUL byte")):
        with pytest.raises(Error) as info:
            write_config(str(path), ["strict-order", f"domain={value}"])
        assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED
        assert info.value.message == f"unsupported configuration: cannot write 'domain' to '{path}': the value " \
                                     f"contains {why}"  # fmt: skip
        assert not path.exists()  # all or nothing
    longest = "domain=" + "a" * (MAX_LINE_BYTES - len("domain="))
    write_config(str(path), [longest])
    assert path.read_text() == longest + "\n"
    assert oct(path.stat().st_mode & 0o777) == "0o644"  # dnsmasq reads its hosts files as nobody
    with pytest.raises(Error, match=f"makes a line of {MAX_LINE_BYTES + 1} bytes"):
        write_config(str(path), [longest + "a"])
    assert path.read_text() == longest + "\n"


@pytest.mark.skipif(not shutil.which("dnsmasq"), reason="dnsmasq (dnsmasq-base) is needed")
def test_the_line_limit_is_dnsmasqs(tmp_path: Path) -> None:
    """The limit is real: past 1024 bytes, real dnsmasq reads the rest of a line as a directive of its own."""
    prefix = "tftp-root=/"
    path = tmp_path / "probe.conf"
    for length, injected in ((MAX_LINE_BYTES, False), (MAX_LINE_BYTES + 1, True)):
        path.write_text(f"port=0\n{prefix}{'a' * (length - len(prefix))}log-facility={tmp_path}/injected.log\n")
        done = subprocess.run(["dnsmasq", "--test", f"--conf-file={path}"], capture_output=True, text=True,
                              check=False)  # fmt: skip
        # accepted only when the tail "log-facility=..." was read as a line: the injection the limit prevents
        assert (done.returncode == 0) is injected, done.stderr
