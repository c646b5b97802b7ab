"""Device entries of both Xen formats read into domain XML elements: vif, character devices, PCI.

Shared by the xl and xm readers (libvirt's xen_common.c: xenParseVif,
xenParseSxprChar, xenParsePCI). Options these readers do not know are
refused by name (CONFIG_UNSUPPORTED), never skipped.
"""

from __future__ import annotations

import re

from lxml import etree

from pyvirt.errors import ErrorCode, InternalError, NotSupportedError

__all__ = ["internal_error", "parse_chr", "parse_pci", "parse_vif", "sub_element"]


def internal_error(msg: str) -> InternalError:
    return InternalError(ErrorCode.INTERNAL_ERROR, msg)


def sub_element(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """A child element; a trailing underscore in an attribute name stands for a Python keyword (``type_``)."""
    elem = etree.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        elem.text = text
    return elem


def parse_vif(entry: str, vif_typename: str) -> etree._Element:
    """xenParseVif: ``key=value`` pairs; bridge VLAN syntax, IPs, model, rate."""
    keys: dict[str, str] = {}
    for item in entry.split(","):
        key, sep, val = item.lstrip(" \t").partition("=")
        if not sep:
            raise internal_error(f"malformed vif entry '{entry}'")
        if key in ("mac", "bridge", "script", "model", "type", "vifname", "ip", "rate"):
            keys[key] = val
        else:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"vif setting '{key}' is not supported")
    script = keys.get("script")
    bridge = keys.get("bridge")
    is_bridge = bridge is not None or script in ("vif-bridge", "vif-vnic")
    net = etree.Element("interface", type="bridge" if is_bridge else "ethernet")
    if "mac" in keys:
        if not re.fullmatch(r"([0-9a-fA-F]{1,2}:){5}[0-9a-fA-F]{1,2}", keys["mac"]):
            raise internal_error(f"malformed mac address '{keys['mac']}'")
        sub_element(net, "mac", address=keys["mac"].lower())
    vlan: tuple[list[str], bool] | None = None
    if is_bridge and bridge:
        if "." in bridge:
            bridge, tag = bridge.split(".", 1)
            vlan = ([tag], False)
        elif ":" in bridge:
            bridge, *tags = bridge.split(":")
            vlan = (tags, True)
        if vlan and not all(t.isdigit() for t in vlan[0]):
            raise internal_error(f"malformed vif bridge '{keys['bridge']}'")
        sub_element(net, "source", bridge=bridge)
    if vlan:
        elem = sub_element(net, "vlan")
        if vlan[1]:
            elem.set("trunk", "yes")
        for tag in vlan[0]:
            sub_element(elem, "tag", id=str(int(tag)))
        sub_element(sub_element(net, "virtualport", type="openvswitch"), "parameters")
    for ip in (keys.get("ip") or "").split(" ") if keys.get("ip") else ():
        sub_element(net, "ip", address=ip, family="ipv6" if ":" in ip else "ipv4")
    if script:
        sub_element(net, "script", path=script)
    if keys.get("vifname"):
        sub_element(net, "target", dev=keys["vifname"])
    if keys.get("model"):
        sub_element(net, "model", type=keys["model"])
    elif keys.get("type") == vif_typename:
        sub_element(net, "model", type="netfront")
    if "rate" in keys:
        rate = keys["rate"]
        plain = rate.split("@", 1)[0]
        m = re.fullmatch(r"([0-9]+)([GMK]?)([Bb])/s", plain)
        if not m:
            raise internal_error(f"Invalid rate '{rate}' specified")
        kbytes = int(m.group(1)) * {"G": 1024 * 1024, "M": 1024, "K": 1, "": 1}[m.group(2)]
        if m.group(3) == "b" or (m.group(2) and m.group(3) == "b"):
            kbytes //= 8
        sub_element(sub_element(net, "bandwidth"), "outbound", average=str(kbytes))
    return net


def parse_chr(value: str, tag: str) -> etree._Element:
    """xenParseSxprChar: ``pty``, ``file:PATH``, ``tcp:HOST:PORT[,server]``, ``udp:...``, ``unix:PATH``, a device."""
    chardev = etree.Element(tag)
    if value.startswith("/"):
        chardev.set("type", "dev")
        sub_element(chardev, "source", path=value)
        return chardev
    prefix, _, rest = value.partition(":")
    kind = "tcp" if prefix.startswith("telnet") else prefix
    if kind not in ("null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix", "spicevmc"):
        raise internal_error(f"unknown chr device type '{prefix}'")
    chardev.set("type", kind)
    if kind in ("file", "pipe"):
        sub_element(chardev, "source", path=rest)
    elif kind == "tcp":
        host, sep, after = rest.partition(":")
        if not sep:
            raise internal_error("malformed char device string")
        service, _, options = after.partition(",")
        source = sub_element(chardev, "source", mode="bind" if "server" in options else "connect")
        if host:
            source.set("host", host)
        source.set("service", service)
        sub_element(chardev, "protocol", type="telnet" if prefix.startswith("telnet") else "raw")
    elif kind == "udp":
        host, sep, after = rest.partition(":")
        if not sep:
            raise internal_error("malformed char device string")
        connect_service, at, bind = after.partition("@")
        connect = sub_element(chardev, "source", mode="connect")
        if host:
            connect.set("host", host)
        connect.set("service", connect_service)
        if at:
            bind_host, sep, bind_service = bind.partition(":")
            if not sep:
                raise internal_error("malformed char device string")
            source = sub_element(chardev, "source", mode="bind")
            if bind_host:
                source.set("host", bind_host)
            source.set("service", bind_service)
    elif kind == "unix":
        path, _, options = rest.partition(",")
        sub_element(chardev, "source", mode="bind" if "server" in options else "connect", path=path)
    return chardev


def parse_pci(entry: str) -> etree._Element:
    """xenParsePCI: ``[DOMAIN:]BUS:SLOT.FUNC[,permissive=0|1]``."""
    spec, _, options = entry.partition(",")
    m = re.fullmatch(r"(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])", spec)
    if not m:
        raise internal_error(f"cannot parse PCI address '{entry}'")
    hostdev = etree.Element("hostdev", mode="subsystem", type="pci", managed="no")
    sub_element(hostdev, "driver", name="xen")
    source = sub_element(hostdev, "source")
    for option in filter(None, options.split(",")):
        key, _, val = option.partition("=")
        if key != "permissive":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"pci setting '{key}' is not supported")
        source.set("writeFiltering", "no" if val == "1" else "yes")
    dom, bus, slot, func = m.group(1) or "0", m.group(2), m.group(3), m.group(4)
    sub_element(source, "address", domain=f"0x{int(dom, 16):04x}", bus=f"0x{int(bus, 16):02x}",
         slot=f"0x{int(slot, 16):02x}", function=f"0x{int(func, 16):x}")  # fmt: skip
    return hostdev
