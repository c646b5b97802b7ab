"""Per-domain status files: what a later process needs to find a running guest again.

``<domstatus state='running' reason='1' pid='…' id='…'>`` with the monitor path
and the live domain XML inside, written atomically (temp file, fsync, rename)
so a crash leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from lxml import etree

from pyvirt.conf.xmlparse import parse_xml

__all__ = ["Status", "read_status", "remove_status", "write_status"]


@dataclass
class Status:
    state: int
    reason: int
    pid: int
    id: int
    monitor: str
    domain_xml: str


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_status(path: str, st: Status) -> None:
    root = etree.Element("domstatus", state=str(st.state), reason=str(st.reason), pid=str(st.pid), id=str(st.id))
    etree.SubElement(root, "monitor", path=st.monitor)
    root.append(etree.fromstring(st.domain_xml.encode()))
    _atomic_write(path, etree.tostring(root, pretty_print=True))


def read_status(path: str) -> Status:
    with open(path, "rb") as f:
        root = parse_xml(f.read(), "domstatus", path)
    monitor = root.find("monitor")
    dom = root.find("domain")
    assert monitor is not None and dom is not None
    return Status(
        state=int(root.get("state", "0")), reason=int(root.get("reason", "0")), pid=int(root.get("pid", "0")),
        id=int(root.get("id", "-1")), monitor=monitor.get("path", ""),
        domain_xml=etree.tostring(dom, encoding="unicode"),
    )  # fmt: skip


def remove_status(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
