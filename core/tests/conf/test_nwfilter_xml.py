"""libvirt 9.0.0's nwfilterxml2xmltest corpus, run as that program runs it, plus the binding XML.

``nwfilterxml2xmltest.c`` parses each ``nwfilterxml2xmlin/NAME.xml`` and
compares the formatted result byte for byte with ``nwfilterxml2xmlout/NAME.xml``;
a case it marks ``expect_error`` passes when the parse fails (libvirt 9.0's
``-invalid`` inputs all fail: their stale outputs carry other names). The
corpus is fetched at test time (``pyvirt.testing.sources``), never committed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from libvirt_testdata import libvirt_source  # type: ignore[import-not-found]

from pyvirt.conf.nwfilter import format_nwfilter, parse_nwfilter
from pyvirt.conf.nwfilter_binding import format_binding, parse_binding
from pyvirt.errors import Error, ErrorCode

SRC = libvirt_source()
needs_src = pytest.mark.skipif(SRC is None, reason="libvirt 9.0.0 source package could not be fetched")


def _cases(src: Path) -> list[tuple[str, bool]]:
    text = (src / "tests" / "nwfilterxml2xmltest.c").read_text()
    return [(name, warn == "true") for name, warn in re.findall(r'DO_TEST\("([^"]+)",\s*(true|false)\)', text)]


@needs_src
def test_libvirt_corpus_passes_byte_for_byte() -> None:
    assert SRC is not None
    cases = _cases(SRC)
    failed = []
    for name, expect_error in cases:
        infile = SRC / "tests" / "nwfilterxml2xmlin" / f"{name}.xml"
        outfile = SRC / "tests" / "nwfilterxml2xmlout" / f"{name}.xml"
        try:
            actual = format_nwfilter(parse_nwfilter(infile.read_bytes()))
        except Error as e:
            if not expect_error:
                failed.append(f"{name}: {e.message}")
            continue
        if not outfile.exists() or actual != outfile.read_text():
            failed.append(f"{name}: output differs" if outfile.exists() else f"{name}: parsed, libvirt refuses it")
    print(f"nwfilterxml2xml: {len(cases) - len(failed)}/{len(cases)}")
    assert len(cases) == 41
    assert not failed, failed


def test_refusals_carry_libvirts_words() -> None:
    bad = "<filter name='f'><rule action='accept' direction='in'><tcp dscp='64'/></rule></filter>"
    with pytest.raises(Error) as err:
        parse_nwfilter(bad)
    assert err.value.code == ErrorCode.INTERNAL_ERROR
    assert err.value.message == "internal error: dscp has illegal value 64"
    with pytest.raises(Error) as err:
        parse_nwfilter("<filter name='f' chain='bogus'/>")
    assert err.value.code == ErrorCode.INVALID_ARG
    assert "Invalid chain name 'bogus'" in err.value.message
    with pytest.raises(Error, match="IP rule with port specification requires protocol"):
        parse_nwfilter("<filter name='f'><rule action='drop' direction='in'><ip dstportstart='22'/></rule></filter>")


def test_negation_splits_the_element_as_libvirt_formats_it() -> None:
    xml = (
        "<filter name='f' chain='ipv4'><uuid>5c6d49af-b071-6127-b4ec-6f8ed4b55335</uuid>"
        "<rule action='drop' direction='in' priority='-1'>"
        "<tcp match='no' srcipaddr='10.0.0.1'/><tcp dstportstart='0x16' state='NEW,ESTABLISHED'/></rule></filter>"
    )
    assert format_nwfilter(parse_nwfilter(xml)) == (
        "<filter name='f' chain='ipv4' priority='-700'>\n"
        "  <uuid>5c6d49af-b071-6127-b4ec-6f8ed4b55335</uuid>\n"
        "  <rule action='drop' direction='in' priority='-1'>\n"
        "    <tcp match='no' srcipaddr='10.0.0.1'/>\n"
        "    <tcp state='NEW,ESTABLISHED' dstportstart='0x16'/>\n"
        "  </rule>\n"
        "</filter>\n"
    )


def test_binding_round_trip_and_refusals() -> None:
    xml = (
        "<filterbinding><owner><name>vm&amp;1</name><uuid>d54df46f1ab54a1b8ab3a6d2f5e8e2d5</uuid></owner>"
        "<portdev name='vnet0'/><mac address='52:54:0:1:2:3'/>"
        "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.2'/>"
        "<parameter name='IP' value='10.0.0.3'/><parameter name='A' value='x'/></filterref></filterbinding>"
    )
    assert format_binding(parse_binding(xml)) == (
        "<filterbinding>\n  <owner>\n    <name>vm&amp;1</name>\n"
        "    <uuid>d54df46f-1ab5-4a1b-8ab3-a6d2f5e8e2d5</uuid>\n  </owner>\n"
        "  <portdev name='vnet0'/>\n  <mac address='52:54:00:01:02:03'/>\n"
        "  <filterref filter='clean-traffic'>\n    <parameter name='A' value='x'/>\n"
        "    <parameter name='IP' value='10.0.0.2'/>\n    <parameter name='IP' value='10.0.0.3'/>\n"
        "  </filterref>\n</filterbinding>\n"
    )
    with pytest.raises(Error, match="filter binding has no MAC address"):
        parse_binding(
            "<filterbinding><owner><name>a</name><uuid>d54df46f1ab54a1b8ab3a6d2f5e8e2d5</uuid></owner>"
            "<portdev name='v'/><filterref filter='x'/></filterbinding>"
        )
