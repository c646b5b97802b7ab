"""Per-domain status files: what a later process needs to find a running guest again.

``<domstatus state='running' reason='1' pid='…' id='…'>`` with driver-specific
runtime elements (QEMU's ``<monitor path>``, LXC's ``<init pid>``) and the
live domain XML inside, written atomically (temp file, fsync, rename) so a
crash leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field

from lxml import etree

from pyvirt.conf.xmlparse import parse_xml
from pyvirt.util.fileio import read_limited

__all__ = ["Status", "atomic_write", "read_status", "remove_status", "write_status"]


@dataclass
class Status:
    state: int
    reason: int
    pid: int
    id: int
    domain_xml: str
    # driver runtime data: element name -> its attributes (and under the key "", its text)
    runtime: dict[str, dict[str, str]] = field(default_factory=dict)


def atomic_write(path: str, data: bytes, mode: int = 0o600) -> None:
    """Readers see the old file or the new one, never half of one; the temporary name is the writer's own,
    since two processes (or threads) of the same driver may record the same guest at once. It is short and
    hidden, whatever ``path``'s length (so any name that fits a directory entry can be stored), and never
    ends in ``.xml`` (so no reader takes it for a definition)."""
    tmp = os.path.join(os.path.dirname(path), f".new-{os.getpid()}-{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_status(path: str, st: Status) -> None:
    root = etree.Element("domstatus", state=str(st.state), reason=str(st.reason), pid=str(st.pid), id=str(st.id))
    for tag, attrs in st.runtime.items():
        # the key "" is the element's text: libvirt writes some runtime values so (``<agentTimeout>-2</agentTimeout>``)
        el = etree.SubElement(root, tag, {k: v for k, v in attrs.items() if k})
        if "" in attrs:
            el.text = attrs[""]
    root.append(etree.fromstring(st.domain_xml.encode()))
    atomic_write(path, etree.tostring(root, pretty_print=True))


def read_status(path: str) -> Status:
    with open(path, "rb") as f:
        root = parse_xml(read_limited(f, path), "domstatus", path)
    dom = root.find("domain")
    assert dom is not None
    runtime = {
        str(e.tag): {str(k): str(v) for k, v in e.attrib.items()} | ({"": e.text} if e.text and e.text.strip() else {})
        for e in root
        if e.tag != "domain"
    }
    return Status(
        state=int(root.get("state", "0")), reason=int(root.get("reason", "0")), pid=int(root.get("pid", "0")),
        id=int(root.get("id", "-1")), domain_xml=etree.tostring(dom, encoding="unicode"), runtime=runtime,
    )  # fmt: skip


def remove_status(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
