"""Debian's virsh against libvirtd 9.0's nwfilter driver and against pyvirtd, and pyvirsh against pyvirtd.

libvirt's own example filters (src/nwfilter/xml/*.xml of the 9.0 source package, fetched at test time)
are defined, listed, shown and undefined in one virsh batch per daemon; stdout, stderr and the exit
status must be the same byte for byte. Each example gets a fixed UUID first: without one both drivers
make up a random one. Bindings are not created on libvirtd: its driver would write ebtables rules into
this host's firewall.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.testing import sources

SRC = sources.libvirt_source()
COMMANDS = (
    "nwfilter-define",
    "nwfilter-undefine",
    "nwfilter-dumpxml",
    "nwfilter-list",
    "nwfilter-edit",
    "nwfilter-binding-create",
    "nwfilter-binding-delete",
    "nwfilter-binding-dumpxml",
    "nwfilter-binding-list",
)
pytestmark = pytest.mark.skipif(SRC is None, reason="libvirt 9.0.0 source package could not be fetched")


def _env() -> dict[str, str]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    return env


def _run(argv: list[str], extra: dict[str, str] | None = None) -> tuple[str, str, int]:
    done = subprocess.run(argv, capture_output=True, text=True, env={**_env(), **(extra or {})},
                          stdin=subprocess.DEVNULL, timeout=120, check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def _examples(tmp: Path) -> list[tuple[str, Path]]:
    assert SRC is not None
    out = []
    for path in sorted((SRC / "src" / "nwfilter" / "xml").glob("*.xml")):
        text = path.read_text()
        head, sep, rest = text.partition(">")
        fixed = f"{head}{sep}\n  <uuid>{uuid.uuid5(uuid.NAMESPACE_URL, path.name)}</uuid>{rest}"
        target = tmp / path.name
        target.write_text(fixed)
        out.append((path.stem, target))
    return out


def test_filters_as_virsh_shows_them_on_libvirtd_and_pyvirtd(libvirtd: str, pyvirtd: PrivateDaemon,
                                                            tmp_path: Path) -> None:  # fmt: skip
    examples = _examples(tmp_path)
    assert len(examples) == 24
    bad = tmp_path / "bad.xml"
    bad.write_text("<filter name='bad'><rule action='accept' direction='in'><tcp dscp='64'/></rule></filter>")
    loop = tmp_path / "loop.xml"
    loop.write_text("<filter name='clean-traffic'><uuid>" + str(uuid.uuid5(uuid.NAMESPACE_URL, "clean-traffic.xml"))
                    + "</uuid><filterref filter='clean-traffic'/></filter>")  # fmt: skip
    clash = tmp_path / "clash.xml"
    clash.write_text("<filter name='allow-arp'/>")
    script = [f"nwfilter-define {path}" for _name, path in examples]
    script += ["nwfilter-list", "nwfilter-binding-list", "nwfilter-dumpxml clean-traffic",
               f"nwfilter-dumpxml {uuid.uuid5(uuid.NAMESPACE_URL, 'allow-arp.xml')}",
               "nwfilter-dumpxml no-mac-spoofing --xpath //rule/@action",
               f"nwfilter-define {bad}", f"nwfilter-define {loop}", f"nwfilter-define {clash}",
               "nwfilter-dumpxml nosuch", "nwfilter-undefine nosuch", "nwfilter-binding-dumpxml vnet9",
               "nwfilter-binding-delete vnet9"]  # fmt: skip
    script += [f"help {c}" for c in COMMANDS]
    # allow-arp defined again first: each tool's run starts from libvirt's example
    edit = [
        f"nwfilter-define {tmp_path / 'allow-arp.xml'}",
        "nwfilter-edit allow-arp",
        "nwfilter-dumpxml allow-arp",
        "nwfilter-edit allow-arp",
    ]
    # (defined again first, as above: the runs share pyvirtd)
    undefine = [f"nwfilter-define {path}" for _name, path in examples]
    undefine += [f"nwfilter-undefine {name}" for name, _path in examples] + ["nwfilter-list"]
    # the editor: virsh runs $VISUAL with the file's name; the second edit finds nothing to change
    env = {"VISUAL": "sed -i s/accept/drop/"}
    runs = [(" ; ".join(script), {}), (" ; ".join(edit), env), (" ; ".join(undefine), {})]
    references = []
    for line, extra in runs:
        reference = _run(["virsh", "-c", libvirtd, line], extra)
        references.append(reference)
        mine = _run(["virsh", "-c", pyvirtd.uri("nwfilter:///system"), line], extra)
        assert mine == reference, "".join(difflib.unified_diff(reference[1].splitlines(True), mine[1].splitlines(True)))
        pyvirsh = [sys.executable, "-m", "pyvirt.cli.main", "-c", pyvirtd.uri("nwfilter:///system"), line]
        assert _run(pyvirsh, extra) == reference
        if len(references) == 1:  # a qemu:/// connection of the same daemon reaches the same filters, as libvirt's
            listed = _run(["virsh", "-c", pyvirtd.uri("qemu:///system"), "nwfilter-list"])
            assert listed == _run(["virsh", "-c", libvirtd, "nwfilter-list"]) and "clean-traffic" in listed[0]
    assert "Network filter clean-traffic defined" in references[0][0]
    assert "allow-arp XML configuration edited" in references[1][0] and "action='drop'" in references[1][0]
    assert "allow-arp XML configuration not changed" in references[1][0]
    assert not pyvirtd.tracebacks()


@pytest.mark.skipif(os.geteuid() != 0, reason="a port for the bindings needs root")
def test_bindings_that_need_an_ip_as_virsh_shows_them_on_libvirtd_and_pyvirtd(libvirtd: str, pyvirtd: PrivateDaemon,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    """clean-traffic without IP on an existing port: both daemons accept it and learn (libvirtd's learning
    finds no ebtables on this host and does nothing more; pyvirtd's thread ends with the delete), and show the
    binding with the MAC parameter they added, without IP; CTRL_IP_LEARNING none and an invalid value, and a
    filter missing more than IP, fail alike. (dhcp is not compared: libvirtd's DHCP-only rules need ebtables.)"""
    port = f"nwfc{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "link", "add", port, "type", "veth", "peer", "name", f"{port}p"], check=True)
    try:
        script = [f"nwfilter-define {path}" for _name, path in _examples(tmp_path)]
        vars_filter = tmp_path / "vars.xml"
        vars_filter.write_text("<filter name='vars'><rule action='drop' direction='out'><ip srcipaddr='$IP'/></rule>"
                               "<rule action='drop' direction='out'><ip dstipaddr='$FOO[1]'/></rule></filter>")  # fmt: skip
        script.append(f"nwfilter-define {vars_filter}")
        for name, extra in (("plain", ""), ("none", "none"), ("bogus", "bogus"), ("vars", "")):
            param = f"<parameter name='CTRL_IP_LEARNING' value='{extra}'/>" if extra else ""
            path = tmp_path / f"binding-{name}.xml"
            path.write_text(f"<filterbinding><owner><name>g</name><uuid>d54df46f-1ab5-4a1b-8ab3-a6d2f5e8e2d5</uuid>"
                            f"</owner><portdev name='{port}'/><mac address='52:54:00:00:00:03'/><filterref filter="
                            f"'{'vars' if name == 'vars' else 'clean-traffic'}'>{param}</filterref></filterbinding>")  # fmt: skip
            script.append(f"nwfilter-binding-create {path}")
            if name == "plain":
                script += [
                    "nwfilter-binding-list",
                    f"nwfilter-binding-dumpxml {port}",
                    f"nwfilter-binding-delete {port}",
                ]
        script += ["nwfilter-binding-list", "nwfilter-undefine vars"]
        line = " ; ".join(script)
        reference = _run(["virsh", "-c", libvirtd, line])
        mine = _run(["virsh", "-c", pyvirtd.uri("nwfilter:///system"), line])
        assert mine == reference, "".join(difflib.unified_diff(reference[1].splitlines(True), mine[1].splitlines(True)))
        assert "<parameter name='MAC' value='52:54:00:00:00:03'/>" in reference[0] and "'IP'" not in reference[0]
        assert "learning value 'bogus' invalid." in reference[1] and "unavailable list elements: FOO[1]" in reference[1]
        assert not pyvirtd.tracebacks()
    finally:
        subprocess.run(["ip", "link", "del", port], check=False)
