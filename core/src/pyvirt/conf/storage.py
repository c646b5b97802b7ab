"""Storage pool (``<pool>``) and volume (``<volume>``) XML."""

from typing import Annotated, Any, ClassVar

from lxml import etree

from pyvirt.conf.common import check_name, document_to_string, new_uuid, normalize_uuid, parse_document
from pyvirt.conf.units import parse_scaled
from pyvirt.conf.xmlmodel import X, XmlModel
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


def parse_pool(xml: str | bytes) -> Pool:
    pool = parse_document(Pool, xml, "pool_definition")
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
    return pool


def format_pool(pool: Pool) -> str:
    return document_to_string(pool, keep_open=("source",))


def parse_volume(xml: str | bytes) -> Volume:
    vol = parse_document(Volume, xml, "volume_definition")
    vol.name = check_name(vol.name, "volume name")
    if vol.capacity is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing capacity element")
    return vol


def format_volume(vol: Volume) -> str:
    return document_to_string(vol)
