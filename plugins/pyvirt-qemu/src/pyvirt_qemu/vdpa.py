"""``<interface type='vdpa'>``: a NIC whose datapath is a vDPA device of the host (``/dev/vhost-vdpa-N``).

As libvirt does (qemuInterfaceVDPAConnect), the driver opens the character device itself and hands QEMU the fd
in an fd set (``-add-fd``), so QEMU needs no access to the path; the ``vhost-vdpa`` netdev names the set
(``/dev/fdset/N``) and, with ``<driver queues='N'>``, the number of queue pairs.
"""

from __future__ import annotations

import errno
import os

from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorDomain, SystemCallError

__all__ = ["open_vdpa_fds", "vdpa_fd_key"]


def vdpa_fd_key(index: int) -> str:
    """The ``fds`` key of the vDPA device fd of the ``index``-th interface."""
    return f"vdpa{index}"


def open_vdpa_fds(dom: Domain) -> dict[str, int]:
    """One open fd per vDPA interface, keyed by ``vdpa_fd_key``; all or none (the caller closes them after the
    spawn)."""
    out: dict[str, int] = {}
    try:
        for i, nic in enumerate(dom.devices.interfaces if dom.devices is not None else []):
            if nic.type != "vdpa":
                continue
            path = nic.source_dev or ""
            try:
                out[vdpa_fd_key(i)] = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except OSError as exc:
                raise SystemCallError(exc.errno or errno.EIO, f"Unable to open '{path}' for vdpa device",
                                      domain=ErrorDomain.QEMU) from exc  # fmt: skip
    except BaseException:
        for fd in out.values():
            os.close(fd)
        raise
    return out
