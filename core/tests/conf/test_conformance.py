"""libvirt 9.0.0's XML test data through pyvirt's models (the data is fetched, never committed).

- genericxml2xml: every positive case equal after canonicalisation, every
  case libvirt rejects rejected.
- qemuxml2xml x86_64-latest: libvirt's canonical outputs must survive a
  parse/format round trip for every document the model accepts.

``nox -s conformance`` prints the pass rates.
"""

from __future__ import annotations

import pytest
from conformance import run_case  # type: ignore[import-not-found]
from libvirt_testdata import generic_cases, libvirt_source, qemu_inactive_cases  # type: ignore[import-not-found]

SRC = libvirt_source()
pytestmark = pytest.mark.skipif(
    SRC is None, reason="libvirt 9.0.0 source package could not be fetched (apt-get source)"
)


def generic_ids() -> list[str]:
    return [c.name for c in generic_cases(SRC)] if SRC else []


@pytest.mark.parametrize("name", generic_ids())
def test_genericxml2xml(name: str) -> None:
    assert SRC is not None
    case = next(c for c in generic_cases(SRC) if c.name == name)
    outcome = run_case(case)
    assert outcome.passed, outcome.why


def test_qemuxml2xml_round_trip_never_changes_an_accepted_document() -> None:
    assert SRC is not None
    outcomes = [run_case(c) for c in qemu_inactive_cases(SRC)]
    wrong = [o.case.name for o in outcomes if not o.passed and not o.why.startswith("rejected: unsupported")]
    passed = sum(o.passed for o in outcomes)
    print(f"qemuxml2xml round trip: {passed}/{len(outcomes)}")
    assert wrong == [], "accepted but changed (configuration silently lost)"
    assert passed >= 141
