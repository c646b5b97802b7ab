"""Storage pool (``<pool>``) and volume (``<volume>``) XML.

Permissions are checked as libvirt's virStorageDefParsePerms checks them,
before the model is built (it reads the raw text): a ``<mode>`` outside 0 to
0777 is "malformed octal mode", so no definition can ask for a setuid,
setgid or sticky file or directory, nor pass -1 or 7777 through to chmod.
"""

from typing import Annotated, Any, ClassVar

from lxml import etree

from pyvirt.conf.common import check_name, document_to_string, new_uuid, normalize_uuid
from pyvirt.conf.units import parse_scaled
from pyvirt.conf.xmlmodel import X, XmlModel, parse_model
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, XMLError

__all__ = ["Pool", "Volume", "format_pool", "format_volume", "parse_pool", "parse_volume"]

POOL_TYPES = ("dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd",
              "sheepdog", "gluster", "zfs", "vstorage")  # fmt: skip


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


class Permissions(XmlModel):
    mode: Annotated[str | None, X("mode")] = None
    owner: Annotated[int | None, X("owner")] = None
    group: Annotated[int | None, X("group")] = None
    label: Annotated[str | None, X("label")] = None


class PoolHost(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    port: Annotated[int | None, X("@port")] = None


class PoolDevice(XmlModel):
    path: Annotated[str | None, X("@path")] = None


class PoolSource(XmlModel):
    hosts: Annotated[list[PoolHost] | None, X("host", model=PoolHost, many=True)] = None
    devices: Annotated[list[PoolDevice] | None, X("device", model=PoolDevice, many=True)] = None
    dir_path: Annotated[str | None, X("dir/@path")] = None
    adapter_type: Annotated[str | None, X("adapter/@type")] = None
    adapter_name: Annotated[str | None, X("adapter/@name")] = None
    name: Annotated[str | None, X("name")] = None
    format_type: Annotated[str | None, X("format/@type")] = None
    initiator_iqn: Annotated[str | None, X("initiator/iqn/@name")] = None


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
    source: Annotated[PoolSource | None, X("source", model=PoolSource)] = None
    target: Annotated[PoolTarget | None, X("target", model=PoolTarget)] = None


class VolTarget(XmlModel):
    path: Annotated[str | None, X("path")] = None
    format_type: Annotated[str | None, X("format/@type")] = None
    permissions: Annotated[Permissions | None, X("permissions", model=Permissions)] = None
    compat: Annotated[str | None, X("compat")] = None


class VolBacking(XmlModel):
    path: Annotated[str | None, X("path")] = None
    format_type: Annotated[str | None, X("format/@type")] = None


class Volume(XmlModel):
    TAG = "volume"
    UNSUPPORTED: ClassVar[frozenset[str]] = frozenset({"encryption"})
    type: Annotated[str | None, X("@type")] = None
    name: Annotated[str | None, X("name")] = None
    key: Annotated[str | None, X("key")] = None
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
    perms = root.find(where)
    if perms is None:
        return
    mode = perms.find("mode")
    text = _text(mode) if mode is not None else ""
    if text:  # virXPathString gives NULL for an empty string: no mode then
        value = _strtol(text, 8)
        if value is None or not -(2**31) <= value < 2**31 or value & ~0o777:
            raise XMLError(ErrorCode.XML_ERROR, "malformed octal mode")
    for tag in ("owner", "group"):
        elem = perms.find(tag)
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


def parse_pool(xml: str | bytes) -> Pool:
    root = parse_xml(xml, Pool.TAG, "pool_definition")
    _check_permissions(root, "target/permissions")
    pool = parse_model(Pool, root)
    if not pool.type:
        raise XMLError(ErrorCode.XML_ERROR, "storage pool missing type attribute")
    if pool.type not in POOL_TYPES:
        raise XMLError(ErrorCode.XML_ERROR, f"unknown storage pool type {pool.type}")
    pool.name = check_name(pool.name, "pool name")
    pool.uuid = normalize_uuid(pool.uuid) if pool.uuid else new_uuid()
    if pool.source is None:
        pool.source = PoolSource()  # libvirt always writes <source>
    if pool.type in ("dir", "fs", "netfs", "logical", "disk", "iscsi", "scsi", "mpath") and (
        pool.target is None or not pool.target.path
    ):
        raise XMLError(ErrorCode.XML_ERROR, "missing storage pool target path")
    if pool.target is not None:
        _normalize_permissions(pool.target.permissions)
    return pool


def format_pool(pool: Pool) -> str:
    return document_to_string(pool, keep_open=("source",))


def parse_volume(xml: str | bytes) -> Volume:
    root = parse_xml(xml, Volume.TAG, "volume_definition")
    _check_permissions(root, "target/permissions")
    vol = parse_model(Volume, root)
    vol.name = check_name(vol.name, "volume name")
    if vol.capacity is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing capacity element")
    if vol.target is not None:
        _normalize_permissions(vol.target.permissions)
    return vol


def format_volume(vol: Volume) -> str:
    return document_to_string(vol)
