"""The migration cookie (libvirt's ``<qemu-migration>``) and the host identity it carries.

Each phase hands the next one a cookie. Begin's names the domain and the
source host (name and UUID: a destination refuses a guest from itself), the
guest's security labels (the destination must offer the same models) and,
with PERSIST_DEST, the persistent definition; Prepare's names, for
copy-storage-all, the NBD port and the disks the destination serves.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field

from lxml import etree

from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, ErrorDomain, InternalError
from pyvirt.local_driver.paths import DriverPaths, system_paths
from pyvirt.util.host_topology import host_uuid

__all__ = ["Cookie", "host_identity"]


def host_identity(paths: DriverPaths) -> str:
    """The host UUID the cookie names: the machine's, or for a ``--root``/embedded instance one of its own
    derived from it and the root (such an instance is a host of its own, with its own guests)."""
    machine = host_uuid()
    if paths.run == system_paths("qemu").run:
        return machine
    return str(uuidlib.uuid5(uuidlib.UUID(machine), paths.run))


@dataclass
class Cookie:
    name: str
    uuid: str
    hostname: str
    hostuuid: str
    seclabels: list[tuple[str, str]] = field(default_factory=list)  # (model, label)
    persistent: str | None = None  # the domain's persistent XML (PERSIST_DEST)
    nbd: tuple[int, list[str]] | None = None  # copy-storage-all: the destination's NBD port and disk targets

    def encode(self) -> bytes:
        root = etree.Element("qemu-migration")
        for tag in ("name", "uuid", "hostname", "hostuuid"):
            etree.SubElement(root, tag).text = getattr(self, tag)
        if self.seclabels:
            labels = etree.SubElement(root, "seclabels")
            for model, label in self.seclabels:
                etree.SubElement(labels, "seclabel", model=model).text = label
        if self.persistent is not None:
            etree.SubElement(root, "persistent").append(etree.fromstring(self.persistent.encode()))
        if self.nbd is not None:
            nbd = etree.SubElement(root, "nbd", port=str(self.nbd[0]))
            for target in self.nbd[1]:
                etree.SubElement(nbd, "disk", target=target)
        return bytes(etree.tostring(root, pretty_print=True)) + b"\0"  # libvirt sends it NUL-terminated

    @staticmethod
    def decode(raw: bytes) -> Cookie:
        text = raw.rstrip(b"\0")
        if not text:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "missing migration cookie", domain=ErrorDomain.QEMU)
        doc = parse_xml(text, "qemu-migration", "migration cookie")

        def child(tag: str) -> str:
            value = doc.findtext(tag)
            if not value:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"missing {tag} element in migration data",
                                    domain=ErrorDomain.QEMU)  # fmt: skip
            return value

        persistent = doc.find("persistent/domain")
        nbd = doc.find("nbd")
        nbd_info = None
        if nbd is not None and (nbd.get("port") or "").isdigit():
            nbd_info = (int(nbd.get("port") or ""), [d.get("target") or "" for d in nbd.iterfind("disk")])
        return Cookie(
            child("name"), child("uuid"), child("hostname"), child("hostuuid"),
            [(e.get("model") or "", e.text or "") for e in doc.iterfind("seclabels/seclabel")],
            etree.tostring(persistent, encoding="unicode") if persistent is not None else None, nbd_info,
        )  # fmt: skip
