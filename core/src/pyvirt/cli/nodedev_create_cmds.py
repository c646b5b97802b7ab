"""``pyvirsh nodedev-create`` and ``nodedev-destroy``: a transient host device made or removed, as virsh 9.0 does.

cmdNodeDeviceCreate reads the file (its own error when it cannot), passes
``--validate`` as VIR_NODE_DEVICE_CREATE_XML_VALIDATE and prints the new
device's name; cmdNodeDeviceDestroy finds the device by name or by a
``wwnn,wwpn`` pair (vshFindNodeDevice) and names it as given.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.nodedev import NodeDevice

__all__: list[str] = []

_VIR_NODE_DEVICE_CREATE_XML_VALIDATE = 1


@command("nodedev-create", "create a device defined by an XML file on the node",
         Opt("file", "file containing an XML description of the device", required=True, positional=True),
         Opt("validate", "validate the XML against the schema", flag=True),
         description="Create a device on the node.  Note that this command creates devices on the physical host "
                     "that can then be assigned to a virtual machine.")  # fmt: skip
def cmd_nodedev_create(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.util.fileio import MAX_XML_FILE, read_text_capped

    path = o["file"]
    if path == "":
        raise CommandError("Failed to get option 'file': Option argument is empty")
    try:
        xml = read_text_capped(path, MAX_XML_FILE)
    except Error as exc:
        raise CommandError(exc.message) from None
    flags = _VIR_NODE_DEVICE_CREATE_XML_VALIDATE if o["validate"] else 0
    try:
        dev = s.conn.create_node_device(xml, flags)
    except Error as exc:
        raise CommandError(f"Failed to create node device from {path}", exc.message) from None
    s.extra(f"Node device {dev.name} created from {path}")


def _valid_wwn(text: str) -> bool:
    """virValidateWWN: 16 hex digits, after an optional ``0x``."""
    import string

    digits = text[2:] if text[:2].lower() == "0x" else text
    return len(digits) == 16 and all(c in string.hexdigits for c in digits)


def find_node_device(s: Session, value: str) -> NodeDevice:
    """vshFindNodeDevice: a device name, or a ``wwnn,wwpn`` pair of a SCSI host."""
    if "," in value:
        pair = value.split(",")
        if len(pair) != 2:
            raise CommandError(f"Malformed device value '{value}'")
        for wwn in pair:
            if not _valid_wwn(wwn):
                raise CommandError(f"internal error: Malformed wwn: {wwn}")
        from pyvirt.cli.nosupport import not_supported

        # no pyvirt driver looks SCSI hosts up by WWN yet; nor does libvirt's test driver
        raise CommandError(
            f"Could not find matching device '{value}'", not_supported("virNodeDeviceLookupSCSIHostByWWN").message
        )
    try:
        return s.conn.lookup_node_device_by_name(value)
    except Error as exc:
        raise CommandError(f"Could not find matching device '{value}'", exc.message) from None


@command("nodedev-destroy", "destroy (stop) a device on the node",
         Opt("device", "device name or wwn pair in 'wwnn,wwpn' format", required=True, positional=True,
             aliases=("name",)),
         description="Destroy a device on the node.  Note that this command destroys devices on the physical "
                     "host")  # fmt: skip
def cmd_nodedev_destroy(s: Session, o: dict[str, Any]) -> None:
    value = o["device"]
    if value == "":
        raise CommandError("Failed to get option 'device': Option argument is empty")
    dev = find_node_device(s, value)
    try:
        dev.destroy()
    except Error as exc:
        raise CommandError(f"Failed to destroy node device '{value}'", exc.message) from None
    s.extra(f"Destroyed node device '{value}'")
