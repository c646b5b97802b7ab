"""A mutation fuzzer over libvirt 9.0's own XML test corpus, for every XML entry point pyvirt has.

Each case takes one corpus document of the entry point's kind, applies one
or two mutations (the structural ones of ``xml_mutations`` or byte-level
ones: flipped and inserted bytes, bytes that are not UTF-8, NULs, a cut-off
document, numbers of 2**63 and more) and hands it to the entry point. The
only acceptable outcomes are success and a ``pyvirt.Error``; anything else
is a crash a user would see as a Python traceback.

Run as a script (``python core/tests/conf/xml_fuzz.py [cases] [seed]``) it
fuzzes that many cases and prints the failures; the pytest module
``test_fuzz_xml.py`` runs it within CI's time budget and ``nox -s fuzz``
runs it longer.
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lxml import etree
from xml_mutations import BIG_NUMBERS, mutate

import pyvirt
from pyvirt.conf.domain import parse_domain
from pyvirt.conf.interface import parse_interface
from pyvirt.conf.network import parse_network
from pyvirt.conf.network_update import update_network
from pyvirt.conf.nodedev import parse_nodedev
from pyvirt.conf.secret import parse_secret
from pyvirt.conf.snapshot import parse_snapshot
from pyvirt.conf.storage import parse_pool, parse_volume

__all__ = ["Corpus", "Failure", "fuzz", "load_corpus"]

# corpus kind -> libvirt test data directories (relative to tests/)
CORPUS_DIRS = {
    "domain": ("genericxml2xmlindata", "qemuxml2argvdata", "lxcxml2xmldata", "qemuxml2xmloutdata"),
    "network": ("networkxml2xmlin",),
    "netupdate": ("networkxml2xmlupdatein",),
    "pool": ("storagepoolxml2xmlin",),
    "volume": ("storagevolxml2xmlin",),
    "secret": ("secretxml2xmlin",),
    "snapshot": ("qemudomainsnapshotxml2xmlin",),
    "nodedev": ("nodedevschemadata",),
    "interface": ("interfaceschemadata",),
}
ROOTS = {"domain": "domain", "network": "network", "pool": "pool", "volume": "volume", "secret": "secret",
         "snapshot": "domainsnapshot", "nodedev": "device", "interface": "interface"}  # fmt: skip
DEVICE_TAGS = ("disk", "interface", "controller", "memory", "hostdev", "input", "graphics", "video", "serial",
               "console", "channel", "rng", "tpm", "watchdog", "sound", "filesystem", "memballoon")  # fmt: skip


@dataclass
class Corpus:
    docs: dict[str, list[str]] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)


def load_corpus(src: Path, per_dir_limit: int = 400) -> Corpus:
    """Documents of each kind from libvirt's test data; device elements cut out of the domains."""
    corpus = Corpus()
    for kind, dirs in CORPUS_DIRS.items():
        docs: list[str] = []
        for d in dirs:
            files = sorted((src / "tests" / d).glob("*.xml"))
            step = max(1, len(files) // per_dir_limit)
            for f in files[::step]:
                try:
                    text = f.read_text()
                    root = etree.fromstring(text.encode())
                except (UnicodeDecodeError, etree.XMLSyntaxError):
                    continue
                if kind != "netupdate" and root.tag != ROOTS[kind]:
                    continue
                docs.append(text)
                if kind == "domain":
                    devices = root.find("devices")
                    for dev in devices if devices is not None else ():
                        if isinstance(dev.tag, str) and dev.tag in DEVICE_TAGS and len(corpus.devices) < 3000:
                            corpus.devices.append(etree.tostring(dev, encoding="unicode", with_tail=False))
        corpus.docs[kind] = _mostly_accepted(kind, docs)
    corpus.devices = [d for d in corpus.devices if _accepted("device", d)] or corpus.devices
    return corpus


_PARSERS: dict[str, Callable[[str], object]] = {
    "domain": parse_domain, "network": parse_network, "pool": parse_pool, "volume": parse_volume,
    "secret": parse_secret, "snapshot": parse_snapshot, "nodedev": parse_nodedev, "interface": parse_interface,
    "device": lambda x: parse_domain(device_wrapper(x)),
}  # fmt: skip


def device_wrapper(xml: str) -> str:
    """A device element inside a minimal domain: how a driver's attach-device reads it."""
    return (
        "<domain type='test'><name>device</name><memory>1024</memory><os><type>hvm</type></os>"
        f"<devices>{xml}</devices></domain>"
    )


def _accepted(kind: str, xml: str) -> bool:
    try:
        _PARSERS[kind](xml)
    except pyvirt.Error:
        return False
    return True


def _mostly_accepted(kind: str, docs: list[str]) -> list[str]:
    """Documents pyvirt accepts as they are (mutations then reach past the first refusal), and a few others."""
    if kind not in _PARSERS:
        return docs
    good = [d for d in docs if _accepted(kind, d)]
    bad = [d for d in docs if d not in good]
    return good + bad[: max(1, len(good) // 10)]


def _byte_mutation(text: str, rng: random.Random) -> str:
    """Byte-level damage a file on disk can have; not-UTF-8 bytes come through as surrogate escapes."""
    raw = bytearray(text.encode("utf-8", "surrogateescape"))
    op = rng.randrange(6)
    pos = rng.randrange(len(raw) + 1)
    if op == 0:  # bytes that are not UTF-8 (latin-1 text, stray continuation bytes)
        raw[pos:pos] = bytes(rng.choice((0xE9, 0xFF, 0x80, 0xC3, 0xFE)) for _ in range(rng.randint(1, 3)))
    elif op == 1:  # a NUL or control character
        raw[pos:pos] = rng.choice((b"\x00", b"\x01", b"\x1b", b"\r", b"\x7f"))
    elif op == 2:  # cut off
        del raw[pos:]
    elif op == 3 and raw:  # one byte flipped
        i = rng.randrange(len(raw))
        raw[i] ^= 1 << rng.randrange(8)
    elif op == 4:  # a number nobody can hold
        digits = [i for i, b in enumerate(raw) if 0x30 <= b <= 0x39]
        if digits:
            i = rng.choice(digits)
            raw[i : i + 1] = rng.choice(BIG_NUMBERS).encode()
    else:  # text where structure was
        raw[pos:pos] = rng.choice((b"<", b">", b"&", b"]]>", b"<!--", b"<?x?>", b"&#0;", b"&#xD800;"))
    return bytes(raw).decode("utf-8", "surrogateescape")


def mutated(text: str, rng: random.Random) -> str:
    """One or two mutations of ``text``: structural when it still parses, byte-level otherwise."""
    for _ in range(rng.choice((1, 1, 2))):
        if rng.random() < 0.6:
            try:
                text = mutate(text, rng).xml
                continue
            except (etree.XMLSyntaxError, ValueError, IndexError, UnicodeEncodeError):
                pass
        text = _byte_mutation(text, rng)
    return text


@dataclass
class Failure:
    case: int
    entry: str
    error: str
    xml: str


EntryPoint = Callable[[str, random.Random], object]


class EntryPoints:
    """Every way XML enters pyvirt: the parse functions and the public API on test:///default."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.conn = pyvirt.open("test:///default")
        self.dom = self.conn.lookup_domain_by_name("test")
        self.net = self.conn.lookup_network_by_name("default")
        self.pool = self.conn.lookup_storage_pool_by_name("default-pool")
        self.base_net = parse_network(self.net.xml_desc())
        self.points: list[tuple[str, str, EntryPoint]] = [
            ("parse_domain", "domain", lambda x, r: parse_domain(x)),
            ("parse_domain(live)", "domain", lambda x, r: parse_domain(x, live=True)),
            ("parse_network", "network", lambda x, r: parse_network(x)),
            ("parse_pool", "pool", lambda x, r: parse_pool(x)),
            ("parse_volume", "volume", lambda x, r: parse_volume(x)),
            ("parse_secret", "secret", lambda x, r: parse_secret(x)),
            ("parse_snapshot", "snapshot", lambda x, r: parse_snapshot(x)),
            ("parse_nodedev", "nodedev", lambda x, r: parse_nodedev(x)),
            ("parse_interface", "interface", lambda x, r: parse_interface(x)),
            ("update_network", "netupdate", self._update_network),
            ("define_domain", "domain", self._define_domain),
            ("create_domain", "domain", self._create_domain),
            ("define_network", "network", self._define_network),
            ("define_storage_pool", "pool", self._define_pool),
            ("create_volume", "volume", self._create_volume),
            ("define_secret", "secret", self._define_secret),
            ("snapshot_create", "snapshot", self._snapshot_create),
            ("device XML", "device", lambda x, r: parse_domain(device_wrapper(x))),
            ("network.update", "netupdate", self._network_update),
        ]

    def documents(self, kind: str) -> list[str]:
        return self.corpus.devices if kind == "device" else self.corpus.docs.get(kind, [])

    @staticmethod
    def _as_test(xml: str, rng: random.Random) -> str:
        """Most documents are given the test driver's type so the driver's own checks run too."""
        if rng.random() < 0.8:
            for quote in "'\"":
                for kind in ("qemu", "kvm", "lxc"):
                    xml = xml.replace(f"<domain type={quote}{kind}{quote}", "<domain type='test'", 1)
        return xml

    def _define_domain(self, xml: str, rng: random.Random) -> None:
        dom = self.conn.define_domain(self._as_test(xml, rng))
        if dom.name != "test":
            dom.undefine()

    def _create_domain(self, xml: str, rng: random.Random) -> None:
        dom = self.conn.create_domain(self._as_test(xml, rng))
        if dom.name != "test":
            dom.destroy()

    def _define_network(self, xml: str, rng: random.Random) -> None:
        net = self.conn.define_network(xml)
        if net.name != "default":
            net.undefine()

    def _define_pool(self, xml: str, rng: random.Random) -> None:
        pool = self.conn.define_storage_pool(xml)
        if pool.name != "default-pool":
            pool.undefine()

    def _create_volume(self, xml: str, rng: random.Random) -> None:
        self.pool.create_volume(xml).delete()

    def _define_secret(self, xml: str, rng: random.Random) -> None:
        self.conn.define_secret(xml).undefine()

    def _snapshot_create(self, xml: str, rng: random.Random) -> None:
        self.dom.snapshot_create(xml).delete()

    def _update_section(self, rng: random.Random) -> tuple[int, int]:
        # commands: modify, delete, add-last, add-first; sections: the ones with snippets, and a few others
        return rng.choice((1, 2, 3, 4)), rng.choice((4, 9, 10, 0, 3, 5, 11))

    def _update_network(self, xml: str, rng: random.Random) -> None:
        command, section = self._update_section(rng)
        update_network(self.base_net.model_copy(deep=True), command, section, rng.choice((-1, 0, 1)), xml)

    def _network_update(self, xml: str, rng: random.Random) -> None:
        command, section = self._update_section(rng)
        # config only: the test driver keeps the live definition apart, and leaving it changed is harmless
        self.net.update(command, section, xml, rng.choice((-1, 0)), 2)

    def close(self) -> None:
        self.conn.close()


def fuzz(corpus: Corpus, cases: int, seed: int, deadline: float | None = None) -> Iterator[Failure | int]:
    """Run ``cases`` cases (or until ``deadline``); yield each failure, and the number run at the end."""
    points = EntryPoints(corpus)
    usable = [(name, kind, call) for name, kind, call in points.points if points.documents(kind)]
    done = 0
    try:
        for i in range(cases):
            if deadline is not None and time.monotonic() > deadline:
                break
            rng = random.Random(f"{seed}:{i}")
            name, kind, call = usable[i % len(usable)]
            xml = mutated(rng.choice(points.documents(kind)), rng)
            try:
                call(xml, rng)
            except pyvirt.Error:
                pass
            except Exception:  # anything else is what this fuzzer is looking for
                yield Failure(i, name, traceback.format_exc(limit=-3), xml)
            done += 1
    finally:
        points.close()
    yield done


def main() -> int:
    from libvirt_testdata import libvirt_source

    src = libvirt_source()
    if src is None:
        print("libvirt 9.0.0 source is not available (pyvirt.testing.sources cannot fetch it here)")
        return 1
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    corpus = load_corpus(src)
    t0 = time.monotonic()
    failures: dict[tuple[str, str], Failure] = {}
    run = 0
    for item in fuzz(corpus, cases, seed):
        if isinstance(item, int):
            run = item
        else:
            key = (item.entry, item.error.strip().splitlines()[-1])
            failures.setdefault(key, item)
    print(f"{run} cases in {time.monotonic() - t0:.1f} s, {len(failures)} distinct failures")
    for (entry, last), f in failures.items():
        print(f"--- case {f.case} {entry}: {last}\n{f.error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
