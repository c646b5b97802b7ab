"""Creating and destroying node devices on the test driver: libvirt 9.0's mock of vHBA creation.

libvirt's test driver (testNodeDeviceCreateXML) accepts only a vHBA: the
``<device>`` must have an ``fc_host`` SCSI host capability (its WWNN/WWPN) and
name a parent that can create vports (by name, by the parent's WWNN/WWPN or
fabric WWN, or the first ``vport_ops`` host when none is named). Then, as no
udev runs, it copies the fixture's ``scsi_host11`` as ``scsi_host12`` with the
new WWNs (the loop meant to bump its host number never reaches that branch, so
the copy keeps host 11 and unique_id 10, as virsh shows). testNodeDeviceDestroy
removes a device only when it is an FC host whose parent exists, and reports
success in every other case too (its ``ret`` stays 0). The same quirks here,
since scripts written against ``test:///default`` see them.

A mediated device (``mdev``) or any other capability is refused as libvirt's
test driver refuses it, "Device is not a fibre channel HBA"; the capabilities'
own parse errors (virNodeDevCapsDefParseXML per type) are libvirt's only for
``scsi_host``.
"""

from __future__ import annotations

import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import DeviceObj, TestState
from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import NodeDeviceRef

TYPE_CHECKING = False
if TYPE_CHECKING:
    from lxml import etree

    from pyvirt.conf.nodedev import NodeDevice

__all__ = ["NodeDeviceHooks"]

_VIR_NODE_DEVICE_CREATE_XML_VALIDATE = 1
_NEW_DEVICE = "new device"  # the name virNodeDeviceDefParseXML gives a device being created
_MOCK_SOURCE, _MOCK_NAME = "scsi_host11", "scsi_host12"  # testNodeDeviceMockCreateVport


class _ScsiHost:
    """The parts of a ``scsi_host`` capability vHBA handling reads (virNodeDevCapSCSIHost)."""

    def __init__(self) -> None:
        self.fc_host = False
        self.vport_ops = False
        self.wwnn: str | None = None
        self.wwpn: str | None = None
        self.fabric_wwn: str | None = None


def _text(node: etree._Element, path: str) -> str | None:
    """virXPathString("string(PATH[1])"): the text, None when absent or empty."""
    from pyvirt.conf.xmlparse import find_one

    found = find_one(node, path)
    return (found.text or None) if found is not None else None


def _scsi_host(cap: etree._Element, dev_name: str) -> _ScsiHost:
    """virNodeDevCapSCSIHostParseXML for a device being created (no host number needed)."""
    from pyvirt.conf.xmlparse import find_all

    out = _ScsiHost()
    for nested in find_all(cap, "capability"):
        kind = nested.get("type")
        if kind is None:
            raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, f"missing SCSI host capability type for '{dev_name}'")
        if kind == "vport_ops":
            out.vport_ops = True
        elif kind == "fc_host":
            out.fc_host = True
            out.wwnn, out.wwpn = _text(nested, "wwnn"), _text(nested, "wwpn")
            # libvirt would generate missing WWNs for the hypervisor type its caller names; the test driver names none
            for label, value in (("WWNN", out.wwnn), ("WWPN", out.wwpn)):
                if value is None:
                    raise _errors.InternalError(
                        ErrorCode.INTERNAL_ERROR, f"no {label} supplied for '{dev_name}', and auto-generation failed"
                    )
            out.fabric_wwn = _text(nested, "fabric_wwn")
        else:
            raise _errors.InternalError(
                ErrorCode.INTERNAL_ERROR, f"unknown SCSI host capability type '{kind}' for '{dev_name}'"
            )
    return out


def _existing_scsi_host(obj: DeviceObj) -> _ScsiHost | None:
    """A known device's first ``scsi_host`` capability, or None (its content is kept verbatim by conf.nodedev)."""
    from pyvirt.conf.xmlparse import parse_xml

    for cap in obj.defn.capabilities:
        if cap.type == "scsi_host":
            root = parse_xml(f"<capability>{cap.content or ''}</capability>", "capability", "(node device)")
            return _scsi_host(root, obj.name)
    return None


class _Request:
    """What testNodeDeviceCreateXML reads from the new device's XML (virNodeDeviceDefParseXML, CREATE_DEVICE)."""

    def __init__(self, xml: str) -> None:
        from pyvirt.conf.xmlparse import find_all, find_one, parse_xml

        doc = parse_xml(xml, "device", "node_device_definition")
        self.parent = _text(doc, "parent")
        parent = find_one(doc, "parent")
        self.parent_wwnn = parent.get("wwnn") if parent is not None else None
        self.parent_wwpn = parent.get("wwpn") if parent is not None else None
        if self.parent_wwnn is not None and self.parent_wwpn is None:
            raise _errors.XMLError(
                ErrorCode.XML_ERROR, f"when providing parent wwnn='{self.parent_wwnn}', the wwpn must also be provided"
            )
        if self.parent_wwnn is None and self.parent_wwpn is not None:
            raise _errors.XMLError(
                ErrorCode.XML_ERROR, f"when providing parent wwpn='{self.parent_wwpn}', the wwnn must also be provided"
            )
        self.parent_fabric_wwn = parent.get("fabric_wwn") if parent is not None else None
        caps = find_all(doc, "capability")
        if not caps:
            raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, f"no device capabilities for '{_NEW_DEVICE}'")
        from pyvirt.conf.nodedev_caps import NODEDEV_CAP_TYPES  # virNodeDevCap's names: a <capability type>

        self.scsi_hosts = []
        for cap in caps:
            kind = cap.get("type")
            if kind is None:
                raise _errors.XMLError(ErrorCode.XML_ERROR, "Missing required attribute 'type' in element 'capability'")
            if kind not in NODEDEV_CAP_TYPES:
                raise _errors.XMLError(
                    ErrorCode.XML_ERROR, f"Invalid value for attribute 'type' in element 'capability': '{kind}'."
                )
            if kind == "scsi_host":
                self.scsi_hosts.append(_scsi_host(cap, _NEW_DEVICE))

    def wwns(self) -> tuple[str, str]:
        """virNodeDeviceGetWWNs: the first FC host capability's WWNN and WWPN."""
        for host in self.scsi_hosts:
            if host.fc_host:
                assert host.wwnn is not None and host.wwpn is not None
                return host.wwnn, host.wwpn
        raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, "Device is not a fibre channel HBA")


class NodeDeviceHooks:
    """Mixed into the test connection; ``state`` comes from it."""

    state: TestState

    def _find_host(self, match: str, *values: str) -> DeviceObj | None:
        """virNodeDeviceObjListFindByWWNs / ByFabricWWN / ByCap("vports") over the devices, in name order."""
        for _, obj in sorted(self.state.devices.items()):
            host = _existing_scsi_host(obj)
            if host is None:
                continue
            if match == "wwns" and host.fc_host and (host.wwnn, host.wwpn) == values:
                return obj
            if match == "fabric" and host.fc_host and host.fabric_wwn == values[0]:
                return obj
            if match == "vports" and host.vport_ops:
                return obj
        return None

    def _check_parent_host(self, req: _Request) -> None:
        """virNodeDeviceObjListGetParentHost: the parent must exist and be capable of vport operations."""
        if req.parent is not None:
            parent = self.state.devices.get(req.parent)
        elif req.parent_wwnn is not None and req.parent_wwpn is not None:
            parent = self._find_host("wwns", req.parent_wwnn, req.parent_wwpn)
        elif req.parent_fabric_wwn is not None:
            parent = self._find_host("fabric", req.parent_fabric_wwn)
        else:
            parent = self._find_host("vports")
            if parent is None:
                raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, "Could not find any vport capable device")
        if parent is None:
            raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, f"Could not find parent device for '{_NEW_DEVICE}'")
        host = _existing_scsi_host(parent)
        if host is None or not host.vport_ops:
            raise _errors.InternalError(
                ErrorCode.INTERNAL_ERROR, f"Parent device {parent.name} is not capable of vport operations"
            )

    @hookimpl
    def nodedev_create_xml(self, xml: str, flags: int) -> NodeDeviceRef:
        """testNodeDeviceCreateXML: check the request, then testNodeDeviceMockCreateVport's copy."""
        check_flags(flags, _VIR_NODE_DEVICE_CREATE_XML_VALIDATE, "testNodeDeviceCreateXML")
        if flags & _VIR_NODE_DEVICE_CREATE_XML_VALIDATE:
            from pyvirt.conf.schema import validate  # lxml's RelaxNG only when asked for

            validate(xml, "device")
        req = _Request(xml)
        wwnn, wwpn = req.wwns()
        with self.state.lock:
            self._check_parent_host(req)
            source = self.state.devices.get(_MOCK_SOURCE)
            if source is None:  # libvirt's mock fails without saying why
                raise _errors.InternalError(
                    ErrorCode.INTERNAL_ERROR, "An error occurred, but the cause is unknown", verbatim=True
                )
            self.state.devices[_MOCK_NAME] = DeviceObj(defn=_vport_copy(source, wwnn, wwpn))
        return NodeDeviceRef(_MOCK_NAME)

    @hookimpl
    def nodedev_destroy(self, dev: NodeDeviceRef) -> None:
        """testNodeDeviceDestroy: only an FC host whose parent exists goes away; every other case "succeeds"."""
        with self.state.lock:
            obj = self.state.devices.get(dev.name)
            if obj is None:
                raise _errors.NotFoundError(
                    ErrorCode.NO_NODE_DEVICE,
                    f"no node device with matching name '{dev.name}'",
                    domain=ErrorDomain.NODEDEV,
                )
            host = _existing_scsi_host(obj)
            if host is None or not host.fc_host:
                return  # virNodeDeviceGetWWNs failed: libvirt's test driver still returns 0
            if obj.parent not in self.state.devices:
                return  # "cannot find parent" is reported, and 0 returned all the same
            del self.state.devices[dev.name]


def _vport_copy(source: DeviceObj, wwnn: str, wwpn: str) -> NodeDevice:
    """``scsi_host11`` formatted and parsed again, renamed, with the new WWNs in its fc_host capability."""
    from lxml import etree as lxml_etree

    from pyvirt.conf import nodedev as conf_nodedev
    from pyvirt.conf.xmlparse import find_all, find_one, parse_xml

    copy = conf_nodedev.parse_nodedev(conf_nodedev.format_nodedev(source.defn))
    copy.name = _MOCK_NAME
    for cap in copy.capabilities:
        if cap.type != "scsi_host":
            continue
        root = parse_xml(f"<capability>{cap.content or ''}</capability>", "capability", "(node device)")
        for fc in find_all(root, "capability[@type='fc_host']"):
            for tag, value in (("wwnn", wwnn), ("wwpn", wwpn)):
                node = find_one(fc, tag)
                if node is None:
                    node = lxml_etree.SubElement(fc, tag)
                node.text = value
        cap.content = "".join(lxml_etree.tostring(child, encoding="unicode") for child in root)
    return copy
