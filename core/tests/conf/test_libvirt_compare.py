"""pyvirt refuses what libvirt refuses: define decisions on test:///default against Debian's libvirt 9.0.

The documents are libvirt's own test corpus (genericxml2xml inputs and the
qemuxml2xml x86_64-latest outputs, given the test driver's domain type) that
both accept as they are, each mutated once with a fixed seed: numbers out of
range, negative or in hex, bogus enumerated words, required elements
removed, elements given twice, broken address attributes. Each document goes
to ``libvirt.open('test:///default').defineXML`` (in a child process, since
libvirt itself dies on some) and to ``pyvirt``'s ``define_domain``; the two
must agree on accept or refuse for more than 99% of them, and every
disagreement left must be one of the explained ones below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from libvirt_oracle import CRASH, libvirt_available, libvirt_verdicts
from libvirt_testdata import libvirt_source
from lxml import etree
from xml_mutations import Mutation, mutations

import pyvirt

CASES = int(os.environ.get("PYVIRT_COMPARE_CASES", "3000"))
SEED = int(os.environ.get("PYVIRT_COMPARE_SEED", "1"))

# (mutation kind, element path) -> why pyvirt and libvirt still decide differently with this seed, and a few
# that other seeds reach. Seeds 2 to 5 were run too (PYVIRT_COMPARE_SEED): 0.2-0.6% disagreements each, in
# rules pyvirt does not model yet (cookie characters, resctrl monitor overlaps, serial port allocation,
# SEV policy sizes, iothread references); name them here before making such a seed the default.
EXPLAINED: dict[tuple[str, str], str] = {
    ("remove", "domain/devices/disk/source"): (
        "a disk without a medium is validated by the drivers, not while parsing: the same parser reads the "
        "device XML of detach-device, which names a disk by its target only (libvirt skips validation there)"
    ),
    ("remove", "domain/cputune/cachetune/cache"): (
        "a <cachetune> left without <cache> elements is compared by libvirt's resctrl code with the other "
        "groups ('vcpus overlaps in resctrl groups'); pyvirt has no resctrl allocation model yet"
    ),
    ("duplicate", "domain/cpu"): (
        "two <cpu> elements: libvirt's XPath ./cpu/numa[1]/cell reads the NUMA cells of both and finds "
        "duplicates; pyvirt reads the first <cpu> only"
    ),
    ("remove", "domain/devices/memory/target/block"): (
        "virtio-mem's block size rules (power of two, default from the host's huge page size) belong to the "
        "QEMU driver's memory device support, not modelled for the test driver"
    ),
    ("word", "domain/devices/graphics/@autoport"): (
        "libvirt reads autoport='yes' and ignores any other word; pyvirt keeps a yes/no boolean (its VNC "
        "port rules depend on an explicit 'no') and refuses the word rather than dropping it"
    ),
    ("duplicate", "domain/memoryBacking"): (
        "two <memoryBacking> elements: libvirt's XPath reads the huge pages of both (two master hugepages); "
        "pyvirt reads the first only"
    ),
    ("number", "domain/cputune/cachetune/cache/@size"): (
        "libvirt ignores a <cachetune> none of whose vCPUs exist, sizes and all; pyvirt's model still reads "
        "the size as a number and refuses one that is not"
    ),
    ("duplicate", "domain/devices/smartcard/source"): (
        "a passthrough smartcard with two <source> elements: pyvirt keeps the chardev sources as given"
    ),
    ("duplicate", "domain/devices/tpm/backend/source"): (
        "an external TPM backend with two <source> elements; pyvirt keeps TPM backends verbatim"
    ),
}


def _huge_vcpu_count(m: Mutation) -> bool:
    """libvirt allocates per-vCPU state before it checks the count: 2**31 vCPUs cost it 16 GiB or a crash."""
    if m.where not in ("domain/vcpu", "domain/vcpu/@current"):
        return False
    digits = m.value.strip().lstrip("+-")
    return digits.isdigit() and int(digits) > 4096


@dataclass(frozen=True)
class Verdicts:
    mutations: list[Mutation]
    libvirt: list[tuple[bool | str, str]]
    pyvirt: list[tuple[bool, str]]


def _as_test_domain(path: str) -> str | None:
    root = etree.parse(path).getroot()
    if root.tag != "domain":
        return None
    root.set("type", "test")
    for emulator in root.iter("emulator"):
        parent = emulator.getparent()
        assert parent is not None
        parent.remove(emulator)
    root.attrib.pop("id", None)
    return etree.tostring(root, encoding="unicode")


def _pyvirt_verdicts(docs: list[str]) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    with pyvirt.open("test:///default") as conn:
        for xml in docs:
            try:
                conn.define_domain(xml).undefine()
                out.append((True, ""))
            except pyvirt.Error as exc:
                out.append((False, exc.message))
    return out


@pytest.fixture(scope="module")
def verdicts() -> Verdicts:
    if not libvirt_available():
        pytest.skip("Debian's python3-libvirt is not installed")
    src = libvirt_source()
    if src is None:
        pytest.skip("libvirt 9.0.0 source is not available (pyvirt.testing.sources cannot fetch it here)")
    files = sorted((src / "tests" / "genericxml2xmlindata").glob("*.xml"))
    files += sorted((src / "tests" / "qemuxml2xmloutdata").glob("*.x86_64-latest.xml"))
    candidates = [x for x in (_as_test_domain(str(f)) for f in files) if x is not None]
    lv = libvirt_verdicts([("domain", x) for x in candidates])
    pv = _pyvirt_verdicts(candidates)
    bases = [x for x, (lok, _), (pok, _) in zip(candidates, lv, pv, strict=True) if lok is True and pok]
    assert len(bases) > 100, "too few corpus documents both accept to mutate"
    muts = list(mutations(bases, CASES, SEED))
    asked = [i for i, m in enumerate(muts) if not _huge_vcpu_count(m)]
    answers = libvirt_verdicts([("domain", muts[i].xml) for i in asked])
    lib: list[tuple[bool | str, str]] = [("SKIP", "")] * len(muts)
    for i, answer in zip(asked, answers, strict=True):
        lib[i] = answer
    return Verdicts(muts, lib, _pyvirt_verdicts([m.xml for m in muts]))


def test_pyvirt_and_libvirt_agree_on_mutated_corpus(verdicts: Verdicts) -> None:
    compared = disagree = 0
    unexplained: list[str] = []
    for i, (m, (lok, lmsg), (pok, pmsg)) in enumerate(
        zip(verdicts.mutations, verdicts.libvirt, verdicts.pyvirt, strict=True)
    ):
        if lok in ("SKIP", CRASH):
            continue
        compared += 1
        if lok == pok:
            continue
        disagree += 1
        if (m.kind, m.where) not in EXPLAINED:
            who = "pyvirt accepted" if pok else "pyvirt refused"
            unexplained.append(f"case {i}: {m.kind} {m.where} = {m.value!r}: {who}; libvirt: {lmsg or 'accepted'}; "
                               f"pyvirt: {pmsg or 'accepted'}")  # fmt: skip
    assert compared > CASES * 0.95
    assert not unexplained, "\n".join(unexplained[:40])
    assert disagree < compared / 100, f"{disagree} of {compared} decisions differ"


def test_documents_that_kill_libvirt_are_handled_by_pyvirt(verdicts: Verdicts) -> None:
    """Where libvirt itself dies (``<vcpu>-1</vcpu>`` asks it for 32 GiB), pyvirt gives an answer, and a
    definition it accepts can be read back and parsed again."""
    crashed = [i for i, (lok, _) in enumerate(verdicts.libvirt) if lok == CRASH]
    assert crashed, "the corpus no longer reaches libvirt's crashes; the oracle's restart is untested"
    with pyvirt.open("test:///default") as conn:
        for i in crashed:
            if verdicts.pyvirt[i][0]:
                dom = conn.define_domain(verdicts.mutations[i].xml)
                conn.define_domain(dom.xml_desc(2)).undefine()


def test_refusals_carry_libvirts_code_family(verdicts: Verdicts) -> None:
    """Where both refuse a number or word, most of pyvirt's messages are libvirt's own words."""
    both = [(lmsg, pmsg) for (lok, lmsg), (pok, pmsg) in zip(verdicts.libvirt, verdicts.pyvirt, strict=True)
            if lok is False and not pok]  # fmt: skip
    same = sum(1 for lmsg, pmsg in both if lmsg.split(":", 1)[-1].strip() in pmsg)
    assert same > len(both) * 0.6, f"only {same} of {len(both)} refusals are worded as libvirt's"
