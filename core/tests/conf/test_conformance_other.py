"""libvirt 9.0.0's non-QEMU XML corpora as reports with floors: a pass count may rise, never fall.

Each corpus runs as libvirt's own test program runs it, compared byte for byte
(see ``conformance_other.py``, which ``nox -s conformance`` prints).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance_other import CORPORA  # type: ignore[import-not-found]
from libvirt_testdata import libvirt_source  # type: ignore[import-not-found]

from pyvirt.conf import storage
from pyvirt.conf.capabilities import Capabilities, format_capabilities
from pyvirt.util.sysfs_capabilities import host_from_sysfs

SRC = libvirt_source()

# (cases libvirt's program lists, the pass count this tree holds)
FLOORS = {
    "genericxml2xml": (58, 58),
    "storagepoolxml2xml": (38, 38),
    "storagevolxml2xml": (20, 20),
    "vircaps2xml": (11, 11),
    "interfacexml2xml": (20, 20),
}


@pytest.mark.skipif(SRC is None, reason="libvirt 9.0.0 source package could not be fetched (apt-get source)")
@pytest.mark.parametrize("corpus", sorted(FLOORS))
def test_corpus_pass_count_holds_its_floor(corpus: str) -> None:
    outcomes = CORPORA[corpus](SRC)
    total, floor = FLOORS[corpus]
    failed = [f"{o.name}: {o.why}" for o in outcomes if not o.passed]
    print(f"{corpus}: {len(outcomes) - len(failed)}/{len(outcomes)}")
    assert len(outcomes) == total
    assert len(outcomes) - len(failed) >= floor, failed


def test_a_pool_writes_only_what_its_type_has_and_its_sizes_always() -> None:
    xml = """<pool type='netfs'><name>n</name><uuid>7641d5a8-af11-f730-a34e-0a7dfcede71f</uuid>
    <capacity>99</capacity><source><host name='h'/><dir path='/x//y/'/><device path='/dev/sda'/>
    <name>ignored</name></source><target><path>/mnt/</path></target></pool>"""
    out = storage.format_pool(storage.parse_pool(xml))
    assert "<capacity unit='bytes'>0</capacity>" in out  # a definition's sizes are never read
    assert "<device" not in out and "ignored" not in out  # netfs has hosts and a directory only
    assert "<dir path='/x/y'/>" in out and "<format type='auto'/>" in out and "<path>/mnt</path>" in out


def test_a_logical_pool_target_is_its_volume_group_and_a_volume_there_has_no_format() -> None:
    pool = storage.parse_pool("<pool type='logical'><name>vg</name><target><path>/x</path></target></pool>")
    assert pool.target is not None and pool.target.path == "/dev/vg"
    vol = storage.parse_volume("<volume><name>v</name><capacity>1</capacity></volume>", "logical")
    assert "<format" not in storage.format_volume(vol, "logical")
    assert "<format type='raw'/>" in storage.format_volume(storage.parse_volume(
        "<volume><name>v</name><capacity>1</capacity></volume>", "dir"), "dir")  # fmt: skip


def test_volume_encryption_is_kept_not_refused() -> None:
    xml = """<volume><name>l</name><capacity>1</capacity><target><encryption format='luks'>
    <secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>
    <cipher name='serpent' size='256' mode='cbc' hash='sha256'/><ivgen name='plain64' hash='sha256'/>
    </encryption></target></volume>"""
    out = storage.format_volume(storage.parse_volume(xml, "dir"), "dir")
    assert "<cipher name='serpent' size='256' mode='cbc' hash='sha256'/>" in out
    assert "<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>" in out


class _OneGiB:
    def memory_kib(self, node: int) -> int:
        return 1 << 20

    def pages(self, node: int) -> list[tuple[int, int]]:
        return [(4, 262144)]

    def distances(self, node: int) -> list[tuple[int, int]]:
        return [(0, 10), (1, 0)]  # a zero distance is unknown: not written


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")


def test_a_shared_cache_bank_is_listed_once_and_an_incomplete_one_not_at_all(tmp_path: Path) -> None:
    l3 = {"level": "3", "id": "0", "type": "Unified", "size": "8192K", "shared_cpu_list": "0-1"}
    files = {"node/online": "0", "node/node0/cpulist": "0-1", "cpu/online": "0-2"}
    for cpu in (0, 1):
        files.update({f"cpu/cpu{cpu}/cache/index3/{k}": v for k, v in l3.items()})
        files[f"cpu/cpu{cpu}/topology/core_id"] = str(cpu)
    files.update({"cpu/cpu2/cache/index3/level": "3", "cpu/cpu2/cache/index3/id": "1"})  # no size: skipped
    _write(tmp_path, files)
    out = format_capabilities(Capabilities(host=host_from_sysfs("x86_64", str(tmp_path), str(tmp_path / "none"),
                                                                _OneGiB())))  # fmt: skip
    assert out.count("<bank ") == 1 and "<bank id='0' level='3' type='both' size='8' unit='MiB' cpus='0-1'/>" in out
    assert "<sibling id='0' value='10'/>" in out and "id='1'" not in out.split("<cpus")[0]
    assert "<cpu id='1' socket_id='0' die_id='0' core_id='1' siblings='1'/>" in out  # no sibling list: itself
    assert "<migration_features" not in out and "<memory_bandwidth" not in out
