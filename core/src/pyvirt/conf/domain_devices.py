"""Domain devices (``<devices>`` children) as typed models, in libvirt's field order."""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.domain_values import CHR_TYPES as _CHR_SOURCE_TYPES
from pyvirt.conf.units import UINT_MAX, parse_memory_kib, parse_scaled, strtoul
from pyvirt.conf.xmlmodel import SELF, X, XmlModel, field
from pyvirt.conf.xmlparse import find_all, find_one
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError

TYPE_CHECKING = False  # typing and collections.abc only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated, Any, ClassVar

__all__ = [
    "Address",
    "Chardev",
    "Controller",
    "Devices",
    "Disk",
    "DiskMirror",
    "Filesystem",
    "Graphics",
    "Hostdev",
    "Input",
    "Interface",
    "Iommu",
    "Memballoon",
    "Memory",
    "MemoryDevice",
    "Rng",
    "Sound",
    "Video",
    "Vsock",
    "Watchdog",
]

_PCI_HEX = {"domain": 4, "bus": 2, "slot": 2, "function": 1}
# libvirt writes each address type's attributes in its own order.
_ADDRESS_ORDER = {
    "pci": ("domain", "bus", "slot", "function", "multifunction"),
    "drive": ("controller", "bus", "target", "unit"),
    "virtio-serial": ("controller", "bus", "port"),
    "ccid": ("controller", "slot"),
    "usb": ("bus", "port"),
    "spapr-vio": ("reg",),
    "ccw": ("cssid", "ssid", "devno"),
    "isa": ("iobase", "irq"),
    "dimm": ("slot", "base"),
    "unassigned": (),
}


class Address(XmlModel):
    """``<address>``: attributes depend on the type; PCI numbers come out in libvirt's hex widths."""

    XML_OPEN = True

    attrs: dict[str, str] = field(default_factory=dict)
    # a PCI address's zPCI extension (s390): ``<zpci uid fid>``, each None until given or assigned
    zpci_uid: int | None = None
    zpci_fid: int | None = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        attrs = {str(k): str(v) for k, v in elem.attrib.items()}
        if attrs.get("type") == "pci":
            for key, width in _PCI_HEX.items():
                if key in attrs:
                    # read as libvirt's strtoul reads it ("010" is octal, "+5" and " 5" are 5)
                    parsed = strtoul(attrs[key], 0)
                    if parsed is None or parsed[0] == "-" or parsed[1] > UINT_MAX:
                        raise XMLError(
                            ErrorCode.XML_ERROR,
                            f"Invalid value for attribute '{key}' in element 'address': '{attrs[key]}'. "
                            "Expected non-negative integer value",
                        )
                    attrs[key] = f"0x{parsed[1]:0{width}x}"
            parent = elem.getparent()
            if "slot" in attrs and parent is not None and parent.tag != "source":
                # virPCIDeviceAddressParseXML: what a placed address leaves out is 0, and libvirt writes it
                for key, width in _PCI_HEX.items():
                    attrs.setdefault(key, f"0x{0:0{width}x}")
        if attrs.get("type") == "ccw":
            # virDomainDeviceCCWAddressParseXML reads each as C reads a number; formatted 0x%x, devno 0x%04x
            for key, width in (("cssid", 0), ("ssid", 0), ("devno", 4)):
                number = strtoul(attrs[key], 0) if key in attrs else None
                if number is not None and number[0] != "-":
                    attrs[key] = f"0x{number[1]:0{width}x}"
        if attrs.get("type") == "spapr-vio" and "reg" in attrs:
            reg = strtoul(attrs["reg"], 16)  # virDomainDeviceSpaprVioAddressParseXML, formatted as 0x%08llx
            if reg is None or reg[0] == "-":
                raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'reg' in element 'address': "
                               f"'{attrs['reg']}'. Expected non-negative integer value")  # fmt: skip
            attrs["reg"] = f"0x{reg[1]:08x}"
        values["attrs"] = attrs
        zpci = find_one(elem, "zpci") if attrs.get("type") == "pci" else None
        if zpci is not None:  # virZPCIDeviceAddressParseXML: each optional
            values["zpci_uid"] = prop_uint(zpci, "uid", 0)
            values["zpci_fid"] = prop_uint(zpci, "fid", 0)

    def xml_format_extra(self, elem: etree._Element) -> None:
        order = ("type", *_ADDRESS_ORDER.get(self.attrs.get("type", ""), ()))
        rank = {k: i for i, k in enumerate(order)}
        for key in sorted(self.attrs, key=lambda k: rank.get(k, len(rank))):
            elem.set(key, self.attrs[key])
        if self.zpci_uid is not None or self.zpci_fid is not None:  # both written once either is there
            etree.SubElement(elem, "zpci", uid=f"0x{self.zpci_uid or 0:04x}", fid=f"0x{self.zpci_fid or 0:08x}")


class DeviceSeclabel(XmlModel):
    """A device's (or image's) label override; relabelling unless it says no (virSecurityDeviceLabelDefParseXML).

    ``labelskip``: live XML only (the parser drops it from a definition), set by the security driver on an
    image it did not label (an NFS one, say); written instead of ``relabel``.
    """

    model: Annotated[str | None, X("@model")] = None
    labelskip: Annotated[bool | None, X("@labelskip")] = None
    relabel: Annotated[bool | None, X("@relabel")] = None
    label: Annotated[str | None, X("label")] = None

    def xml_format_extra(self, elem: etree._Element) -> None:
        # virSecurityDeviceLabelDefFormat: labelskip='yes', or else relabel always stated
        for attr in ("labelskip", "relabel"):
            if attr in elem.attrib:
                del elem.attrib[attr]
        if self.labelskip:
            elem.set("labelskip", "yes")
        else:
            elem.set("relabel", "no" if self.relabel is False else "yes")
        label = find_one(elem, "label")
        if label is not None:  # attributes first, then the label
            elem.remove(label)
            elem.append(label)


class Boot(XmlModel):
    order: Annotated[int | None, X("@order")] = None
    loadparm: Annotated[str | None, X("@loadparm")] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        if values.get("loadparm"):
            values["loadparm"] = values["loadparm"].upper()  # virDomainDeviceBootParseXML's virStringToUpper


class Alias(XmlModel):
    name: Annotated[str | None, X("@name")] = None


class DiskHost(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    port: Annotated[str | None, X("@port")] = None
    transport: Annotated[str | None, X("@transport")] = None
    socket: Annotated[str | None, X("@socket")] = None


class StorageAuth(XmlModel):
    """``<auth>`` of a network disk (virStorageAuthDefParse): the user, and the secret holding the password."""

    type: Annotated[str | None, X("@type")] = None  # chap (iSCSI) or ceph
    username: Annotated[str | None, X("@username")] = None
    secret_type: Annotated[str | None, X("secret/@type")] = None
    secret_uuid: Annotated[str | None, X("secret/@uuid")] = None
    secret_usage: Annotated[str | None, X("secret/@usage")] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        if values.get("type") not in (None, "chap", "ceph"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown auth type '{values['type']}'")
        if not values.get("username"):
            raise XMLError(ErrorCode.XML_ERROR, "missing username for auth")
        if find_one(elem, "secret") is None:
            raise XMLError(ErrorCode.XML_ERROR, "Missing <secret> element in auth")


class Cookie(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    value: Annotated[str | None, X(".")] = None


class BackingStore(XmlModel):
    type: Annotated[str | None, X("@type")] = None
    index: Annotated[int | None, X("@index")] = None
    format: Annotated[str | None, X("format/@type")] = None
    format_metadata_cache_unit: Annotated[str | None, X("format/metadata_cache/max_size/@unit")] = None
    format_metadata_cache_max_size: Annotated[int | None, X("format/metadata_cache/max_size")] = None
    # a layer's <source> is a disk source (virDomainDiskSourceFormat), in the same order as <disk>'s
    source_file: Annotated[str | None, X("source/@file")] = None
    source_fdgroup: Annotated[str | None, X("source/@fdgroup")] = None
    source_dev: Annotated[str | None, X("source/@dev")] = None
    source_protocol: Annotated[str | None, X("source/@protocol")] = None
    source_name: Annotated[str | None, X("source/@name")] = None
    source_query: Annotated[str | None, X("source/@query")] = None
    source_tls: Annotated[bool | None, X("source/@tls")] = None
    source_hosts: Annotated[list[DiskHost] | None, X("source/host", model=DiskHost, many=True)] = None
    source_identity_user: Annotated[str | None, X("source/identity/@user")] = None
    source_identity_group: Annotated[str | None, X("source/identity/@group")] = None
    source_slice_type: Annotated[str | None, X("source/slices/slice/@type")] = None
    source_slice_offset: Annotated[int | None, X("source/slices/slice/@offset")] = None
    source_slice_size: Annotated[int | None, X("source/slices/slice/@size")] = None
    source_seclabels: Annotated[list[DeviceSeclabel] | None, X("source/seclabel", model=DeviceSeclabel, many=True)] = (
        None
    )
    source_auth: Annotated[StorageAuth | None, X("source/auth", model=StorageAuth)] = None
    source_encryption_format: Annotated[str | None, X("source/encryption/@format")] = None
    source_encryption_engine: Annotated[str | None, X("source/encryption/@engine")] = None
    source_encryption_content: Annotated[str | None, X("source/encryption", raw=True)] = None
    backing: Annotated[BackingStore | None, X("backingStore", model=SELF)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        size = find_one(elem, "format/metadata_cache/max_size")
        if size is not None:  # as the top image's <driver>: kept in bytes
            values["format_metadata_cache_max_size"] = parse_scaled(size.text or "", size.get("unit"), "max_size")
            values["format_metadata_cache_unit"] = "bytes"


class DiskMirror(XmlModel):
    """``<mirror>`` of a disk with a block copy running (virDomainDiskDefFormatMirror): live XML only.

    The old-style ``file``/``format`` attributes are written beside the new
    ``<format>``/``<source>`` children for copies to a file, as libvirt does for
    tools that read the old form.
    """

    type: Annotated[str | None, X("@type")] = None
    file: Annotated[str | None, X("@file")] = None
    format: Annotated[str | None, X("@format")] = None
    job: Annotated[str | None, X("@job")] = None
    ready: Annotated[str | None, X("@ready")] = None  # yes, abort, pivot (virDomainDiskMirrorState)
    format_type: Annotated[str | None, X("format/@type")] = None
    format_metadata_cache_unit: Annotated[str | None, X("format/metadata_cache/max_size/@unit")] = None
    format_metadata_cache_max_size: Annotated[int | None, X("format/metadata_cache/max_size")] = None
    source_file: Annotated[str | None, X("source/@file")] = None
    source_dev: Annotated[str | None, X("source/@dev")] = None
    # a copy to a network image (blockcopy --xml with <disk type='network'>): its protocol, export and server
    source_protocol: Annotated[str | None, X("source/@protocol")] = None
    source_name: Annotated[str | None, X("source/@name")] = None
    source_tls: Annotated[bool | None, X("source/@tls")] = None
    source_index: Annotated[int | None, X("source/@index")] = None
    source_hosts: Annotated[list[DiskHost] | None, X("source/host", model=DiskHost, many=True)] = None
    backing: Annotated[BackingStore | None, X("backingStore", model=BackingStore)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        """virDomainDiskDefMirrorParse: the old form (``file``/``format`` attributes, no ``type``) read as the
        new one, ``job`` copy unless named, and a file copy's old attributes always written beside the new."""
        if values.get("type") is None:
            if values.get("file") is None:
                raise XMLError(ErrorCode.XML_ERROR, "mirror requires file name")
            if values.get("job") not in (None, "copy"):
                raise XMLError(ErrorCode.XML_ERROR, "mirror without type only supported by copy job")
            values.update(type="file", source_file=values["file"], format_type=values.get("format"))
        values["job"] = values.get("job") or "copy"
        if values["type"] == "file" and values["job"] == "copy":
            values["file"], values["format"] = values.get("source_file"), values.get("format_type")
        else:
            values["file"] = values["format"] = None
        size = find_one(elem, "format/metadata_cache/max_size")
        if size is not None:  # as <backingStore>'s: kept in bytes
            values["format_metadata_cache_max_size"] = parse_scaled(size.text or "", size.get("unit"), "max_size")
            values["format_metadata_cache_unit"] = "bytes"


class Reconnect(XmlModel):
    enabled: Annotated[bool | None, X("@enabled")] = None
    timeout: Annotated[int | None, X("@timeout")] = None


class Disk(XmlModel):
    TAG = "disk"

    type: Annotated[str | None, X("@type")] = None
    device: Annotated[str | None, X("@device")] = None
    model: Annotated[str | None, X("@model")] = None
    rawio: Annotated[bool | None, X("@rawio")] = None
    sgio: Annotated[str | None, X("@sgio")] = None
    snapshot: Annotated[str | None, X("@snapshot")] = None
    driver_name: Annotated[str | None, X("driver/@name")] = None
    driver_type: Annotated[str | None, X("driver/@type")] = None
    driver_cache: Annotated[str | None, X("driver/@cache")] = None
    driver_error_policy: Annotated[str | None, X("driver/@error_policy")] = None
    driver_rerror_policy: Annotated[str | None, X("driver/@rerror_policy")] = None
    driver_io: Annotated[str | None, X("driver/@io")] = None
    driver_ioeventfd: Annotated[bool | None, X("driver/@ioeventfd", words=("on", "off"))] = None
    driver_event_idx: Annotated[bool | None, X("driver/@event_idx", words=("on", "off"))] = None
    driver_copy_on_read: Annotated[bool | None, X("driver/@copy_on_read", words=("on", "off"))] = None
    driver_discard: Annotated[str | None, X("driver/@discard")] = None
    driver_iothread: Annotated[int | None, X("driver/@iothread")] = None
    driver_detect_zeroes: Annotated[str | None, X("driver/@detect_zeroes")] = None
    driver_queues: Annotated[int | None, X("driver/@queues")] = None
    driver_queue_size: Annotated[int | None, X("driver/@queue_size")] = None
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None
    # the qcow2 metadata cache's size, kept in bytes
    driver_metadata_cache_unit: Annotated[str | None, X("driver/metadata_cache/max_size/@unit")] = None
    driver_metadata_cache_max_size: Annotated[int | None, X("driver/metadata_cache/max_size")] = None
    auth: Annotated[StorageAuth | None, X("auth", model=StorageAuth)] = None  # the old place; kept there
    source_file: Annotated[str | None, X("source/@file")] = None
    source_fdgroup: Annotated[str | None, X("source/@fdgroup")] = None  # files passed in by a client
    source_dev: Annotated[str | None, X("source/@dev")] = None
    source_dir: Annotated[str | None, X("source/@dir")] = None
    source_protocol: Annotated[str | None, X("source/@protocol")] = None
    source_name: Annotated[str | None, X("source/@name")] = None
    source_query: Annotated[str | None, X("source/@query")] = None
    source_tls: Annotated[bool | None, X("source/@tls")] = None
    source_tls_hostname: Annotated[str | None, X("source/@tlsHostname")] = None
    source_pool: Annotated[str | None, X("source/@pool")] = None
    source_volume: Annotated[str | None, X("source/@volume")] = None
    source_mode: Annotated[str | None, X("source/@mode")] = None
    # type='nvme' (type='pci', managed, namespace) and type='vhostuser' (type='unix', path)
    source_type: Annotated[str | None, X("source/@type")] = None
    source_managed: Annotated[bool | None, X("source/@managed")] = None
    source_namespace: Annotated[int | None, X("source/@namespace")] = None
    source_unix_path: Annotated[str | None, X("source/@path")] = None  # vhostuser
    source_startup_policy: Annotated[str | None, X("source/@startupPolicy")] = None
    source_index: Annotated[int | None, X("source/@index")] = None
    source_hosts: Annotated[list[DiskHost] | None, X("source/host", model=DiskHost, many=True)] = None
    source_identity_user: Annotated[str | None, X("source/identity/@user")] = None  # NFS
    source_identity_group: Annotated[str | None, X("source/identity/@group")] = None
    source_snapshot: Annotated[str | None, X("source/snapshot/@name")] = None  # RBD
    source_config: Annotated[str | None, X("source/config/@file")] = None
    source_initiator_iqn: Annotated[str | None, X("source/initiator/iqn/@name")] = None
    source_ssl_verify: Annotated[str | None, X("source/ssl/@verify")] = None
    source_cookies: Annotated[list[Cookie] | None, X("source/cookies/cookie", model=Cookie, many=True)] = None
    source_readahead: Annotated[int | None, X("source/readahead/@size")] = None
    source_timeout: Annotated[int | None, X("source/timeout/@seconds")] = None
    source_nvme_address: Annotated[Address | None, X("source/address", model=Address)] = None
    source_reconnect: Annotated[Reconnect | None, X("source/reconnect", model=Reconnect)] = None
    source_slice_type: Annotated[str | None, X("source/slices/slice/@type")] = None
    source_slice_offset: Annotated[int | None, X("source/slices/slice/@offset")] = None
    source_slice_size: Annotated[int | None, X("source/slices/slice/@size")] = None
    source_seclabels: Annotated[list[DeviceSeclabel] | None, X("source/seclabel", model=DeviceSeclabel, many=True)] = (
        None
    )
    source_auth: Annotated[StorageAuth | None, X("source/auth", model=StorageAuth)] = None
    source_encryption_format: Annotated[str | None, X("source/encryption/@format")] = None
    source_encryption_engine: Annotated[str | None, X("source/encryption/@engine")] = None
    source_encryption_content: Annotated[str | None, X("source/encryption", raw=True)] = None
    # persistent reservations: managed by libvirt's helper, or through the given socket
    source_reservations_managed: Annotated[bool | None, X("source/reservations/@managed")] = None
    source_reservations_source: Annotated[str | None, X("source/reservations", raw=True)] = None
    backing: Annotated[BackingStore | None, X("backingStore", model=BackingStore)] = None
    backenddomain: Annotated[str | None, X("backenddomain/@name")] = None
    geometry_cyls: Annotated[int | None, X("geometry/@cyls")] = None
    geometry_heads: Annotated[int | None, X("geometry/@heads")] = None
    geometry_secs: Annotated[int | None, X("geometry/@secs")] = None
    geometry_trans: Annotated[str | None, X("geometry/@trans")] = None
    blockio_logical: Annotated[int | None, X("blockio/@logical_block_size")] = None
    blockio_physical: Annotated[int | None, X("blockio/@physical_block_size")] = None
    mirror: Annotated[DiskMirror | None, X("mirror", model=DiskMirror)] = None  # a block copy's target (live only)
    target_dev: Annotated[str | None, X("target/@dev")] = None
    target_bus: Annotated[str | None, X("target/@bus")] = None
    target_tray: Annotated[str | None, X("target/@tray")] = None
    target_removable: Annotated[bool | None, X("target/@removable", words=("on", "off"))] = None
    target_rotation_rate: Annotated[int | None, X("target/@rotation_rate")] = None
    iotune: Annotated[str | None, X("iotune", raw=True)] = None
    readonly: Annotated[bool | None, X("readonly", flag=True)] = None
    shareable: Annotated[bool | None, X("shareable", flag=True)] = None
    transient: Annotated[bool | None, X("transient", flag=True)] = None
    transient_share_backing: Annotated[bool | None, X("transient/@shareBacking", only_yes=True)] = None
    serial: Annotated[str | None, X("serial", verbatim=True)] = None  # virXPathString keeps its blanks
    wwn: Annotated[str | None, X("wwn")] = None
    vendor: Annotated[str | None, X("vendor")] = None
    product: Annotated[str | None, X("product")] = None
    encryption_format: Annotated[str | None, X("encryption/@format")] = None
    encryption_engine: Annotated[str | None, X("encryption/@engine")] = None
    encryption_content: Annotated[str | None, X("encryption", raw=True)] = None
    boot: Annotated[Boot | None, X("boot", model=Boot)] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None

    @property
    def source_path(self) -> str | None:
        return self.source_file or self.source_dev or self.source_dir

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        size = find_one(elem, "driver/metadata_cache/max_size")
        if size is not None:  # virParseScaledValue, bytes unless a unit is given; written back in bytes
            values["driver_metadata_cache_max_size"] = parse_scaled(size.text or "", size.get("unit"), "max_size")
            values["driver_metadata_cache_unit"] = "bytes"
        # virDomainDiskSourceNVMeParse / virDomainDiskSourceVHostUserParse
        kind, source_type = values.get("type"), values.get("source_type")
        if kind == "nvme" and find_one(elem, "source") is not None and source_type != "pci":
            raise XMLError(ErrorCode.XML_ERROR, f"unsupported source type '{source_type}'" if source_type
                           else "missing 'type' attribute to disk source")  # fmt: skip
        if kind == "vhostuser" and find_one(elem, "source") is not None and source_type != "unix":
            raise XMLError(ErrorCode.XML_ERROR, "invalid 'type' attribute for vhostuser disk source" if source_type
                           else "missing 'type' attribute for vhostuser disk source")  # fmt: skip
        if values.get("auth") is not None and values.get("source_auth") is not None:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "an <auth> definition already found for disk source")

    def xml_format_extra(self, elem: etree._Element) -> None:
        # A volume disk's path is what the storage driver resolved for a running guest; its XML
        # names the pool and volume only, as libvirt's does.
        if self.type == "volume":
            source = find_one(elem, "source")
            if source is not None:
                for attr in ("file", "dev", "dir", "protocol", "name"):
                    if attr in source.attrib:
                        del source.attrib[attr]
                for child in [*source.findall("host"), *source.findall("initiator")]:  # (an iSCSI LUN's)
                    source.remove(child)
        # virDomainDiskSourceFormat writes <source> only with something in it: an empty drive's has nothing
        source = find_one(elem, "source")
        if source is not None and not source.attrib and len(source) == 0:
            elem.remove(source)


class Controller(XmlModel):
    TAG = "controller"
    type: Annotated[str | None, X("@type")] = None
    index: Annotated[int | None, X("@index")] = None
    model: Annotated[str | None, X("@model")] = None
    ports: Annotated[int | None, X("@ports")] = None
    vectors: Annotated[int | None, X("@vectors")] = None
    maxGrantFrames: Annotated[int | None, X("@maxGrantFrames")] = None  # noqa: N815 - libvirt's name
    maxEventChannels: Annotated[int | None, X("@maxEventChannels")] = None  # noqa: N815 - libvirt's name (xenbus)
    driver_queues: Annotated[int | None, X("driver/@queues")] = None
    # a virtio-scsi controller's queue depth per LUN, largest request, and ioeventfd
    driver_cmd_per_lun: Annotated[int | None, X("driver/@cmd_per_lun")] = None
    driver_max_sectors: Annotated[int | None, X("driver/@max_sectors")] = None
    driver_ioeventfd: Annotated[bool | None, X("driver/@ioeventfd", words=("on", "off"))] = None
    driver_iothread: Annotated[int | None, X("driver/@iothread")] = None
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None
    model_name: Annotated[str | None, X("model/@name")] = None
    target_chassisNr: Annotated[int | None, X("target/@chassisNr")] = None  # noqa: N815
    target_chassis: Annotated[int | None, X("target/@chassis")] = None
    target_port: Annotated[str | None, X("target/@port")] = None
    target_busNr: Annotated[int | None, X("target/@busNr")] = None  # noqa: N815
    target_index: Annotated[int | None, X("target/@index")] = None
    target_hotplug: Annotated[bool | None, X("target/@hotplug", words=("on", "off"))] = None
    target_node: Annotated[int | None, X("target/node")] = None  # the guest NUMA cell of a PCI root or expander
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    master_startport: Annotated[int | None, X("master/@startport")] = None  # libvirt: alias, master, address
    address: Annotated[Address | None, X("address", model=Address)] = None
    # Not XML: added by the generic post-parse (a smartcard's ccid), which libvirt runs after the driver's,
    # so a driver that adds its machine's controllers puts them before this one.
    implicit: bool = False


class FsBinary(XmlModel):
    """``<binary>`` of a virtiofs filesystem: the virtiofsd daemon and its options."""

    path: Annotated[str | None, X("@path")] = None
    xattr: Annotated[bool | None, X("@xattr", words=("on", "off"))] = None
    cache_mode: Annotated[str | None, X("cache/@mode")] = None
    sandbox_mode: Annotated[str | None, X("sandbox/@mode")] = None
    lock_posix: Annotated[bool | None, X("lock/@posix", words=("on", "off"))] = None
    lock_flock: Annotated[bool | None, X("lock/@flock", words=("on", "off"))] = None
    thread_pool_size: Annotated[int | None, X("thread_pool/@size")] = None


def prop_uint(elem: etree._Element, attr: str, base: int) -> int | None:
    """virXMLPropUInt: an optional attribute holding a C unsigned int, read as strtoul reads it in ``base``
    (0: C's prefixes, so '0x19' and '031' are 25); None when absent."""
    raw = elem.get(attr)
    if raw is None:
        return None
    parsed = strtoul(raw, base)
    if parsed is None or parsed[0] == "-" or parsed[1] > UINT_MAX:
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute '{attr}' in element '{elem.tag}': "
                       f"'{raw}'. Expected non-negative integer value")  # fmt: skip
    return parsed[1]


def _file_mode(values: dict[str, Any], elem: etree._Element, attr: str) -> None:
    """fmode/dmode: read as octal (virXMLPropUInt base 8), at most 0777, written '%04o'."""
    mode = prop_uint(elem, attr, 8)
    if mode is not None and mode > 0o777:
        raise XMLError(ErrorCode.XML_ERROR, f"invalid {attr}: '0{mode:o}'")
    values[attr] = f"{mode:04o}" if mode else None


class Filesystem(XmlModel):
    TAG = "filesystem"
    type: Annotated[str | None, X("@type")] = None
    accessmode: Annotated[str | None, X("@accessmode")] = None
    model: Annotated[str | None, X("@model")] = None  # virtio, virtio-transitional, virtio-non-transitional
    multidevs: Annotated[str | None, X("@multidevs")] = None
    fmode: Annotated[str | None, X("@fmode")] = None  # octal, as written
    dmode: Annotated[str | None, X("@dmode")] = None
    driver_type: Annotated[str | None, X("driver/@type")] = None
    driver_format: Annotated[str | None, X("driver/@format")] = None
    driver_wrpolicy: Annotated[str | None, X("driver/@wrpolicy")] = None
    driver_queue: Annotated[int | None, X("driver/@queue")] = None
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None
    binary: Annotated[FsBinary | None, X("binary", model=FsBinary)] = None
    source_dir: Annotated[str | None, X("source/@dir")] = None
    source_file: Annotated[str | None, X("source/@file")] = None
    source_name: Annotated[str | None, X("source/@name")] = None
    source_usage: Annotated[int | None, X("source/@usage")] = None
    source_units: Annotated[str | None, X("source/@units")] = None
    source_socket: Annotated[str | None, X("source/@socket")] = None
    target_dir: Annotated[str | None, X("target/@dir")] = None
    readonly: Annotated[bool | None, X("readonly", flag=True)] = None
    boot: Annotated[Boot | None, X("boot", model=Boot)] = None  # virtiofs only
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        _file_mode(values, elem, "fmode")
        _file_mode(values, elem, "dmode")


class IpAddress(XmlModel):
    address: Annotated[str | None, X("@address")] = None
    family: Annotated[str | None, X("@family")] = None
    prefix: Annotated[int | None, X("@prefix")] = None
    peer: Annotated[str | None, X("@peer")] = None


class Route(XmlModel):
    family: Annotated[str | None, X("@family")] = None
    address: Annotated[str | None, X("@address")] = None
    prefix: Annotated[int | None, X("@prefix")] = None
    gateway: Annotated[str | None, X("@gateway")] = None


class BandwidthRate(XmlModel):
    """``<inbound>``/``<outbound>`` of a NIC's ``<bandwidth>`` (kB/s, kB/s, kB/s, kB), virNetDevBandwidthParseRate."""

    average: Annotated[int | None, X("@average")] = None
    peak: Annotated[int | None, X("@peak")] = None
    floor: Annotated[int | None, X("@floor")] = None
    burst: Annotated[int | None, X("@burst")] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        if not values.get("average") and not values.get("floor"):
            raise XMLError(ErrorCode.XML_DETAIL, "Missing mandatory average or floor attributes")
        if (values.get("peak") or values.get("burst")) and not values.get("average"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "'peak' and 'burst' require 'average' attribute")


class Bandwidth(XmlModel):
    """A NIC's traffic shaping (virNetDevBandwidthParse); the drivers that cannot apply it refuse it."""

    inbound: Annotated[BandwidthRate | None, X("inbound", model=BandwidthRate)] = None
    outbound: Annotated[BandwidthRate | None, X("outbound", model=BandwidthRate)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        for kind in ("inbound", "outbound"):
            if len(find_all(elem, kind)) > 1:
                raise XMLError(ErrorCode.XML_DETAIL, f"Only one child <{kind}> element allowed")
        outbound = values.get("outbound")
        if outbound is not None and outbound.floor:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "'floor' attribute allowed only in <inbound> element")


class VlanTag(XmlModel):
    id: Annotated[int | None, X("@id")] = None
    nativeMode: Annotated[str | None, X("@nativeMode")] = None  # noqa: N815


class Vlan(XmlModel):
    """A NIC's VLAN tags (virNetDevVlanParse): ``trunk`` is written when there is more than one tag or it says so."""

    trunk: Annotated[str | None, X("@trunk")] = None  # "yes" or none: libvirt reads it case-blind, writes "yes"
    tags: Annotated[list[VlanTag] | None, X("tag", model=VlanTag, many=True)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        tags: list[VlanTag] = values.get("tags") or []
        if not tags:
            raise XMLError(ErrorCode.XML_ERROR, "missing tag id - each <vlan> must have at least one <tag id='n'/> "
                           "subelement")  # fmt: skip
        native = False
        for tag in tags:
            if tag.id is None:
                raise XMLError(ErrorCode.XML_ERROR, "Missing required attribute 'id' in element 'tag'")
            if tag.id > 4095:
                raise XMLError(ErrorCode.XML_ERROR, f"vlan tag id {tag.id} too large (maximum 4095)")
            if tag.nativeMode is not None:
                if native:
                    raise XMLError(ErrorCode.XML_ERROR, "duplicate native vlan setting")
                native = True
        trunk = elem.get("trunk")
        if trunk is not None and trunk.lower() != "yes":
            if len(tags) > 1:
                raise XMLError(ErrorCode.XML_ERROR, f"invalid \"trunk='{trunk}'\" in <vlan> - trunk='yes' is "
                               "required for more than one vlan tag")  # fmt: skip
            if native:
                raise XMLError(ErrorCode.XML_ERROR, "invalid configuration in <vlan> - \"trunk='no'\" is not "
                               "allowed with a native vlan id")  # fmt: skip
            if trunk.lower() != "no":
                raise XMLError(ErrorCode.XML_ERROR, f"invalid \"trunk='{trunk}'\" in <vlan> - must be yes or no")
        values["trunk"] = "yes" if len(tags) > 1 or (trunk or "").lower() == "yes" else None


# the <parameters> each <virtualport type> may carry (virNetDevVPortProfileCheckNoExtras), in libvirt's order
_VPORT_PARAMS = ("managerid", "typeid", "typeidversion", "instanceid", "interfaceid", "profileid")
_VPORT_ALLOWED = {
    "802.1Qbg": ("managerid", "typeid", "typeidversion", "instanceid"),
    "802.1Qbh": ("profileid",),
    "openvswitch": ("interfaceid", "profileid"),
    "midonet": _VPORT_PARAMS,
    None: _VPORT_PARAMS,
}


class VirtualPort(XmlModel):
    """A NIC's port profile (virNetDevVPortProfileParse); missing ids are generated as libvirt generates them."""

    type: Annotated[str | None, X("@type")] = None
    # numbers read as C reads them (0x.., 0..), written back in decimal
    managerid: Annotated[str | None, X("parameters/@managerid")] = None
    typeid: Annotated[str | None, X("parameters/@typeid")] = None
    typeidversion: Annotated[str | None, X("parameters/@typeidversion")] = None
    instanceid: Annotated[str | None, X("parameters/@instanceid")] = None
    interfaceid: Annotated[str | None, X("parameters/@interfaceid")] = None
    profileid: Annotated[str | None, X("parameters/@profileid")] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        kind = values.get("type")
        if kind is not None and kind not in _VPORT_ALLOWED:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown virtualport type {kind}")
        for name, top, out_of_range in (("managerid", 0xFF, "value of managerid out of range"),
                                        ("typeid", 0xFFFFFF, "value for typeid out of range"),
                                        ("typeidversion", 0xFF, "value of typeidversion out of range")):  # fmt: skip
            if values.get(name) is None:
                continue
            parsed = strtoul(values[name], 0)
            if parsed is None or parsed[1] > UINT_MAX:
                raise XMLError(ErrorCode.XML_ERROR, f"cannot parse value of {name} parameter")
            number = parsed[1] if parsed[0] != "-" else UINT_MAX + 1 - parsed[1]  # virStrToLong_ui wraps negatives
            if number > top:
                raise XMLError(ErrorCode.XML_ERROR, out_of_range)
            values[name] = str(number)
        import uuid  # here, not at the top: importing it loads platform, paid by every pyvirsh start

        for name in ("instanceid", "interfaceid"):
            if values.get(name) is not None:
                try:
                    values[name] = str(uuid.UUID(values[name]))
                except ValueError:
                    raise XMLError(ErrorCode.XML_ERROR, f"cannot parse {name} parameter as a uuid") from None
        if len(values.get("profileid") or "") > 39:
            raise XMLError(ErrorCode.XML_ERROR, "profileid parameter too long")
        for name in ("managerid", "typeid", "typeidversion", "instanceid", "profileid", "interfaceid"):
            if values.get(name) is not None and name not in _VPORT_ALLOWED[kind]:
                raise XMLError(ErrorCode.XML_ERROR, f"extra {name} unsupported in <virtualport type='{kind}'>")
        # VIR_VPORT_XML_GENERATE_MISSING_DEFAULTS: every interface type that takes a virtualport asks for it
        if kind in ("802.1Qbg", None) and values.get("instanceid") is None:
            values["instanceid"] = str(uuid.uuid4())
        if kind in ("openvswitch", None) and values.get("interfaceid") is None:
            values["interfaceid"] = str(uuid.uuid4())


def _check_portid(values: dict[str, Any], portid: str) -> None:
    """``<source portid>``: the network port's UUID (virXMLPropUUID), or a vds switch port's number
    (virXMLPropLongLong); written back as libvirt writes each."""
    from pyvirt.conf.identity import normalize_uuid

    network = values.get("type") == "network"
    try:
        values["source_portid"] = normalize_uuid(portid) if network else str(int(portid, 10))
    except (XMLError, ValueError):
        expected = "UUID" if network else "long long integer value"
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'portid' in element 'source': "
                       f"'{portid}'. Expected {expected}") from None  # fmt: skip


# interface types whose <virtualport> libvirt reads (the others refuse it)
_VPORT_NET_TYPES = ("network", "bridge", "direct", "hostdev")
# interface types whose <filterref> libvirt reads (virDomainNetDefParseXML's parse_filterref; the others drop it)
_FILTERREF_NET_TYPES = ("network", "bridge", "ethernet")
_FILTER_VARNAME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_FILTER_VARVALUE = _FILTER_VARNAME | frozenset(".:")


class FilterRefParameter(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    value: Annotated[str | None, X("@value")] = None


class NicFilterRef(XmlModel):
    """A NIC's network filter and its parameters (virNWFilterParseParamAttributes): a parameter whose name or
    value libvirt would not accept is skipped, and they are written sorted by name, as libvirt's hash table is."""

    filter: Annotated[str | None, X("@filter")] = None
    parameters: Annotated[list[FilterRefParameter] | None, X("parameter", model=FilterRefParameter, many=True)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        kept = [p for p in values.get("parameters") or []
                if p.name and p.value and set(p.name) <= _FILTER_VARNAME and set(p.value) <= _FILTER_VARVALUE]  # fmt: skip
        values["parameters"] = sorted(kept, key=lambda p: p.name or "") or None


class Interface(XmlModel):
    TAG = "interface"
    UNSUPPORTED = frozenset({"tune", "coalesce", "teaming"})

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        if values.get("virtualport") is not None and values.get("type") not in _VPORT_NET_TYPES:
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"<virtualport> element unsupported for <interface type='{values.get('type')}'>",
            )
        bandwidth = values.get("bandwidth")
        inbound = bandwidth.inbound if bandwidth is not None else None
        if inbound is not None and inbound.floor and values.get("type") != "network":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "floor attribute is not supported for this config")
        portid = values.get("source_portid")
        if portid is not None and values.get("type") in ("network", "vds"):
            _check_portid(values, portid)
        ref = values.get("filterref")
        if ref is not None and (ref.filter is None or values.get("type") not in _FILTERREF_NET_TYPES):
            values["filterref"] = None  # libvirt reads it for these types only, and without a filter keeps nothing

    def xml_format_extra(self, elem: etree._Element) -> None:
        source = elem.find("source") if self.type == "network" and self.source_portid else None
        if source is not None:  # virDomainNetDefFormat: network, portgroup, portid, then the bridge it got
            attrs = {str(k): str(v) for k, v in source.attrib.items()}
            source.attrib.clear()
            for key in sorted(attrs, key=lambda k: ("network", "portgroup", "portid").index(k)
                              if k in ("network", "portgroup", "portid") else 3):  # fmt: skip
                source.set(key, attrs[key])

    type: Annotated[str | None, X("@type")] = None
    managed: Annotated[bool | None, X("@managed")] = None  # type='hostdev': detach from the host driver first
    trustGuestRxFilters: Annotated[bool | None, X("@trustGuestRxFilters")] = None  # noqa: N815
    mac: Annotated[str | None, X("mac/@address")] = None
    mac_type: Annotated[str | None, X("mac/@type")] = None
    mac_check: Annotated[bool | None, X("mac/@check")] = None
    source_network: Annotated[str | None, X("source/@network")] = None
    source_portgroup: Annotated[str | None, X("source/@portgroup")] = None
    source_bridge: Annotated[str | None, X("source/@bridge")] = None
    source_dev: Annotated[str | None, X("source/@dev")] = None
    source_mode: Annotated[str | None, X("source/@mode")] = None
    source_address: Annotated[str | None, X("source/@address")] = None
    source_port: Annotated[int | None, X("source/@port")] = None
    # <interface type='vds'>: a VMware distributed switch port (libvirt's ESX driver)
    source_switchid: Annotated[str | None, X("source/@switchid")] = None
    # type='vds': the switch port's number; type='network': the UUID of the network driver's port (live XML only)
    source_portid: Annotated[str | None, X("source/@portid")] = None
    source_portgroupid: Annotated[str | None, X("source/@portgroupid")] = None
    source_connectionid: Annotated[int | None, X("source/@connectionid")] = None
    # type='hostdev': the PCI device (an SR-IOV VF) given to the guest; QEMU and LXC refuse that type
    source_pci_address: Annotated[Address | None, X("source/address", model=Address)] = None
    # host-side addresses and routes of an ethernet NIC (LXC: the host end of the veth pair)
    source_ips: Annotated[list[IpAddress] | None, X("source/ip", model=IpAddress, many=True)] = None
    source_routes: Annotated[list[Route] | None, X("source/route", model=Route, many=True)] = None
    vlan: Annotated[Vlan | None, X("vlan", model=Vlan)] = None
    virtualport: Annotated[VirtualPort | None, X("virtualport", model=VirtualPort)] = None
    bandwidth: Annotated[Bandwidth | None, X("bandwidth", model=Bandwidth)] = None
    port_isolated: Annotated[bool | None, X("port/@isolated")] = None  # no traffic to other isolated ports
    backenddomain: Annotated[str | None, X("backenddomain/@name")] = None
    ips: Annotated[list[IpAddress] | None, X("ip", model=IpAddress, many=True)] = None
    routes: Annotated[list[Route] | None, X("route", model=Route, many=True)] = None
    script_path: Annotated[str | None, X("script/@path")] = None
    downscript_path: Annotated[str | None, X("downscript/@path")] = None  # run when the tap is torn down
    target_dev: Annotated[str | None, X("target/@dev")] = None
    target_managed: Annotated[bool | None, X("target/@managed")] = None
    guest_dev: Annotated[str | None, X("guest/@dev")] = None
    model_type: Annotated[str | None, X("model/@type")] = None
    driver_name: Annotated[str | None, X("driver/@name")] = None
    driver_txmode: Annotated[str | None, X("driver/@txmode")] = None
    driver_ioeventfd: Annotated[bool | None, X("driver/@ioeventfd", words=("on", "off"))] = None
    driver_event_idx: Annotated[bool | None, X("driver/@event_idx", words=("on", "off"))] = None
    driver_queues: Annotated[int | None, X("driver/@queues")] = None
    driver_rx_queue_size: Annotated[int | None, X("driver/@rx_queue_size")] = None
    driver_tx_queue_size: Annotated[int | None, X("driver/@tx_queue_size")] = None
    driver_rss: Annotated[bool | None, X("driver/@rss", words=("on", "off"))] = None  # receive-side scaling
    driver_rss_hash_report: Annotated[bool | None, X("driver/@rss_hash_report", words=("on", "off"))] = None
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None
    # virtio-net offloads the host side (and the guest side) may use
    driver_host_csum: Annotated[bool | None, X("driver/host/@csum", words=("on", "off"))] = None
    driver_host_gso: Annotated[bool | None, X("driver/host/@gso", words=("on", "off"))] = None
    driver_host_tso4: Annotated[bool | None, X("driver/host/@tso4", words=("on", "off"))] = None
    driver_host_tso6: Annotated[bool | None, X("driver/host/@tso6", words=("on", "off"))] = None
    driver_host_ecn: Annotated[bool | None, X("driver/host/@ecn", words=("on", "off"))] = None
    driver_host_ufo: Annotated[bool | None, X("driver/host/@ufo", words=("on", "off"))] = None
    driver_host_mrg_rxbuf: Annotated[bool | None, X("driver/host/@mrg_rxbuf", words=("on", "off"))] = None
    driver_guest_csum: Annotated[bool | None, X("driver/guest/@csum", words=("on", "off"))] = None
    driver_guest_tso4: Annotated[bool | None, X("driver/guest/@tso4", words=("on", "off"))] = None
    driver_guest_tso6: Annotated[bool | None, X("driver/guest/@tso6", words=("on", "off"))] = None
    driver_guest_ecn: Annotated[bool | None, X("driver/guest/@ecn", words=("on", "off"))] = None
    driver_guest_ufo: Annotated[bool | None, X("driver/guest/@ufo", words=("on", "off"))] = None
    filterref: Annotated[NicFilterRef | None, X("filterref", model=NicFilterRef)] = None
    mtu: Annotated[int | None, X("mtu/@size")] = None
    link_state: Annotated[str | None, X("link/@state")] = None
    boot: Annotated[Boot | None, X("boot", model=Boot)] = None
    rom_bar: Annotated[str | None, X("rom/@bar")] = None
    rom_file: Annotated[str | None, X("rom/@file")] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class ChardevSource(XmlModel):
    mode: Annotated[str | None, X("@mode")] = None
    path: Annotated[str | None, X("@path")] = None
    host: Annotated[str | None, X("@host")] = None
    service: Annotated[str | None, X("@service")] = None
    tls: Annotated[bool | None, X("@tls")] = None
    append: Annotated[bool | None, X("@append", words=("on", "off"))] = None
    channel: Annotated[str | None, X("@channel")] = None
    reconnect: Annotated[Reconnect | None, X("reconnect", model=Reconnect)] = None
    # type='qemu-vdagent': what QEMU's own SPICE agent offers the guest
    clipboard_copypaste: Annotated[bool | None, X("clipboard/@copypaste")] = None
    mouse_mode: Annotated[str | None, X("mouse/@mode")] = None
    seclabels: Annotated[list[DeviceSeclabel] | None, X("seclabel", model=DeviceSeclabel, many=True)] = None


class Chardev(XmlModel):
    """serial, parallel, console and channel share this shape."""

    type: Annotated[str | None, X("@type")] = None
    tty: Annotated[str | None, X("@tty")] = None  # live XML: the pty QEMU allocated
    sources: Annotated[list[ChardevSource] | None, X("source", model=ChardevSource, many=True)] = None
    protocol: Annotated[str | None, X("protocol/@type")] = None
    log_file: Annotated[str | None, X("log/@file")] = None
    log_append: Annotated[bool | None, X("log/@append", words=("on", "off"))] = None
    target_type: Annotated[str | None, X("target/@type")] = None
    target_address: Annotated[str | None, X("target/@address")] = None
    target_port: Annotated[str | None, X("target/@port")] = None
    target_name: Annotated[str | None, X("target/@name")] = None
    target_state: Annotated[str | None, X("target/@state")] = None
    target_model: Annotated[str | None, X("target/model/@name")] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class GraphicsListen(XmlModel):
    type: Annotated[str | None, X("@type")] = None
    address: Annotated[str | None, X("@address")] = None
    network: Annotated[str | None, X("@network")] = None
    socket: Annotated[str | None, X("@socket")] = None
    # Not XML: filled in at start from the driver's config / a socket path it made up (libvirt's fromConfig and
    # autoGenerated); a migratable copy of the live definition leaves them out
    from_config: bool = False
    auto_generated: bool = False


class SpiceChannel(XmlModel):
    name: Annotated[str | None, X("@name")] = None
    mode: Annotated[str | None, X("@mode")] = None


class Graphics(XmlModel):
    TAG = "graphics"
    type: Annotated[str | None, X("@type")] = None
    display: Annotated[str | None, X("@display")] = None
    xauth: Annotated[str | None, X("@xauth")] = None
    fullscreen: Annotated[bool | None, X("@fullscreen")] = None
    port: Annotated[int | None, X("@port")] = None
    tlsPort: Annotated[int | None, X("@tlsPort")] = None  # noqa: N815
    autoport: Annotated[bool | None, X("@autoport")] = None
    websocket: Annotated[int | None, X("@websocket")] = None
    listen: Annotated[str | None, X("@listen")] = None
    socket: Annotated[str | None, X("@socket")] = None
    # libvirt writes keymap before sharePolicy/powerControl and the passwd attributes
    keymap: Annotated[str | None, X("@keymap")] = None
    sharePolicy: Annotated[str | None, X("@sharePolicy")] = None  # noqa: N815
    powerControl: Annotated[bool | None, X("@powerControl")] = None  # noqa: N815
    passwd: Annotated[str | None, X("@passwd")] = None
    defaultMode: Annotated[str | None, X("@defaultMode")] = None  # noqa: N815 - libvirt's name
    passwdValidTo: Annotated[str | None, X("@passwdValidTo")] = None  # noqa: N815
    connected: Annotated[str | None, X("@connected")] = None
    listens: Annotated[list[GraphicsListen] | None, X("listen", model=GraphicsListen, many=True)] = None
    channels: Annotated[list[SpiceChannel] | None, X("channel", model=SpiceChannel, many=True)] = None
    image_compression: Annotated[str | None, X("image/@compression")] = None
    jpeg_compression: Annotated[str | None, X("jpeg/@compression")] = None
    zlib_compression: Annotated[str | None, X("zlib/@compression")] = None
    playback_compression: Annotated[str | None, X("playback/@compression")] = None
    streaming_mode: Annotated[str | None, X("streaming/@mode")] = None
    mouse_mode: Annotated[str | None, X("mouse/@mode")] = None
    clipboard_copypaste: Annotated[str | None, X("clipboard/@copypaste")] = None
    filetransfer_enable: Annotated[str | None, X("filetransfer/@enable")] = None
    gl_enable: Annotated[bool | None, X("gl/@enable")] = None
    gl_rendernode: Annotated[str | None, X("gl/@rendernode")] = None


class Video(XmlModel):
    TAG = "video"
    # libvirt writes the virtio options first, then the driver's own attributes
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None
    driver_vgaconf: Annotated[str | None, X("driver/@vgaconf")] = None  # bhyve's VGA mode
    driver_name: Annotated[str | None, X("driver/@name")] = None
    model_type: Annotated[str | None, X("model/@type")] = None
    model_ram: Annotated[int | None, X("model/@ram")] = None
    model_vram: Annotated[int | None, X("model/@vram")] = None
    model_vram64: Annotated[int | None, X("model/@vram64")] = None
    model_vgamem: Annotated[int | None, X("model/@vgamem")] = None
    model_heads: Annotated[int | None, X("model/@heads")] = None
    model_primary: Annotated[bool | None, X("model/@primary", only_yes=True)] = None
    model_accel3d: Annotated[bool | None, X("model/acceleration/@accel3d")] = None  # virgl
    model_accel2d: Annotated[bool | None, X("model/acceleration/@accel2d")] = None
    model_rendernode: Annotated[str | None, X("model/acceleration/@rendernode")] = None
    model_resolution_x: Annotated[int | None, X("model/resolution/@x")] = None
    model_resolution_y: Annotated[int | None, X("model/resolution/@y")] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class Input(XmlModel):
    TAG = "input"
    type: Annotated[str | None, X("@type")] = None
    bus: Annotated[str | None, X("@bus")] = None
    model: Annotated[str | None, X("@model")] = None
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None
    source_dev: Annotated[str | None, X("source/@dev")] = None  # type='evdev': the host's input device
    source_evdev: Annotated[str | None, X("source/@evdev")] = None  # type='passthrough'
    source_grab: Annotated[str | None, X("source/@grab")] = None
    source_grab_toggle: Annotated[str | None, X("source/@grabToggle")] = None
    source_repeat: Annotated[bool | None, X("source/@repeat", words=("on", "off"))] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class Codec(XmlModel):
    type: Annotated[str | None, X("@type")] = None


class Sound(XmlModel):
    TAG = "sound"
    model: Annotated[str | None, X("@model")] = None
    codecs: Annotated[list[Codec] | None, X("codec", model=Codec, many=True)] = None
    audio_id: Annotated[int | None, X("audio/@id")] = None  # the <audio> backend it plays through
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class HostdevSource(XmlModel):
    startupPolicy: Annotated[str | None, X("@startupPolicy")] = None  # noqa: N815
    # a USB device's resets by the guest: off, uninitialized (only while unconfigured) or on (QEMU's guest-reset*)
    guestReset: Annotated[str | None, X("@guestReset")] = None  # noqa: N815
    # a PCI device's config space writes filtered (Xen's pciback "permissive" off): libxl only
    writeFiltering: Annotated[bool | None, X("@writeFiltering")] = None  # noqa: N815
    # SCSI: protocol='iscsi' with the target's IQN as name; scsi_host: protocol='vhost' and the target's WWPN
    protocol: Annotated[str | None, X("@protocol")] = None
    name: Annotated[str | None, X("@name")] = None
    wwpn: Annotated[str | None, X("@wwpn")] = None
    vendor_id: Annotated[str | None, X("vendor/@id")] = None
    product_id: Annotated[str | None, X("product/@id")] = None
    adapter_name: Annotated[str | None, X("adapter/@name")] = None
    hosts: Annotated[list[DiskHost] | None, X("host", model=DiskHost, many=True)] = None
    auth: Annotated[StorageAuth | None, X("auth", model=StorageAuth)] = None
    initiator_iqn: Annotated[str | None, X("initiator/iqn/@name")] = None
    address: Annotated[Address | None, X("address", model=Address)] = None

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        wwpn = values.get("wwpn")
        if values.get("protocol") == "vhost":  # virDomainHostdevSubsysSCSIVHostDefParseXML
            if wwpn is None:
                raise XMLError(ErrorCode.XML_ERROR, "missing vhost-scsi hostdev source wwpn")
            digits = wwpn[4:].removeprefix("0x")
            if (
                not wwpn.startswith("naa.")
                or len(digits) != 16
                or any(c not in "0123456789abcdefABCDEF" for c in digits)
            ):
                raise XMLError(ErrorCode.XML_ERROR, "malformed 'wwpn' value")

    block: Annotated[str | None, X("block")] = None
    char: Annotated[str | None, X("char")] = None
    interface: Annotated[str | None, X("interface")] = None


class Hostdev(XmlModel):
    TAG = "hostdev"
    mode: Annotated[str | None, X("@mode")] = None
    type: Annotated[str | None, X("@type")] = None
    # libvirt ignores a word other than yes/no here (and the guest's device is then not managed)
    managed: Annotated[bool | None, X("@managed", unknown_absent=True)] = None
    sgio: Annotated[str | None, X("@sgio")] = None
    rawio: Annotated[bool | None, X("@rawio")] = None
    # a mediated device (type='mdev'): its API (vfio-pci, vfio-ccw, vfio-ap), and for vfio-pci its display
    model: Annotated[str | None, X("@model")] = None
    display: Annotated[bool | None, X("@display", words=("on", "off"))] = None
    ramfb: Annotated[bool | None, X("@ramfb", words=("on", "off"))] = None
    # PCI passthrough backend (default, kvm, vfio, xen); QEMU and LXC refuse every <hostdev> they would not run
    driver_name: Annotated[str | None, X("driver/@name")] = None
    source: Annotated[HostdevSource | None, X("source", model=HostdevSource)] = None
    # mode='capabilities' type='net' (LXC): the moved interface's addresses and routes
    ips: Annotated[list[IpAddress] | None, X("ip", model=IpAddress, many=True)] = None
    routes: Annotated[list[Route] | None, X("route", model=Route, many=True)] = None
    boot: Annotated[Boot | None, X("boot", model=Boot)] = None
    readonly: Annotated[bool | None, X("readonly", flag=True)] = None
    shareable: Annotated[bool | None, X("shareable", flag=True)] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class Watchdog(XmlModel):
    TAG = "watchdog"
    model: Annotated[str | None, X("@model")] = None
    action: Annotated[str | None, X("@action")] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class Memballoon(XmlModel):
    TAG = "memballoon"
    model: Annotated[str | None, X("@model")] = None
    autodeflate: Annotated[bool | None, X("@autodeflate", words=("on", "off"))] = None
    freePageReporting: Annotated[bool | None, X("@freePageReporting", words=("on", "off"))] = None  # noqa: N815
    stats_period: Annotated[int | None, X("stats/@period")] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None


class RngBackend(XmlModel):
    model: Annotated[str | None, X("@model")] = None
    type: Annotated[str | None, X("@type")] = None
    path: Annotated[str | None, X(".")] = None
    sources: Annotated[list[ChardevSource] | None, X("source", model=ChardevSource, many=True)] = None
    protocol: Annotated[str | None, X("protocol/@type")] = None


class Rng(XmlModel):
    TAG = "rng"
    model: Annotated[str | None, X("@model")] = None
    rate_bytes: Annotated[int | None, X("rate/@bytes")] = None
    rate_period: Annotated[int | None, X("rate/@period")] = None
    backend: Annotated[RngBackend | None, X("backend", model=RngBackend)] = None
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class Tpm(XmlModel):
    TAG = "tpm"

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        source = find_one(elem, "backend/source")
        kind = source.get("type") if source is not None else None
        if values.get("backend_type") == "external" and kind is not None and kind not in _CHR_SOURCE_TYPES:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown backend type '{kind}' for external TPM")

    model: Annotated[str | None, X("@model")] = None
    backend_type: Annotated[str | None, X("backend/@type")] = None
    backend_version: Annotated[str | None, X("backend/@version")] = None
    backend_persistent_state: Annotated[bool | None, X("backend/@persistent_state")] = None
    backend_content: Annotated[str | None, X("backend", raw=True)] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class AudioIO(XmlModel):
    """One direction (``<input>`` or ``<output>``) of an audio backend; each backend uses its own attributes."""

    mixingEngine: Annotated[bool | None, X("@mixingEngine")] = None  # noqa: N815 - libvirt's names
    fixedSettings: Annotated[bool | None, X("@fixedSettings")] = None  # noqa: N815
    voices: Annotated[int | None, X("@voices")] = None
    bufferLength: Annotated[int | None, X("@bufferLength")] = None  # noqa: N815
    dev: Annotated[str | None, X("@dev")] = None
    bufferCount: Annotated[int | None, X("@bufferCount")] = None  # noqa: N815
    tryPoll: Annotated[bool | None, X("@tryPoll")] = None  # noqa: N815
    name: Annotated[str | None, X("@name")] = None
    streamName: Annotated[str | None, X("@streamName")] = None  # noqa: N815
    latency: Annotated[int | None, X("@latency")] = None
    serverName: Annotated[str | None, X("@serverName")] = None  # noqa: N815
    clientName: Annotated[str | None, X("@clientName")] = None  # noqa: N815
    connectPorts: Annotated[str | None, X("@connectPorts")] = None  # noqa: N815
    exactName: Annotated[bool | None, X("@exactName")] = None  # noqa: N815
    frequency: Annotated[int | None, X("settings/@frequency")] = None
    channels: Annotated[int | None, X("settings/@channels")] = None
    format: Annotated[str | None, X("settings/@format")] = None


class Audio(XmlModel):
    """``<audio>``: a host audio backend (none, alsa, pulseaudio, file, ...) that sound cards and displays use."""

    TAG = "audio"
    id: Annotated[int | None, X("@id")] = None
    type: Annotated[str | None, X("@type")] = None
    timer_period: Annotated[int | None, X("@timerPeriod")] = None
    tryMMap: Annotated[bool | None, X("@tryMMap")] = None  # noqa: N815
    exclusive: Annotated[bool | None, X("@exclusive")] = None
    dspPolicy: Annotated[int | None, X("@dspPolicy")] = None  # noqa: N815
    serverName: Annotated[str | None, X("@serverName")] = None  # noqa: N815
    driver: Annotated[str | None, X("@driver")] = None
    path: Annotated[str | None, X("@path")] = None
    input: Annotated[AudioIO | None, X("input", model=AudioIO)] = None
    output: Annotated[AudioIO | None, X("output", model=AudioIO)] = None


class Memory(XmlModel):
    """A memory size; stored in KiB, formatted with ``unit='KiB'`` as libvirt does."""

    XML_OPEN = True

    kib: int = 0
    slots: int | None = None
    dump_core: str | None = None  # <memory dumpCore='on|off'>: guest RAM in the emulator's core dumps

    @classmethod
    def xml_parse_extra(cls, elem: etree._Element, values: dict[str, Any]) -> None:
        # an empty size reads as none given, as libvirt's virParseScaledValue reads it
        text = elem.text or ""
        values["kib"] = parse_memory_kib(text, elem.get("unit"), elem.tag) if text.strip() else 0
        slots = elem.get("slots")
        if slots is not None and elem.tag == "maxMemory":  # libvirt reads slots there only
            # virXPathUInt: "-1" wraps to UINT_MAX, anything else outside 32 bits is refused
            parsed = strtoul(slots, 10)
            if parsed is None or parsed[1] > UINT_MAX:
                raise XMLError(ErrorCode.XML_ERROR, "Failed to parse memory slot count")
            values["slots"] = (-parsed[1] if parsed[0] == "-" else parsed[1]) & UINT_MAX
        dump_core = elem.get("dumpCore")
        if dump_core is not None and elem.tag == "memory":  # libvirt reads it there only
            if dump_core not in ("on", "off"):
                raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'dumpCore' in element 'memory': "
                               f"'{dump_core}'.")  # fmt: skip
            values["dump_core"] = dump_core

    def xml_format_extra(self, elem: etree._Element) -> None:
        if self.slots is not None:
            elem.set("slots", str(self.slots))
        if self.dump_core is not None:
            elem.set("dumpCore", self.dump_core)
        elem.set("unit", "KiB")
        elem.text = str(self.kib)


class MemoryDevice(XmlModel):
    """``<memory model='dimm|nvdimm|virtio-mem|virtio-pmem'>``: RAM or persistent memory beyond the initial RAM."""

    TAG = "memory"
    model: Annotated[str | None, X("@model")] = None
    access: Annotated[str | None, X("@access")] = None
    discard: Annotated[bool | None, X("@discard")] = None
    uuid: Annotated[str | None, X("uuid")] = None
    source_nodemask: Annotated[str | None, X("source/nodemask")] = None
    source_pagesize: Annotated[Memory | None, X("source/pagesize", model=Memory)] = None
    source_path: Annotated[str | None, X("source/path")] = None
    source_alignsize: Annotated[Memory | None, X("source/alignsize", model=Memory)] = None
    source_pmem: Annotated[bool | None, X("source/pmem", flag=True)] = None
    target_size: Annotated[Memory | None, X("target/size", model=Memory)] = None
    target_node: Annotated[int | None, X("target/node")] = None
    target_label_size: Annotated[Memory | None, X("target/label/size", model=Memory)] = None
    target_block: Annotated[Memory | None, X("target/block", model=Memory)] = None
    target_requested: Annotated[Memory | None, X("target/requested", model=Memory)] = None
    target_current: Annotated[Memory | None, X("target/current", model=Memory)] = None
    target_readonly: Annotated[bool | None, X("target/readonly", flag=True)] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class GenericDevice(XmlModel):
    """Devices pyvirt does not interpret yet (hub, panic, shmem, memory, iommu, vsock, lease): the
    common attributes typed, the children kept verbatim so nothing is lost."""

    type: Annotated[str | None, X("@type")] = None
    model: Annotated[str | None, X("@model")] = None
    mode: Annotated[str | None, X("@mode")] = None
    bus: Annotated[str | None, X("@bus")] = None
    name: Annotated[str | None, X("@name")] = None
    access: Annotated[str | None, X("@access")] = None
    discard: Annotated[str | None, X("@discard")] = None
    content: Annotated[str | None, X(".", raw=True)] = None


class Certificate(XmlModel):
    """One ``<certificate>`` of a host-certificates smartcard: an NSS certificate name."""

    name: Annotated[str | None, X(".")] = None


class Iommu(XmlModel):
    """``<iommu>``: an emulated IOMMU (intel, smmuv3, or virtio-iommu, which is a PCI device of its own)."""

    TAG = "iommu"
    model: Annotated[str | None, X("@model")] = None
    driver_intremap: Annotated[str | None, X("driver/@intremap")] = None
    driver_caching_mode: Annotated[str | None, X("driver/@caching_mode")] = None
    driver_eim: Annotated[str | None, X("driver/@eim")] = None
    driver_iotlb: Annotated[str | None, X("driver/@iotlb")] = None
    driver_aw_bits: Annotated[int | None, X("driver/@aw_bits")] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None

    @property
    def content(self) -> str:
        """The ``<driver>`` element alone, as the command line reads the options."""
        names = ("intremap", "caching_mode", "eim", "iotlb", "aw_bits")
        attrs = " ".join(
            f"{n}='{getattr(self, 'driver_' + n)}'" for n in names if getattr(self, "driver_" + n) is not None
        )
        return f"<driver {attrs}/>" if attrs else ""


class Vsock(XmlModel):
    """``<vsock>``: a virtio socket to the host, its context id chosen by the host (auto) or given."""

    TAG = "vsock"
    model: Annotated[str | None, X("@model")] = None
    cid_auto: Annotated[bool | None, X("cid/@auto")] = None
    cid_address: Annotated[int | None, X("cid/@address")] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None
    driver_iommu: Annotated[bool | None, X("driver/@iommu", words=("on", "off"))] = None
    driver_ats: Annotated[bool | None, X("driver/@ats", words=("on", "off"))] = None
    driver_packed: Annotated[bool | None, X("driver/@packed", words=("on", "off"))] = None
    driver_page_per_vq: Annotated[bool | None, X("driver/@page_per_vq", words=("on", "off"))] = None


class Smartcard(XmlModel):
    TAG = "smartcard"
    mode: Annotated[str | None, X("@mode")] = None
    type: Annotated[str | None, X("@type")] = None
    # mode='host-certificates': the three NSS certificate names, each its own element
    certificates: Annotated[list[Certificate] | None, X("certificate", model=Certificate, many=True)] = None
    database: Annotated[str | None, X("database")] = None
    sources: Annotated[list[ChardevSource] | None, X("source", model=ChardevSource, many=True)] = None
    protocol: Annotated[str | None, X("protocol/@type")] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


class Redirdev(XmlModel):
    TAG = "redirdev"
    bus: Annotated[str | None, X("@bus")] = None
    type: Annotated[str | None, X("@type")] = None
    tty: Annotated[str | None, X("@tty")] = None  # live XML: the pty QEMU allocated
    sources: Annotated[list[ChardevSource] | None, X("source", model=ChardevSource, many=True)] = None
    protocol: Annotated[str | None, X("protocol/@type")] = None
    boot: Annotated[Boot | None, X("boot", model=Boot)] = None
    alias: Annotated[Alias | None, X("alias", model=Alias)] = None
    address: Annotated[Address | None, X("address", model=Address)] = None


# Absent device kinds share one immutable empty tuple instead of a fresh list each: a domain has
# thirty kinds and usually uses five, and the empty lists were most of the objects the garbage
# collector had to walk with ten thousand definitions in memory. Code that adds a device assigns
# a new list rather than appending.
NONE_YET: Any = ()


class Devices(XmlModel):
    """libvirt formats devices grouped by kind, in this order."""

    TAG = "devices"
    UNSUPPORTED: ClassVar[frozenset[str]] = frozenset({"redirfilter", "crypto", "nvram"})

    emulator: Annotated[str | None, X("emulator")] = None
    disks: Annotated[list[Disk], X("disk", model=Disk, many=True)] = NONE_YET
    controllers: Annotated[list[Controller], X("controller", model=Controller, many=True)] = NONE_YET
    leases: Annotated[list[GenericDevice], X("lease", model=GenericDevice, many=True)] = NONE_YET
    filesystems: Annotated[list[Filesystem], X("filesystem", model=Filesystem, many=True)] = NONE_YET
    interfaces: Annotated[list[Interface], X("interface", model=Interface, many=True)] = NONE_YET
    smartcards: Annotated[list[Smartcard], X("smartcard", model=Smartcard, many=True)] = NONE_YET
    serials: Annotated[list[Chardev], X("serial", model=Chardev, many=True)] = NONE_YET
    parallels: Annotated[list[Chardev], X("parallel", model=Chardev, many=True)] = NONE_YET
    consoles: Annotated[list[Chardev], X("console", model=Chardev, many=True)] = NONE_YET
    channels: Annotated[list[Chardev], X("channel", model=Chardev, many=True)] = NONE_YET
    inputs: Annotated[list[Input], X("input", model=Input, many=True)] = NONE_YET
    tpms: Annotated[list[Tpm], X("tpm", model=Tpm, many=True)] = NONE_YET
    graphics: Annotated[list[Graphics], X("graphics", model=Graphics, many=True)] = NONE_YET
    sounds: Annotated[list[Sound], X("sound", model=Sound, many=True)] = NONE_YET
    audios: Annotated[list[Audio], X("audio", model=Audio, many=True)] = NONE_YET
    videos: Annotated[list[Video], X("video", model=Video, many=True)] = NONE_YET
    hostdevs: Annotated[list[Hostdev], X("hostdev", model=Hostdev, many=True)] = NONE_YET
    redirdevs: Annotated[list[Redirdev], X("redirdev", model=Redirdev, many=True)] = NONE_YET
    hubs: Annotated[list[GenericDevice], X("hub", model=GenericDevice, many=True)] = NONE_YET
    watchdogs: Annotated[list[Watchdog], X("watchdog", model=Watchdog, many=True)] = NONE_YET
    memballoon: Annotated[Memballoon | None, X("memballoon", model=Memballoon)] = None
    rngs: Annotated[list[Rng], X("rng", model=Rng, many=True)] = NONE_YET
    panics: Annotated[list[GenericDevice], X("panic", model=GenericDevice, many=True)] = NONE_YET
    shmems: Annotated[list[GenericDevice], X("shmem", model=GenericDevice, many=True)] = NONE_YET
    memories: Annotated[list[MemoryDevice], X("memory", model=MemoryDevice, many=True)] = NONE_YET
    iommu: Annotated[Iommu | None, X("iommu", model=Iommu)] = None
    vsock: Annotated[Vsock | None, X("vsock", model=Vsock)] = None
