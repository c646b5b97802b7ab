"""Node device XML (``<device>``).

Capabilities come in dozens of types with their own children; each is kept
as its ``type`` plus its content verbatim (formatted back as given), so no
device detail is lost while the typed models per capability are written.
"""

from __future__ import annotations

from pyvirt.conf.common import check_name, document_to_string, parse_document
from pyvirt.conf.xmlmodel import X, XmlModel, field

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated

__all__ = ["NodeDevice", "format_nodedev", "parse_nodedev"]


class NodeDevCapability(XmlModel):
    type: Annotated[str | None, X("@type")] = None
    content: Annotated[str | None, X(".", raw=True)] = None


class NodeDevice(XmlModel):
    TAG = "device"
    name: Annotated[str | None, X("name")] = None
    path: Annotated[str | None, X("path")] = None
    devnode: Annotated[str | None, X("devnode")] = None
    parent: Annotated[str | None, X("parent")] = None
    driver_name: Annotated[str | None, X("driver/name")] = None
    capabilities: Annotated[list[NodeDevCapability], X("capability", model=NodeDevCapability, many=True)] = field(
        default_factory=list
    )

    def capability_types(self) -> list[str]:
        """Top-level and nested capability types (``scsi_host`` and its ``fc_host``, …)."""
        from lxml import etree

        out: list[str] = []
        for cap in self.capabilities:
            out.append(cap.type or "")
            if cap.content:
                for nested in etree.fromstring(f"<r>{cap.content}</r>".encode()).iter("capability"):
                    out.append(nested.get("type") or "")
        return out


def parse_nodedev(xml: str | bytes) -> NodeDevice:
    dev = parse_document(NodeDevice, xml, "nodedev_definition")
    dev.name = check_name(dev.name, "device name")
    return dev


def format_nodedev(dev: NodeDevice) -> str:
    return document_to_string(dev)
