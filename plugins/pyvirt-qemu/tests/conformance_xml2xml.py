"""libvirt 9.0.0's qemuxml2xmltest, run the way libvirt runs it, through pyvirt-qemu's post-parse defaults.

``python plugins/pyvirt-qemu/tests/conformance_xml2xml.py`` (run by ``nox -s
conformance``): for every case of ``tests/qemuxml2xmltest.c`` (read from the
C source, see ``libvirt_qemu_cases``) the *input* ``qemuxml2argvdata/NAME.xml``
is parsed (live or inactive, as the case's WHEN_* says), the QEMU driver's
defaults are applied with the capabilities the case names (a
``qemucapabilitiesdata/caps_*.xml`` file, or libvirt's fake set for
``DO_TEST``/``DO_TEST_NOCAPS``), and the formatted document is compared byte
for byte with the expected ``qemuxml2xmloutdata`` file, as
``testCompareDomXML2XMLFiles`` compares it. (Re-parsing libvirt's *expected*
outputs is a round trip of the models, not this test; ``core/tests/conf/
conformance.py`` keeps that check.)

``--histogram`` prints the first line where each failing case differs, grouped;
``--show NAME`` prints a diff of one case.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conformance_argv import source_tree
from libvirt_qemu_cases import (
    QemuCase,
    caps_for,
    case_environment,
    nographics_host_audio,
    xml2xml_cases,
    xml2xml_paths,
)
from pyvirt_qemu.domain_defaults import apply_defaults

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error

SECURE, INACTIVE = 1, 2


@dataclass(frozen=True)
class Result:
    case: QemuCase
    passed: bool
    why: str = ""
    got: str = ""
    want: str = ""


def libvirt_random_bytes(n: int) -> bytes:
    """libvirt's tests/virrandommock.c, which qemuxml2xmltest preloads: every random buffer is 0, 1, 2, ..."""
    return bytes(i & 0xFF for i in range(n))


def run(src: Path, case: QemuCase) -> Result:
    infile, outfile = xml2xml_paths(src, case)
    want = outfile.read_text()
    try:
        with case_environment(case) as vnc_host_audio, mock.patch("os.urandom", libvirt_random_bytes):
            # security_driver = "none", as libvirt's test driver (testutilsqemu.c) configures it
            dom = parse_domain(infile.read_bytes(), url=infile.name, live=case.active, default_sec_model="none")
            apply_defaults(dom, caps=caps_for(src, case), vnc_host_audio=vnc_host_audio,
                           nographics_host_audio=nographics_host_audio(case),
                           new_domain="VIR_DOMAIN_DEF_PARSE_ABI_UPDATE" in case.parse_flags)  # fmt: skip
        got = format_domain(dom, SECURE if case.active else SECURE | INACTIVE, domain_id=dom.id or -1)
    except Error as exc:
        return Result(case, False, f"refused: {exc.code.name}: {str(exc).splitlines()[0][:100]}", want=want)
    except Exception as exc:  # a crash is a finding, not a skip
        return Result(case, False, f"crash: {type(exc).__name__}: {exc}"[:120], want=want)
    if got == want:
        return Result(case, True, got=got, want=want)
    return Result(case, False, "differs: " + first_difference(want, got), got=got, want=want)


def first_difference(want: str, got: str) -> str:
    """The first expected line that is missing or different, as a histogram key (values blurred)."""
    for w, g in zip(want.splitlines(), got.splitlines(), strict=False):
        if w != g:
            return f"want {w.strip()[:70]!r} got {g.strip()[:50]!r}"
    return "length"


def rows(results: list[Result]) -> dict[str, tuple[int, int]]:
    def count(sel: list[Result]) -> tuple[int, int]:
        return sum(r.passed for r in sel), len(sel)

    latest = [r for r in results if r.case.caps_label == "x86_64-latest"]
    return {"qemuxml2xml x86_64-latest": count(latest), "qemuxml2xml, every caps version and arch": count(results)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histogram", type=int, default=0, help="print the N most common first differences")
    parser.add_argument("--show", help="print a diff of the named case (NAME or NAME.ARCH-VER)")
    parser.add_argument("--caps", help="only cases with these caps (x86_64-latest, 'fake caps', ...)")
    opts = parser.parse_args()
    src = source_tree()
    if src is None:
        print("qemuxml2xml: libvirt 9.0.0 source unavailable (pyvirt.testing.sources cannot fetch it here); skipped")
        return 0
    cases = xml2xml_cases(src)
    if opts.caps:
        cases = [c for c in cases if c.caps_label == opts.caps]
    if opts.show:
        for case in cases:
            if opts.show in (case.name, case.name + case.suffix):
                r = run(src, case)
                print(f"== {case.label}: {'pass' if r.passed else r.why}")
                sys.stdout.writelines(difflib.unified_diff(r.want.splitlines(True), r.got.splitlines(True),
                                                           "expected", "pyvirt"))  # fmt: skip
        return 0
    results = [run(src, c) for c in cases]
    for title, (ok, total) in rows(results).items():
        print(f"{title}: {ok}/{total} ({100.0 * ok / total if total else 0:.1f}%)")
    per_caps = Counter(r.case.caps_label for r in results)
    ok_caps = Counter(r.case.caps_label for r in results if r.passed)
    print("  by caps: " + ", ".join(f"{k} {ok_caps[k]}/{n}" for k, n in per_caps.most_common()))
    if opts.histogram:
        hist = Counter(r.why for r in results if not r.passed)
        for why, n in hist.most_common(opts.histogram):
            print(f"  {n:5d}  {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
