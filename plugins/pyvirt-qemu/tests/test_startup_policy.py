"""A disk's startupPolicy on a real start: a missing optional image is let go, a mandatory one fails the start."""

from __future__ import annotations

from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode

GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><source file='{tmp}/missing.img' startupPolicy='{policy}'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='{tmp}/missing.iso' startupPolicy='optional'/><target dev='hdc' bus='ide'/>
<readonly/></disk><memballoon model='none'/></devices></domain>"""


def test_missing_images_and_their_startup_policy(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path, tmp_path: Path, guest_monitor: object
) -> None:
    """The guest starts without the optional disk and with an empty CD-ROM drive; its definition keeps both. A
    mandatory image that is missing fails the start with libvirt's words and leaves nothing behind."""
    dom = conn.define_domain(GUEST.format(virt=virt_type, name="optional", tmp=tmp_path, policy="optional"))
    changes: list[tuple[str | None, str | None, str, int]] = []
    conn.register_event("disk-change", lambda ev: changes.append(ev[1:]), dom.uuid)
    dom.create()
    try:
        # libvirt's disk-change events, last disk first: the CD-ROM emptied (changed), the disk dropped
        assert changes == [(f"{tmp_path}/missing.iso", None, "ide0-1-0", 0), (f"{tmp_path}/missing.img", None,
                                                                             "virtio-disk0", 1)]  # fmt: skip
        live = dom.xml_desc().replace('"', "'")
        assert "<target dev='vda'" not in live and "missing.iso" not in live and "<target dev='hdc'" in live
        monitor = guest_monitor(dom)  # type: ignore[operator]
        drives = {b["qdev"]: b.get("inserted") for b in monitor.execute("query-block")}
        assert list(drives.values()) == [None]  # QEMU has the empty CD-ROM drive only
        assert "missing.img" in dom.xml_desc(2)  # (the persistent definition: VIR_DOMAIN_XML_INACTIVE)
    finally:
        dom.destroy()
    dom.undefine()
    strict = conn.define_domain(GUEST.format(virt=virt_type, name="strict", tmp=tmp_path, policy="mandatory"))
    with pytest.raises(pyvirt.Error) as err:
        strict.create()
    assert err.value.code == ErrorCode.SYSTEM_ERROR
    assert f"Cannot access storage file '{tmp_path}/missing.img': No such file or directory" in str(err.value)
    assert not strict.is_active() and not list((qemu_root / "run" / "qemu").glob("strict.*"))
    strict.undefine()
