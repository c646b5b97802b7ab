"""``<vsock>``: the host side of a guest's virtio socket, opened by the driver and handed to QEMU.

As libvirt does (qemuProcessOpenVhostVsock), the driver opens ``/dev/vhost-vsock``
itself, gives the guest its context id (CID) with the ``VHOST_VSOCK_SET_GUEST_CID``
ioctl, and passes the fd to QEMU as ``vhostfd``: QEMU never needs the device node.
With ``<cid auto='yes'>`` the first free CID from 3 up is taken (virVsockAcquireGuestCid;
0-2 are reserved for the hypervisor, the host and loopback), and written into the live
definition so ``dumpxml`` shows it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct

from pyvirt.conf.domain_devices import Vsock
from pyvirt.errors import ErrorDomain, SystemCallError

__all__ = ["VHOST_VSOCK_DEVICE", "open_vhost_vsock"]

VHOST_VSOCK_DEVICE = "/dev/vhost-vsock"
# _IOW(VHOST_VIRTIO 0xAF, 0x60, __u64) from <linux/vhost.h>
_VHOST_VSOCK_SET_GUEST_CID = (1 << 30) | (8 << 16) | (0xAF << 8) | 0x60
_FIRST_GUEST_CID = 3
_MAX_CID = 0xFFFFFFFF
_QEMU = ErrorDomain.QEMU


def _set_guest_cid(fd: int, cid: int) -> None:
    fcntl.ioctl(fd, _VHOST_VSOCK_SET_GUEST_CID, struct.pack("=Q", cid))


def open_vhost_vsock(vsock: Vsock, device: str = VHOST_VSOCK_DEVICE) -> int:
    """The vhost-vsock fd for QEMU, its CID set (chosen when ``auto``); the caller closes it after the spawn."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise SystemCallError(exc.errno or errno.EIO, "unable to open vhost-vsock device", domain=_QEMU) from exc
    try:
        if vsock.cid_auto:
            cid = _FIRST_GUEST_CID
            while True:
                try:
                    _set_guest_cid(fd, cid)
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE or cid >= _MAX_CID:
                        raise SystemCallError(
                            exc.errno or errno.EIO, "failed to acquire guest cid", domain=_QEMU
                        ) from exc
                    cid += 1
            vsock.cid_address = cid
        else:
            try:
                _set_guest_cid(fd, vsock.cid_address or 0)
            except OSError as exc:
                raise SystemCallError(exc.errno or errno.EIO, "failed to set guest cid", domain=_QEMU) from exc
    except BaseException:
        os.close(fd)
        raise
    return fd
