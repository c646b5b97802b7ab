"""libvirt's storagevolxml2argvtest as a report with a floor: the pass count may rise, never fall.

Each case runs as libvirt's test program runs it (see ``conformance_storagevolxml2argv.py``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pyvirt_storage.qemu_img import ConvertStep, create_command

from pyvirt.conf.storage import parse_volume
from pyvirt.errors import Error
from pyvirt.testing.sources import libvirt_source

# libvirt 9.0.0 has 27 cases (2 of them must fail); every one matches byte for byte
FLOOR = 27


def _harness() -> ModuleType:
    path = Path(__file__).parent / "conformance_storagevolxml2argv.py"
    spec = importlib.util.spec_from_file_location("conformance_storagevolxml2argv", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


HARNESS = _harness()
SRC = libvirt_source()
needs_source = pytest.mark.skipif(SRC is None, reason="libvirt 9.0.0 source could not be fetched")


@needs_source
def test_storagevolxml2argv_pass_count_holds_its_floor() -> None:
    outcomes = HARNESS.run_all(SRC)
    failed = [f"{o.name}: {o.why}" for o in outcomes if not o.passed]
    passed = len(outcomes) - len(failed)
    print(f"storagevolxml2argv: {passed}/{len(outcomes)}")
    assert len(outcomes) == 27, "libvirt's test program lists 27 cases"
    assert passed >= FLOOR, f"{passed} < {FLOOR}; failing: {failed}"


QCOW2 = """<volume><name>d.qcow2</name><capacity unit='bytes'>1025</capacity>
<target><path>/p/d.qcow2</path><format type='qcow2'/></target>{extra}</volume>"""


def test_sizes_are_in_kib_rounded_up_and_qcow2_defaults_to_compat_0_10() -> None:
    vol = parse_volume(QCOW2.format(extra=""), "dir")
    assert create_command("/p", vol, None, 0) == ["qemu-img", "create", "-f", "qcow2", "-o", "compat=0.10",
                                                  "/p/d.qcow2", "2K"]  # fmt: skip


def test_a_backing_store_is_named_with_its_format_and_must_be_readable(tmp_path: Path) -> None:
    base = tmp_path / "base.img"
    base.write_bytes(b"")
    vol = parse_volume(QCOW2.format(extra=f"<backingStore><path>{base}</path></backingStore>"), "dir")
    argv = create_command(str(tmp_path), vol, None, 0)
    assert argv[4:8] == ["-b", str(base), "-o", "backing_fmt=raw,compat=0.10"]
    base.unlink()
    with pytest.raises(Error, match=r"inaccessible backing store volume .*No such file or directory"):
        create_command(str(tmp_path), vol, None, 0)


def test_lazy_refcounts_with_compat_0_10_is_refused_with_libvirts_words() -> None:
    vol = parse_volume(QCOW2.replace("</target>", "<compat>0.10</compat><features><lazy_refcounts/></features>"
                                     "</target>").format(extra=""), "dir")  # fmt: skip
    with pytest.raises(Error, match=r"lazy_refcounts not supported with compat level 0\.10"):
        create_command("/p", vol, None, 0)


def test_an_encrypted_conversion_is_two_commands() -> None:
    luks = """<volume><name>l.img</name><capacity>1024</capacity><target><path>/p/l.img</path>
    <format type='raw'/><encryption format='luks'><secret type='passphrase'
    uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption></target></volume>"""
    vol, source = parse_volume(luks, "dir"), parse_volume(QCOW2.format(extra=""), "dir", 1)
    first = create_command("/p", vol, source, 0, secret_path="/s", step=ConvertStep.CREATE)
    second = create_command("/p", vol, source, 0, secret_path="/s", step=ConvertStep.CONVERT)
    assert first[:4] == ["qemu-img", "create", "-f", "luks"] and first[-1] == "1K"
    assert second[-2:] == [
        "driver=qcow2,file.filename=/p/d.qcow2",
        "driver=luks,file.filename=/p/l.img,key-secret=l.img_encrypt0",
    ]
