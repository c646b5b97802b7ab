"""libvirt 9.0.0's Xen conversion tests, run the way libvirt's test programs run them; prints each corpus's score.

- xlconfigtest.c: "Parse" cases read the XML and write xl.cfg (compared byte
  for byte with the .cfg), "Format" cases read the .cfg and write XML
  (compared with the .xml, ``/LIBXL_FIRMWARE_DIR`` replaced by the firmware
  directory for the ovmf case);
- xmconfigtest.c: the same for the xm format;
- libxlxml2domconfigtest.c: XML to libxl's domain configuration, compared as
  JSON, with the host libvirt's test program mocks (libxlmock.c: shadow
  memory 1234 KiB, 6 host NUMA nodes; a host CPU with vmx; nested_hvm on).

``python conformance_xen.py [-v]`` prints one line per corpus (``-v``: every
failing case with its reason). The pytest module ``test_conformance.py``
imports ``run_all`` and pins the scores.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyvirt_xen.from_native import xl_to_domain_xml, xm_to_domain_xml
from pyvirt_xen.libxl_json import LibxlHost, domain_xml_to_libxl_json
from pyvirt_xen.names import LIBXL_FIRMWARE_DIR
from pyvirt_xen.to_native import domain_xml_to_xl, domain_xml_to_xm

# (name, to_native, from_native, replace_vars) in xlconfigtest.c's order; the #ifdef'd cases
# (max-gntframes, fullvirt-hypervisor-features) are built in Debian's libvirt 9.0 (Xen >= 4.10)
XL_CASES = [
    ("fullvirt-ovswitch-tagged", True, True, False), ("fullvirt-ovswitch-trunked", True, True, False),
    ("fullvirt-ovmf", True, True, True), ("paravirt-maxvcpus", True, True, False), ("new-disk", True, True, False),
    ("disk-positional-parms-full", False, True, False), ("disk-positional-parms-partial", False, True, False),
    ("disk-qed", False, True, False), ("net-fakemodel", True, True, False), ("spice", True, True, False),
    ("spice-features", True, True, False), ("vif-rate", True, True, False), ("fullvirt-nohap", True, True, False),
    ("fullvirt-hpet-timer", True, True, False), ("fullvirt-tsc-timer", True, True, False),
    ("fullvirt-multi-timer", True, True, False), ("fullvirt-nestedhvm", True, True, False),
    ("fullvirt-nestedhvm-disabled", True, True, False), ("fullvirt-cpuid", True, True, False),
    ("fullvirt-acpi-slic", True, True, False), ("fullvirt-pci", True, True, False),
    ("fullvirt-vnuma", True, True, False), ("fullvirt-vnuma-autocomplete", True, False, False),
    ("fullvirt-vnuma-nodistances", True, False, False), ("fullvirt-vnuma-partialdist", True, False, False),
    ("paravirt-cmdline", True, True, False), ("paravirt-cmdline-extra-root", False, True, False),
    ("paravirt-cmdline-bogus-extra-root", False, True, False), ("rbd-multihost-noauth", True, True, False),
    ("paravirt-type", False, True, False), ("fullvirt-type", False, True, False), ("pvh-type", True, True, False),
    ("channel-pty", True, True, False), ("channel-unix", True, True, False),
    ("fullvirt-multiserial", True, True, False), ("fullvirt-multiusb", True, True, False),
    ("fullvirt-direct-kernel-boot", True, True, False), ("fullvirt-direct-kernel-boot-extra", False, True, False),
    ("fullvirt-direct-kernel-boot-bogus-extra", False, True, False), ("max-gntframes", True, True, False),
    ("max-eventchannels", True, True, False), ("vif-typename", True, True, False),
    ("vif-multi-ip", True, True, False), ("usb", True, True, False), ("usbctrl", True, True, False),
    ("paravirt-e820_host", True, True, False), ("fullvirt-hypervisor-features", True, True, False),
    ("qemu-passthrough", True, True, False),
]  # fmt: skip
XM_CASES = [
    ("paravirt-new-pvfb", True, True), ("paravirt-new-pvfb-vncdisplay", True, True),
    ("paravirt-net-e1000", True, True), ("paravirt-net-fakemodel", True, True), ("paravirt-net-vifname", True, True),
    ("paravirt-vcpu", True, True), ("paravirt-maxvcpus", True, True), ("paravirt-root", False, True),
    ("paravirt-extra-root", False, True), ("fullvirt-new-cdrom", True, True), ("fullvirt-utc", True, True),
    ("fullvirt-localtime", True, True), ("fullvirt-usbtablet", True, True), ("fullvirt-usbmouse", True, True),
    ("fullvirt-serial-file", True, True), ("fullvirt-serial-null", True, True), ("fullvirt-serial-pipe", True, True),
    ("fullvirt-serial-pty", True, True), ("fullvirt-serial-stdio", True, True), ("fullvirt-serial-tcp", True, True),
    ("fullvirt-serial-tcp-telnet", True, True), ("fullvirt-serial-udp", True, True),
    ("fullvirt-serial-unix", True, True), ("fullvirt-force-hpet", True, True), ("fullvirt-force-nohpet", True, True),
    ("fullvirt-nohap", True, True), ("fullvirt-parallel-tcp", True, True), ("fullvirt-sound", True, True),
    ("fullvirt-net-netfront", True, True), ("fullvirt-default-feature", False, True), ("escape-paths", True, True),
    ("no-source-cdrom", True, True), ("pci-devs", True, True), ("pci-dev-syntax", False, True),
    ("disk-drv-blktap-raw", True, True), ("disk-drv-blktap2-raw", True, True),
]  # fmt: skip
# libxlxml2domconfigtest.c with Xen >= 4.10 (LIBXL_HAVE_BUILDINFO_NESTED_HVM, GRANT_LIMITS, WITH_XEN_PVH)
LIBXL_CASES = ["basic-pv", "basic-hvm", "basic-pvh", "cpu-shares-hvm", "variable-clock-hvm", "moredevs-hvm",
               "multiple-ip", "vnuma-hvm", "fullvirt-cpuid", "fullvirt-acpi-slic", "max-gntframes-hvm",
               "max-eventchannels-hvm"]  # fmt: skip
TEST_HOST = LibxlHost(shadow_memkb=lambda _mem, _vcpus: 1234, nested_hvm=True, cpu_flags=frozenset({"vmx"}),
                      numa_nodes=6)  # fmt: skip


@dataclass
class Score:
    corpus: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed)


def libvirt_tests() -> Path:
    """libvirt 9.0.0's tests directory, from pyvirt.testing.sources (an unpacked sdist has no tools/)."""
    from pyvirt.testing.sources import libvirt_source

    src = libvirt_source()
    if src is None:
        raise FileNotFoundError("libvirt 9.0.0's source cannot be fetched here (pyvirt.testing.sources)")
    return src / "tests"


def _first_difference(expected: str, got: str) -> str:
    diff = [d for d in difflib.unified_diff(expected.splitlines(), got.splitlines(), lineterm="", n=0)][2:6]
    return "differs: " + " | ".join(diff)


def _check(score: Score, case: str, produce: Callable[[], str], expected: str, as_json: bool = False) -> None:
    try:
        got = produce()
    except Exception as err:
        score.failed[case] = f"{type(err).__name__}: {err}"
        return
    if (json.loads(got) == json.loads(expected)) if as_json else got == expected:
        score.passed.append(case)
    else:
        score.failed[case] = _first_difference(expected, got)


def run_native(tests: Path, fmt: str) -> list[Score]:
    data = tests / ("xlconfigdata" if fmt == "xl" else "xmconfigdata")
    to_native, from_native = (
        (domain_xml_to_xl, xl_to_domain_xml) if fmt == "xl" else (domain_xml_to_xm, xm_to_domain_xml)
    )
    out, back = Score(f"{fmt}configtest XML -> {fmt}.cfg"), Score(f"{fmt}configtest {fmt}.cfg -> XML")
    cases = XL_CASES if fmt == "xl" else [(n, a, b, False) for n, a, b in XM_CASES]
    for name, parse, format_, replace in cases:
        xml = (data / f"test-{name}.xml").read_text()
        cfg = (data / f"test-{name}.cfg").read_text()
        if replace:
            xml = xml.replace("/LIBXL_FIRMWARE_DIR", LIBXL_FIRMWARE_DIR)
        if parse:
            _check(out, name, lambda xml=xml: to_native(xml), cfg)  # type: ignore[misc]
        if format_:
            # with the graphics passwords: libvirt's x[lm]configtest formats with VIR_DOMAIN_DEF_FORMAT_SECURE
            _check(back, name, lambda cfg=cfg: from_native(cfg, secure=True), xml)  # type: ignore[misc]
    return [out, back]


def run_libxl(tests: Path) -> Score:
    data = tests / "libxlxml2domconfigdata"
    score = Score("libxlxml2domconfigtest XML -> libxl JSON")
    for name in LIBXL_CASES:
        xml = (data / f"{name}.xml").read_text()
        expected = (data / f"{name}.json").read_text()
        _check(score, name, lambda xml=xml: domain_xml_to_libxl_json(xml, TEST_HOST), expected, as_json=True)  # type: ignore[misc]
    return score


def run_all() -> list[Score]:
    tests = libvirt_tests()
    return [*run_native(tests, "xl"), *run_native(tests, "xm"), run_libxl(tests)]


def main() -> int:
    verbose = "-v" in sys.argv[1:]
    for score in run_all():
        print(f"{score.corpus}: {len(score.passed)}/{score.total}")
        if verbose:
            for case, reason in score.failed.items():
                print(f"    {case}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
