"""Storage pool (``<pool>``) and volume (``<volume>``) XML, read and written as libvirt's storage_conf.c does.

What a pool writes depends on its type, as libvirt's per-type options decide
(virStoragePoolOptions): a netfs pool writes its hosts and source directory
but no devices, an RBD pool has no ``<target>``, a logical pool's target is
``/dev/<source name>``; formats get their per-type default. The sizes of a
pool definition are never read (they are live values) and always written.
A volume's ``<format>`` follows its pool's type (raw by default in a
directory pool, none on a disk pool, nothing on a logical pool); libvirt's
storagepoolxml2xml and storagevolxml2xml test data are the reference.

Permissions are checked as libvirt's virStorageDefParsePerms checks them,
before the model is built (it reads the raw text): a ``<mode>`` outside 0 to
0777 is "malformed octal mode", so no definition can ask for a setuid,
setgid or sticky file or directory, nor pass -1 or 7777 through to chmod.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.common import check_name, new_uuid, normalize_uuid
from pyvirt.conf.coverage import ExpectedTree
from pyvirt.conf.units import parse_scaled
from pyvirt.conf.xmlmodel import X, XmlModel, format_model, parse_model
from pyvirt.conf.xmlparse import find_all, find_one, parse_xml
from pyvirt.conf.xmlwriter import to_string
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated, Any

__all__ = ["Pool", "Volume", "format_pool", "format_volume", "parse_pool", "parse_volume"]

POOL_TYPES = ("dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd",
              "sheepdog", "gluster", "zfs", "vstorage")  # fmt: skip
VOLUME_TYPES = ("file", "block", "dir", "network", "netdir", "ploop")

# virStoragePoolOptions.flags: which parts of <source> a pool type reads and writes (libvirt's own
# storage_conf.c enum, not part of its API, so pyvirt.flags has no class for it)
_HOST = 1 << 0  # VIR_STORAGE_POOL_SOURCE_HOST
_DEVICE = 1 << 1  # VIR_STORAGE_POOL_SOURCE_DEVICE
_DIR = 1 << 2  # VIR_STORAGE_POOL_SOURCE_DIR
_ADAPTER = 1 << 3  # VIR_STORAGE_POOL_SOURCE_ADAPTER
_NAME = 1 << 4  # VIR_STORAGE_POOL_SOURCE_NAME
_IQN = 1 << 5  # VIR_STORAGE_POOL_SOURCE_INITIATOR_IQN
_NETWORK = 1 << 6  # VIR_STORAGE_POOL_SOURCE_NETWORK
_SOURCE_FLAGS = {
    "logical": _NAME | _DEVICE, "dir": 0, "fs": _DEVICE, "netfs": _HOST | _DIR, "iscsi": _HOST | _DEVICE | _IQN,
    "iscsi-direct": _HOST | _DEVICE | _NETWORK | _IQN, "scsi": _ADAPTER, "rbd": _HOST | _NETWORK | _NAME,
    "sheepdog": _HOST | _NETWORK | _NAME, "gluster": _HOST | _NETWORK | _NAME | _DIR, "mpath": 0, "disk": _DEVICE,
    "zfs": _NAME | _DEVICE, "vstorage": _NAME,
}  # fmt: skip
# the pool's own <format> words per type, the first being the default
_POOL_FORMATS = {
    "logical": ("lvm2", "unknown"),
    "fs": ("auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat", "hfs+", "xfs", "ocfs2",
           "vmfs"),
    "netfs": ("auto", "nfs", "glusterfs", "cifs"),
    "disk": ("unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2"),
}  # fmt: skip
# virStorageFileFormat without "none": what a volume in a file-backed pool may be
_FILE_FORMATS = ("raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow", "qcow",
                 "qcow2", "qed", "vmdk")  # fmt: skip
_DISK_VOLUME_FORMATS = ("none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm", "linux-raid", "extended")
# the volume <format> words per pool type, the first being the default (no entry: no format at all)
_VOLUME_FORMATS = {
    "dir": _FILE_FORMATS, "fs": _FILE_FORMATS, "netfs": _FILE_FORMATS, "rbd": _FILE_FORMATS,
    "gluster": _FILE_FORMATS, "vstorage": _FILE_FORMATS, "disk": _DISK_VOLUME_FORMATS,
}  # fmt: skip
_VOLUME_FEATURES = ("lazy_refcounts", "extended_l2")
FS_NS = "http://libvirt.org/schemas/storagepool/fs/1.0"
RBD_NS = "http://libvirt.org/schemas/storagepool/rbd/1.0"


class Bytes(XmlModel):
    """A size element, stored in bytes and written as ``unit='bytes'``."""

    XML_OPEN = True

    value: int = 0

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        values["value"] = parse_scaled(elem.text or "", elem.get("unit"), elem.tag, default_unit="B")

    def xml_format_extra(self, elem: etree._Element) -> None:
        elem.set("unit", "bytes")
        elem.text = str(self.value)


class ClusterSize(Bytes):
    """``<clusterSize>``: written in ``unit='B'``, as libvirt writes it."""

    def xml_format_extra(self, elem: etree._Element) -> None:
        elem.set("unit", "B")
        elem.text = str(self.value)


class Permissions(XmlModel):
    mode: Annotated[str | None, X("mode")] = None
    owner: Annotated[int | None, X("owner")] = None
    group: Annotated[int | None, X("group")] = None
    label: Annotated[str | None, X("label")] = None


class Secret(XmlModel):
    """virSecretLookupTypeDef: a secret named by its UUID or by its usage, never both."""

    type: Annotated[str | None, X("@type")] = None
    uuid: Annotated[str | None, X("@uuid")] = None
    usage: Annotated[str | None, X("@usage")] = None


class Auth(XmlModel):
    type: Annotated[str | None, X("@type")] = None
    username: Annotated[str | None, X("@username")] = None
    secret: Annotated[Secret | None, X("secret", model=Secret)] = None


class PoolHost(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    port: Annotated[int | None, X("@port")] = None


class FreeExtent(XmlModel):
    start: Annotated[int | None, X("@start")] = None
    end: Annotated[int | None, X("@end")] = None


class PoolDevice(XmlModel):
    path: Annotated[str | None, X("@path")] = None
    part_separator: Annotated[bool | None, X("@part_separator")] = None
    free_extents: Annotated[list[FreeExtent] | None, X("freeExtent", model=FreeExtent, many=True)] = None


class PciAddress(XmlModel):
    domain: Annotated[int | None, X("@domain", hex=True, hex_width=4)] = None
    bus: Annotated[int | None, X("@bus", hex=True, hex_width=2)] = None
    slot: Annotated[int | None, X("@slot", hex=True, hex_width=2)] = None
    # virPCIDeviceAddressFormat writes the function as '0x%d'
    function: Annotated[str | None, X("@function")] = None


class ParentAddr(XmlModel):
    unique_id: Annotated[int | None, X("@unique_id")] = None
    address: Annotated[PciAddress | None, X("address", model=PciAddress)] = None


class Adapter(XmlModel):
    """A SCSI pool's adapter: a ``scsi_host`` by name or parent PCI address, or an ``fc_host`` (vHBA)."""

    type: Annotated[str | None, X("@type")] = None
    name: Annotated[str | None, X("@name")] = None
    parent: Annotated[str | None, X("@parent")] = None
    parent_wwnn: Annotated[str | None, X("@parent_wwnn")] = None
    parent_wwpn: Annotated[str | None, X("@parent_wwpn")] = None
    parent_fabric_wwn: Annotated[str | None, X("@parent_fabric_wwn")] = None
    managed: Annotated[bool | None, X("@managed")] = None
    wwnn: Annotated[str | None, X("@wwnn")] = None
    wwpn: Annotated[str | None, X("@wwpn")] = None
    parentaddr: Annotated[ParentAddr | None, X("parentaddr", model=ParentAddr)] = None


class PoolSource(XmlModel):
    hosts: Annotated[list[PoolHost] | None, X("host", model=PoolHost, many=True)] = None
    devices: Annotated[list[PoolDevice] | None, X("device", model=PoolDevice, many=True)] = None
    dir_path: Annotated[str | None, X("dir/@path")] = None
    adapter: Annotated[Adapter | None, X("adapter", model=Adapter)] = None
    name: Annotated[str | None, X("name")] = None
    initiator_iqn: Annotated[str | None, X("initiator/iqn/@name")] = None
    format_type: Annotated[str | None, X("format/@type")] = None
    auth: Annotated[Auth | None, X("auth", model=Auth)] = None
    protocol_ver: Annotated[str | None, X("protocol/@ver")] = None
    vendor: Annotated[str | None, X("vendor/@name")] = None
    product: Annotated[str | None, X("product/@name")] = None


class PoolTarget(XmlModel):
    path: Annotated[str | None, X("path")] = None
    permissions: Annotated[Permissions | None, X("permissions", model=Permissions)] = None


class Pool(XmlModel):
    TAG = "pool"
    type: Annotated[str | None, X("@type")] = None
    name: Annotated[str | None, X("name")] = None
    uuid: Annotated[str | None, X("uuid")] = None
    capacity: Annotated[Bytes | None, X("capacity", model=Bytes)] = None
    allocation: Annotated[Bytes | None, X("allocation", model=Bytes)] = None
    available: Annotated[Bytes | None, X("available", model=Bytes)] = None
    cow: Annotated[bool | None, X("features/cow/@state")] = None
    source: Annotated[PoolSource | None, X("source", model=PoolSource)] = None
    target: Annotated[PoolTarget | None, X("target", model=PoolTarget)] = None
    refresh_allocation: Annotated[str | None, X("refresh/volume/@allocation")] = None
    # <fs:mount_opts> (fs and netfs pools) and <rbd:config_opts>: options the backend passes on
    mount_options: list[str] | None = None
    rbd_options: list[tuple[str, str]] | None = None

    @classmethod
    def expected_tree(cls) -> ExpectedTree:
        tree = super().expected_tree()
        tree.children[f"{{{FS_NS}}}mount_opts"] = None  # read by xml_parse_extra
        tree.children[f"{{{RBD_NS}}}config_opts"] = None
        return tree

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        mount = [o.get("name") or "" for o in find_all(elem, f"{{{FS_NS}}}mount_opts/{{{FS_NS}}}option")]
        rbd = [(o.get("name") or "", o.get("value") or "")
               for o in find_all(elem, f"{{{RBD_NS}}}config_opts/{{{RBD_NS}}}option")]  # fmt: skip
        if any(not name for name in mount):
            raise XMLError(ErrorCode.XML_ERROR, "no fs mount option name specified")
        if any(not name for name, _ in rbd):
            raise XMLError(ErrorCode.XML_ERROR, "no rbd option name specified")
        if any(not value for _, value in rbd):
            raise XMLError(ErrorCode.XML_ERROR, "no rbd option value specified")
        values["mount_options"] = mount or None
        values["rbd_options"] = rbd or None

    def xml_format_extra(self, elem: etree._Element) -> None:
        if self.mount_options:
            opts = etree.SubElement(elem, f"{{{FS_NS}}}mount_opts")
            for name in self.mount_options:
                etree.SubElement(opts, f"{{{FS_NS}}}option", name=name)
        if self.rbd_options:
            opts = etree.SubElement(elem, f"{{{RBD_NS}}}config_opts")
            for name, value in self.rbd_options:
                etree.SubElement(opts, f"{{{RBD_NS}}}option", name=name, value=value)


class Timestamps(XmlModel):
    """Written from the file's stat (seconds, with nanoseconds when there are any); never read from a definition."""

    atime: Annotated[str | None, X("atime")] = None
    mtime: Annotated[str | None, X("mtime")] = None
    ctime: Annotated[str | None, X("ctime")] = None
    btime: Annotated[str | None, X("btime")] = None


class Cipher(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    size: Annotated[int | None, X("@size")] = None
    mode: Annotated[str | None, X("@mode")] = None
    hash: Annotated[str | None, X("@hash")] = None


class Ivgen(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    hash: Annotated[str | None, X("@hash")] = None


class Encryption(XmlModel):
    format: Annotated[str | None, X("@format")] = None
    engine: Annotated[str | None, X("@engine")] = None
    secrets: Annotated[list[Secret] | None, X("secret", model=Secret, many=True)] = None
    cipher: Annotated[Cipher | None, X("cipher", model=Cipher)] = None
    ivgen: Annotated[Ivgen | None, X("ivgen", model=Ivgen)] = None


class VolTarget(XmlModel):
    path: Annotated[str | None, X("path")] = None
    format_type: Annotated[str | None, X("format/@type")] = None
    permissions: Annotated[Permissions | None, X("permissions", model=Permissions)] = None
    timestamps: Annotated[Timestamps | None, X("timestamps", model=Timestamps)] = None
    encryption: Annotated[Encryption | None, X("encryption", model=Encryption)] = None
    compat: Annotated[str | None, X("compat")] = None
    cluster_size: Annotated[ClusterSize | None, X("clusterSize", model=ClusterSize)] = None
    # <nocow/> is read (qemu-img's nocow option) but, as in libvirt, never written back
    nocow: bool = False
    # <features>: None when absent, else the feature names (an empty list writes <features/>)
    features: list[str] | None = None

    @classmethod
    def expected_tree(cls) -> ExpectedTree:
        tree = super().expected_tree()
        tree.children["nocow"] = None
        tree.children["features"] = None
        return tree

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        values["nocow"] = find_one(elem, "nocow") is not None
        features = find_one(elem, "features")
        if features is not None:
            names = [str(child.tag) for child in features.iterchildren("*")]
            unknown = next((n for n in names if n not in _VOLUME_FEATURES), None)
            if unknown is not None:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported feature {unknown}")
            values["features"] = [n for n in _VOLUME_FEATURES if n in names]

    def xml_format_extra(self, elem: etree._Element) -> None:
        if self.features is not None:
            features = etree.SubElement(elem, "features")
            for name in self.features:
                etree.SubElement(features, name)


class VolExtent(XmlModel):
    start: Annotated[int | None, X("@start")] = None
    end: Annotated[int | None, X("@end")] = None


class VolSourceDevice(XmlModel):
    path: Annotated[str | None, X("@path")] = None
    extents: Annotated[list[VolExtent] | None, X("extent", model=VolExtent, many=True)] = None


class VolBacking(XmlModel):
    path: Annotated[str | None, X("path")] = None
    format_type: Annotated[str | None, X("format/@type")] = None
    permissions: Annotated[Permissions | None, X("permissions", model=Permissions)] = None


class Volume(XmlModel):
    TAG = "volume"
    type: Annotated[str | None, X("@type")] = None
    name: Annotated[str | None, X("name")] = None
    key: Annotated[str | None, X("key")] = None
    # the extents a disk or logical backend found (written only; a definition's <source> is not read)
    source_devices: Annotated[list[VolSourceDevice] | None, X("source/device", model=VolSourceDevice, many=True)] = None
    capacity: Annotated[Bytes | None, X("capacity", model=Bytes)] = None
    allocation: Annotated[Bytes | None, X("allocation", model=Bytes)] = None
    physical: Annotated[Bytes | None, X("physical", model=Bytes)] = None
    target: Annotated[VolTarget | None, X("target", model=VolTarget)] = None
    backing: Annotated[VolBacking | None, X("backingStore", model=VolBacking)] = None


def _strtol(text: str, base: int) -> int | None:
    """virStrToLong_*: C's strtol on the whole string (leading blanks and a sign allowed, nothing after)."""
    body = text.lstrip(" \t\n\v\f\r")
    digits = body[1:] if body[:1] in "+-" else body
    if base == 16 and digits[:2].lower() == "0x":
        digits = digits[2:]
    if not digits or not all(c in "0123456789abcdef"[:base] for c in digits.lower()):
        return None
    value = int(digits, base)
    return -value if body.startswith("-") else value


def _text(elem: etree._Element) -> str:
    """XPath's string() of an element: all its text, untrimmed (libvirt reads it so)."""
    return "".join(t if isinstance(t, str) else t.decode() for t in elem.itertext())


def _check_permissions(root: etree._Element, where: str) -> None:
    """virStorageDefParsePerms: the mode only from 0 to 0777 (no setuid, setgid or sticky bit, never -1),
    owner and group a uid_t/gid_t or -1; with libvirt's words. Run on the raw text, as libvirt reads it."""
    perms = find_one(root, where)
    if perms is None:
        return
    mode = find_one(perms, "mode")
    text = _text(mode) if mode is not None else ""
    if text:  # virXPathString gives NULL for an empty string: no mode then
        value = _strtol(text, 8)
        if value is None or not -(2**31) <= value < 2**31 or value & ~0o777:
            raise XMLError(ErrorCode.XML_ERROR, "malformed octal mode")
    for tag in ("owner", "group"):
        elem = find_one(perms, tag)
        if elem is None:
            continue
        number = _strtol(_text(elem), 10)
        if number is None or not (0 <= number <= 0xFFFFFFFF or number == -1):
            raise XMLError(ErrorCode.XML_ERROR, f"malformed {tag} element")


def _normalize_permissions(perms: Permissions | None) -> None:
    """libvirt's form: mode as ``0%o``, an owner or group of -1 (or its uid_t twin) means none."""
    if perms is None:
        return
    if perms.mode:
        value = _strtol(perms.mode, 8)
        perms.mode = None if value is None else f"0{value:o}"
    else:
        perms.mode = None
    if perms.owner in (-1, 0xFFFFFFFF):
        perms.owner = None
    if perms.group in (-1, 0xFFFFFFFF):
        perms.group = None


def _sanitize_path(path: str) -> str:
    """virFileSanitizePath: no doubled or trailing slashes (a leading ``//`` is POSIX's own and kept)."""
    keep = "/" if path.startswith("//") and not path.startswith("///") else ""
    cleaned = path
    while "//" in cleaned:  # each run of slashes to one, without a pattern to compile (see conf/units.py)
        cleaned = cleaned.replace("//", "/")
    if len(cleaned) > 1 and cleaned.endswith("/"):
        cleaned = cleaned[:-1]
    return keep + cleaned if keep else cleaned


def _check_secret(secret: Secret | None, missing: str) -> None:
    """virSecretLookupParseSecret: a UUID or a usage, not both; the UUID in canonical form."""
    if secret is None:
        raise XMLError(ErrorCode.XML_ERROR, missing)
    if secret.uuid is None and secret.usage is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing secret uuid or usage attribute")
    if secret.uuid is not None and secret.usage is not None:
        raise XMLError(ErrorCode.XML_ERROR, "either secret uuid or usage expected")
    if secret.uuid is not None:
        try:
            secret.uuid = normalize_uuid(secret.uuid)
        except XMLError:
            raise XMLError(ErrorCode.XML_ERROR, f"invalid secret uuid '{secret.uuid}'") from None


def _check_adapter(adapter: Adapter | None) -> None:
    """virStorageAdapterParseXML (with its legacy, type-less form) and virStorageAdapterValidate."""
    if adapter is None or adapter.type is None:
        if adapter is not None and (adapter.wwnn or adapter.wwpn or adapter.parent):
            raise XMLError(ErrorCode.XML_ERROR, "Use of 'wwnn', 'wwpn', and 'parent' attributes requires use of "
                           "the adapter 'type'")  # fmt: skip
        if adapter is not None and adapter.parentaddr is not None:
            raise XMLError(ErrorCode.XML_ERROR, "Use of 'parentaddr' element requires use of the adapter 'type'")
        if adapter is None or adapter.name is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing storage pool source adapter")
        adapter.type = "scsi_host"
    if adapter.type not in ("scsi_host", "fc_host"):
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'type' in element 'adapter': "
                       f"'{adapter.type}'.")  # fmt: skip
    if adapter.type == "fc_host":
        if not adapter.wwnn or not adapter.wwpn:
            raise XMLError(ErrorCode.XML_ERROR, "'wwnn' and 'wwpn' must be specified for adapter type 'fchost'")
        if bool(adapter.parent_wwnn) != bool(adapter.parent_wwpn):
            given, other = ("wwnn", "wwpn") if adapter.parent_wwnn else ("wwpn", "wwnn")
            value = adapter.parent_wwnn or adapter.parent_wwpn
            raise XMLError(ErrorCode.XML_ERROR, f"when providing parent_{given}='{value}', the parent_{other} "
                           "must also be provided")  # fmt: skip
        for wwn in (adapter.wwnn, adapter.wwpn, adapter.parent_wwnn, adapter.parent_wwpn, adapter.parent_fabric_wwn):
            if wwn is not None and not _is_wwn(wwn):
                raise XMLError(ErrorCode.XML_ERROR, f"Malformed wwn: {wwn}")
        return
    if adapter.parentaddr is not None:
        if adapter.parentaddr.address is None:
            raise XMLError(ErrorCode.XML_ERROR, "Missing scsi_host PCI address element")
        if adapter.parentaddr.unique_id is None or adapter.parentaddr.unique_id < 0:
            raise XMLError(ErrorCode.XML_ERROR, "Missing or invalid scsi adapter 'unique_id' value")
    if adapter.name is None and adapter.parentaddr is None:
        raise XMLError(ErrorCode.XML_ERROR, "Either 'name' or 'parent' must be specified for the 'scsi_host' adapter")
    if adapter.name is not None and adapter.parentaddr is not None:
        raise XMLError(ErrorCode.XML_ERROR, "Both 'name' and 'parent' cannot be specified for the 'scsi_host' adapter")


def _check_source(pool: Pool, src: PoolSource) -> None:
    """virStoragePoolDefParseSource: the format's default, hosts, devices, directory, adapter, auth, protocol."""
    kind = pool.type or ""
    if kind == "rbd" and src.name is None:
        raise XMLError(ErrorCode.XML_ERROR, "element 'name' is mandatory for RBD pool")
    formats = _POOL_FORMATS.get(kind)
    if formats is not None:
        if src.format_type is None:
            src.format_type = formats[0]
        elif src.format_type not in formats:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown pool format type {src.format_type}")
    for host in src.hosts or []:
        if host.name is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing storage pool host name")
    for device in src.devices or []:
        if device.path is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing storage pool source device path")
        device.free_extents = None  # what the disk backend finds, not a definition's
    if src.dir_path is not None:
        src.dir_path = _sanitize_path(src.dir_path)
    elif kind == "gluster":
        src.dir_path = "/"
    if src.adapter is not None and _SOURCE_FLAGS[kind] & _ADAPTER:
        _check_adapter(src.adapter)
    if src.auth is not None:
        if src.auth.username is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing username for auth")
        if src.auth.type is None:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "storage pool missing auth type")
        if src.auth.type not in ("chap", "ceph"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown auth type '{src.auth.type}'")
        _check_secret(src.auth.secret, "Missing <secret> element in auth")
    if src.protocol_ver is not None:
        # libvirt compares the format's number with netfs' "auto" and "nfs", whatever the pool type
        index = formats.index(src.format_type or "") if formats else 0
        if index > 1:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "storage pool protocol ver unsupported for pool "
                                    f"type '{_POOL_FORMATS['netfs'][index] if index < 4 else src.format_type}'")  # fmt: skip
        if "," in src.protocol_ver:
            raise XMLError(ErrorCode.XML_DETAIL, f"storage pool protocol ver '{src.protocol_ver}' must not "
                           "contain ','")  # fmt: skip


def parse_pool(xml: str | bytes) -> Pool:
    """virStoragePoolDefParseXML: the definition with libvirt's per-type defaults; sizes are not read."""
    root = parse_xml(xml, Pool.TAG, "storage_pool_definition")  # libvirt's name for the document
    pool = parse_model(Pool, root)
    # virXMLPropEnum(..., VIR_XML_PROP_REQUIRED)'s words
    if pool.type is None:
        raise XMLError(ErrorCode.XML_ERROR, "Missing required attribute 'type' in element 'pool'")
    if pool.type not in POOL_TYPES:
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'type' in element 'pool': '{pool.type}'.")
    flags = _SOURCE_FLAGS[pool.type]
    src = pool.source = pool.source or PoolSource()  # libvirt always writes <source>
    _check_source(pool, src)
    if pool.name is None and flags & _NAME:
        pool.name = src.name
    if pool.name is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing pool source name element")
    pool.name = check_name(pool.name, "pool name")
    pool.uuid = normalize_uuid(pool.uuid) if pool.uuid else new_uuid()
    if pool.cow is not None and pool.type not in ("fs", "dir"):
        raise NotSupportedError(ErrorCode.NO_SUPPORT, "cow feature may only be used for 'fs' and 'dir' pools")
    if flags & _HOST and not src.hosts:
        raise XMLError(ErrorCode.XML_ERROR, "missing storage pool source host name")
    if flags & _DIR and not src.dir_path:
        raise XMLError(ErrorCode.XML_ERROR, "missing storage pool source path")
    if flags & _NAME and src.name is None:
        src.name = pool.name  # the source name defaults to the pool's
    if flags & _ADAPTER and src.adapter is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing storage pool source adapter")
    if flags == _DEVICE and not src.devices:
        raise XMLError(ErrorCode.XML_ERROR, "missing storage pool source device name")
    if flags & _NETWORK:
        pool.target = None  # not a local file or device: no target, no permissions
    else:
        target = pool.target = pool.target or PoolTarget()
        if pool.type == "logical":
            target.path = f"/dev/{src.name}"
        elif pool.type == "zfs":
            target.path = f"/dev/zvol/{src.name}"
        elif not target.path:
            raise XMLError(ErrorCode.XML_ERROR, "missing storage pool target path")
        target.path = _sanitize_path(target.path)
        _check_permissions(root, "target/permissions")
        _normalize_permissions(target.permissions)
    if pool.type == "iscsi-direct" and not src.initiator_iqn:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "missing initiator IQN")
    if pool.refresh_allocation is not None and pool.refresh_allocation not in ("default", "capacity"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "unknown storage pool volume refresh allocation type "
                                f"{pool.refresh_allocation}")  # fmt: skip
    if pool.type not in ("fs", "netfs"):
        pool.mount_options = None  # only the fs backends read their namespace
    if pool.type != "rbd":
        pool.rbd_options = None
    pool.capacity = pool.allocation = pool.available = None  # live values, never taken from a definition
    return pool


def _source_for_output(pool: Pool) -> PoolSource:
    """virStoragePoolSourceFormat: only the parts the pool's type has."""
    src = pool.source.model_copy(deep=True) if pool.source is not None else PoolSource()
    flags = _SOURCE_FLAGS.get(pool.type or "", 0)
    if not flags & _HOST:
        src.hosts = None
    if not flags & _DEVICE:
        src.devices = None
    if not flags & _DIR:
        src.dir_path = None
    if not flags & _ADAPTER or src.adapter is None or src.adapter.type not in ("scsi_host", "fc_host"):
        src.adapter = None
    elif src.adapter.type == "fc_host":
        src.adapter.name = None
        src.adapter.parentaddr = None
    elif src.adapter.name is not None:
        src.adapter.parentaddr = None
    if not flags & _NAME:
        src.name = None
    if not flags & _IQN:
        src.initiator_iqn = None
    if pool.type not in _POOL_FORMATS:
        src.format_type = None
    return src


def format_pool(pool: Pool) -> str:
    """virStoragePoolDefFormat: sizes always (0 when unknown), the source per type, the target when local."""
    out = pool.model_copy()
    out.capacity = pool.capacity or Bytes(value=0)
    out.allocation = pool.allocation or Bytes(value=0)
    out.available = pool.available or Bytes(value=0)
    out.source = _source_for_output(pool)
    if _SOURCE_FLAGS.get(pool.type or "", 0) & _NETWORK:
        out.target = None
    else:
        out.target = pool.target or PoolTarget()
    nsmap = {}
    if pool.mount_options:
        nsmap["fs"] = FS_NS
    if pool.rbd_options:
        nsmap["rbd"] = RBD_NS
    root = etree.Element(Pool.TAG, nsmap=nsmap)
    format_model(out, root)
    text = to_string(root, keep_open=("source", "target"))
    if nsmap:  # libvirt writes the namespace declarations after the type
        import re  # only pools with a namespace of their own

        first, rest = text.split("\n", 1)
        decls = re.findall(r" xmlns:\w+='[^']*'", first)
        first = re.sub(r" xmlns:\w+='[^']*'", "", first)
        text = first[:-1] + "".join(decls) + ">\n" + rest
    return text


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _is_wwn(text: str) -> bool:
    """virValidateWWN: sixteen hex digits, an optional ``0x`` before them (by hand, not with a pattern: a test:///
    node file with an fc_host pool is parsed at every open, and importing re cost that open 20M instructions)."""
    digits = text[2:] if text.startswith("0x") else text
    return len(digits) == 16 and all(c in _HEX_DIGITS for c in digits)


def _check_encryption(enc: Encryption) -> None:
    """virStorageEncryptionParseNode: a known format and engine, passphrase secrets, LUKS cipher details."""
    if not enc.format:
        raise XMLError(ErrorCode.XML_ERROR, "unknown volume encryption format")
    if enc.format not in ("default", "qcow", "luks", "luks2"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown volume encryption format type {enc.format}")
    if enc.engine is not None and enc.engine not in ("qemu", "librbd"):
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'engine' in element 'encryption': "
                       f"'{enc.engine}'.")  # fmt: skip
    for secret in enc.secrets or []:
        if not secret.type:
            raise XMLError(ErrorCode.XML_ERROR, "unknown volume encryption secret type")
        if secret.type != "passphrase":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown volume encryption secret type "
                                    f"{secret.type}")  # fmt: skip
        _check_secret(secret, "")
    if enc.format != "luks":
        enc.cipher = enc.ivgen = None  # read for LUKS only
        return
    if enc.cipher is not None:
        if enc.cipher.name is None:
            raise XMLError(ErrorCode.XML_ERROR, "cipher info missing 'name' attribute")
        if enc.cipher.size is None:
            raise XMLError(ErrorCode.XML_ERROR, "Missing required attribute 'size' in element 'cipher'")
    if enc.ivgen is not None:
        if enc.cipher is None:
            raise XMLError(ErrorCode.XML_ERROR, "ivgen element found, but cipher is missing")
        if enc.ivgen.name is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing ivgen info name string")


def _volume_format(given: str | None, pool_type: str | None) -> str | None:
    formats = _VOLUME_FORMATS.get(pool_type or "")
    if pool_type is None or formats is None:
        return given if pool_type is None else None
    if given is None:
        return formats[0]
    if given not in formats:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown volume format type {given}")
    return given


# virStorageVolDefParse flags (libvirt's storage_conf.h, internal)
VOL_PARSE_NO_CAPACITY = 1 << 0  # VIR_VOL_XML_PARSE_NO_CAPACITY
VOL_PARSE_OPT_CAPACITY = 1 << 1  # VIR_VOL_XML_PARSE_OPT_CAPACITY


def parse_volume(xml: str | bytes, pool_type: str | None = None, flags: int = 0) -> Volume:
    """virStorageVolDefParseXML for a volume of a ``pool_type`` pool (its formats and their default).

    Without ``pool_type`` no format is defaulted or checked. ``flags``: VOL_PARSE_NO_CAPACITY (a volume
    built from another one) and VOL_PARSE_OPT_CAPACITY (the capacity may come from the backing store).
    """
    root = parse_xml(xml, Volume.TAG, "storage_volume_definition")  # libvirt's name for the document
    _check_permissions(root, "target/permissions")
    _check_permissions(root, "backingStore/permissions")
    vol = parse_model(Volume, root)
    vol.name = check_name(vol.name, "volume name")
    vol.type = vol.type or "file"
    if vol.type not in VOLUME_TYPES:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown volume type '{vol.type}'")
    vol.source_devices = None  # the backend's findings, not a definition's
    vol.physical = None  # display only
    if vol.backing is not None:
        if not vol.backing.path:
            vol.backing = None
        else:
            vol.backing.format_type = _volume_format(vol.backing.format_type, pool_type)
            _normalize_permissions(vol.backing.permissions)
    if (
        vol.capacity is None
        and not flags & VOL_PARSE_NO_CAPACITY
        and not (flags & VOL_PARSE_OPT_CAPACITY and vol.backing is not None)
    ):
        raise XMLError(ErrorCode.XML_ERROR, "missing capacity element")
    if vol.allocation is None and vol.capacity is not None:
        vol.allocation = Bytes(value=vol.capacity.value)
    target = vol.target = vol.target or VolTarget()
    target.format_type = _volume_format(target.format_type, pool_type)
    _normalize_permissions(target.permissions)
    target.timestamps = None  # the file's, never the definition's
    if target.encryption is not None:
        _check_encryption(target.encryption)
    compat = target.compat.strip().split(".") if target.compat is not None else []
    if target.compat is not None and not (len(compat) == 2 and all(p and not p.strip("0123456789") for p in compat)):
        raise XMLError(ErrorCode.XML_ERROR, "forbidden characters in 'compat' attribute")
    if target.features is not None and target.compat is None:
        target.compat = "1.1"
    return vol


def format_volume(vol: Volume, pool_type: str | None = None) -> str:
    """virStorageVolDefFormat: type, sizes (0 when unknown), target and backing store with the pool's formats."""
    out = vol.model_copy()
    out.type = vol.type or "file"
    out.capacity = vol.capacity or Bytes(value=0)
    out.allocation = vol.allocation or Bytes(value=0)
    out.target = vol.target.model_copy() if vol.target is not None else VolTarget()
    if pool_type is not None and pool_type not in _VOLUME_FORMATS:
        out.target.format_type = None
    if vol.backing is not None:
        out.backing = vol.backing.model_copy() if vol.backing.path else None
        if out.backing is not None and pool_type is not None and pool_type not in _VOLUME_FORMATS:
            out.backing.format_type = None
    root = etree.Element(Volume.TAG)
    format_model(out, root)
    return to_string(root, keep_open=("target",))
