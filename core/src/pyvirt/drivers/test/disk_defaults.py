"""The disk defaults libvirt's generic post-parse gives every domain, as the test driver shows them.

virDomainDiskDefPostParse and friends (src/conf/domain_conf.c) run for every
driver, the test driver included: a disk without ``bus`` gets the bus its
target name implies (``hd`` IDE, ``sd`` SCSI, ``vd`` virtio, ``fd`` floppy
controller, ``xvd`` Xen, ``ubd`` UML); an IDE, SCSI, SATA or floppy disk
without an address gets the drive address its index implies
(virDomainDiskDefAssignAddress); the controllers those addresses name exist,
added after the parsed ones (virDomainDefAddImplicitControllers); and disks
keep libvirt's insertion order (a bus's disks together, in target order).
The QEMU plugin applies QEMU's variant of the same rules itself.
"""

from __future__ import annotations

# the exception classes through the module: pyvirt.errors makes each when first named (~110k instructions),
# so a module-level ``from pyvirt.errors import NotFoundError`` would make every one on each test:/// open
import pyvirt.errors as _errors
from pyvirt.conf.disk_names import disk_index, insertion_order
from pyvirt.errors import ErrorCode

TYPE_CHECKING = False  # not typing's: importing typing costs every short pyvirsh run on test:///
if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt.conf.domain_devices import Address, Disk

__all__ = ["apply_disk_defaults"]

_PREFIX_BUS = (("hd", "ide"), ("sd", "scsi"), ("vd", "virtio"), ("fd", "fdc"), ("xvd", "xen"), ("ubd", "uml"))
_DRIVE_BUSES = ("ide", "scsi", "sata", "fdc")
# libvirt compares a drive address's controller as a C int: numbers past INT_MAX wrap negative and add nothing
_INT_MAX = 2**31 - 1
# libvirt adds every controller up to the highest one a disk names; for a number in the millions it allocates
# until it dies. pyvirt refuses instead, far above any count of disk controllers a guest can have.
_MAX_IMPLICIT_CONTROLLERS = 4096


def _drive_address(disk: Disk) -> Address | None:
    """virDomainDiskDefAssignAddress for the buses with drive addresses."""
    from pyvirt.conf.domain_devices import Address

    idx = disk_index(disk.target_dev or "")
    if idx < 0:
        raise _errors.XMLError(ErrorCode.XML_ERROR, f"Unknown disk name '{disk.target_dev}' and no address specified")
    controller, bus, unit = {
        "ide": (idx // 4, (idx % 4) // 2, idx % 2),
        "scsi": (idx // 7, 0, idx % 7),
        "sata": (idx // 6, 0, idx % 6),
        "fdc": (idx // 2, 0, idx % 2),
    }[disk.target_bus or ""]
    return Address(attrs={"type": "drive", "controller": str(controller), "bus": str(bus), "target": "0",
                          "unit": str(unit)})  # fmt: skip


def apply_disk_defaults(dom: Domain) -> None:
    """libvirt's disk order, then each disk's bus and drive address, then the implicit controllers."""
    devices = dom.devices
    if devices is None:
        return
    # virDomainDiskInsert runs at parse time, before the post-parse gives a bus: disks written without
    # one are ordered as one group, by index across prefixes
    ordered = insertion_order(devices.disks, lambda d: (d.target_bus, d.target_dev or ""))
    devices.disks = ordered
    for disk in ordered:  # virDomainDiskDefPostParse
        if disk.device == "cdrom":
            disk.readonly = True
        if disk.target_bus is None:
            dev = disk.target_dev or ""
            disk.target_bus = "fdc" if disk.device == "floppy" else next(
                (bus for prefix, bus in _PREFIX_BUS if dev.startswith(prefix)), "ide")  # fmt: skip
        if disk.address is None and disk.target_dev and disk.target_bus in _DRIVE_BUSES:
            disk.address = _drive_address(disk)
    for bus in ("scsi", "fdc", "ide", "sata"):  # virDomainDefAddImplicitControllers, in its order
        used = [int(d.address.attrs.get("controller", "0"), 0) for d in ordered
                if d.target_bus == bus and d.address is not None and d.address.attrs.get("type") == "drive"]  # fmt: skip
        top = max((c for c in used if c <= _INT_MAX), default=-1)
        if top >= _MAX_IMPLICIT_CONTROLLERS:
            raise _errors.NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"{bus} disk controller {top} would need {top + 1} implicit controllers "
                f"(at most {_MAX_IMPLICIT_CONTROLLERS} are supported)",
            )
        for index in range(top + 1):
            _add_controller(dom, bus, index)


def _add_controller(dom: Domain, kind: str, index: int) -> None:
    """virDomainDefMaybeAddController: a missing controller joins its type's group, in index order."""
    from pyvirt.conf.domain_devices import Controller

    assert dom.devices is not None
    controllers = dom.devices.controllers
    if any(c.type == kind and (c.index or 0) == index for c in controllers):
        return
    at = -1
    for i in range(len(controllers) - 1, -1, -1):  # virDomainControllerInsertPreAlloced
        if controllers[i].type != kind:
            continue
        if (controllers[i].index or 0) > index:
            at = i
        elif at == -1:
            at = i + 1
    new = Controller(type=kind, index=index)
    dom.devices.controllers = [*controllers[: len(controllers) if at == -1 else at], new,
                               *controllers[len(controllers) if at == -1 else at :]]  # fmt: skip
