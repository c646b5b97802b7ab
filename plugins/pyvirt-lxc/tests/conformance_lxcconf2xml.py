"""libvirt 9.0.0's lxcconf2xmltest through pyvirt-lxc's lxc-tools converter.

``python plugins/pyvirt-lxc/tests/conformance_lxcconf2xml.py`` (run by ``nox -s
conformance``) runs each ``DO_TEST``/``DO_TEST3`` line of
``tests/lxcconf2xmltest.c`` as that program does: the config
(``lxcconf2xml-NAME.config``, or ``-v3.config`` for LXC 3.0 key names) is
converted with the test's capabilities (emulator ``/usr/libexec/libvirt_lxc``),
the UUID is set to the test's fixed one (testSanitizeDef), the domain is
formatted with no flags and compared byte for byte with
``lxcconf2xml-NAME.xml``; a case marked to fail must be refused.
``test_lxcconf2xml.py`` holds the pass count at its floor.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pyvirt_lxc.native_config import lxc_config_to_domain

from pyvirt.conf.domain import format_domain
from pyvirt.errors import Error
from pyvirt.testing.corpus import Outcome, run_corpora

TEST_EMULATOR = "/usr/libexec/libvirt_lxc"  # testLXCCapsInit's guests
TEST_UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809"  # testSanitizeDef


@dataclass(frozen=True)
class Case:
    name: str
    v3: bool
    expect_error: bool

    @property
    def label(self) -> str:
        return f"{self.name}{'-v3' if self.v3 else ''}"


def cases(src: Path) -> list[Case]:
    text = (src / "tests" / "lxcconf2xmltest.c").read_text()
    return [Case(name, macro == "3", fail == "true")
            for macro, name, fail in re.findall(r'^\s*DO_TEST(3?)\("([^"]+)",\s*(true|false)\);', text, re.M)]  # fmt: skip


def run_case(src: Path, case: Case) -> Outcome:
    data = src / "tests" / "lxcconf2xmldata"
    config = data / f"lxcconf2xml-{case.label}.config"
    try:
        dom = lxc_config_to_domain(config.read_text(), TEST_EMULATOR)
    except Error as exc:
        return Outcome(case.label, case.expect_error, "" if case.expect_error else f"rejected: {exc.message}")
    if case.expect_error:
        return Outcome(case.label, False, "converted a config libvirt refuses")
    dom.uuid = TEST_UUID
    actual = format_domain(dom, 0)
    expected = (data / f"lxcconf2xml-{case.name}.xml").read_text()
    return Outcome(case.label, actual == expected, "" if actual == expected else "output differs")


def run_all(src: Path) -> list[Outcome]:
    return [run_case(src, case) for case in cases(src)]


def main() -> int:
    return run_corpora({"lxcconf2xml (raw output)": run_all})


if __name__ == "__main__":
    sys.exit(main())
