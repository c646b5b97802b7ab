"""The tc commands of a NIC's <bandwidth>: libvirt's own expectations (tests/virnetdevbandwidthtest.c).

Each DO_TEST_SET case of libvirt 9.0's test gives a <bandwidth> and the tc
command lines virNetDevBandwidthSet runs for it on a tap (``swapped``); the
builder must produce exactly those lines. The cases are read from the C file,
so a case libvirt has is a case checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from pyvirt.conf.domain_devices import Bandwidth
from pyvirt.conf.xmlmodel import parse_model
from pyvirt.util.netdev_bandwidth import set_commands

_TOKEN = re.compile(r'"(?P<literal>(?:[^"\\]|\\.)*)"|(?P<name>[A-Za-z_]\w*)|(?P<comma>,)|(?P<paren>[()])')


def _source() -> Path | None:
    from pyvirt.testing import sources

    return sources.libvirt_source()


def _arguments(call: str) -> list[list[str | None]]:
    """A DO_TEST_SET call's top-level arguments, each as its pieces: string literals (unescaped), the macro
    TC as "tc", and None for NULL; other macros (OVS_VSCTL, VMUUID) as their names."""
    args: list[list[str | None]] = [[]]
    depth = 0
    for m in _TOKEN.finditer(call):
        kind, text = m.lastgroup, m.group(m.lastgroup or 0)
        name = text if kind == "name" else ""
        if kind == "paren":
            depth += 1 if text == "(" else -1
        elif kind == "comma":
            if depth == 0:
                args.append([])
        elif kind == "literal":
            args[-1].append(text.encode().decode("unicode_escape"))
        elif name == "NULL":
            args[-1].append(None)
        elif name == "TC":
            args[-1].append("tc")
        else:
            args[-1].append(name)
    return args


def _cases() -> list[tuple[str | None, str]]:
    """(band XML or None, expected tc lines) of every DO_TEST_SET in the C file."""
    src = _source()
    if src is None:
        return []
    text = (src / "tests" / "virnetdevbandwidthtest.c").read_text()
    body = text[text.index("} while (0)", text.index("mymain(void)")) :]  # after the macro's definition
    cases = []
    for m in re.finditer(r"DO_TEST_SET\((.*?)\);", body, re.S):
        band, tc = _arguments(m.group(1))[:2]
        cases.append((None if band == [None] else "".join(p or "" for p in band), "".join(p or "" for p in tc)))
    return cases


_CASES = _cases()


def _band(xml: str) -> Bandwidth:
    return parse_model(Bandwidth, etree.fromstring(xml))


@pytest.mark.skipif(not _CASES, reason="libvirt 9.0.0's source could not be fetched")
def test_the_c_file_yields_every_case() -> None:
    """Six cases in libvirt 9.0 (none, an empty <bandwidth/>, inbound only, outbound only, all fields, the
    largest values): a parser that found fewer would check less than it claims."""
    assert len(_CASES) == 6
    assert sum(1 for _, tc in _CASES if tc) == 4


@pytest.mark.parametrize(("band", "expected"), _CASES, ids=[f"case{i}" for i in range(len(_CASES))])
def test_commands_are_libvirts(band: str | None, expected: str) -> None:
    """What virNetDevBandwidthSet(eth0, band, hierarchical_class=false, swapped=true) runs, line for line."""
    bw = _band(band) if band else None
    lines = []
    if bw is not None and (bw.inbound is not None or bw.outbound is not None):
        # libvirt's parser gives no bandwidth for an empty <bandwidth/>, so nothing runs
        lines = [" ".join(["tc", *c.args]) for c in set_commands("eth0", bw, hierarchical_class=False, swapped=True)]
    assert "".join(line + "\n" for line in lines) == expected


def test_hierarchical_class_puts_traffic_under_1_2() -> None:
    """A network's bridge guaranteeing floors: class 1:1 caps the link (ceil = peak or average), the
    unguaranteed traffic goes to 1:2 (the qdisc's default), its sfq hangs under 1:2."""
    bw = _band("<bandwidth><inbound average='1000' peak='3000'/></bandwidth>")
    lines = [" ".join(c.args) for c in set_commands("virbr0", bw, hierarchical_class=True, swapped=False)]
    assert lines == [
        "qdisc del dev virbr0 root",
        "qdisc del dev virbr0 ingress",
        "qdisc add dev virbr0 ingress",
        "filter add dev virbr0 parent ffff: protocol all u32 match u32 0 0 police rate 1000kbps burst 1000kb mtu "
        "64kb drop flowid :1",
    ]
    bw = _band("<bandwidth><outbound average='1000' peak='3000'/></bandwidth>")
    lines = [" ".join(c.args) for c in set_commands("virbr0", bw, hierarchical_class=True, swapped=False)]
    assert lines[2:6] == [
        "qdisc add dev virbr0 root handle 1: htb default 2",
        "class add dev virbr0 parent 1: classid 1:1 htb rate 1000kbps ceil 3000kbps quantum 85",
        "class add dev virbr0 parent 1:1 classid 1:2 htb rate 1000kbps ceil 3000kbps quantum 85",
        "qdisc add dev virbr0 parent 1:2 handle 2: sfq perturb 10",
    ]


def test_only_the_clear_may_fail() -> None:
    """Deleting a qdisc that is not there is no error (virNetDevBandwidthClear ignores the status); every
    command that builds the shaping must succeed."""
    bw = _band("<bandwidth><inbound average='10'/><outbound average='20'/></bandwidth>")
    cmds = set_commands("tap0", bw, hierarchical_class=False, swapped=True)
    assert [c.must_succeed for c in cmds] == [False, False] + [True] * (len(cmds) - 2)
