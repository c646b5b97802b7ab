"""libvirt 9.0.0's lxcxml2xml test data through pyvirt's domain model and the LXC driver's defaults.

The data comes from Debian's libvirt source package (pyvirt.testing.sources),
never from the repository. Each input is parsed, given the LXC driver's
defaults and formatted back; it must equal libvirt's expected output after
canonicalisation: all thirteen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyvirt_lxc.container_config import apply_defaults

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.conf.xml_compare import canonical
from pyvirt.testing.sources import libvirt_source


def _data() -> Path | None:
    src = libvirt_source()
    return None if src is None else src / "tests"


DATA = _data()
CASES = sorted(p.stem for p in (DATA / "lxcxml2xmldata").glob("*.xml")) if DATA else []


@pytest.mark.skipif(DATA is None, reason="libvirt 9.0.0's source package could not be fetched (apt-get source)")
def test_all_thirteen_cases_are_there() -> None:
    assert len(CASES) == 13


@pytest.mark.parametrize("name", CASES)
def test_lxcxml2xml(name: str) -> None:
    assert DATA is not None
    infile = DATA / "lxcxml2xmldata" / f"{name}.xml"
    outfile = DATA / "lxcxml2xmloutdata" / f"{name}.xml"
    dom = apply_defaults(parse_domain(infile.read_bytes(), url=infile.name))
    got = format_domain(dom, 0, domain_id=dom.id if dom.id is not None else -1)
    expected = (outfile if outfile.exists() else infile).read_bytes()
    assert canonical(got) == canonical(expected)
