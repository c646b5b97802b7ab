"""libvirt 9.0.0's vmx2xml and xml2vmx cases: every one passes today, and a regression names the case and why."""

from __future__ import annotations

import pytest
from vmx_oracle import libvirt_tests_dir, read_cases, run_vmx2xml, run_xml2vmx

TESTS = libvirt_tests_dir()
pytestmark = pytest.mark.skipif(TESTS is None, reason="libvirt 9.0.0's source (pyvirt.testing.sources) is missing")

# the scores this converter reaches; lowering either is a regression
VMX2XML_PASSING = 73
XML2VMX_PASSING = 60


def test_cases_are_read_from_libvirts_test_programs() -> None:
    """The case list is libvirt's, with its expected failures, hardware versions and datacenter path."""
    assert TESTS is not None
    vmx2xml = {c.name: c for c in read_cases(TESTS / "vmx2xmltest.c")}
    xml2vmx = {c.name: c for c in read_cases(TESTS / "xml2vmxtest.c")}
    assert len(vmx2xml) == 73 and len(xml2vmx) == 60
    assert vmx2xml["harddisk-scsi-file-missing-file"].should_fail
    assert vmx2xml["datacenterpath"].datacenter_path == "folder1/folder2/datacenter1"
    assert vmx2xml["minimal"].datacenter_path is None
    assert xml2vmx["esx-in-the-wild-9"].hw_version == 10 and xml2vmx["minimal"].hw_version == 4


def test_vmx2xml_score() -> None:
    assert TESTS is not None
    results = run_vmx2xml(TESTS)
    failing = [f"{r.case}: {r.reason}" for r in results if not r.ok]
    assert len(results) - len(failing) >= VMX2XML_PASSING, "\n".join(failing)


def test_xml2vmx_score() -> None:
    assert TESTS is not None
    results = run_xml2vmx(TESTS)
    failing = [f"{r.case}: {r.reason}" for r in results if not r.ok]
    assert len(results) - len(failing) >= XML2VMX_PASSING, "\n".join(failing)
