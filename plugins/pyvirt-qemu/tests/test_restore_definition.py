"""Restoring a defined guest keeps its persistent definition, beside libvirt 9.0.

A user defines a guest, starts it, grows it to three vCPUs and saves it. While
it is saved they change its definition (setvcpus --config, desc
--config --title). ``restore`` runs the image's XML, but what ``dumpxml --inactive``
and ``vcpucount``'s "config" rows show stays the changed definition: libvirt's
qemuDomainRestoreInternal adds the image's XML as the live one
(VIR_DOMAIN_OBJ_LIST_ADD_LIVE) and virDomainObjAssignDef keeps the persistent
one as the next. After ``destroy`` the guest is its definition again. The
same holds for a managed save and the start that resumes it, and for ``create``
with other XML for a defined guest. Every line runs through Debian's virsh on a
private libvirtd, pyvirsh, and virsh on pyvirtd.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, run_every_way


def guest(virt_type: str) -> str:
    return f"""<domain type='{virt_type}'><name>rsk</name><uuid>5f1e3a4c-2b7d-4e8a-9c61-0d2f4b6a8e10</uuid><memory unit='MiB'>64</memory>
<vcpu current='1'>4</vcpu><os><type>hvm</type></os><devices><memballoon model='none'/></devices></domain>"""


_SIZES = "dumpxml rsk {inactive} --xpath '/domain/memory|/domain/currentMemory|/domain/vcpu|/domain/vcpus'"
_LINE = "; ".join([
    "define {xml}", "start rsk", "setvcpus rsk 3 --live", "save rsk {image}",
    "setvcpus rsk 2 --config", "desc rsk --config --title kept", "restore {image}",
    "vcpucount rsk", "domstate rsk --reason", _SIZES.format(inactive="--inactive"), _SIZES.format(inactive=""),
    "dumpxml rsk --inactive", "destroy rsk", "vcpucount rsk", _SIZES.format(inactive=""),
    "start rsk", "setvcpus rsk 4 --live", "managedsave rsk", "setvcpus rsk 1 --config",
    "start rsk", "vcpucount rsk", _SIZES.format(inactive="--inactive"), "destroy rsk", "dumpxml rsk",
    "create {created}", "dumpxml rsk --xpath /domain/title", "dumpxml rsk --inactive --xpath /domain/title",
    "destroy rsk", "dumpxml rsk --xpath /domain/title", "undefine rsk",
])  # fmt: skip


def test_restore_and_managed_save_keep_the_definition(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    xml = tmp_path / "rsk.xml"
    xml.write_text(guest(virt_type))
    created = tmp_path / "created.xml"  # (create of a defined domain's XML: the definition stays too)
    created.write_text(guest(virt_type).replace("</uuid>", "</uuid><title>created</title>"))
    line = _LINE.format(xml=xml, image=tmp_path / "rsk.save", created=created)
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd",
                                 "destroy rsk; undefine rsk --managed-save")  # fmt: skip
    assert "Domain restored from" in theirs[0] and "current      config         2" in theirs[0], theirs
    assert_prints_as(theirs, **ours)


_TITLE = "dumpxml rsk {inactive} --xpath '/domain/title|/domain/memory'"
_XML_LINE = "; ".join([
    "define {xml}", "start rsk", "save rsk {image} --xml {titled}", "save-image-dumpxml {image} --xpath /domain/title",
    _TITLE.format(inactive="--inactive"), "restore {image} --xml {retitled}", _TITLE.format(inactive=""),
    _TITLE.format(inactive="--inactive"), "save rsk {image} --xml {bigger}", "domstate rsk --reason",
    "save rsk {image}.d/none", "domstate rsk --reason",
    "save rsk {image}", "restore {image} --xml {bigger}", "domstate rsk --reason", "restore {image}",
    _TITLE.format(inactive=""), "destroy rsk", "undefine rsk",
])  # fmt: skip


def test_save_and_restore_with_another_xml(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    """save --xml records, restore --xml runs, the user's XML if the guest ABI is the same (a different memory
    size is refused: the save then leaves the guest "running (save canceled)", as one into a missing directory
    does); the definition stays."""
    xml = tmp_path / "rsk.xml"
    xml.write_text(guest(virt_type))
    files = {}
    for name, change in (("titled", "<title>saved</title>"), ("retitled", "<title>restored</title>"),
                         ("bigger", "<title>bigger</title>")):  # fmt: skip
        text = guest(virt_type).replace("</uuid>", f"</uuid>{change}")
        files[name] = tmp_path / f"{name}.xml"
        files[name].write_text(text.replace("64</memory>", "128</memory>") if name == "bigger" else text)
    line = _XML_LINE.format(xml=xml, image=tmp_path / "rsk.save", **files)
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd",
                                 "destroy rsk; undefine rsk")  # fmt: skip
    assert "<title>restored</title>" in theirs[0] and "does not match source" in theirs[1], theirs
    assert_prints_as(theirs, **ours)
