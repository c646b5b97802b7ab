"""Run libvirt's XML conformance data through pyvirt and report pass rates.

``python core/tests/conf/conformance.py`` (or ``nox -s conformance``)
prints, per suite, how many cases pass and the reason for each failure.
The pytest module ``test_conformance.py`` uses the same functions.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from libvirt_testdata import Case, generic_cases, libvirt_source, qemu_inactive_cases

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.conf.xml_compare import canonical
from pyvirt.errors import Error


@dataclass(frozen=True)
class Outcome:
    case: Case
    passed: bool
    why: str = ""


def run_case(case: Case) -> Outcome:
    try:
        dom = parse_domain(case.infile.read_bytes(), url=case.infile.name, live=case.active)
        assert dom.os is not None and dom.os.type is not None
        if dom.os.type.arch is None:
            dom.os.type.arch = "x86_64"  # what the test harness's generic capabilities default to
        live_id = dom.id if case.active and dom.id is not None else -1
        # libvirt's xml2xml tests format with secure information (passwords) included
        out = format_domain(dom, 1 if case.active else 1 | 2, domain_id=live_id)
    except Error as exc:
        if case.should_fail:
            return Outcome(case, True)
        return Outcome(case, False, f"rejected: {exc.message.splitlines()[0]}")
    if case.should_fail:
        return Outcome(case, False, "accepted a document libvirt rejects")
    if canonical(out) == canonical(case.outfile.read_bytes()):
        return Outcome(case, True)
    return Outcome(case, False, "output differs")


def report(title: str, outcomes: list[Outcome]) -> None:
    passed = sum(o.passed for o in outcomes)
    pct = 100.0 * passed / len(outcomes) if outcomes else 0.0
    print(f"{title}: {passed}/{len(outcomes)} pass ({pct:.1f}%)")
    reasons = Counter(
        o.why.split(":")[0] + (":" + o.why.split(":")[1] if ":" in o.why else "") for o in outcomes if not o.passed
    )
    for why, n in reasons.most_common(15):
        print(f"    {n:4d}  {why}")


def main() -> int:
    src = libvirt_source()
    if src is None:
        print("libvirt 9.0.0 source is not available (pyvirt.testing.sources cannot fetch it here)")
        return 1
    report("genericxml2xml", [run_case(c) for c in generic_cases(src)])
    report(
        "qemuxml2xml x86_64-latest expected outputs re-parsed (a model round trip, not libvirt's test: "
        "see plugins/pyvirt-qemu/tests/conformance_xml2xml.py)",
        [run_case(c) for c in qemu_inactive_cases(src)],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
