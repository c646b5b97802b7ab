"""``pyvirsh update-memory-device``: a memory device's ``<requested>`` size changed through update-device.

virsh picks the one ``<memory>`` device (by ``--node`` or ``--alias``, or
the only one) out of the domain XML, sets its ``<target><requested>`` and
sends the element to update-device (virshGetUpdatedMemoryXML), so pyvirsh
does the same on the client, with virsh's checks and wording.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE

_LIVE = 1 << 0  # VIR_DOMAIN_AFFECT_LIVE
_CONFIG = 1 << 1  # VIR_DOMAIN_AFFECT_CONFIG


def _kibibytes(raw: str) -> int:
    """vshCommandOptScaledInt(scale 1024) then VIR_DIV_UP(bytes, 1024): a bare number is KiB."""
    import re

    from pyvirt.conf.units import unit_factor

    first = f"Scaled numeric value '{raw}' for <requested-size> option is malformed or out of range"
    match = re.fullmatch(r"(\d+)(.*)", raw)
    if match is None:
        raise CommandError(first)
    try:
        scaled = int(match[1]) * (unit_factor(match[2]) if match[2] else 1024)
    except ValueError:
        raise CommandError(first, f"invalid argument: unknown suffix '{match[2]}'") from None
    if scaled >= 2**64:
        raise CommandError(first)
    return (scaled + 1023) // 1024


@command("update-memory-device", "update memory device of a domain",
         Opt("domain", "domain name, id or uuid", required=True, positional=True),
         Opt("config", "affect next boot", flag=True), Opt("live", "affect running domain", flag=True),
         Opt("current", "affect current domain", flag=True),
         Opt("print-xml", "print updated memory device XML instead of executing the change", flag=True),
         Opt("alias", "memory device alias"), Opt("node", "memory device target node", kind="intstring"),
         Opt("requested-size", "new value of <requested/> size, as scaled integer (default KiB)", kind="intstring"),
         description="Update values of a memory device of domain")  # fmt: skip
def cmd_update_memory_device(s: Session, o: dict[str, Any]) -> None:
    """cmdUpdateMemoryDevice: checks, the one memory device, its new ``<requested>``, then update-device."""
    import re

    from lxml import etree

    for other in ("live", "config"):
        if o["current"] and o[other]:
            raise CommandError(f"Options --current and --{other} are mutually exclusive")
    if o["node"] is not None and o["alias"] is not None:
        raise CommandError("Options --node and --alias are mutually exclusive")
    flags = (_CONFIG if o["config"] else 0) | (_LIVE if o["live"] else 0)
    dom = get_domain(s, o["domain"])
    doc = etree.fromstring(dom.xml_desc(_XML_INACTIVE if flags & _CONFIG else 0).encode())
    if o["alias"] == "":
        raise CommandError("Failed to get option 'alias': Option argument is empty")
    node = o["node"]
    if node is not None:
        if not re.fullmatch(r"[ \t\n\v\f\r]*\+?\d+", node) or int(node) > 0xFFFFFFFF:  # virStrToLong_uip
            raise CommandError(f"Numeric value '{node}' for <node> option is malformed or out of range")
        wanted = str(int(node))
        mems = [m for m in doc.iterfind("devices/memory") if any(n.text == wanted for n in m.iterfind("target/node"))]
    elif o["alias"] is not None:
        mems = [
            m for m in doc.iterfind("devices/memory") if any(a.get("name") == o["alias"] for a in m.iterfind("alias"))
        ]
    else:
        mems = list(doc.iterfind("devices/memory"))
    if not mems:
        raise CommandError("no memory device found")
    if len(mems) > 1:
        raise CommandError("multiple memory devices found, use --alias or --node to select one")
    mem = mems[0]
    if o["requested-size"] is not None:
        kib = _kibibytes(o["requested-size"])
        requested = mem.find("target/requested")
        if requested is None:
            raise CommandError("virtio-mem device is missing <requested/>")
        for child in list(requested):  # xmlNodeSetContent: the text replaces whatever was inside
            requested.remove(child)
        requested.text = str(kib)
    xml = etree.tostring(mem, with_tail=False).decode()
    if o["print-xml"]:
        s.out_raw(xml)
        return
    try:
        dom.update_device(xml, flags)
    except Error as exc:
        raise CommandError(exc.message) from None
