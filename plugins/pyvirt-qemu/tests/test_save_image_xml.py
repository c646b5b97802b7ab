"""The XML inside a real QEMU guest's save image: read, replaced in place, and what the restore then uses.

As libvirt 9.0's qemuDomainSaveImageGetXMLDesc/DefineXML and the managed-save pair: the new XML must keep
the guest's ABI (name, UUID, memory, devices...), fit in the header's room (libvirt's 64 KiB of padding), and
RUNNING/PAUSED rewrite the state the restore resumes into.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import pyvirt
from pyvirt import DomainState, ErrorCode
from pyvirt.flags import DomainSaveRestoreFlags, DomainXMLFlags

GUEST = """<domain type='{t}'><name>sx</name><uuid>0c6f7c0e-58a4-4b8e-9f51-2d0f7e3e9a11</uuid>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os>
<devices><serial type='pty'/></devices></domain>"""


def _described(xml: str, text: str) -> str:
    return xml.replace("</name>", f"</name>\n  <description>{text}</description>", 1)


def test_save_image_define_changes_what_the_restore_brings_back(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path
) -> None:
    dom = conn.define_domain(GUEST.format(t=virt_type))
    dom.create()
    image = tmp_path / "sx.img"
    dom.save(str(image))
    size, stream = image.stat().st_size, image.read_bytes()[-4096:]
    stored = conn.save_image_xml_desc(str(image))
    assert "<name>sx</name>" in stored and "<description>" not in stored
    data_len = struct.unpack_from("=I", image.read_bytes(), 20)[0]

    conn.save_image_define_xml(str(image), _described(stored, "edited"), DomainSaveRestoreFlags.PAUSED)
    raw = image.read_bytes()
    assert raw[16:28] == struct.pack("=3I", 2, data_len, 0)  # same room, was-running now 0
    assert image.stat().st_size == size and raw[-4096:] == stream  # QEMU's stream did not move
    assert "<description>edited</description>" in conn.save_image_xml_desc(str(image))

    refusals = [
        (stored.replace("<name>sx</name>", "<name>other</name>"), "Target domain name 'other' does not match source 'sx'"),
        (stored.replace("0c6f7c0e-58a4-4b8e-9f51-2d0f7e3e9a11", "0c6f7c0e-58a4-4b8e-9f51-2d0f7e3e9a12"),
         "Target domain uuid 0c6f7c0e-58a4-4b8e-9f51-2d0f7e3e9a12 does not match source"),
        (stored.replace("<vcpu placement='static'>1</vcpu>", "<vcpu placement='static'>2</vcpu>"),
         "Target domain vCPU max 2 does not match source 1"),
    ]  # fmt: skip
    for xml, message in refusals:
        with pytest.raises(pyvirt.Error) as info:
            conn.save_image_define_xml(str(image), xml)
        assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and message in info.value.message
    with pytest.raises(pyvirt.Error) as info:  # more than the 64 KiB libvirt leaves: refused, image untouched
        conn.save_image_define_xml(str(image), _described(stored, "x" * (70 * 1024)))
    assert info.value.code == ErrorCode.OPERATION_FAILED and info.value.message.endswith(
        "new xml too large to fit in file"
    )
    assert image.read_bytes() == raw

    restored = conn.restore_domain(str(image))
    assert restored.state()[0] == DomainState.PAUSED  # the state the define recorded
    assert "<description>edited</description>" in restored.xml_desc()
    restored.destroy()
    restored.undefine()


def test_managed_save_xml(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(GUEST.format(t=virt_type))
    with pytest.raises(pyvirt.Error) as info:
        dom.managed_save_xml_desc()
    assert info.value.code == ErrorCode.OPERATION_INVALID
    assert info.value.message.endswith("domain does not have managed save image")
    dom.create()
    dom.managed_save()
    stored = dom.managed_save_xml_desc()
    assert "<name>sx</name>" in stored
    dom.managed_save_define_xml(_described(stored, "managed"), DomainSaveRestoreFlags.PAUSED)
    assert "<description>managed</description>" in dom.managed_save_xml_desc(1)
    dom.create()
    assert dom.state()[0] == DomainState.PAUSED  # the state the define recorded in the managed image
    # the start ran the image's XML (qemuDomainObjRestore's virDomainObjAssignDef); the persistent one is next
    assert "<description>managed</description>" in dom.xml_desc()
    assert "<description>" not in dom.xml_desc(DomainXMLFlags.INACTIVE)
    dom.destroy()
    assert "<description>" not in dom.xml_desc()
    dom.undefine()


def test_start_refuses_a_managed_image_of_another_domain(
    conn: pyvirt.Connection, virt_type: str, qemu_root: Path
) -> None:
    """A managed save file that belongs to another domain (copied in by hand) is refused in libvirt's words,
    and kept, as qemuDomainObjRestore leaves it."""
    dom = conn.define_domain(GUEST.format(t=virt_type))
    other = conn.define_domain(
        GUEST.format(t=virt_type)
        .replace("<name>sx</name>", "<name>other</name>")
        .replace("0c6f7c0e-58a4-4b8e-9f51-2d0f7e3e9a11", "0c6f7c0e-58a4-4b8e-9f51-2d0f7e3e9a12")
    )
    dom.create()
    dom.managed_save()
    save_dir = qemu_root / "lib" / "qemu" / "save"
    (save_dir / "other.save").write_bytes((save_dir / "sx.save").read_bytes())
    with pytest.raises(pyvirt.Error) as info:
        other.create()
    assert info.value.code == ErrorCode.OPERATION_FAILED
    assert info.value.message.endswith(
        "cannot restore domain 'other' uuid 0c6f7c0e-58a4-4b8e-9f51-2d0f7e3e9a12 from a file which belongs to "
        "domain 'sx' uuid 0c6f7c0e-58a4-4b8e-9f51-2d0f7e3e9a11"
    ), info.value.message
    assert other.state()[0] == DomainState.SHUTOFF and other.has_managed_save()
    other.managed_save_remove()
    dom.managed_save_remove()
    other.undefine()
    dom.undefine()


def _virsh_line(virsh: str, uri: str, line: str, cwd: Path) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    done = subprocess.run([virsh, "-c", uri, line], capture_output=True, text=True, env=env, cwd=cwd, timeout=180,
                          check=False)  # fmt: skip
    return done.stdout.replace(str(cwd), "DIR"), done.stderr.replace(str(cwd), "DIR"), done.returncode


def test_virsh_sees_the_same_from_pyvirtd_as_from_libvirtd(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    """One script through Debian's virsh, against libvirtd 9.0 and pyvirtd: the image's XML (the parts both
    daemons write alike), a define with a new description and the paused state, the ABI refusals in libvirt's
    words, the restore into the recorded state; the same for the managed image. pyvirsh on pyvirtd too."""
    from pyvirt.daemon.instance import PrivateDaemon

    line = (
        "define g.xml; start sx; save sx sx.img; save-image-dumpxml sx.img --xpath //name; "
        "save-image-define sx.img desc.xml --paused; save-image-dumpxml sx.img --xpath //description; "
        "save-image-define sx.img other.xml; save-image-define sx.img vcpus.xml; save-image-define sx.img big.xml; "
        "save-image-dumpxml notimage.img; restore sx.img; domstate sx --reason; dumpxml sx --xpath //description; "
        "destroy sx; managedsave-dumpxml sx; start sx; managedsave sx; managedsave-dumpxml sx --xpath //name; "
        "managedsave-define sx desc.xml --paused; managedsave-define sx other.xml; start sx; domstate sx --reason; "
        "destroy sx; undefine sx"
    )
    results = {}
    for side, short in (("libvirtd", "lv"), ("pyvirtd", "pd"), ("pyvirsh on pyvirtd", "ps")):
        work = tmp_path / short
        work.mkdir()
        base = GUEST.format(t=virt_type)
        (work / "g.xml").write_text(base)
        (work / "desc.xml").write_text(_described(base, "edited"))
        (work / "other.xml").write_text(base.replace("<name>sx</name>", "<name>other</name>"))
        (work / "vcpus.xml").write_text(base.replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>"))
        (work / "big.xml").write_text(_described(base, "x" * (70 * 1024)))
        (work / "notimage.img").write_bytes(b"NotAQemuSaveFile" + bytes(200))
        if side == "libvirtd":
            results[side] = _virsh_line("virsh", shared_libvirtd, line, work)
        else:
            virsh = "virsh" if side == "pyvirtd" else str(Path(sys.executable).with_name("pyvirsh"))
            with PrivateDaemon(qemu_root / short) as daemon:
                results[side] = _virsh_line(virsh, daemon.uri("qemu:///system"), line, work)
    assert "<description>edited</description>" in results["libvirtd"][0]
    assert "Target domain name 'other' does not match source 'sx'" in results["libvirtd"][1]
    theirs = results.pop("libvirtd")
    for side, ours in results.items():
        assert ours == theirs, side
