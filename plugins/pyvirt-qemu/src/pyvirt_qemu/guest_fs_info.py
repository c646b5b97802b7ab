"""domfsinfo on QEMU guests: libvirt 9.0's qemuDomainGetFSInfo, through the guest agent's guest-get-fsinfo.

The agent names each mounted file system and the guest disks under it by
their guest-side addresses (the PCI function of a virtio-blk disk, or the
PCI controller plus bus/target/unit of a SCSI disk, or a CCW address); the
driver turns those into the disks' ``<target dev>`` by looking them up in
the running definition (virDomainDiskByAddress). A disk the definition does
not have is left out, as libvirt leaves it out. The agent lists file systems
newest first; they are reported in mount order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorCode, ErrorDomain, InternalError, OperationInvalidError
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef, FSInfo
from pyvirt_qemu.connection_base import QemuConnectionBase

if TYPE_CHECKING:
    pass

__all__ = ["GuestFSInfoHooks", "disk_by_address", "fs_info"]

_PCI = ("domain", "bus", "slot", "function")
_CCW = ("cssid", "ssid", "devno")
# virDomainDiskControllerMatch: which disk bus sits on which controller type
_CONTROLLER_OF_BUS = {"scsi": "scsi", "fdc": "fdc", "ide": "ide", "sata": "sata"}


def _internal(message: str) -> InternalError:
    return InternalError(ErrorCode.INTERNAL_ERROR, message)


def _uint(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _internal(f"'{name}' missing")
    return value


def _agent_address(disk: Any) -> tuple[tuple[int, ...], tuple[int, ...] | None, tuple[int, int, int]]:
    """qemuAgentGetDiskAddress: the PCI controller, the CCW address if any, and bus/target/unit."""
    if not isinstance(disk, dict):
        raise _internal("'bus' missing")
    drive = (_uint(disk, "bus"), _uint(disk, "target"), _uint(disk, "unit"))
    pci = disk.get("pci-controller")
    if not isinstance(pci, dict):
        raise _internal("'pci-controller' missing")
    pci_addr = tuple(_uint(pci, k) for k in _PCI)
    ccw = disk.get("ccw-address")
    ccw_addr = None
    if isinstance(ccw, dict):
        cssid = _uint(ccw, "cssid")
        ccw_addr = (cssid or 0xFE, _uint(ccw, "ssid"), _uint(ccw, "devno"))  # guest CSSID 0 is 0xfe on the host
    return pci_addr, ccw_addr, drive


def _numbers(attrs: dict[str, str], keys: tuple[str, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(int(attrs.get(k, "0"), 0) for k in keys)
    except ValueError:
        return None


def disk_by_address(dom: Domain, pci: tuple[int, ...], ccw: tuple[int, ...] | None,
                    drive: tuple[int, int, int]) -> str | None:  # fmt: skip
    """virDomainDiskIndexByAddress: the target of the disk at that PCI or CCW address, or at that drive address
    on the controller with that PCI (else CCW) address; None when the definition has none."""
    devices = dom.devices
    if devices is None:
        return None
    controller = None
    for c in devices.controllers:  # virDomainControllerFindByPCIAddress, then ...ByCCWAddress
        a = c.address.attrs if c.address is not None else {}
        if a.get("type") == "pci" and _numbers(a, _PCI) == pci:
            controller = c
            break
    if controller is None and ccw is not None:
        for c in devices.controllers:
            a = c.address.attrs if c.address is not None else {}
            if a.get("type") == "ccw" and _numbers(a, _CCW) == ccw:
                controller = c
                break
    for disk in devices.disks:
        a = disk.address.attrs if disk.address is not None else {}
        kind = a.get("type")
        if kind == "pci" and _numbers(a, _PCI) == pci:
            return disk.target_dev
        if kind == "ccw" and ccw is not None and _numbers(a, _CCW) == ccw:
            return disk.target_dev
        if kind == "drive" and controller is not None:
            where = _numbers(a, ("controller", "bus", "target", "unit"))
            if (
                _CONTROLLER_OF_BUS.get(disk.target_bus or "") == controller.type
                and where is not None
                and where == (controller.index or 0, *drive)
            ):
                return disk.target_dev
    return None


def fs_info(reply: Any, dom: Domain) -> list[FSInfo]:
    """qemuAgentGetFSInfo's checks and order, then qemuAgentFSInfoToPublic's disk targets."""
    if reply is None:
        raise _internal("guest-get-fsinfo reply was missing return data")
    if not isinstance(reply, list):
        raise _internal("Malformed guest-get-fsinfo data array")
    out = []
    for item in reversed(reply):  # the agent's newest first: mount order
        entry: dict[str, Any] = item if isinstance(item, dict) else {}
        for key in ("mountpoint", "name", "type"):
            if not isinstance(entry.get(key), str):
                raise _internal(f"'{key}' missing in reply of guest-get-fsinfo")
        disks = entry.get("disk")
        if disks is None:
            raise _internal("'disk' missing in reply of guest-get-fsinfo")
        if not isinstance(disks, list):
            raise _internal("Malformed guest-get-fsinfo 'disk' data array")
        targets = [disk_by_address(dom, *_agent_address(d)) for d in disks]
        out.append(FSInfo(entry["mountpoint"], entry["name"], entry["type"], [t for t in targets if t]))
    return out


class GuestFSInfoHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    @hookimpl
    def domain_get_fs_info(self, dom: DomainRef, flags: int) -> list[FSInfo]:
        """qemuDomainGetFSInfo: the agent asked first (qemuDomainGetFSInfoAgent), then, under a query job, the
        disks matched against the running definition."""
        check_flags(flags, 0, "qemuDomainGetFSInfo")
        obj = self.state.find(dom)
        if not obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        reply = self._agent(obj).execute("guest-get-fsinfo")
        with obj.job.holding(Job.QUERY):
            if not obj.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running",
                                            domain=ErrorDomain.DOMAIN)  # fmt: skip
            with obj.lock:
                return fs_info(reply, obj.live)
