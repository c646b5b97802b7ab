"""setmem, setmaxmem and setvcpus on a definition, and the managed save image's place in a definition's life.

What needs no hypervisor is checked here (the persistent definition, the
refusals libvirt's libxl driver makes before it talks to libxl); the live
changes through ``xl`` run on the nested Xen (``in_dom0/``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

PV = """<domain type='xen'>
  <name>pv1</name>
  <memory unit='MiB'>512</memory>
  <currentMemory unit='MiB'>256</currentMemory>
  <vcpu current='2'>4</vcpu>
  <os><type>linux</type><kernel>/boot/vmlinuz</kernel></os>
</domain>"""

LIVE, CONFIG, MAXIMUM = 1, 2, 4


@pytest.fixture
def dom(tmp_path: Path) -> pyvirt.Domain:
    conn = pyvirt.open(f"xen:///embed?root={tmp_path}")
    yield conn.define_domain(PV)
    conn.close()


def _reread(tmp_path: Path) -> str:
    """The definition as a later process reads it from disk."""
    with pyvirt.open(f"xen:///embed?root={tmp_path}") as conn:
        return conn.lookup_domain_by_name("pv1").xml_desc(2)


def test_setmem_of_a_shut_off_guest_changes_its_definition(dom: pyvirt.Domain, tmp_path: Path) -> None:
    dom.set_memory(200 * 1024)
    assert "<currentMemory unit='KiB'>204800</currentMemory>" in _reread(tmp_path)
    dom.set_memory(300 * 1024, CONFIG)
    assert "<currentMemory unit='KiB'>307200</currentMemory>" in _reread(tmp_path)


def test_setmaxmem_below_the_balloon_lowers_both(dom: pyvirt.Domain, tmp_path: Path) -> None:
    dom.set_max_memory(128 * 1024)
    xml = _reread(tmp_path)
    assert "<memory unit='KiB'>131072</memory>" in xml
    assert "<currentMemory unit='KiB'>131072</currentMemory>" in xml
    dom.set_max_memory(1024 * 1024, CONFIG)
    xml = _reread(tmp_path)
    assert "<memory unit='KiB'>1048576</memory>" in xml and "<currentMemory unit='KiB'>131072</currentMemory>" in xml


def test_setmem_refusals_use_libvirts_words(dom: pyvirt.Domain) -> None:
    with pytest.raises(Error) as err:
        dom.set_memory(1024 * 1024)
    assert (err.value.code, err.value.message) == (
        ErrorCode.INVALID_ARG, "invalid argument: cannot set memory higher than max memory")  # fmt: skip
    with pytest.raises(Error) as err:
        dom.set_memory(100 * 1024, LIVE)
    assert (err.value.code, err.value.message) == (
        ErrorCode.OPERATION_INVALID, "Requested operation is not valid: domain is not running")  # fmt: skip
    with pytest.raises(Error) as err:
        dom.set_memory(100 * 1024, 8)
    assert err.value.message == "unsupported flags (0x8) in function libxlDomainSetMemoryFlags"


def test_setvcpus_of_a_definition_current_and_maximum(dom: pyvirt.Domain, tmp_path: Path) -> None:
    dom.set_vcpus(3)
    assert "<vcpu placement='static' current='3'>4</vcpu>" in _reread(tmp_path)
    dom.set_vcpus(4, CONFIG)
    assert "<vcpu placement='static'>4</vcpu>" in _reread(tmp_path)
    dom.set_vcpus(1, CONFIG)
    with pytest.raises(Error) as err:
        dom.set_vcpus(5, CONFIG)
    assert (err.value.code, err.value.message) == (ErrorCode.INVALID_ARG,
        "invalid argument: requested vcpus is greater than max allowable vcpus for the domain: 5 > 4")  # fmt: skip


def test_setvcpus_refusals_use_libvirts_words(dom: pyvirt.Domain) -> None:
    cases = [
        (0, CONFIG, ErrorCode.INVALID_ARG, "invalid argument: nvcpus is zero"),
        (2, LIVE, ErrorCode.OPERATION_INVALID, "Requested operation is not valid: cannot set vcpus on an inactive domain"),
        (2, LIVE | MAXIMUM, ErrorCode.INVALID_ARG, "invalid argument: invalid flag combination: (0x5)"),
    ]  # fmt: skip
    for count, flags, code, message in cases:
        with pytest.raises(Error) as err:
            dom.set_vcpus(count, flags)
        assert (err.value.code, err.value.message) == (code, message), (count, flags)


def test_a_managed_save_image_holds_the_definition_back(dom: pyvirt.Domain, tmp_path: Path) -> None:
    """libxlDomainUndefineFlags: the image is never left behind by an undefine, nor silently dropped."""
    image = tmp_path / "lib" / "libxl" / "save" / "pv1.save"
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(b"libvirt-xml\n \0 \r")
    assert dom.has_managed_save()
    with pytest.raises(Error) as err:
        dom.undefine()
    assert err.value.message == (
        "Requested operation is not valid: Refusing to undefine while domain managed save image exists")  # fmt: skip
    dom.undefine(1)  # VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    assert not image.exists()


def test_managed_save_of_a_shut_off_guest_is_refused(dom: pyvirt.Domain) -> None:
    with pytest.raises(Error) as err:
        dom.managed_save()
    assert err.value.code == ErrorCode.OPERATION_INVALID
    assert not dom.has_managed_save()
    dom.managed_save_remove()  # nothing to remove is no failure
