"""Attach and detach disks and NICs, on the running guest (QMP) and in the persistent definition.

Live disks: ``blockdev-add`` of the storage and format nodes (after
``add-fd`` of a client's descriptors, for an ``fdgroup`` source), then
``device_add``; live NICs: a tap opened by the driver (its ``<filterref>``
bound to it, then its fd passed over the monitor) or a user-mode backend,
``netdev_add``, then ``device_add``. A step that fails undoes the ones
before it (one rollback). Detaching asks the guest to let go
(``device_del``) and waits for QEMU's DEVICE_DELETED, then removes the
backend (and a disk's descriptor set); a guest that does not answer within
the timeout keeps the device, as libvirt reports it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.conf.domain_devices import Alias, Disk, Interface, MemoryDevice
from pyvirt.errors import Error, ErrorCode, NotSupportedError, OperationFailedError, XMLError
from pyvirt.local_driver.nwfilter_nics import bind_nic_filters, unbind_nic_filters
from pyvirt_qemu.block_nodes import disk_blockdevs, format_node, next_node_id
from pyvirt_qemu.command_line_devices import NIC_MODELS, DeviceArgs
from pyvirt_qemu.device_aliases import disk_alias
from pyvirt_qemu.fd_groups import FdGroup, fdset_storage_node
from pyvirt_qemu.hotplug_fdsets import pass_disk_fds, remove_disk_fdsets
from pyvirt_qemu.monitor import Monitor
from pyvirt_qemu.pci_addresses import is_q35
from pyvirt_qemu.pci_hotplug import reserve_next_pci_address
from pyvirt_qemu.tap import close_taps, open_taps

log = logging.getLogger("pyvirt.qemu.hotplug")

__all__ = [
    "DeletedDevices",
    "attach_live",
    "check_update",
    "detach_live",
    "device_of_qdev",
    "find_device",
    "parse_device",
    "top_nodes",
    "update_live",
    "wait_for_tray_open",
]

DETACH_TIMEOUT = 5.0
CHANGE_MEDIA_TIMEOUT = 5.0  # libvirt's CHANGE_MEDIA_TIMEOUT, 5000 ms


def top_nodes(monitor: Monitor) -> dict[str, str]:
    """Device id -> the node its medium is now (after an external snapshot: the overlay), from query-block."""
    out: dict[str, str] = {}
    for block in monitor.execute("query-block"):
        qdev = str(block.get("qdev", ""))
        node = block.get("inserted", {}).get("node-name")
        if node:
            out[device_of_qdev(qdev)] = str(node)
    return out


def wait_for_tray_open(monitor: Monitor, device_id: str, target: str) -> None:
    """Return once QEMU reports the tray of ``device_id`` open; libvirt's qemuHotplugWaitForTrayEject.

    Why: ``blockdev-open-tray`` may return before the tray has moved (a guest
    that has just booted has locked it, and QEMU then asks the guest to eject),
    and ``blockdev-remove-medium`` on a closed tray fails with "Tray of device
    ... is not open". libvirt waits up to CHANGE_MEDIA_TIMEOUT (5 s) for the
    DEVICE_TRAY_MOVED event; this asks QEMU's own state (``query-block``'s
    ``tray_open``), which also holds for a tray that was open before the call
    and so sends no event. A tray that stays shut gets libvirt's error.
    """
    deadline = time.monotonic() + CHANGE_MEDIA_TIMEOUT
    while True:
        for block in monitor.execute("query-block"):
            if device_of_qdev(str(block.get("qdev", ""))) == device_id and block.get("tray_open", True):
                return
        if time.monotonic() >= deadline:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"timed out waiting to open tray of '{target}'", verbatim=False
            )
        time.sleep(0.01)


def device_of_qdev(qdev: str) -> str:
    """The device id in query-block's ``qdev``: virtio and USB disks report a path below their device."""
    prefix = "/machine/peripheral/"
    return qdev[len(prefix) :].split("/", 1)[0] if qdev.startswith(prefix) else qdev


def parse_device(xml: str) -> Disk | Interface | MemoryDevice:
    """One ``<disk>``, ``<interface>`` or ``<memory>`` element, read by the domain model (and its rules)."""
    text = xml.strip()
    # The wrapper is a guest able to hold any one device (memory slots, a NUMA cell for a DIMM): the
    # model's per-device rules apply here, and the driver then checks the device against the real guest
    # (free slots, maxMemory, NUMA nodes), as libvirt parses a device before validating it in context.
    wrapper = (f"<domain type='kvm'><name>device</name><maxMemory slots='255' unit='TiB'>16</maxMemory>"
               f"<memory unit='GiB'>1</memory><os><type>hvm</type></os>"
               f"<cpu><numa><cell id='0' cpus='0' memory='1' unit='GiB'/></numa></cpu>"
               f"<devices>{text}</devices></domain>")  # fmt: skip
    try:
        devices = parse_domain(wrapper).devices
    except XMLError as exc:
        raise XMLError(exc.code, exc.message.replace("domain_definition", "device")) from exc
    if devices is not None and len(devices.disks) == 1 and not devices.interfaces:
        return devices.disks[0]
    if devices is not None and len(devices.interfaces) == 1 and not devices.disks:
        return devices.interfaces[0]
    if devices is not None and len(devices.memories) == 1 and not devices.disks and not devices.interfaces:
        return devices.memories[0]
    raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                            "only <disk>, <interface> and <memory> devices can be attached")  # fmt: skip


def find_device(dom: Domain, dev: Disk | Interface) -> int:
    """Position of the device ``dev`` describes: a disk by target, a NIC by MAC; -1 when absent."""
    if dom.devices is None:
        return -1
    if isinstance(dev, Disk):
        return next((i for i, d in enumerate(dom.devices.disks) if d.target_dev == dev.target_dev), -1)
    return next((i for i, n in enumerate(dom.devices.interfaces) if dev.mac and n.mac == dev.mac), -1)


class DeletedDevices:
    """DEVICE_DELETED events from QEMU, waited for by the thread that asked for the removal.

    A guest may take longer than the wait (libvirt's 5 s) to let a device go;
    like libvirt the detach then returns and the removal is finished when the
    event comes, by the callback left here.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seen: set[str] = set()
        self._later: dict[str, Callable[[], None]] = {}
        self._interrupts = 0

    def interrupt(self) -> None:
        """The guest is being destroyed: a wait for it to let a device go ends now (libvirt's destroy wakes
        every waiter on the domain too), so the detach job ends and the destroy job can begin."""
        with self._cond:
            self._interrupts += 1
            self._cond.notify_all()

    def notify(self, device: str) -> None:
        with self._cond:
            finish = self._later.pop(device, None)
            if finish is None:
                self._seen.add(device)
                self._cond.notify_all()
        if finish is not None:
            threading.Thread(target=finish, name=f"finish-unplug-{device}", daemon=True).start()

    def wait_or_defer(self, device: str, timeout: float, finish: Callable[[], None]) -> bool:
        """True once the device is gone; False after ``timeout``, with ``finish`` left for the event."""
        deadline = time.monotonic() + timeout
        with self._cond:
            interrupts = self._interrupts
            while device not in self._seen:
                left = deadline - time.monotonic()
                if left <= 0 or self._interrupts != interrupts:
                    self._later[device] = finish
                    return False
                self._cond.wait(left)
            self._seen.discard(device)
            return True


def _next_nic_index(nics: list[Interface]) -> int:
    """One above the highest ``netN`` alias in use (a detached NIC's number is not reused while others live)."""
    used = [int(n.alias.name[3:]) for n in nics if n.alias is not None and n.alias.name and
            n.alias.name.startswith("net") and n.alias.name[3:].isdigit()]  # fmt: skip
    return max(used, default=-1) + 1


def _node_names(disk: Disk) -> list[str]:
    """Every node of a disk's chain, users before what they use (the order blockdev-del needs)."""
    return [str(n["node-name"]) for n in reversed(disk_blockdevs(disk))]


def attach_live(live: Domain, dev: Disk | Interface, monitor: Monitor, *, fd_groups: dict[str, FdGroup],
                nwfilter_uri: str) -> list[tuple[str, str]]:  # fmt: skip
    """Hotplug ``dev`` and add it to ``live``; returns the (MAC, path) of every device fd opened for it.

    ``fd_groups`` are the descriptors clients associated with the guest (a disk's ``fdgroup``);
    ``nwfilter_uri`` the nwfilter driver that binds a NIC's ``<filterref>`` to its tap.
    """
    assert live.devices is not None
    if isinstance(dev, Disk):
        _attach_disk(live, dev, monitor, fd_groups)
        return []
    return _attach_nic(live, dev, monitor, nwfilter_uri)


def _undo(steps: list[Callable[[], object]]) -> None:
    """One rollback: the steps done so far, last first; one that fails does not stop the others."""
    for step in reversed(steps):
        with contextlib.suppress(Error):
            step()


def _attach_disk(live: Domain, disk: Disk, monitor: Monitor, fd_groups: dict[str, FdGroup]) -> None:
    assert live.devices is not None
    bus = disk.target_bus or ("virtio" if (disk.target_dev or "").startswith("vd") else "sata")
    if bus != "virtio" or disk.device not in (None, "disk"):
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"disk bus '{bus}' cannot be hotplugged")
    path = disk.source_file or disk.source_dev
    # (an image on passed descriptors is QEMU's through them: the daemon need not reach its path)
    if disk.type != "network" and disk.source_fdgroup is None and (not path or not os.path.exists(path)):
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"Cannot access storage file '{path}'", verbatim=False)
    disk.target_bus = bus
    disk.source_index = next_node_id(live)
    if disk.alias is None or not (disk.alias.name or "").startswith("ua-"):  # a user's alias is kept, as libvirt's
        disk.alias = Alias(name=disk_alias(disk))
    reserve_next_pci_address(live, disk)
    props = DeviceArgs(live, {}, None, False, is_q35(live)).address_props(disk.address)
    undo: list[Callable[[], object]] = []
    try:
        nodes = disk_blockdevs(disk)
        fdset = pass_disk_fds(monitor, disk, fd_groups)  # (qemuDomainPrepareStorageSourceFDs, then add-fd)
        if fdset is not None:
            undo.append(lambda: monitor.execute("remove-fd", {"fdset-id": fdset}))
            storage = f"libvirt-{disk.source_index}-storage"
            nodes = [fdset_storage_node(disk, n, fdset) if n.get("node-name") == storage else n for n in nodes]
        for node in nodes:
            monitor.execute("blockdev-add", node)
            undo.append(functools.partial(monitor.execute, "blockdev-del", {"node-name": node["node-name"]}))
        monitor.execute("device_add", {"driver": "virtio-blk-pci", **props, "drive": format_node(disk),
                                       "id": disk.alias.name})  # fmt: skip
    except Error:
        _undo(undo)
        raise
    live.devices.disks = [*live.devices.disks, disk]


def _attach_nic(live: Domain, nic: Interface, monitor: Monitor, nwfilter_uri: str) -> list[tuple[str, str]]:
    assert live.devices is not None
    nic.model_type = nic.model_type or "rtl8139"
    model = NIC_MODELS.get(nic.model_type)
    if model is None:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"NIC model '{nic.model_type}' is not supported")
    index = _next_nic_index(live.devices.interfaces)
    netdev_id, device_id = f"hostnet{index}", f"net{index}"
    user_alias = nic.alias.name if nic.alias is not None else None
    if user_alias and user_alias.startswith("ua-"):  # a user's alias: QEMU's ids follow it
        netdev_id, device_id = f"host{user_alias}", user_alias
    reserve_next_pci_address(live, nic)
    address = DeviceArgs(live, {}, None, False, is_q35(live)).address_props(nic.address)
    if nic.type not in ("user", "bridge", "ethernet", "network"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"interface type '{nic.type}' cannot be hotplugged")
    opened: list[tuple[str, str]] = []
    taps = {}
    undo: list[Callable[[], object]] = []
    try:
        netdev: dict[str, Any] = {"type": "user", "id": netdev_id}
        if nic.type != "user":
            taps = open_taps([nic])
            tap = taps[0]
            opened.append((tap.mac, "/dev/net/tun"))
            # the tap exists and QEMU has not seen it: its <filterref> becomes a binding on it first, as libvirt's
            # qemuInterfaceBridgeConnect/EthernetConnect call virDomainConfNWFilterInstantiate
            bind_nic_filters(live, [nic], nwfilter_uri)
            undo.append(lambda: unbind_nic_filters([nic], nwfilter_uri))
            monitor.pass_fd(tap.fd, f"tap-{netdev_id}")
            undo.append(lambda: monitor.execute("closefd", {"fdname": f"tap-{netdev_id}"}))  # (unless netdev took it)
            netdev = {"type": "tap", "fd": f"tap-{netdev_id}", "id": netdev_id}
        monitor.execute("netdev_add", netdev)
        undo.append(lambda: monitor.execute("netdev_del", {"id": netdev_id}))
        monitor.execute("device_add", {"driver": model, "netdev": netdev_id, "id": device_id, "mac": nic.mac,
                                       **address})  # fmt: skip
    except BaseException:
        _undo(undo)
        raise
    finally:
        close_taps(taps)  # QEMU holds its own copy (or none, after a failure: then the tap goes)
    nic.alias = Alias(name=device_id)
    live.devices.interfaces = [*live.devices.interfaces, nic]
    return opened


def detach_live(live: Domain, position: int, kind: type, monitor: Monitor, deleted: DeletedDevices,
                finish_later: Callable[[Callable[[], None]], Callable[[], None]]) -> bool:  # fmt: skip
    """Ask the guest to let the device at ``position`` go; True when it did within the wait.

    Otherwise the removal completes when QEMU reports it: ``finish_later``
    wraps the finishing step (taking the domain's lock, saving its status)
    for the event thread.
    """
    assert live.devices is not None
    items: list[Any] = live.devices.disks if kind is Disk else live.devices.interfaces
    item = items[position]
    device_id = item.alias.name if item.alias is not None and item.alias.name else (
        disk_alias(item) if kind is Disk else f"net{position}")  # fmt: skip
    monitor.execute("device_del", {"id": device_id})
    if deleted.wait_or_defer(device_id, DETACH_TIMEOUT, finish_later(lambda: finish_removal(live, item, monitor))):
        finish_removal(live, item, monitor)
        return True
    return False


def finish_removal(live: Domain, item: Disk | Interface, monitor: Monitor) -> None:
    """The guest released the device: drop its backend in QEMU and the device from the live definition."""
    assert live.devices is not None
    if isinstance(item, Disk):
        for node in _node_names(item):
            try:
                monitor.execute("blockdev-del", {"node-name": node})
            except Error as exc:  # the device is gone whatever its backend does: say so, go on (as libvirt)
                log.warning("removing disk %s: blockdev-del of %s failed: %s", item.target_dev, node, exc)
        try:  # (its nodes have let the descriptors go: the set can go too)
            remove_disk_fdsets(monitor, item)
        except Error as exc:
            log.warning("removing disk %s: its descriptor set stays in QEMU: %s", item.target_dev, exc)
        live.devices.disks = [d for d in live.devices.disks if d is not item]
    else:
        name = item.alias.name if item.alias is not None and item.alias.name else ""
        try:
            monitor.execute("netdev_del", {"id": f"host{name}"})
        except Error as exc:
            log.warning("removing interface %s: netdev_del failed: %s", item.mac, exc)
        live.devices.interfaces = [n for n in live.devices.interfaces if n is not item]


def check_update(old: Disk | Interface, new: Disk | Interface) -> None:
    """What update-device may change: a CD-ROM's or floppy's medium, a NIC's link state; nothing else."""
    if isinstance(old, Disk) and isinstance(new, Disk):
        if old.device not in ("cdrom", "floppy"):
            raise NotSupportedError(
                ErrorCode.OPERATION_UNSUPPORTED, f"disk device '{old.device or 'disk'}' cannot be updated"
            )
        return
    if isinstance(old, Interface) and isinstance(new, Interface):
        same = (new.type == old.type and new.mac == old.mac and new.source_bridge in (None, old.source_bridge)
                and new.model_type in (None, old.model_type) and new.target_dev in (None, old.target_dev))  # fmt: skip
        if not same:
            raise NotSupportedError(
                ErrorCode.OPERATION_UNSUPPORTED, "cannot modify network device configuration other than its link state"
            )
        return
    raise XMLError(ErrorCode.XML_ERROR, "the updated device is not of the same kind")


def update_live(live: Domain, position: int, new: Disk | Interface, monitor: Monitor) -> None:
    """Apply ``new`` to the running guest's device at ``position`` and to ``live``."""
    assert live.devices is not None
    if isinstance(new, Interface):
        nic = live.devices.interfaces[position]
        name = nic.alias.name if nic.alias is not None and nic.alias.name else f"net{position}"
        monitor.execute("set_link", {"name": name, "up": new.link_state != "down"})
        nic.link_state = new.link_state
        return
    disk = live.devices.disks[position]
    device_id = disk.alias.name if disk.alias is not None and disk.alias.name else disk_alias(disk)
    path = new.source_file or new.source_dev
    if path and not os.path.exists(path):
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"Cannot access storage file '{path}'", verbatim=False)
    monitor.execute("blockdev-open-tray", {"id": device_id, "force": True})
    wait_for_tray_open(monitor, device_id, disk.target_dev or device_id)
    monitor.execute("blockdev-remove-medium", {"id": device_id})
    for name in _node_names(disk):
        with contextlib.suppress(Error):
            monitor.execute("blockdev-del", {"node-name": name})
    disk.source_file, disk.source_dev, disk.type = new.source_file, new.source_dev, new.type or disk.type
    disk.driver_type = new.driver_type or disk.driver_type
    disk.source_index, disk.backing = (next_node_id(live) if path else None), None
    if path:
        for node in disk_blockdevs(disk):
            monitor.execute("blockdev-add", node)
        monitor.execute("blockdev-insert-medium", {"id": device_id, "node-name": format_node(disk)})
    monitor.execute("blockdev-close-tray", {"id": device_id})
