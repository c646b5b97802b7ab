"""libvirt 9.0.0's non-QEMU XML corpora through pyvirt's models, run as libvirt's own test programs run them.

``python core/tests/conf/conformance_other.py`` (run by ``nox -s conformance``)
prints each corpus's pass count. Every case list is read from the libvirt test
program itself (its ``DO_TEST`` lines), every output is compared byte for byte
with libvirt's expected file:

- genericxml2xml (genericxml2xmltest.c): parse inactive or live as the case
  says, format, compare (the ``DO_TEST_FAIL_*`` cases must be refused);
- storagepoolxml2xml (storagepoolxml2xmltest.c): virStoragePoolDefParse, then
  virStoragePoolDefFormat;
- storagevolxml2xml (storagevolxml2xmltest.c): the pool named by the case is
  parsed first, the volume is parsed and formatted for that pool's type, with
  the case's parse flags;
- interfacexml2xml (interfacexml2xmltest.c): virInterfaceDefParseString, then
  virInterfaceDefFormat, compared with the same file.

``test_conformance_other.py`` holds each pass count at a floor.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from libvirt_testdata import generic_cases  # type: ignore[import-not-found]

from pyvirt.conf import interface, storage
from pyvirt.errors import Error
from pyvirt.testing.corpus import Outcome, run_corpora


def _compare(name: str, produce: Callable[[], str], expected: Path) -> Outcome:
    try:
        actual = produce()
    except Error as exc:
        return Outcome(name, False, f"rejected: {exc.message.splitlines()[0]}")
    if actual == expected.read_text():
        return Outcome(name, True)
    return Outcome(name, False, "output differs")


def storagepool_cases(src: Path) -> list[str]:
    return re.findall(r'^\s*DO_TEST\("([^"]+)"\)', (src / "tests" / "storagepoolxml2xmltest.c").read_text(), re.M)


def run_storagepool(src: Path) -> list[Outcome]:
    tests = src / "tests"
    out = []
    for name in storagepool_cases(src):
        infile = tests / "storagepoolxml2xmlin" / f"{name}.xml"
        out.append(_compare(name, lambda f=infile: storage.format_pool(storage.parse_pool(f.read_bytes())),
                            tests / "storagepoolxml2xmlout" / f"{name}.xml"))  # fmt: skip
    return out


_VOL_FLAGS = {"0": 0, "VIR_VOL_XML_PARSE_NO_CAPACITY": storage.VOL_PARSE_NO_CAPACITY,
              "VIR_VOL_XML_PARSE_OPT_CAPACITY": storage.VOL_PARSE_OPT_CAPACITY}  # fmt: skip


def storagevol_cases(src: Path) -> list[tuple[str, str, int]]:
    """(pool, volume, parse flags) of storagevolxml2xmltest.c's DO_TEST and DO_TEST_FULL lines."""
    text = (src / "tests" / "storagevolxml2xmltest.c").read_text()
    cases = []
    for full, pool, vol, flags in re.findall(
        r'^\s*DO_TEST(_FULL)?\("([^"]+)",\s*"([^"]+)"(?:,\s*(\w+))?\);', text, re.M
    ):
        cases.append((pool, vol, _VOL_FLAGS[flags or "0"] if full else 0))
    return cases


def _volume_output(tests: Path, pool_name: str, vol_name: str, flags: int) -> str:
    pool = storage.parse_pool((tests / "storagepoolxml2xmlin" / f"{pool_name}.xml").read_bytes())
    vol = storage.parse_volume((tests / "storagevolxml2xmlin" / f"{vol_name}.xml").read_bytes(), pool.type, flags)
    return storage.format_volume(vol, pool.type)


def run_storagevol(src: Path) -> list[Outcome]:
    tests = src / "tests"
    return [
        _compare(
            vol,
            lambda p=pool, v=vol, f=flags: _volume_output(tests, p, v, f),
            tests / "storagevolxml2xmlout" / f"{vol}.xml",
        )
        for pool, vol, flags in storagevol_cases(src)
    ]


def run_generic(src: Path) -> list[Outcome]:
    """genericxml2xmltest: each case parsed (live or inactive as the macro says) and formatted back."""
    from pyvirt.conf.domain import format_domain, parse_domain

    out = []
    for case in generic_cases(src):
        try:
            dom = parse_domain(case.infile.read_bytes(), url=case.infile.name, live=case.active)
            assert dom.os is not None and dom.os.type is not None
            if dom.os.type.arch is None:
                dom.os.type.arch = "x86_64"  # the test's generic capabilities
            live_id = dom.id if case.active and dom.id is not None else -1
            # VIR_DOMAIN_DEF_FORMAT_SECURE, and INACTIVE for the inactive cases
            actual = format_domain(dom, 1 if case.active else 1 | 2, domain_id=live_id)
        except Error as exc:
            out.append(Outcome(case.name, case.should_fail, "" if case.should_fail else f"rejected: {exc.message}"))
            continue
        if case.should_fail:
            out.append(Outcome(case.name, False, "accepted a document libvirt rejects"))
        elif actual == case.outfile.read_text():
            out.append(Outcome(case.name, True))
        else:
            out.append(Outcome(case.name, False, "output differs"))
    return out


class FakeNuma:
    """libvirt's tests/virnumamock.c: node N has N+1 GiB, 4 KiB/2 MiB/1 GiB pages (N+1+i)*2048 of each,
    no distances."""

    def memory_kib(self, node: int) -> int:
        return ((1 << 30) * (node + 1)) >> 10

    def pages(self, node: int) -> list[tuple[int, int]]:
        return [(size, (node + 1 + i) * 2 << 10) for i, size in enumerate((4, 2048, 1048576))]

    def distances(self, node: int) -> list[tuple[int, int]]:
        return []


_ARCHES = {"VIR_ARCH_X86_64": "x86_64", "VIR_ARCH_AARCH64": "aarch64"}


def vircaps_cases(src: Path) -> list[tuple[str, str, bool, bool]]:
    """(sysfs tree, arch, offline migration, live migration) of vircaps2xmltest.c's DO_TEST_FULL lines."""
    text = (src / "tests" / "vircaps2xmltest.c").read_text()
    return [(name, _ARCHES[arch], offline == "true", live == "true")
            for name, arch, offline, live in re.findall(
                r'^\s*DO_TEST_FULL\("([^"]+)",\s*(\w+),\s*(true|false),\s*(true|false)\);', text, re.M)]  # fmt: skip


def run_vircaps(src: Path) -> list[Outcome]:
    """vircaps2xmltest: the host of a fake sysfs tree (NUMA from the mock), its capabilities XML."""
    from pyvirt.conf.capabilities import Capabilities, format_capabilities
    from pyvirt.util.sysfs_capabilities import host_from_sysfs

    data = src / "tests" / "vircaps2xmldata"
    out = []
    for name, arch, offline, live in vircaps_cases(src):
        tree = data / f"linux-{name}"

        def produce(tree: Path = tree, arch: str = arch, offline: bool = offline, live: bool = live) -> str:
            host = host_from_sysfs(arch, str(tree / "system"), str(tree / "resctrl"), FakeNuma(),
                                   offline_migrate=offline, live_migrate=live)  # fmt: skip
            return format_capabilities(Capabilities(host=host))

        out.append(_compare(f"{arch}-{name}", produce, data / f"vircaps-{arch}-{name}.xml"))
    return out


def interface_cases(src: Path) -> list[str]:
    return re.findall(r'^\s*DO_TEST\("([^"]+)"\)', (src / "tests" / "interfacexml2xmltest.c").read_text(), re.M)


def run_interface(src: Path) -> list[Outcome]:
    data = src / "tests" / "interfaceschemadata"
    out = []
    for name in interface_cases(src):
        path = data / f"{name}.xml"
        out.append(_compare(name, lambda f=path: interface.format_interface(interface.parse_interface(f.read_bytes())),
                            path))  # fmt: skip
    return out


CORPORA: dict[str, Callable[[Path], list[Outcome]]] = {
    "genericxml2xml": run_generic,
    "storagepoolxml2xml": run_storagepool,
    "storagevolxml2xml": run_storagevol,
    "vircaps2xml": run_vircaps,
    "interfacexml2xml": run_interface,
}


def main() -> int:
    return run_corpora(CORPORA)


if __name__ == "__main__":
    sys.exit(main())
