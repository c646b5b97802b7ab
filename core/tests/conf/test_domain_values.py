"""Values libvirt refuses are refused by pyvirt with libvirt's code and words (issue 20, items 15 and 16).

Each case is one small change to a guest that both accept; the expected
message is what Debian's libvirt 9.0 says for it on test:///default, and
when libvirt-python is installed the test asks libvirt too, so the table
cannot drift from the reference.
"""

from __future__ import annotations

import pytest
from libvirt_oracle import libvirt_available, libvirt_verdicts

import pyvirt
from pyvirt import ErrorCode
from pyvirt.conf.domain import format_domain, parse_domain

GUEST = """<domain type='test'>
  <name>values</name>
  <memory unit='KiB'>{memory}</memory>
  <vcpu>{vcpu}</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <clock offset='{offset}'/>
  <devices>
    <controller type='pci' index='0' model='{pci_model}'/>
    <interface type='{iface}'><source network='default'/></interface>
    <memballoon model='{balloon}'><address type='pci' domain='0x0000' bus='{bus}' slot='0x05' function='0x0'/>
    </memballoon>
  </devices>
</domain>"""
GOOD = {"memory": "1024", "vcpu": "1", "offset": "utc", "pci_model": "pci-root", "iface": "network",
        "balloon": "virtio", "bus": "0x00"}  # fmt: skip

# change -> (libvirt's error code, libvirt's message)
REFUSED: dict[tuple[str, str], tuple[ErrorCode, str]] = {
    ("memory", str(2**70)): (ErrorCode.XML_ERROR, f"XML error: Invalid value '{2**70}' for element or attribute "
                                                  "'./memory[1]'"),
    ("memory", str(2**63)): (ErrorCode.OVERFLOW, f"numerical overflow: value too large: {2**63}KiB"),
    ("memory", "0"): (ErrorCode.XML_ERROR, "XML error: Memory size must be specified via <memory> or in the <numa> "
                                           "configuration"),
    ("vcpu", str(2**70)): (ErrorCode.XML_ERROR, "XML error: maximum vcpus count must be an integer"),
    ("vcpu", "4294967296"): (ErrorCode.XML_ERROR, "XML error: maximum vcpus count must be an integer"),
    ("offset", "bogus"): (ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: unknown clock offset 'bogus'"),
    ("pci_model", "bogus"): (ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: Unknown model type 'bogus'"),
    ("iface", "bogus"): (ErrorCode.XML_ERROR, "XML error: Invalid value for attribute 'type' in element "
                                              "'interface': 'bogus'."),
    ("balloon", "bogus"): (ErrorCode.XML_ERROR, "XML error: Invalid value for attribute 'model' in element "
                                                "'memballoon': 'bogus'."),
    ("bus", "-0x1"): (ErrorCode.XML_ERROR, "XML error: Invalid value for attribute 'bus' in element 'address': "
                                           "'-0x1'. Expected non-negative integer value"),
    ("bus", "0x100"): (ErrorCode.XML_ERROR, "XML error: Invalid PCI address bus='0x100', must be <= 0xFF"),
}  # fmt: skip


def guest(**change: str) -> str:
    return GUEST.format(**{**GOOD, **change})


def define(xml: str) -> None:
    with pyvirt.open("test:///default") as conn:
        conn.define_domain(xml).undefine()


def test_the_unchanged_guest_is_accepted() -> None:
    define(guest())


@pytest.mark.parametrize("change", list(REFUSED), ids=[f"{k}={v[:12]}" for k, v in REFUSED])
def test_refused_as_libvirt_refuses(change: tuple[str, str]) -> None:
    code, message = REFUSED[change]
    with pytest.raises(pyvirt.Error) as err:
        define(guest(**{change[0]: change[1]}))
    assert (err.value.code, err.value.message) == (code, message)


@pytest.mark.skipif(not libvirt_available(), reason="Debian's python3-libvirt is needed as the reference")
def test_the_table_is_libvirts() -> None:
    docs = [guest()] + [guest(**{k: v}) for k, v in REFUSED]
    answers = libvirt_verdicts([("domain", x) for x in docs])
    assert answers[0] == (True, "")
    got = [msg for _ok, msg in answers[1:]]
    assert got == [message for _code, message in REFUSED.values()]


def test_a_pci_address_is_formatted_back_as_libvirt_reads_it() -> None:
    """``bus='+1'`` or ``' 1'`` is bus 1 to libvirt's strtoul; it comes back as 0x01, never '0x-1'."""
    for spelled in ("1", "+1", " 1", "0x1", "01"):
        out = format_domain(parse_domain(guest(bus=spelled)))
        assert "bus='0x01'" in out, spelled
        parse_domain(out)


def test_memory_slots_are_read_where_libvirt_reads_them() -> None:
    """``<memory slots='q'>`` once raised ValueError; libvirt ignores slots there and parses them on maxMemory."""
    dom = parse_domain(guest().replace("<memory unit='KiB'>", "<memory unit='KiB' slots='q'>"))
    assert dom.memory is not None and dom.memory.slots is None
    with pytest.raises(pyvirt.Error) as err:
        parse_domain(guest().replace("<vcpu>", "<maxMemory slots='q' unit='KiB'>4096</maxMemory><vcpu>"))
    assert err.value.message == "XML error: Failed to parse memory slot count"
    dom = parse_domain(guest().replace("<vcpu>", "<maxMemory slots='16' unit='KiB'>4096</maxMemory><vcpu>"))
    assert dom.max_memory is not None and dom.max_memory.slots == 16


def test_numbers_no_c_integer_holds_are_errors_not_tracebacks() -> None:
    """Ids and sizes of 2**63 and more, and Python-only spellings ("1_000", non-ASCII digits), are refused."""
    for bad in (str(2**64), str(2**70), "1_000", "\u0661\u0662"):
        xml = guest().replace("<vcpu>", f"<iothreads>{bad}</iothreads><vcpu>")
        with pytest.raises(pyvirt.Error):
            parse_domain(xml)
    live = guest().replace("<domain type='test'>", f"<domain type='test' id='{2**63}'>")
    with pytest.raises(pyvirt.Error) as err:
        parse_domain(live, live=True)
    assert err.value.code == ErrorCode.XML_ERROR
    assert parse_domain(live).id is None  # a definition's id is ignored, as libvirt ignores it


def test_words_libvirt_ignores_are_ignored() -> None:
    """``<model primary='bogus'>`` is no primary flag to libvirt, which compares the word with "yes" only."""
    videos = "<video><model type='vga'/></video><video><model type='qxl' primary='{}'/></video><memballoon"
    for word in ("bogus", "YES", "no"):
        dom = parse_domain(guest().replace("<memballoon", videos.format(word), 1))
        assert dom.devices is not None
        assert [v.model_primary for v in dom.devices.videos] == [True, None], word
