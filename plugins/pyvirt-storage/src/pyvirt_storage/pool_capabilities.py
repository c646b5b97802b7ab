"""The ``<storagepoolCapabilities>`` document, as libvirt 9.0's virStoragePoolCapsFormat writes it.

libvirt lists every pool type it knows (virStoragePoolType's order), ``supported='yes'``
for those whose backend its storage driver registered, and for each type the
``<poolOptions>`` and ``<volOptions>`` of its entry in storage_conf.c's
``poolTypeInfo``: the default format and every format the type's enum knows,
whether the type is supported or not. The option tables are libvirt's, not the
parser's (:mod:`pyvirt.conf.storage` keeps the formats a definition may name,
which differ: ``none`` is no volume format there, and libvirt's rbd entry has a
format writer but no formats).
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["POOL_TYPES", "pool_capabilities_xml"]

# virStoragePoolType, in its order (VIR_STORAGE_POOL_DIR .. VIR_STORAGE_POOL_VSTORAGE)
POOL_TYPES = ("dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd",
              "sheepdog", "gluster", "zfs", "vstorage")  # fmt: skip

# virStorageFileFormat's names from VIR_STORAGE_FILE_NONE up to VIR_STORAGE_FILE_LAST
_FILE_FORMATS = ("none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow",
                 "qcow", "qcow2", "qed", "vmdk")  # fmt: skip

# poolTypeInfo's poolOptions with a format writer: (default format, every format of its enum)
_POOL_OPTIONS = {
    "fs": ("auto", ("auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs",
                    "ocfs2", "vmfs")),
    "netfs": ("auto", ("auto", "nfs", "glusterfs", "cifs")),
    "logical": ("lvm2", ("unknown", "lvm2")),
    "disk": ("unknown", ("unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2")),
}  # fmt: skip

# poolTypeInfo's volOptions with a format writer. rbd names virStorageFileFormat's writer with no
# lastFormat, so libvirt writes its default and an empty enum.
_VOL_OPTIONS = {
    "dir": ("raw", _FILE_FORMATS),
    "fs": ("raw", _FILE_FORMATS),
    "netfs": ("raw", _FILE_FORMATS),
    "disk": ("none", ("none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm", "linux-raid", "extended")),
    "rbd": ("raw", ()),
    "gluster": ("raw", _FILE_FORMATS),
    "vstorage": ("raw", _FILE_FORMATS),
}


def _options(lines: list[str], element: str, enum: str, default: str, values: tuple[str, ...]) -> None:
    lines.append(f"    <{element}>")
    lines.append(f"      <defaultFormat type='{default}'/>")
    lines.append(f"      <enum name='{enum}'>")
    lines.extend(f"        <value>{v}</value>" for v in values)
    lines.append("      </enum>")
    lines.append(f"    </{element}>")


def pool_capabilities_xml(supported: Collection[str]) -> str:
    """The document with ``supported`` (pool type names) marked ``yes`` and every other type ``no``."""
    lines = ["<storagepoolCapabilities>"]
    for kind in POOL_TYPES:
        lines.append(f"  <pool type='{kind}' supported='{'yes' if kind in supported else 'no'}'>")
        if kind in _POOL_OPTIONS:
            _options(lines, "poolOptions", "sourceFormatType", *_POOL_OPTIONS[kind])
        if kind in _VOL_OPTIONS:
            _options(lines, "volOptions", "targetFormatType", *_VOL_OPTIONS[kind])
        lines.append("  </pool>")
    lines.append("</storagepoolCapabilities>")
    return "\n".join(lines) + "\n"
