"""Disk specifications of both Xen formats, to and from ``<disk>`` elements.

xl: Xen's xl-disk-configuration syntax as libxlu's ``xlu_disk_parse`` reads
it (positional ``target,format,vdev,access``, then ``key=value`` pairs;
``target=`` swallows the rest of the spec), and libvirt's xenFormatXLDisk
for the way back. xm: ``[DRIVER:[SUBTYPE:]]SOURCE,DEV[:cdrom],MODE``
(libvirt's xenParseXMDisk/xenFormatXMDisk). RBD network disks in the
colon-separated form qemu and libxl share are mapped both ways.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.errors import ErrorCode, InternalError, NotSupportedError

__all__ = ["format_xl_disk", "format_xm_disk", "parse_xl_disk", "parse_xm_disk"]

_XL_FORMATS = {"raw": "raw", "qcow": "qcow", "qcow2": "qcow2", "vhd": "vhd", "qed": "qed", "empty": None}
_XL_KEYS = ("format", "vdev", "access", "devtype", "backendtype", "target")
_POSITIONAL = ("target", "format", "vdev", "access")


def _unsupported(msg: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, msg)


def _bus(dev: str, hvm: bool) -> str:
    if dev.startswith("xvd") or not hvm:
        return "xen"
    return "scsi" if dev.startswith("sd") else "ide"


def _split_xl(spec: str) -> dict[str, str]:
    values: dict[str, str] = {}
    positional = list(_POSITIONAL)
    rest = spec
    while rest is not None:
        item, sep, after = rest.partition(",")
        item = item.lstrip(" \t")
        if item.startswith("target="):
            values["target"] = rest.lstrip(" \t")[len("target=") :]
            break
        key, eq, val = item.partition("=")
        if eq:
            if key not in _XL_KEYS:
                raise _unsupported(f"disk setting '{key}' is not supported")
            values[key] = val
            if key in positional:
                positional.remove(key)
        elif item in ("cdrom",):
            values["devtype"] = "cdrom"
        elif item in ("direct-io-safe", "discard", "no-discard", "colo"):
            raise _unsupported(f"disk setting '{item}' is not supported")
        elif not positional and not item:
            pass  # an empty extra field is no value, as libxlu reads it
        elif not positional:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"too many positional parameters in disk '{spec}'")
        else:
            name = positional.pop(0)
            if item:
                values[name] = item
        rest = after if sep else None  # type: ignore[assignment]
    return values


def _rbd_source(disk: etree._Element, text: str) -> None:
    """``rbd:POOL/IMAGE[:key=value...]`` with ``\\:`` and ``\\;`` escapes (virStorageSourceParseRBDColonString)."""
    body = text.replace("\\\\", "\\")[len("rbd:") :]
    parts: list[str] = []
    current = ""
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            current += body[i : i + 2]
            i += 2
            continue
        if body[i] == ":":
            parts.append(current)
            current = ""
        else:
            current += body[i]
        i += 1
    parts.append(current)
    disk.set("type", "network")
    source = etree.SubElement(disk, "source", protocol="rbd", name=parts[0])
    for option in parts[1:]:
        key, _, val = option.partition("=")
        if key == "auth_supported" and val == "none":
            continue
        if key != "mon_host":
            raise _unsupported(f"rbd option '{key}' is not supported")
        for host in val.split("\\;"):
            name, _, port = host.partition("\\:")
            elem = etree.SubElement(source, "host", name=name)
            if port:
                elem.set("port", port)


def parse_xl_disk(spec: str, *, hvm: bool) -> etree._Element:
    """One ``disk = [ ... ]`` entry of an xl.cfg as libvirt shows it."""
    values = _split_xl(spec)
    vdev = values.get("vdev")
    if not vdev:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"disk '{spec}' has no vdev")
    fmt_name = values.get("format", "raw")
    if fmt_name not in _XL_FORMATS:
        raise _unsupported(f"disk image format not supported: {fmt_name}")
    access = values.get("access", "rw")
    if access not in ("r", "ro", "w", "rw"):
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"invalid access '{access}' in disk '{spec}'")
    cdrom = values.get("devtype") == "cdrom"
    if values.get("devtype") not in (None, "cdrom", "disk"):
        raise _unsupported(f"disk devtype '{values['devtype']}' is not supported")
    backend = values.get("backendtype", "")
    if backend not in ("", "qdisk", "phy", "tap"):
        raise _unsupported(f"disk backend not supported: {backend}")
    target = values.get("target")
    disk = etree.Element("disk", type="file", device="cdrom" if cdrom else "disk")
    if cdrom or backend in ("", "qdisk"):
        driver = "qemu"
    else:
        driver = backend
        disk.set("type", "block" if backend == "phy" else "file")
    fmt = "raw" if cdrom else _XL_FORMATS[fmt_name]
    drv = etree.SubElement(disk, "driver", name=driver)
    if fmt:
        drv.set("type", fmt)
    if target and target.startswith("rbd:"):
        _rbd_source(disk, target)
    elif target:
        etree.SubElement(disk, "source", {"dev" if disk.get("type") == "block" else "file": target})
    etree.SubElement(disk, "target", dev=vdev, bus=_bus(vdev, hvm))
    if cdrom or access in ("r", "ro"):
        etree.SubElement(disk, "readonly")
    return disk


def parse_xm_disk(spec: str, *, hvm: bool) -> etree._Element | None:
    """One ``disk = [ ... ]`` entry of an xm file; None for a malformed one (libvirt skips it too)."""
    source, sep, rest = spec.partition(",")
    if not sep:
        return None
    rest = rest.removeprefix("ioemu:")
    dev, sep, mode = rest.partition(",")
    if not sep:
        return None
    driver: str | None = None
    fmt: str | None = None
    if source and ":" in source:
        driver, _, source = source.partition(":")
        if driver in ("tap", "tap2"):
            subtype, sep, source = source.partition(":")
            if not sep:
                return None
            fmt = "raw" if subtype == "aio" else subtype
            if fmt not in ("raw", "qcow", "qcow2", "vhd", "qed", "vmdk", "cow", "bochs", "cloop", "dmg", "iso"):
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"Unknown driver type {subtype}:{source}")
    driver = driver or "phy"
    device = "disk"
    if ":" in dev:
        dev, _, suffix = dev.partition(":")
        if suffix == "cdrom":
            device = "cdrom"
    disk = etree.Element("disk", type="block" if driver == "phy" else "file", device=device)
    drv = etree.SubElement(disk, "driver", name=driver)
    drv.set("type", fmt or "raw")
    if source:
        etree.SubElement(disk, "source", {"dev" if driver == "phy" else "file": source})
    etree.SubElement(disk, "target", dev=dev, bus=_bus(dev, hvm))
    if mode in ("r", "ro"):
        etree.SubElement(disk, "readonly")
    elif mode in ("w!", "!"):
        etree.SubElement(disk, "shareable")
    return disk


def _rbd_target(source: etree._Element) -> str:
    """xenFormatXLDiskSrcNet for RBD: escapes doubled because the string goes through virConf unchanged."""
    if source.find("auth") is not None or source.get("tls") or source.find("snapshot") is not None:
        raise _unsupported("rbd disks with authentication, TLS or snapshots are not supported by xen-xl")
    out = "rbd:" + (source.get("name") or "")
    hosts = source.findall("host")
    out += ":auth_supported=none"
    if hosts:
        parts = []
        for host in hosts:
            name = (host.get("name") or "").replace(":", "\\\\:")
            parts.append(name + (f"\\\\:{host.get('port')}" if host.get("port") else ""))
        out += ":mon_host=" + "\\\\;".join(parts)
    return out


def format_xl_disk(disk: etree._Element) -> str:
    """xenFormatXLDisk: ``format=,vdev=,access=,backendtype=,devtype=,target=`` (target last: it eats the rest)."""
    driver = disk.find("driver")
    fmt = driver.get("type") if driver is not None else None
    name = driver.get("name") if driver is not None else None
    out = "format=" + {"vhd": "xvhd", "qcow": "qcow", "qcow2": "qcow2", "qed": "qed"}.get(fmt or "", "raw")
    target = disk.find("target")
    out += f",vdev={target.get('dev') if target is not None else ''}"
    if disk.find("readonly") is not None:
        out += ",access=ro"
    elif disk.find("shareable") is not None:
        out += ",access=!"
    else:
        out += ",access=rw"
    if disk.find("transient") is not None:
        raise _unsupported("transient disks not supported yet")
    if name:
        backend = {"qemu": "qdisk", "file": "qdisk", "tap": "tap", "phy": "phy"}.get(name)
        out += ",backendtype=" + (backend or "")
    if disk.get("device") == "cdrom":
        out += ",devtype=cdrom"
    source = disk.find("source")
    if disk.get("type") == "network":
        if source is None or source.get("protocol") != "rbd":
            proto = source.get("protocol") if source is not None else None
            raise _unsupported(f"Unsupported network block protocol '{proto}'")
        out += f",target={_rbd_target(source)}"
    elif source is not None:
        path = source.get("file") or source.get("dev")
        if path:
            out += f",target={path}"
    return out


def format_xm_disk(disk: etree._Element) -> str:
    """xenFormatXMDisk: ``DRIVER:[SUBTYPE:]SOURCE,DEV[:cdrom],MODE``."""
    driver = disk.find("driver")
    fmt = driver.get("type") if driver is not None else None
    name = driver.get("name") if driver is not None else None
    source = disk.find("source")
    path = (source.get("file") or source.get("dev")) if source is not None else None
    out = ""
    if path:
        if fmt:
            if name:
                out += f"{name}:"
                if name in ("tap", "tap2"):
                    out += ("aio" if fmt == "raw" else fmt) + ":"
        elif disk.get("type") in ("file", "block"):
            out += "file:" if disk.get("type") == "file" else "phy:"
        else:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"unsupported disk type {disk.get('type')}")
        out += path
    target = disk.find("target")
    out += "," + (target.get("dev") or "" if target is not None else "")
    if disk.get("device") == "cdrom":
        out += ":cdrom"
    if disk.find("readonly") is not None:
        out += ",r"
    elif disk.find("shareable") is not None:
        out += ",!"
    else:
        out += ",w"
    if disk.find("transient") is not None:
        raise _unsupported("transient disks not supported yet")
    return out
