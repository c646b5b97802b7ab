"""``<disk><transient/>``: the guest writes to an overlay QEMU puts over its image, deleted when the guest stops."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import ErrorCode

GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{image}'/>
<target dev='vda' bus='virtio'/><transient{share}/></disk><memballoon model='none'/></devices></domain>"""


def test_a_transient_disk_keeps_its_image_untouched(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path, tmp_path: Path, guest_monitor: Any
) -> None:
    """The guest's writes land in IMAGE.TRANSIENT-NAME (the live XML shows it over the image); the image keeps
    its bytes, and the overlay is gone once the guest stops. A start while its overlay exists is refused before
    anything starts. Guests sharing the image (shareBacking) get it plugged in read-only under their own overlay."""
    image = tmp_path / "base.raw"
    image.write_bytes(b"\0" * 1048576)
    overlay = Path(f"{image}.TRANSIENT-eph")
    dom = conn.define_domain(GUEST.format(virt=virt_type, name="eph", image=image, share=""))
    dom.create()
    try:
        assert overlay.exists()
        live = dom.xml_desc().replace('"', "'")
        assert f"<source file='{overlay}' index='2'/>" in live and "<driver name='qemu' type='qcow2'/>" in live
        assert f"<backingStore type='file' index='1'>\n        <format type='raw'/>\n        <source file='{image}'/>" \
            in live  # fmt: skip
        monitor = guest_monitor(dom)
        info = {b["qdev"]: b["inserted"] for b in monitor.execute("query-block") if b.get("inserted")}
        top = next(iter(info.values()))
        assert top["file"] == str(overlay) and top["backing_file"] == str(image)

        def qemu_io(command: str) -> str:  # through the guest's own block node, as a guest write goes
            return str(monitor.execute("human-monitor-command",
                                       {"command-line": f'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "{command}"'}))  # fmt: skip

        assert "rror" not in qemu_io("write -P 0x5a 0 4096") + qemu_io("flush")
        assert image.read_bytes()[:4096] == b"\0" * 4096  # the image is untouched: the overlay took the write
        out = subprocess.run(["qemu-img", "map", "--output=json", "-U", str(overlay)], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        assert '"depth": 0, "present": true' in out  # the overlay holds data of its own
        again = conn.define_domain(GUEST.format(virt=virt_type, name="eph2", image=image, share=""))
        Path(f"{image}.TRANSIENT-eph2").write_bytes(b"")
        with pytest.raises(pyvirt.Error) as err:
            again.create()
        assert (err.value.code, str(err.value)) == (ErrorCode.OPERATION_UNSUPPORTED, "Operation not supported: "
                f"Overlay file '{image}.TRANSIENT-eph2' for transient disk 'vda' already exists")  # fmt: skip
        again.undefine()
        Path(f"{image}.TRANSIENT-eph2").unlink()  # (not the driver's to delete: it never made it)
    finally:
        dom.destroy()
    assert not overlay.exists() and image.read_bytes() == b"\0" * 1048576
    assert "TRANSIENT" not in dom.xml_desc()
    dom.undefine()
    # two guests sharing one image: each plugs it in read-only under an overlay of its own after QEMU starts
    guests = [conn.define_domain(GUEST.format(virt=virt_type, name=f"shared{i}", image=image,
                                              share=" shareBacking='yes'")) for i in (1, 2)]  # fmt: skip
    for g in guests:
        g.create()
    try:
        for g in guests:
            overlay = Path(f"{image}.TRANSIENT-{g.name}")
            assert overlay.exists()
            blocks = {b["qdev"]: b["inserted"] for b in guest_monitor(g).execute("query-block") if b.get("inserted")}
            top = blocks["/machine/peripheral/virtio-disk0/virtio-backend"]
            assert top["file"] == str(overlay) and top["backing_file"] == str(image)
            assert top["image"]["backing-image"]["filename"] == str(image)
            nodes = {n["node-name"]: n for n in guest_monitor(g).execute("query-named-block-nodes")}
            assert nodes["libvirt-1-format"]["ro"] and not nodes["libvirt-2-format"]["ro"]
    finally:
        for g in guests:
            g.destroy()
            g.undefine()
    assert not list(tmp_path.glob("*.TRANSIENT-*")) and image.read_bytes() == b"\0" * 1048576
