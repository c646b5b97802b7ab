"""Save, restore and managed save of a real QEMU guest, in libvirt's save-image format."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

import pyvirt
from pyvirt import DomainEvent, DomainState, ErrorCode
from pyvirt.events import Started, Stopped, Suspended
from pyvirt.flags import DomainCreateFlags

GUEST = """<domain type='{t}'><name>sv</name><uuid>5b2f0e4c-9d11-4c55-8a4b-6f3f0a1d2e77</uuid>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os>
<devices><serial type='pty'/></devices></domain>"""


def qemu_pid(root: Path) -> int:
    return int((root / "run" / "qemu" / "sv.pid").read_text())


def test_save_then_restore_resumes_the_same_guest(
    conn: pyvirt.Connection, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    events: list[tuple[int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.event, ev.detail)))
    dom = conn.define_domain(GUEST.format(t=virt_type))
    dom.create()
    old_pid = qemu_pid(qemu_root)
    image = tmp_path / "sv.img"
    dom.save(str(image))
    assert dom.state() == (DomainState.SHUTOFF, 5)  # shut off (saved)
    assert (
        not os.path.exists(f"/proc/{old_pid}/cmdline") or b"qemu" not in Path(f"/proc/{old_pid}/cmdline").read_bytes()
    )
    raw = image.read_bytes()
    magic, version, data_len, was_running = struct.unpack_from("=16s3I", raw)
    assert (magic, version, was_running) == (b"LibvirtQemudSave", 2, 1)
    assert raw[92:].startswith(b"<domain") and b"<name>sv</name>" in raw[92 : 92 + data_len]  # libvirt's offset
    assert raw[92 + data_len - 64 * 1024 : 92 + data_len].strip(b"\0") == b""  # libvirt's 64 KiB of zero padding
    assert raw[92 + data_len : 92 + data_len + 4] == b"QEVM"  # QEMU's migration stream follows the XML
    assert (image.stat().st_mode & 0o777) == 0o600
    restored = conn.restore_domain(str(image))
    assert restored.name == "sv" and restored.state() == (DomainState.RUNNING, 3)  # running (restored)
    assert qemu_pid(qemu_root) != old_pid
    assert (DomainEvent.STOPPED, Stopped.SAVED) in events and (DomainEvent.STARTED, Started.RESTORED) in events
    restored.suspend()
    restored.save(str(image))
    paused_image = conn.restore_domain(str(image), flags=4)  # --paused
    assert paused_image.state()[0] == DomainState.PAUSED
    assert (DomainEvent.SUSPENDED, Suspended.RESTORED) in events
    paused_image.destroy()


def test_managed_save_is_used_by_the_next_start(conn: pyvirt.Connection, qemu_root: Path, virt_type: str) -> None:
    dom = conn.define_domain(GUEST.format(t=virt_type))
    dom.create()
    dom.managed_save()
    assert dom.state() == (DomainState.SHUTOFF, 5) and dom.has_managed_save()
    with pytest.raises(pyvirt.Error) as err:
        dom.undefine()
    assert err.value.code == ErrorCode.OPERATION_INVALID and "managed save image exists" in err.value.message
    dom.create()
    assert dom.state() == (DomainState.RUNNING, 3) and not dom.has_managed_save()
    dom.managed_save()
    dom.managed_save_remove()
    assert not dom.has_managed_save()
    dom.create()
    assert dom.state() == (DomainState.RUNNING, 1)  # booted afresh
    # BYPASS_CACHE (4) still starts from the image; FORCE_BOOT (8) boots afresh and drops it, as libvirt's
    dom.managed_save()
    dom.create(int(DomainCreateFlags.START_BYPASS_CACHE))
    assert dom.state() == (DomainState.RUNNING, 3) and not dom.has_managed_save()
    dom.managed_save()
    dom.create(int(DomainCreateFlags.START_FORCE_BOOT))
    assert dom.state() == (DomainState.RUNNING, 1)
    dom.destroy()
    dom.undefine()


def test_bad_images_are_refused_and_leave_nothing(conn: pyvirt.Connection, qemu_root: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial.img"
    partial.write_bytes(struct.pack("=16s20I", b"LibvirtQemudPart", 2, 10, 1, 0, 0, *([0] * 15)) + b"<domain/>\0")
    with pytest.raises(pyvirt.Error) as err:
        conn.restore_domain(str(partial))
    assert "save image is incomplete" in err.value.message
    junk = tmp_path / "junk.img"
    junk.write_bytes(b"\0" * 200)
    with pytest.raises(pyvirt.Error) as err:
        conn.restore_domain(str(junk))
    assert err.value.code == ErrorCode.OPERATION_FAILED and err.value.message.endswith("image magic is incorrect")
    assert conn.list_all_domains() == []
    assert os.listdir(qemu_root / "run" / "qemu") == ["driver.pid"]  # (the open driver's own file)
