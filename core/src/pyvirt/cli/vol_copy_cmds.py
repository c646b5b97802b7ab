"""Copying and wiping volumes: vol-clone, vol-create-from, vol-wipe.

Each calls what virsh's calls, in virsh's order (a lookup that fails is
reported before the file is read), so the same mistake fails with the same
words. vol-wipe without ``--algorithm`` is libvirt's zero fill, which the
API names virStorageVolWipe: drivers without wipe patterns (ESX) serve it.
"""

from __future__ import annotations

from _collections_abc import Callable

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import VOL, VOL_POOL, get_pool, get_volume
from pyvirt.errors import Error
from pyvirt.storage import StoragePool, StorageVolume

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# virsh's virshStorageVolWipeAlgorithm: the index is libvirt's virStorageVolWipeAlgorithm
WIPE_ALGORITHMS = ("zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33", "random", "trim")
_PREALLOC_METADATA = 1 << 0  # VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
_REFLINK = 1 << 1  # VIR_STORAGE_VOL_CREATE_REFLINK
_VALIDATE = 1 << 2  # VIR_STORAGE_VOL_CREATE_VALIDATE


# the options both copying commands take, as virsh lists them
_COPY_OPTS = (
    Opt("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)", flag=True),
    Opt("reflink", "use btrfs COW lightweight copy", flag=True),
)


def _create_from(s: Session, pool: StoragePool, xml: str, source: StorageVolume, o: dict[str, Any],
                 failed: str, done: Callable[[str], str]) -> None:  # fmt: skip
    """Both commands' last step: virStorageVolCreateXMLFrom with the flags their options name, then virsh's line.

    ``done`` makes that line from the new volume's name.
    """
    flags = ((_PREALLOC_METADATA if o["prealloc-metadata"] else 0) | (_REFLINK if o["reflink"] else 0)
             | (_VALIDATE if o.get("validate") else 0))  # fmt: skip
    try:
        new = pool.create_volume_from(xml, source, flags)
    except Error as exc:
        raise CommandError(failed, exc.message) from None
    s.extra(done(new.name))


def clone_xml(xml: str, new_name: str) -> str:
    """virshMakeCloneXML: the source's own document with only ``<name>`` changed (key and path stay: the driver sets them)."""
    from lxml import etree

    # the driver's own document, its indentation kept as libxml keeps it for virsh
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(xml.encode(), parser)
    except etree.XMLSyntaxError as exc:
        raise CommandError(f"(volume_definition): {exc}") from None
    name = root.find("name") if root.tag == "volume" else None
    if name is None:
        raise CommandError("Failed to allocate XML buffer")
    name.text = new_name
    return etree.tostring(root, encoding="unicode")


@command(
    "vol-clone", "clone a volume.",
    VOL,
    Opt("newname", "clone name", required=True, positional=True),
    VOL_POOL,
    *_COPY_OPTS,
    Opt("print-xml", "print XML document rather than clone the volume", flag=True),
    description="Clone an existing volume within the parent pool.",
)  # fmt: skip
def cmd_vol_clone(s: Session, o: dict[str, Any]) -> None:
    source = get_volume(s, o["vol"], o["pool"])
    try:
        pool = s.conn.lookup_storage_pool_by_name(source.pool_name)
    except Error:
        raise CommandError("failed to get parent pool") from None
    try:
        original = source.xml_desc()
    except Error as exc:
        raise CommandError(exc.message) from None
    xml = clone_xml(original, o["newname"])
    if o["print-xml"]:
        s.out_raw(xml)  # no newline of its own (virXMLNodeToString): the command's trailer ends the line
        return
    _create_from(s, pool, xml, source, o, f"Failed to clone vol from {source.name}",
                 lambda new: f"Vol {new} cloned from {source.name}")  # fmt: skip


@command(
    "vol-create-from", "create a vol, using another volume as input",
    Opt("pool", "pool name or uuid", required=True, positional=True),
    Opt("file", "file containing an XML vol description", required=True, positional=True),
    VOL,
    Opt("inputpool", "pool name or uuid of the input volume's pool"),
    *_COPY_OPTS,
    Opt("validate", "validate the XML against the schema", flag=True),
    description="Create a vol from an existing volume.",
)  # fmt: skip
def cmd_vol_create_from(s: Session, o: dict[str, Any]) -> None:
    pool = get_pool(s, o["pool"])
    try:
        source = get_volume(s, o["vol"], o["inputpool"], pool_option=False)
    except CommandError as exc:
        if o["inputpool"] or not exc.lines[0].startswith("failed to get vol "):
            raise
        # virsh's virshCommandOptVol suggests the option that names this volume's pool
        raise CommandError(
            f"failed to get vol '{o['vol']}', specifying --inputpool might help", *exc.lines[1:]
        ) from None
    xml = read_file(o["file"])
    _create_from(s, pool, xml, source, o, f"Failed to create vol from {o['file']}",
                 lambda new: f"Vol {new} created from input vol {source.name}")  # fmt: skip


@command(
    "vol-wipe", "wipe a vol",
    VOL,
    VOL_POOL,
    Opt("algorithm", "perform selected wiping algorithm"),
    description="Ensure data previously on a volume is not accessible to future reads",
)  # fmt: skip
def cmd_vol_wipe(s: Session, o: dict[str, Any]) -> None:
    vol = get_volume(s, o["vol"], o["pool"])
    algorithm = 0
    if o["algorithm"] is not None:
        if o["algorithm"] not in WIPE_ALGORITHMS:
            raise CommandError(f"Unsupported algorithm '{o['algorithm']}'")
        algorithm = WIPE_ALGORITHMS.index(o["algorithm"])
    try:
        vol.wipe_pattern(algorithm)
    except Error as exc:
        raise CommandError(f"Failed to wipe vol {o['vol']}", exc.message) from None
    s.extra(f"Vol {o['vol']} wiped")
