"""reset, inject-nmi, desc and metadata on a real QEMU guest (firmware only): QEMU gets the calls, files the text."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import pyvirt
from pyvirt import DomainState, ErrorCode


def guest(virt_type: str) -> str:
    return f"""<domain type='{virt_type}'><name>ctl</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><serial type='pty'/></devices></domain>"""


def test_reset_is_a_reboot_event_and_nmi_is_accepted(conn: pyvirt.Connection, qemu_root: Path, virt_type: str) -> None:
    dom = conn.define_domain(guest(virt_type))
    dom.create()
    reboots: list[str] = []
    seen = threading.Event()

    def on_reboot(ev: object) -> None:
        reboots.append(dom.name)
        seen.set()

    conn.register_event("reboot", on_reboot, dom.uuid)
    dom.reset()  # QMP system_reset: QEMU answers with its RESET event, which libvirt reports as a reboot
    assert seen.wait(10), "QEMU's RESET after system_reset was not reported"
    assert reboots == ["ctl"] and dom.state() == (DomainState.RUNNING, 1)
    dom.inject_nmi()  # QMP inject-nmi: QEMU refuses it for targets without NMIs, x86 takes it
    assert dom.state()[0] == DomainState.RUNNING
    with pytest.raises(pyvirt.Error) as info:
        dom.reset(1)
    assert info.value.code == ErrorCode.INVALID_ARG and "qemuDomainReset" in info.value.message
    dom.destroy()
    for call in (dom.reset, dom.inject_nmi):
        with pytest.raises(pyvirt.Error) as info:
            call()
        assert info.value.code == ErrorCode.OPERATION_INVALID and info.value.message.endswith("domain is not running")
    dom.undefine()


def test_title_description_and_metadata_live_and_persistent(
    conn: pyvirt.Connection, qemu_root: Path, virt_type: str
) -> None:
    dom = conn.define_domain(guest(virt_type))
    with pytest.raises(pyvirt.Error) as info:
        dom.metadata(0)
    assert info.value.code == ErrorCode.NO_DOMAIN_METADATA
    dom.set_metadata(0, "kept across starts")  # inactive: the persistent definition, written to its file
    assert "<description>kept across starts</description>" in (qemu_root / "etc" / "qemu" / "ctl.xml").read_text()
    dom.create()
    dom.set_metadata(1, "only while running")  # running, no flags: the live definition alone
    dom.set_metadata(2, "<app><v>1</v></app>", "app", "http://example.org/app", 2)  # --config
    assert dom.metadata(1) == "only while running" and dom.metadata(0) == "kept across starts"
    with pytest.raises(pyvirt.Error) as info:
        dom.metadata(1, None, 2)
    assert info.value.code == ErrorCode.NO_DOMAIN_METADATA  # the persistent definition has no title
    assert dom.metadata(2, "http://example.org/app", 2) == "<app>\n  <v>1</v>\n</app>"
    assert "only while running" in (qemu_root / "run" / "qemu" / "ctl.xml").read_text()  # the status file
    dom.destroy()
    with pytest.raises(pyvirt.Error):
        dom.metadata(1)  # the live title went with the run
    assert dom.metadata(2, "http://example.org/app") == "<app>\n  <v>1</v>\n</app>"
    with pytest.raises(pyvirt.Error) as info:
        dom.set_metadata(1, "x", flags=1)
    assert info.value.code == ErrorCode.OPERATION_INVALID
    dom.undefine()
