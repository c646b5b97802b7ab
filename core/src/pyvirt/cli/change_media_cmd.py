"""``pyvirsh change-media``: eject, insert or update a CD-ROM or floppy's media through update-device.

virsh finds the removable ``<disk>`` in the domain XML (virshFindDisk),
rewrites its ``<source>`` (virshUpdateDiskXML) and sends the element to
update-device, so pyvirsh does that on the client too. The element is
rewritten node by node as libxml2 does it there (the old source unlinked
with the whitespace around it left in place, the new one put before
``<target>`` with a copy of the indentation), so ``--print-xml`` gives
virsh's bytes.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lxml import etree  # imported by the functions that parse, so parsing a line does not load lxml

__all__: list[str] = []

_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE

_LIVE = 1 << 0  # VIR_DOMAIN_AFFECT_LIVE
_CONFIG = 1 << 1  # VIR_DOMAIN_AFFECT_CONFIG
_FORCE = 1 << 2  # VIR_DOMAIN_DEVICE_MODIFY_FORCE
_ACTIONS = {"eject": "Successfully ejected media.", "insert": "Successfully inserted media.",
            "update": "Successfully updated media."}  # fmt: skip


def _find_changeable(doc: str, path: str) -> etree._Element:
    """virshFindDisk(VIRSH_FIND_DISK_CHANGEABLE): a cdrom or floppy (or device-less) disk by target or source."""
    from lxml import etree

    disks = etree.fromstring(doc.encode()).findall("devices/disk")
    if not disks:
        raise CommandError("Failed to get disk information")
    for disk in disks:
        if disk.get("device") is not None and disk.get("device") not in ("cdrom", "floppy"):
            continue
        source = disk.find("source")
        target = disk.find("target")
        candidates = [target.get("dev") if target is not None else None]
        if source is not None:
            candidates += [source.get(a) for a in ("file", "dev", "dir", "name")]
        if path in candidates:
            for backing in disk.findall("backingStore")[:1]:  # virshDiskDropBackingStore: the first one
                _unlink(disk, backing)
            return disk
    raise CommandError(f"No disk found whose source path or target is {path}")


def _unlink(parent: etree._Element, child: etree._Element) -> None:
    """xmlUnlinkNode: the element goes, the text after it stays (lxml keeps it as the element's tail)."""
    tail = child.tail or ""
    prev = child.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(child)


def _updated(disk: etree._Element, new_source: str | None, block: bool, target: str, action: str) -> str:
    """virshUpdateDiskXML on the found element; the element as virXMLNodeToString writes it."""
    from lxml import etree

    if disk.get("device") not in ("cdrom", "floppy"):
        raise CommandError(f"The disk device '{target}' is not removable")
    # the last text node before <target> (its indentation) in libxml2's child order; lxml keeps text as
    # the parent's text and each child's tail, so "text before <target>" is the tail of the node before it
    text_node: str | None = disk.text if disk.text is not None else None
    source = target_node = None
    for child in disk:
        if target_node is None and isinstance(child.tag, str):
            if source is None and child.tag == "source":
                source = child
            elif child.tag == "target":
                target_node = child
        if source is not None and target_node is not None:
            break
        if target_node is None and child.tail is not None:
            text_node = child.tail
    if action == "eject":
        if source is None:
            raise CommandError(f"The disk device '{target}' doesn't have media")
        block, new_source = False, None
    elif new_source is None:
        raise CommandError("New disk media source was not specified")
    policy = None
    if source is not None:
        path = next((source.get(a) for a in ("file", "dev", "dir", "pool", "name") if source.get(a) is not None), None)
        if path is not None and action == "insert":
            raise CommandError(f"The disk device '{target}' already has media")
        policy = source.get("startupPolicy")
        _unlink(disk, source)
    disk.set("type", "block" if block else "file")
    if new_source is not None and target_node is not None:
        element = etree.Element("source")
        element.set("dev" if block else "file", new_source)
        if policy is not None:
            element.set("startupPolicy", policy)
        # xmlAddPrevSibling(target, source) then a copy of the indentation text between them
        prev = target_node.getprevious()
        before = prev.tail if prev is not None else disk.text
        target_node.addprevious(element)
        if prev is not None:
            prev.tail = before
        else:
            disk.text = before
        element.tail = text_node
    return etree.tostring(disk, with_tail=False).decode()


@command("change-media", "Change media of CD or floppy drive",
         Opt("domain", "domain name, id or uuid", required=True, positional=True),
         Opt("path", "Fully-qualified path or target of disk device", required=True, positional=True),
         Opt("source", "source of the media", positional=True, kind="optstring"),
         Opt("eject", "Eject the media", flag=True), Opt("insert", "Insert the media", flag=True),
         Opt("update", "Update the media", flag=True), Opt("current", "can be either or both of --live and --config, "
             "depends on implementation hypervisor driver", flag=True),
         Opt("live", "alter live configuration of running domain", flag=True),
         Opt("config", "alter persistent configuration, effect observed on next boot", flag=True),
         Opt("force", "force media changing", flag=True),
         Opt("print-xml", "print XML document rather than change media", flag=True),
         Opt("block", "source media is a block device", flag=True),
         description="Change media of CD or floppy drive.")  # fmt: skip
def cmd_change_media(s: Session, o: dict[str, Any]) -> None:
    """cmdChangeMedia: virsh's checks in its order, the disk, its new element, then update-device."""
    for a, b in (("eject", "insert"), ("eject", "update"), ("insert", "update"), ("eject", "block")):
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")
    source = o["source"]
    if source == "":
        raise CommandError("Failed to get option 'source': Option argument is empty")
    eject, insert, update = o["eject"], o["insert"], o["update"]
    if update and source is None:  # the documented meaning: update without a source ejects
        update, eject = False, True
    action = "update" if update or not (eject or insert) else "insert" if insert else "eject"
    for other in ("live", "config"):
        if o["current"] and o[other]:
            raise CommandError(f"Options --current and --{other} are mutually exclusive")
    flags = (_CONFIG if o["config"] else 0) | (_LIVE if o["live"] else 0) | (_FORCE if o["force"] else 0)
    dom = get_domain(s, o["domain"])
    if o["path"] == "":
        raise CommandError("Failed to get option 'path': Option argument is empty")
    disk = _find_changeable(dom.xml_desc(_XML_INACTIVE if flags & _CONFIG else 0), o["path"])
    xml = _updated(disk, source, o["block"], o["path"], action)
    if o["print-xml"]:
        s.out_raw(xml)
        return
    try:
        dom.update_device(xml, flags)
    except Error as exc:
        raise CommandError(f"Failed to complete action {action} on media", exc.message) from None
    s.out_raw(_ACTIONS[action])
