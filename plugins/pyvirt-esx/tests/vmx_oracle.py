"""libvirt 9.0.0's vmx2xmltest.c and xml2vmxtest.c, run the way libvirt runs them.

The cases, their expected failures and hardware versions are copied from
the two test programs' ``DO_TEST`` lines; the file-name callbacks are the
ones those programs install (``testParseVMXFileName``: a datastore called
``missing`` or a path starting with ``missing`` is a missing file;
``testFormatVMXFileName``; a SCSI controller model auto-detected as
``lsilogic``). Outputs are compared as virTestCompareToFile compares: the
whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pyvirt_esx.vmx_context import VmxContext
from pyvirt_esx.vmx_from_xml import xml_to_vmx
from pyvirt_esx.vmx_to_xml import vmx_to_xml

from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError
from pyvirt.testing.sources import libvirt_source

_DO_TEST = re.compile(r'^\s*(DO_TEST|DO_TEST_FAIL)\("([^"]+)"(?:,\s*"([^"]+)",\s*(\d+))?\);', re.M)
_DATACENTER = re.compile(r'^\s*ctx\.datacenterPath = (?:"([^"]*)"|NULL);', re.M)


@dataclass(frozen=True)
class Case:
    """One ``DO_TEST`` line: input and output names, expected failure, hardware version, datacenter path."""

    name: str
    output: str
    should_fail: bool = False
    hw_version: int = 0
    datacenter_path: str | None = None


def read_cases(test_program: Path) -> list[Case]:
    """The ``DO_TEST`` lines of vmx2xmltest.c or xml2vmxtest.c, in order, with the context each runs in."""
    text = test_program.read_text()
    events = sorted([(m.start(), m) for m in _DO_TEST.finditer(text)] + [(m.start(), m) for m in _DATACENTER.finditer(text)],
                    key=lambda e: e[0])  # fmt: skip
    cases: list[Case] = []
    datacenter: str | None = None
    for _, match in events:
        if match.re is _DATACENTER:
            datacenter = match.group(1)
            continue
        kind, name, output, version = match.groups()
        cases.append(Case(name, output or name, kind == "DO_TEST_FAIL", int(version or 0), datacenter))
    return cases


def libvirt_tests_dir() -> Path | None:
    """libvirt 9.0.0's tests/ directory from the source cache, or None when it cannot be had."""
    src = libvirt_source()
    if src is None:
        return None
    tests = src / "tests"
    return tests if (tests / "vmx2xmldata").is_dir() else None


def _missing(detail: str) -> InternalError:
    return InternalError(ErrorCode.INTERNAL_ERROR, detail, domain=ErrorDomain.VMWARE)


def _test_parse_file_name(name: str, allow_missing: bool) -> str | None:
    """testParseVMXFileName."""
    if name.startswith("/vmfs/volumes/"):
        datastore, _, path = name[len("/vmfs/volumes/") :].partition("/")
        if not datastore or not path:
            raise _missing(f"bad datastore path '{name}'")
        if datastore == "missing" or path.startswith("missing"):
            if allow_missing:
                return None
            raise _missing(f"Referenced missing file '{name}'")
        return f"[{datastore}] {path}"
    if name.startswith("/"):
        return name
    if "/" in name:
        raise _missing(f"relative path '{name}'")
    return f"[datastore] directory/{name}"


def _test_format_file_name(src: str) -> str:
    """testFormatVMXFileName."""
    if src.startswith("["):
        inner = src[1:]
        if not inner or inner[0] == "]" or "]" not in inner:
            raise _missing(f"bad datastore path '{src}'")
        datastore, _, path = inner.partition("]")
        return f"/vmfs/volumes/{datastore}/{path.lstrip(' ')}"
    if src.startswith("/"):
        return src
    raise _missing(f"relative path '{src}'")


def vmx2xml_context(datacenter_path: str | None = None) -> VmxContext:
    return VmxContext(parse_file_name=_test_parse_file_name, datacenter_path=datacenter_path)


def xml2vmx_context() -> VmxContext:
    return VmxContext(format_file_name=_test_format_file_name, autodetect_scsi_model=lambda dst, src: "lsilogic")


@dataclass
class Result:
    case: str
    ok: bool
    reason: str = ""


def _first_difference(expected: str, got: str) -> str:
    for i, (a, b) in enumerate(zip(expected.splitlines(), got.splitlines(), strict=False), 1):
        if a != b:
            return f"line {i}: expected {a.strip()!r}, got {b.strip()!r}"
    return f"length differs: expected {len(expected.splitlines())} lines, got {len(got.splitlines())}"


def run_vmx2xml(tests: Path) -> list[Result]:
    results = []
    for case in read_cases(tests / "vmx2xmltest.c"):
        ctx = vmx2xml_context(case.datacenter_path)
        data = (tests / "vmx2xmldata" / f"{case.name}.vmx").read_bytes()
        try:
            got = vmx_to_xml(data, ctx)
        except Error as err:
            results.append(Result(case.name, case.should_fail, "" if case.should_fail else err.message))
            continue
        if case.should_fail:
            results.append(Result(case.name, False, "converted, libvirt refuses it"))
            continue
        expected = (tests / "vmx2xmldata" / f"{case.output}.xml").read_text()
        ok = got == expected
        results.append(Result(case.name, ok, "" if ok else _first_difference(expected, got)))
    return results


def run_xml2vmx(tests: Path) -> list[Result]:
    results = []
    for case in read_cases(tests / "xml2vmxtest.c"):
        xml = (tests / "xml2vmxdata" / f"xml2vmx-{case.name}.xml").read_text()
        try:
            got = xml_to_vmx(xml, case.hw_version, xml2vmx_context())
        except Error as err:
            results.append(Result(case.name, False, err.message))
            continue
        expected = (tests / "xml2vmxdata" / f"xml2vmx-{case.output}.vmx").read_text()
        ok = got == expected
        results.append(Result(case.name, ok, "" if ok else _first_difference(expected, got)))
    return results


def report(title: str, results: list[Result]) -> str:
    passed = sum(r.ok for r in results)
    lines = [f"{title}: {passed}/{len(results)}"]
    lines += [f"  FAIL {r.case}: {r.reason}" for r in results if not r.ok]
    return "\n".join(lines)
