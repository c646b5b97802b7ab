"""The test driver reads and refuses flags by libvirt's names, as libvirt 9.0's test driver does.

The masks were numbers: testDomainCreateXML took 4 (VIR_DOMAIN_START_BYPASS_CACHE)
as VALIDATE and refused the real VALIDATE (16), and pyvirsh's ``create --validate``
sent 4 to match; testDomainReboot's 0x3F let a sixth, undefined reboot method (32)
through. Each expectation here is what libvirt's own test driver answers.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.flags import DomainCreateFlags, DomainRebootFlags

GUEST = "<domain type='test'><name>v</name><memory>65536</memory><os><type>hvm</type></os></domain>"
PYVIRSH = Path(sys.executable).parent / "pyvirsh"


@pytest.fixture
def conn() -> Iterator[pyvirt.Connection]:
    with pyvirt.open("test:///default") as c:
        yield c


def test_create_xml_takes_start_validate(conn: pyvirt.Connection) -> None:
    dom = conn.create_domain(GUEST, DomainCreateFlags.START_VALIDATE)
    assert dom.is_active()


def test_create_xml_refuses_bypass_cache_as_libvirt_does(conn: pyvirt.Connection) -> None:
    with pytest.raises(pyvirt.Error) as err:
        conn.create_domain(GUEST, DomainCreateFlags.START_BYPASS_CACHE)
    assert err.value.code == ErrorCode.INVALID_ARG
    assert err.value.message == "unsupported flags (0x4) in function testDomainCreateXML"


def test_reboot_takes_every_method_libvirt_knows_and_no_other(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    dom.reboot(DomainRebootFlags.PARAVIRT)
    with pytest.raises(pyvirt.Error) as err:
        dom.reboot(DomainRebootFlags.PARAVIRT << 1)
    assert err.value.message == "unsupported flags (0x20) in function testDomainReboot"


def test_pyvirsh_create_validate_sends_libvirts_validate_flag(tmp_path: Path) -> None:
    xml = tmp_path / "v.xml"
    xml.write_text(GUEST)
    out = subprocess.run(
        [str(PYVIRSH), "-c", "test:///default", "create", str(xml), "--validate"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Domain 'v' created from {xml}")


@pytest.mark.parametrize(
    ("flag", "function"),
    [
        (DomainCreateFlags.START_PAUSED, "testDomainCreateXML"),
        (DomainCreateFlags.START_AUTODESTROY, "testDomainCreateXML"),
    ],
)
def test_create_xml_refuses_paused_and_autodestroy_as_libvirt_does(
    conn: pyvirt.Connection, flag: DomainCreateFlags, function: str
) -> None:
    """libvirt 9.0's test driver takes only VALIDATE here (``virsh create --paused`` fails there the same way)."""
    with pytest.raises(pyvirt.Error) as err:
        conn.create_domain(GUEST, flag)
    assert err.value.message == f"unsupported flags ({int(flag):#x}) in function {function}"
    assert "v" not in [d.name for d in conn.list_all_domains()]


def test_start_takes_no_flags_as_libvirt_does(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    dom.destroy()
    with pytest.raises(pyvirt.Error) as err:
        dom.create(DomainCreateFlags.START_PAUSED)
    assert err.value.message == "unsupported flags (0x1) in function testDomainCreateWithFlags"
    assert not dom.is_active()
