"""``pyvirsh domdisplay`` and ``vncdisplay``: where a running guest's remote display listens.

Both read the live XML, as virsh does, so they work for any driver that
writes its displays' ports there: ``vncdisplay`` prints ``HOST:DISPLAY``
(``:DISPLAY`` when listening on every address), ``domdisplay`` a URI a
viewer accepts (``vnc://``, ``spice://`` with ``tls-port``, ``+unix`` for
sockets), the password included only on request.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from lxml import etree  # imported by the functions that parse, so parsing a line does not load lxml

__all__: list[str] = []

_XML_SECURE = 1 << 0  # VIR_DOMAIN_XML_SECURE

_DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
_ANY_ADDRESS = ("0.0.0.0", "::")


def _live_graphics(s: Session, ident: str, secure: bool) -> list[etree._Element]:
    from lxml import etree

    dom = get_domain(s, ident)
    if not dom.is_active():
        raise CommandError("Domain is not running")
    doc = etree.fromstring(dom.xml_desc(_XML_SECURE if secure else 0).encode())
    return list(doc.iterfind("devices/graphics"))


def _listen(g: etree._Element) -> tuple[str | None, str | None]:
    """(address, socket) of the first listen, falling back to the legacy attributes."""
    first = g.find("listen")
    if first is not None:
        return first.get("address"), first.get("socket")
    return g.get("listen"), g.get("socket")


@command("vncdisplay", "vnc display", _DOMAIN)
def cmd_vncdisplay(s: Session, o: dict[str, Any]) -> None:
    vnc = next((g for g in _live_graphics(s, o["domain"], False) if g.get("type") == "vnc"), None)
    port = int(vnc.get("port", "0")) if vnc is not None else 0
    if port <= 0:
        raise CommandError("Failed to get VNC port. Is this domain using VNC?")
    address, _ = _listen(vnc) if vnc is not None else (None, None)
    if not address or address in _ANY_ADDRESS:
        s.out(f":{port - 5900}")
    else:
        s.out(f"[{address}]:{port - 5900}" if ":" in address else f"{address}:{port - 5900}")


@command(
    "domdisplay", "domain display connection URI", _DOMAIN,
    Opt("include-password", "includes the password into the connection URI if available", flag=True),
    Opt("type", "select particular graphical display (e.g. vnc, spice, rdp)"),
    Opt("all", "show all possible graphical displays", flag=True),
)  # fmt: skip
def cmd_domdisplay(s: Session, o: dict[str, Any]) -> None:
    from urllib.parse import quote

    shown = 0
    for g in _live_graphics(s, o["domain"], o["include-password"]):
        kind = g.get("type") or ""
        if kind not in ("vnc", "spice", "rdp") or (o["type"] and kind != o["type"]):
            continue
        address, socket = _listen(g)
        port = int(g.get("port", "0"))
        tls_port = int(g.get("tlsPort", "0"))
        if socket:
            uri = f"{kind}+unix://{socket}"
        elif port > 0 or tls_port > 0:
            host = "localhost" if not address or address in _ANY_ADDRESS else address
            host = f"[{host}]" if ":" in host else host
            uri = f"{kind}://{host}"
            if port > 0:
                uri += f":{port - 5900 if kind == 'vnc' else port}"
            params = [f"tls-port={tls_port}"] if tls_port > 0 else []
            if o["include-password"] and g.get("passwd"):
                params.append(f"password={quote(g.get('passwd', ''), safe='')}")
            if params:
                uri += "?" + "&".join(params)
        else:
            continue
        s.out(uri)
        shown += 1
        if not o["all"]:
            break
    if not shown:
        raise CommandError("No graphical display found")
