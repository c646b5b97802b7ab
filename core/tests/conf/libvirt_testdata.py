"""libvirt 9.0.0's own XML test data, fetched from Debian's source package and never committed.

``pyvirt.testing.sources`` (run once, cached under /var/cache/pyvirt)
gives the unpacked tree; the helpers here list the cases of
``genericxml2xmltest`` and ``qemuxml2xmltest`` and compare documents after
canonicalisation (C14N 2.0, whitespace-insensitive, attribute order free).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pyvirt.testing import sources


@cache
def libvirt_source() -> Path | None:
    """The unpacked libvirt-9.0.0 tree, fetching it if allowed (None when impossible)."""
    return sources.libvirt_source()


@dataclass(frozen=True)
class Case:
    name: str
    infile: Path
    outfile: Path
    active: bool
    should_fail: bool


def generic_cases(src: Path) -> list[Case]:
    text = (src / "tests" / "genericxml2xmltest.c").read_text()
    cases = []
    for macro, name in re.findall(r'\b(DO_TEST(?:_DIFFERENT|_FAIL_ACTIVE|_FAIL_INACTIVE)?)\("([^"]+)"\)', text):
        infile = src / "tests" / "genericxml2xmlindata" / f"{name}.xml"
        outfile = src / "tests" / "genericxml2xmloutdata" / f"{name}.xml" if macro == "DO_TEST_DIFFERENT" else infile
        cases.append(Case(name, infile, outfile, macro != "DO_TEST_FAIL_INACTIVE", "FAIL" in macro))
    return cases


def qemu_inactive_cases(src: Path) -> list[Case]:
    """qemuxml2xmloutdata's x86_64-latest documents, each its own expected output.

    These are libvirt's canonical inactive XML after the qemu driver filled
    in its defaults; pyvirt has no qemu driver yet, so what this measures is
    the model: parse + format must give the same document back.
    """
    out_dir = src / "tests" / "qemuxml2xmloutdata"
    return [
        # a few outputs are live documents (``<domain ... id='1'>``, the *-active cases): formatted as live XML
        Case(out.name[: -len(".x86_64-latest.xml")], out, out, _is_live(out), False)
        for out in sorted(out_dir.glob("*.x86_64-latest.xml"))
    ]


def _is_live(path: Path) -> bool:
    head = path.read_text().split(">", 1)[0]
    # a document with an -inactive sibling is the active output of its case (qemuxml2xmltest's WHEN_BOTH),
    # which may hold runtime state (image indexes) an inactive parse drops, as libvirt's does
    inactive = path.with_name(path.name.replace(".x86_64-latest.xml", "-inactive.x86_64-latest.xml"))
    return " id=" in head or (not path.name.endswith("-inactive.x86_64-latest.xml") and inactive.exists())
