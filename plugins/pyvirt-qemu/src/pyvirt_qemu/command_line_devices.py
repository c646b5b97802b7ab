"""The device half of the QEMU command line: ``-device`` JSON for each kind, libvirt's keys in libvirt's order.

QEMU does not care about the order of JSON keys, but libvirt's test data
compares command lines as text, so following it exactly is what lets this
driver be checked against those ~370 cases.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Address, Chardev, Controller, Disk, Interface, Redirdev, RngBackend, Smartcard
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError, XMLError
from pyvirt_qemu.audio_backends import audiodev_props
from pyvirt_qemu.block_nodes import CACHE_MODES, disk_source_args, format_node, next_node_id
from pyvirt_qemu.chardev_tls import ChardevTls, tls_object
from pyvirt_qemu.device_aliases import NARROW_SCSI
from pyvirt_qemu.disk_iotune import check_iotune
from pyvirt_qemu.disk_source_checks import check_disk_source
from pyvirt_qemu.emulator_caps import EmulatorCaps
from pyvirt_qemu.fd_groups import fdset_source_args
from pyvirt_qemu.firmware import nvram_network_disk
from pyvirt_qemu.host_devices import hostdev_args
from pyvirt_qemu.iothreads import iothread_prop
from pyvirt_qemu.network_disks import NbdTls, network_secret_objects, network_storage_props
from pyvirt_qemu.pci_addresses import pci_address
from pyvirt_qemu.qemu_secrets import GuestSecrets
from pyvirt_qemu.tpm_passthrough import tpm_cancel_fd_key, tpm_fd_key
from pyvirt_qemu.transient_disks import check_transient_disk
from pyvirt_qemu.vdpa import vdpa_fd_key
from pyvirt_qemu.vhost_user import (
    check_vhost_user_disk,
    require_shared_memory,
    vhost_user_chardev_alias,
    vhost_user_disk_chardev,
    vhost_user_fs_socket,
    vhost_user_video_fd_key,
)
from pyvirt_qemu.virtio_transports import ccw_devno

__all__ = [
    "DISK_BUS_DEVICE",
    "NIC_MODELS",
    "VIDEO_MODELS",
    "DeviceArgs",
    "chardev_fd_key",
    "chardev_fds_wanted",
    "chardev_log_fd_key",
    "nic_device_props",
    "nic_netdev_props",
]

DISK_BUS_DEVICE = {"virtio": "virtio-blk-pci", "sata": "ide-hd", "ide": "ide-hd", "scsi": "scsi-hd", "fdc": "floppy",
                   "usb": "usb-storage"}  # fmt: skip
NIC_MODELS = {"virtio": "virtio-net-pci", "virtio-transitional": "virtio-net-pci-transitional",
              "virtio-non-transitional": "virtio-net-pci-non-transitional", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139",
              "ne2k_pci": "ne2k_pci", "pcnet": "pcnet", "vmxnet3": "vmxnet3"}  # fmt: skip
_USB_CONTROLLERS = {"pci-ohci": "pci-ohci", "qemu-xhci": "qemu-xhci", "nec-xhci": "nec-usb-xhci", "piix3-uhci": "piix3-usb-uhci",
                    "piix4-uhci": "piix4-usb-uhci", "ich9-ehci1": "ich9-usb-ehci1", "ich9-uhci1": "ich9-usb-uhci1",
                    "ich9-uhci2": "ich9-usb-uhci2", "ich9-uhci3": "ich9-usb-uhci3", "vt82c686b-uhci": "vt82c686b-usb-uhci"}  # fmt: skip
# serial target models this builder writes, with the target type each belongs to (virDomainChrSerialTargetModel)
_SERIAL_DEVICES = {"isa-serial": "isa-serial", "spapr-vty": "spapr-vio-serial", "sclpconsole": "sclp-serial",
                   "sclplmconsole": "sclp-serial", "pl011": "system-serial", "16550a": "system-serial",
                   "pci-serial": "pci-serial", "usb-serial": "usb-serial", "isa-debugcon": "isa-debug"}  # fmt: skip
# qemuChrSerialTargetModelToCaps: the capability each needs
# (the cache spells QEMU_CAPS_DEVICE_SCLPCONSOLE "s390-sclp"; a probed QEMU is not asked)
_SERIAL_FLAGS = {"spapr-vty": "spapr-vty", "sclpconsole": "s390-sclp", "sclplmconsole": "sclplmconsole",
                 "pl011": "pl011", "pci-serial": "pci-serial", "usb-serial": "usb-serial"}  # fmt: skip
VIDEO_MODELS = {
    "vga": "VGA",
    "cirrus": "cirrus-vga",
    "virtio": "virtio-vga",
    "bochs": "bochs-display",
    "qxl": "qxl-vga",
}
_UHCI_FIRSTPORT = {"ich9-uhci1": 0, "ich9-uhci2": 2, "ich9-uhci3": 4}
_USB_INPUTS = {"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}
_VIRTIO_INPUTS = {"tablet": "virtio-tablet-pci", "mouse": "virtio-mouse-pci", "keyboard": "virtio-keyboard-pci"}
_SOUND_MODELS = {"ac97": "AC97", "es1370": "ES1370", "sb16": "sb16", "ich6": "intel-hda", "ich7": "intel-hda",
                  "ich9": "ich9-intel-hda", "usb": "usb-audio"}  # fmt: skip
_WATCHDOGS = {"i6300esb": "i6300esb", "ib700": "ib700"}
_WATCHDOG_ACTIONS = ("reset", "shutdown", "poweroff", "pause", "none", "inject-nmi", "dump")
_SCSI_CONTROLLERS = {"lsilogic": "lsi", "virtio-scsi": "virtio-scsi-pci", "ibmvscsi": "spapr-vscsi", "lsisas1078": "megasas", "lsisas1068": "mptsas1068", "vmpvscsi": "pvscsi",
                     "am53c974": "am53c974", "dc390": "dc390",
                     # virtio 1.0 only, or both (the guest's legacy drivers too): qemuBuildVirtioDevGetConfig
                     "virtio-transitional": "virtio-scsi-pci-transitional",
                     "virtio-non-transitional": "virtio-scsi-pci-non-transitional"}  # fmt: skip
_VIRTIO_SCSI = ("virtio-scsi", "virtio-transitional", "virtio-non-transitional")
_PCI_CONTROLLERS = {"pci-bridge": "pci-bridge"}


_VIRTIO_MODELS = (None, "virtio", "virtio-transitional", "virtio-non-transitional")


def _virtio_driver(base: str, model: str | None) -> str:
    """virtio-blk-pci, or its -transitional / -non-transitional variant the model asks for."""
    if model in ("virtio-transitional", "virtio-non-transitional"):
        return f"{base}-{model.removeprefix('virtio-')}"
    return base


def _j(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


def virtio_options(dev: Any) -> dict[str, bool]:
    """``<driver iommu ats packed page_per_vq>`` as the virtio device properties, in libvirt's order."""
    out: dict[str, bool] = {}
    for attr, prop in (("driver_iommu", "iommu_platform"), ("driver_ats", "ats"), ("driver_packed", "packed"),
                       ("driver_page_per_vq", "page-per-vq")):  # fmt: skip
        value = getattr(dev, attr, None)
        if value is not None:
            out[prop] = value
    return out


def _virtio_props(driver: str, dev: Any) -> dict[str, Any]:
    """A device's first properties: its driver, then its virtio options."""
    return {"driver": driver, **virtio_options(dev)}


def _alias(dev: Any) -> str:
    assert dev.alias is not None and dev.alias.name
    return str(dev.alias.name)


def _reconnect(src: Any) -> str:
    """A connecting socket's ``<reconnect>``: retry every N seconds, or (``enabled='no'``) never
    (qemuBuildChrChardevReconnectStr)."""
    reconnect = src.reconnect
    if reconnect is None or reconnect.enabled is None:
        return ""
    return f",reconnect={reconnect.timeout or 0}" if reconnect.enabled else ",reconnect=0"


def _check_lun(disk: Disk, bus: str, virtio_scsi: bool, scsi_block: bool) -> None:
    """libvirt's checks of a ``device='lun'`` (qemuValidateDomainDeviceDefDiskFrontend), in its words."""
    if bus not in ("virtio", "scsi"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk device='lun' is not supported for bus='{bus}'")
    if (bus == "scsi" and not scsi_block) or (bus == "virtio" and not virtio_scsi):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "This QEMU doesn't support scsi-block for lun passthrough" if bus == "scsi" else
                                "disk device='lun' is not supported by this QEMU")  # fmt: skip
    if disk.driver_copy_on_read:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"copy_on_read is not compatible with 'lun' disk '{disk.target_dev}'")  # fmt: skip
    if disk.wwn:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Setting wwn is not supported for lun device")
    if disk.vendor or disk.product:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "Setting vendor or product is not supported for lun device")  # fmt: skip
    if disk.serial and bus == "scsi":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "scsi-block 'lun' devices do not support the serial property")  # fmt: skip
    if disk.sgio not in (None, "filtered"):
        raise _unsupported("sgio='unfiltered' on a 'lun' disk (it needs the host device's unprivileged SG_IO)")


def _check_fat(disk: Disk) -> None:
    """qemuDomainValidateStorageSource's rules for a host directory shown as a FAT drive (QEMU's vvfat): the
    format is 'fat' or unset, and the drive read-only (vvfat's writes would not reach the directory safely)."""
    actual = "dir" if disk.type == "dir" or (disk.type == "volume" and disk.source_dir) else disk.type
    if disk.driver_type == "fat" and actual not in ("dir", "volume"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "storage format 'fat' is supported only with 'dir' "
                                "storage type")  # fmt: skip
    if actual == "dir":
        if disk.driver_type not in (None, "fat"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "storage type 'dir' requires use of storage format 'fat'")  # fmt: skip
        if not disk.readonly:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "virtual FAT storage can't be accessed in read-write mode")  # fmt: skip


class DeviceArgs:
    """Builds each kind's arguments for one domain; ``dom`` already has defaults, aliases and node numbers."""

    def __init__(self, dom: Domain, fds: dict[str, int], vnc_port: int | None, standalone: bool, q35: bool,
                 lib_dir: str = "", caps: EmulatorCaps | None = None) -> None:  # fmt: skip
        self.lib_dir = lib_dir
        self.caps = caps
        self.tpm_socket: str | None = None  # swtpm's control socket, when not the guest's own (see build_command_line)
        self.chardev_tls: ChardevTls | None = None  # qemu.conf's chardev_tls settings
        self.secrets: GuestSecrets | None = None  # the master key and the secret driver (see build_command_line)
        self.nbd_tls: NbdTls | None = None  # qemu.conf's nbd_tls settings
        self.virtiofsd_started = False  # the caller runs virtiofsd for each virtiofs without its own socket
        self.next_fdset = 0
        assert dom.devices is not None and dom.os is not None
        self.dom, self.d, self.fds, self.vnc_port, self.standalone, self.q35 = dom, dom.devices, fds, vnc_port, \
            standalone, q35  # fmt: skip
        self.boot_index = self._boot_indexes()

    def has(self, flag: str) -> bool:
        """A capability of the emulator; without its capabilities a current QEMU is assumed."""
        return self.caps is None or self.caps.has_flag(flag)

    # ------------------------------------------------------------------ addressing
    def pci_bus_name(self, bus: int) -> str:
        for c in self.d.controllers:
            if c.type == "pci" and (c.index or 0) == bus:
                if c.model == "pcie-root":
                    return "pcie.0"
                if c.model == "pci-root" and bus == 0:
                    return "pci.0"
                return _alias(c)  # (a pSeries guest's further PHBs too)
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Could not find PCI controller with index '{bus}'")

    def address_props(self, address: Address | None) -> dict[str, Any]:
        pci = pci_address(address)
        if pci is not None:
            out: dict[str, Any] = {"bus": self.pci_bus_name(pci.bus)}
            if pci.multifunction:
                out["multifunction"] = pci.multifunction == "on"
            out["addr"] = f"0x{pci.slot:x}" + (f".0x{pci.function:x}" if pci.function else "")
            return out
        if address is not None and address.attrs.get("type") == "ccw":
            # the device itself becomes virtio-*-ccw (virtio_transports.retarget_virtio_devices)
            return {"devno": ccw_devno(address)}
        if address is not None and address.attrs.get("type") == "spapr-vio" and "reg" in address.attrs:
            return {"reg": int(address.attrs["reg"], 16)}  # pSeries VIO devices (spapr-vscsi): their bus address
        if address is not None and address.attrs.get("type") == "virtio-mmio":
            return {}  # the board places virtio-mmio devices itself; the device is virtio-*-device
        if address is not None and address.attrs.get("type") == "usb":
            bus = int(address.attrs.get("bus", "0"), 0)
            usb = next((c for c in self.d.controllers if c.type == "usb" and (c.index or 0) == bus), None)
            if usb is None:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"no USB controller with index {bus}")
            return {"bus": f"{_alias(usb)}.0", "port": address.attrs.get("port", "1")}
        if address is not None and address.attrs.get("type") == "virtio-serial":
            c = int(address.attrs.get("controller", "0"), 0)
            ctl = next((x for x in self.d.controllers if x.type == "virtio-serial" and (x.index or 0) == c), None)
            if ctl is None:
                raise InternalError(ErrorCode.INTERNAL_ERROR, f"no virtio-serial controller with index {c}")
            return {
                "bus": f"{_alias(ctl)}.{address.attrs.get('bus', '0')}",
                "nr": int(address.attrs.get("port", "0"), 0),
            }
        return {}

    def zpci_device(self, dev: Any) -> list[str]:
        """The ``zpci`` device in front of an s390 guest's PCI device (qemuCommandAddExtDevice), for one that
        ``zpci_addresses`` gave zPCI ids."""
        address = getattr(dev, "address", None)
        if not isinstance(address, Address) or address.zpci_uid is None or address.zpci_fid is None:
            return []
        return ["-device", _j({"driver": "zpci", "uid": address.zpci_uid, "fid": address.zpci_fid,
                               "target": _alias(dev), "id": f"zpci{address.zpci_uid}"})]  # fmt: skip

    def _drive_props(self, disk: Disk) -> dict[str, Any]:
        a = disk.address.attrs if disk.address is not None else {}
        controller, bus, _target, unit = (int(a.get(k, "0"), 0) for k in ("controller", "bus", "target", "unit"))
        match disk.target_bus:
            case "ide":
                if controller != 0:
                    raise _unsupported("a second IDE controller")
                return {"bus": f"ide.{bus}", "unit": unit}
            case "sata":
                if self.q35 and controller == 0:
                    return {"bus": f"ide.{unit}"}
                ctl = next((c for c in self.d.controllers if c.type == "sata" and (c.index or 0) == controller), None)
                if ctl is None:
                    raise InternalError(ErrorCode.INTERNAL_ERROR, f"no SATA controller with index {controller}")
                return {"bus": f"{_alias(ctl)}.{unit}"}
            case "fdc":
                return {"unit": unit}
            case "scsi":
                return self.scsi_drive_props(disk.address)
        return {}

    def scsi_drive_props(self, address: Address | None) -> dict[str, Any]:
        """A drive address on a SCSI controller as the device's bus properties (a disk's or a host device's):
        bus and SCSI id on the narrow controllers, channel, id and LUN on the others."""
        a = address.attrs if address is not None else {}
        controller, bus, target, unit = (int(a.get(k, "0"), 0) for k in ("controller", "bus", "target", "unit"))
        ctl = next((c for c in self.d.controllers if c.type == "scsi" and (c.index or 0) == controller), None)
        if ctl is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"unable to find a SCSI controller for idx={controller}")
        if ctl.model in NARROW_SCSI:
            return {"bus": f"{_alias(ctl)}.{bus}", "scsi-id": unit}
        return {"bus": f"{_alias(ctl)}.0", "channel": bus, "scsi-id": target, "lun": unit}

    def _boot_indexes(self) -> dict[int, int]:
        """libvirt turns ``<os><boot dev=...>`` into a bootindex on the first device of each kind."""
        assert self.dom.os is not None
        boots = [b.dev for b in (self.dom.os.boots or [])]
        out: dict[int, int] = {}
        if not boots:
            devs: list[Any] = [*self.d.disks, *self.d.interfaces, *self.d.hostdevs, *self.d.redirdevs]
            for dev in devs:
                if dev.boot is not None and dev.boot.order is not None:
                    out[id(dev)] = dev.boot.order
            return out
        order = {dev: i + 1 for i, dev in reversed(list(enumerate(boots)))}
        firsts: dict[str, int] = {}
        for disk in self.d.disks:
            kind = {"cdrom": "cdrom", "floppy": "fd"}.get(disk.device or "disk", "hd")
            if kind in order and kind not in firsts:
                firsts[kind] = id(disk)
                out[id(disk)] = order[kind]
            elif kind not in firsts:
                firsts[kind] = 0
        if "network" in order and self.d.interfaces:
            out[id(self.d.interfaces[0])] = order["network"]
        return out

    # ------------------------------------------------------------------ firmware
    def pflash(self) -> list[str]:
        """Flash firmware as blockdevs: the code (pflash0) and, when present, the per-domain varstore (pflash1)."""
        os_ = self.dom.os
        assert os_ is not None
        loader = os_.loader
        if loader is None or loader.type != "pflash" or not loader.path:
            if os_.firmware == "efi":
                raise _unsupported("firmware='efi' without a resolved loader")
            return []
        # (storage properties before node-name, read-only, secrets the storage names) of pflash0 and pflash1
        images: list[tuple[dict[str, Any], bool, list[dict[str, Any]]]] = [
            ({"driver": "file", "filename": loader.path}, bool(loader.readonly), [])
        ]
        if os_.nvram is not None and os_.nvram.type == "network":  # a variable store on an NBD/iSCSI/... server
            store = nvram_network_disk(os_.nvram)
            images.append((network_storage_props(store, "libvirt-pflash1"), False,
                           network_secret_objects(store, "libvirt-pflash1", self.secrets)))  # fmt: skip
        elif os_.nvram is not None and os_.nvram.path:
            images.append(({"driver": "file", "filename": os_.nvram.path}, False, []))
        elif loader.readonly and not loader.stateless:  # a stateless firmware keeps no variables
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "a read-only pflash loader needs an <nvram> store")
        out: list[str] = []
        for i, (storage, readonly, objects) in enumerate(images):
            node = f"libvirt-pflash{i}"
            out += [x for obj in objects for x in ("-object", _j(obj))]
            out += ["-blockdev", _j({**storage, "node-name": f"{node}-storage", "auto-read-only": True,
                                     "discard": "unmap"})]  # fmt: skip
            out += ["-blockdev", _j({"node-name": f"{node}-format", "read-only": readonly, "driver": "raw",
                                     "file": f"{node}-storage"})]  # fmt: skip
        return out

    # ------------------------------------------------------------------ controllers
    def _controller_props(self, c: Controller) -> dict[str, Any] | None:
        index = c.index or 0
        if c.type == "pci":
            if c.model == "pci-root" and index > 0 and c.model_name == "spapr-pci-host-bridge":
                # another pSeries PHB (qemuBuildControllerPCIDevProps): a device of its own, by target index
                return {"driver": "spapr-pci-host-bridge", "index": c.target_index or 0, "id": _alias(c)}
            if c.model in ("pci-root", "pcie-root"):
                return None
            if c.model == "pcie-root-port":
                hotplug = {"hotplug": c.target_hotplug} if c.target_hotplug is not None else {}
                return {"driver": c.model_name or "pcie-root-port", "port": int(c.target_port or "0", 0),
                        "chassis": c.target_chassis or index, "id": _alias(c), **hotplug,
                        **self.address_props(c.address)}  # fmt: skip
            if c.model in ("dmi-to-pci-bridge", "pcie-to-pci-bridge"):  # bridges without a chassis of their own
                default = "i82801b11-bridge" if c.model == "dmi-to-pci-bridge" else "pcie-pci-bridge"
                return {"driver": c.model_name or default, "id": _alias(c), **self.address_props(c.address)}
            driver = _PCI_CONTROLLERS.get(c.model or "")
            if driver is None:
                raise _unsupported(f"PCI controller model '{c.model}'")
            return {"driver": driver, "chassis_nr": c.target_chassisNr or index, "id": _alias(c),
                    **self.address_props(c.address)}  # fmt: skip
        if c.type == "usb":
            if c.model is None and self.q35:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "no model provided for USB controller")
            if c.model in (None, "none"):
                return None  # no controller, or QEMU's legacy one (-usb, see ``controllers``)
            driver = _USB_CONTROLLERS.get(c.model or "")
            if driver is None:
                raise _unsupported(f"USB controller model '{c.model}'")
            if c.model in _UHCI_FIRSTPORT:
                master = next((x for x in self.d.controllers if x.type == "usb" and x.index == c.index
                               and x.model == "ich9-ehci1"), None)  # fmt: skip
                bus = f"{_alias(master)}.0" if master is not None else f"{_alias(c)}.0"
                first = c.master_startport if c.master_startport is not None else _UHCI_FIRSTPORT[c.model or ""]
                return {"driver": driver, "masterbus": bus, "firstport": first,
                        **self.address_props(c.address)}  # fmt: skip
            props: dict[str, Any] = {"driver": driver}
            if c.ports and c.model in ("qemu-xhci", "nec-xhci"):
                props.update({"p2": c.ports, "p3": c.ports})
            return {**props, "id": _alias(c), **self.address_props(c.address)}
        if c.type == "scsi":
            driver = _SCSI_CONTROLLERS.get(c.model or "")
            if driver is None:
                raise _unsupported(f"SCSI controller model '{c.model}'")
            props = {"driver": driver}
            virtio = c.model in _VIRTIO_SCSI
            if virtio:
                props.update(iothread_prop(self.dom, c.driver_iothread, "Controller"))
                props.update(virtio_options(c))
            props["id"] = _alias(c)
            if virtio:  # qemuBuildControllerSCSIDevProps' order; a zero is no setting, ioeventfd either way
                for prop, number in (("num_queues", c.driver_queues), ("cmd_per_lun", c.driver_cmd_per_lun),
                                     ("max_sectors", c.driver_max_sectors)):  # fmt: skip
                    if number:
                        props[prop] = number
                if c.driver_ioeventfd is not None:
                    props["ioeventfd"] = c.driver_ioeventfd
            return {**props, **self.address_props(c.address)}
        if c.type == "ide":
            if index == 0 and not self.q35:
                return None
            raise _unsupported("an additional IDE controller")
        if c.type == "sata":
            if index == 0 and self.q35:
                return None
            return {"driver": "ahci", "id": _alias(c), **self.address_props(c.address)}
        if c.type == "virtio-serial":
            props = {**_virtio_props(_virtio_driver("virtio-serial-pci", c.model), c), "id": _alias(c)}
            if c.ports is not None:
                props["max_ports"] = c.ports
            if c.vectors is not None:
                props["vectors"] = c.vectors
            return {**props, **self.address_props(c.address)}
        if c.type == "fdc":
            return None
        raise _unsupported(f"controller type '{c.type}'")

    def controllers(self) -> list[str]:
        out: list[str] = []
        for kind in ("pci", "usb", "scsi", "ide", "sata", "virtio-serial"):
            # in the definition's order, as libvirt: the parser keeps each type's controllers by index, and the
            # ones added later (pci-bridges, root ports, virtio-serial for a channel) come after them
            for c in (c for c in self.d.controllers if c.type == kind):
                props = self._controller_props(c)
                if props is not None:
                    out += ["-device", _j(props)]
        for c in self.d.controllers:  # (the CCID readers come after the USB hubs, see smartcards)
            if c.type not in ("pci", "usb", "scsi", "ide", "sata", "virtio-serial", "fdc", "ccid"):
                raise _unsupported(f"controller type '{c.type}'")
        return out + self._legacy_usb()

    def _legacy_usb(self) -> list[str]:
        """libvirt's qemuBuildLegacyUSBControllerCommandLine: a USB controller without a model (QEMU lacked
        piix3-usb-uhci when it was defined) is the machine's own, asked for with ``-usb``; q35 has none."""
        usb = [c for c in self.d.controllers if c.type == "usb"]
        if any(c.model == "none" for c in usb):
            return []
        legacy = [c for c in usb if c.model is None]
        if len(legacy) > 1:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Multiple legacy USB controllers are not supported")
        assert self.dom.os is not None and self.dom.os.type is not None
        arch, machine = self.dom.os.type.arch or "", self.dom.os.type.machine or ""
        virt_board = (arch in ("aarch64", "armv7l") or arch.startswith("riscv")) and machine.startswith("virt")
        if len(legacy) == len(usb) and not self.q35 and not virt_board and not arch.startswith("s390"):
            return ["-usb"]  # guests kept legacy-free (q35, the ARM and RISC-V 'virt' boards, s390) get none
        return []

    # ------------------------------------------------------------------ disks
    def disk_device_props(self, disk: Disk) -> dict[str, Any]:
        bus = disk.target_bus or "ide"
        device = disk.device or "disk"
        if device not in ("disk", "cdrom", "floppy", "lun"):
            raise _unsupported(f"disk device '{device}'")
        if bus not in DISK_BUS_DEVICE:
            raise _unsupported(f"disk bus '{bus}'")
        if device == "lun":
            _check_lun(disk, bus, self.has("virtio-blk-pci.scsi"), self.has("scsi-block"))
        props: dict[str, Any]
        if bus == "virtio":
            if device == "cdrom":
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED, "disk type of 'vda' does not support ejectable media"
                )
            # qemuBuildVirtioDevProps, then the virtio-blk properties in libvirt's order
            vhost_user = disk.type == "vhostuser"  # the same device, its backend another process
            props = {"driver": _virtio_driver("vhost-user-blk-pci" if vhost_user else "virtio-blk-pci", disk.model),
                     **virtio_options(disk),
                     **iothread_prop(self.dom, disk.driver_iothread, "Disk")}  # fmt: skip
            # a QEMU whose virtio-blk still has SCSI passthrough (gone in 5.0) gets it turned off, as libvirt does
            caps = self.caps
            old_scsi = caps is not None and not caps.probed and caps.has_flag("virtio-blk-pci.scsi") \
                and not caps.has_flag("virtio-blk-pci.scsi.default.disabled")  # fmt: skip
            # a 'lun' passes the guest's SCSI commands through (SG_IO) to the host's device
            scsi = True if device == "lun" else (False if old_scsi and not vhost_user else None)
            for prop, value in (("ioeventfd", disk.driver_ioeventfd), ("event_idx", disk.driver_event_idx),
                                ("scsi", scsi), ("num-queues", disk.driver_queues),
                                ("queue-size", disk.driver_queue_size)):  # fmt: skip
                if value is not None:
                    props[prop] = value
        elif disk.driver_iothread is not None:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "IOThreads only available for virtio pci and virtio ccw disk")  # fmt: skip
        elif bus in ("ide", "sata"):
            props = {"driver": "ide-cd" if device == "cdrom" else "ide-hd"}
        elif bus == "scsi":
            props = {"driver": {"cdrom": "scsi-cd", "lun": "scsi-block"}.get(device, "scsi-hd")}
        elif bus == "usb":
            props = {"driver": "usb-storage"}
        else:
            props = {"driver": "floppy"}
        props.update(self.address_props(disk.address) if bus in ("virtio", "usb") else self._drive_props(disk))
        if bus == "scsi" and device != "lun":  # (the VPD device id of QEMU's -drive days; scsi-block has the host's)
            props["device_id"] = disk.serial or f"drive-{_alias(disk)}"
        if disk.shareable:
            props["share-rw"] = True
        drive = format_node(disk)
        if drive is not None:
            props["drive"] = drive
        if disk.type == "vhostuser":
            props["chardev"] = vhost_user_chardev_alias(_alias(disk))
        props["id"] = _alias(disk)
        boot = self.boot_index.get(id(disk))
        if boot and device != "floppy":
            props["bootindex"] = boot
        if disk.blockio_logical:
            props["logical_block_size"] = disk.blockio_logical
        if disk.blockio_physical:
            props["physical_block_size"] = disk.blockio_physical
        if disk.wwn:
            props["wwn"] = int(disk.wwn, 16)
        if disk.target_rotation_rate:
            props["rotation_rate"] = disk.target_rotation_rate
        if disk.vendor:
            props["vendor"] = disk.vendor
        if disk.product:
            props["product"] = disk.product
        if bus == "usb":
            props["removable"] = bool(disk.target_removable)
        if disk.driver_cache not in (None, "default") and device != "lun":  # (no cache on a passed-through LUN)
            props["write-cache"] = "on" if CACHE_MODES[disk.driver_cache][0] else "off"
        for key, value in (("cyls", disk.geometry_cyls), ("heads", disk.geometry_heads), ("secs", disk.geometry_secs)):
            if value:
                props[key] = value
        if disk.geometry_trans:
            props["bios-chs-trans"] = disk.geometry_trans
        if disk.serial:
            props["serial"] = disk.serial.replace(" ", "\\ ")
        # qemuBuildDiskGetErrorPolicy: rerror follows werror unless given, and never 'enospc' (read errors
        # have no such case)
        policy = "enospc" if disk.driver_error_policy == "enospace" else disk.driver_error_policy
        rpolicy = disk.driver_rerror_policy or (policy if policy != "enospc" else None)
        if policy:
            props["werror"] = policy
        if rpolicy:
            props["rerror"] = rpolicy
        return props

    def disks(self) -> list[str]:
        out: list[str] = []
        out += self._floppy_controller()
        for disk in self.d.disks:  # libvirt's own refusals first, for every disk (it validates them all)
            check_disk_source(disk, self.caps)
        for disk in self.d.disks:
            if disk.type == "vhostuser":
                out += self._vhost_user_disk(disk)
                continue
            if disk.type not in (None, "file", "block", "volume", "network", "dir"):
                raise _unsupported(f"disk type '{disk.type}'")
            _check_fat(disk)
            if disk.type == "volume" and (disk.source_pool or disk.source_volume) and not (
                    disk.source_file or disk.source_dev or disk.source_dir or disk.source_protocol):  # fmt: skip
                raise _unsupported(f"disk '{disk.target_dev}' of type 'volume' before the storage driver resolved it")
            check_transient_disk(disk)  # (a startupPolicy was applied before: startup_policy.drop_missing_disks)
            if disk.transient and disk.transient_share_backing:
                continue  # hot-plugged once QEMU runs, as libvirt does (transient_disks)
            nbd = disk.type == "network" and disk.source_protocol == "nbd"  # (TLS: network_disks.nbd_tls_objects)
            if nbd and (disk.source_tls or (disk.source_tls is None and self.nbd_tls is not None
                                            and self.nbd_tls.enabled)) and not self.has("nbd-tls"):  # fmt: skip
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED, "this qemu does not support TLS transport for NBD"
                )
            source_settings = {"tls": disk.source_tls if not nbd else None,
                               "tlsHostname": disk.source_tls_hostname if not nbd else None,
                               "slices": disk.source_slice_type,
                               "reservations": disk.source_reservations_managed,
                               "snapshot": disk.source_snapshot if disk.source_protocol != "rbd" else None,
                               "config": disk.source_config if disk.source_protocol != "rbd" else None}  # fmt: skip
            named = [name for name, value in source_settings.items() if value is not None]
            if named:
                raise _unsupported(f"disk '{disk.target_dev}' source settings ({', '.join(named)})")
            check_iotune(disk)  # applied over QMP at start, like libvirt
            if disk.driver_io not in (None, "native", "threads", "io_uring"):
                raise _unsupported(f"disk io mode '{disk.driver_io}'")
            if disk.driver_copy_on_read:
                raise _unsupported(f"copy_on_read of disk '{disk.target_dev}'")
            if (disk.driver_ioeventfd is not None or disk.driver_event_idx is not None or disk.driver_queues
                    or disk.driver_queue_size) and disk.target_bus != "virtio":  # fmt: skip
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                        "disk driver ioeventfd, event_idx, queues or queue_size are only supported "
                                        "for virtio disks")  # fmt: skip
            if disk.source_fdgroup is not None:  # descriptors a client associated (pyvirt_qemu.fd_groups)
                out += fdset_source_args(disk, self.fds, self.next_fdset,
                                         disk_source_args(disk, self.secrets, self.nbd_tls))  # fmt: skip
                self.next_fdset += 1
            else:
                out += disk_source_args(disk, self.secrets, self.nbd_tls)
            out += self.zpci_device(disk)
            out += ["-device", _j(self.disk_device_props(disk))]
        return out

    def _vhost_user_disk(self, disk: Disk) -> list[str]:
        """A vhost-user-blk disk: the socket of the process serving it, then the device (no block nodes)."""
        check_vhost_user_disk(disk)
        if not self.has("vhost-user-blk"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "vhostuser disk is not supported with this QEMU "
                                    "binary")  # fmt: skip
        self._require_shared_memory("vhostuser")
        return [*vhost_user_disk_chardev(disk, _alias(disk)), "-device", _j(self.disk_device_props(disk))]

    def _require_shared_memory(self, name: str) -> None:
        """qemuValidateDomainDefVhostUserRequireSharedMemory, with the machine's own RAM backend id (a current
        QEMU's machines all have one, as ``build_command_line`` assumes without capabilities)."""
        os_type = self.dom.os.type if self.dom.os is not None else None
        machine = os_type.machine if os_type is not None else None
        ram_id: str | None = "ram"
        if self.caps is not None:
            known = next((m for m in self.caps.machines if machine in (m.name, m.alias)), None)
            ram_id = known.default_ram_id if known is not None else None
        require_shared_memory(self.dom, name, ram_id)

    def _floppy_controller(self) -> list[str]:
        """Boot order of the floppy drives: a property of the (implicit on i440fx, explicit on q35) ISA FDC."""
        floppies = [d for d in self.d.disks if d.target_bus == "fdc"]
        if not floppies:
            return []
        boot = {"A": 0, "B": 0}
        for disk in floppies:
            unit = int((disk.address.attrs if disk.address else {}).get("unit", "0"), 0)
            boot["B" if unit else "A"] = self.boot_index.get(id(disk), 0)
        if self.q35:
            props: dict[str, Any] = {"driver": "isa-fdc"}
            props.update({f"bootindex{k}": v for k, v in boot.items() if v})
            return ["-device", _j(props)]
        return [x for k, v in boot.items() if v for x in ("-global", f"isa-fdc.bootindex{k}={v}")]

    def filesystems(self) -> list[str]:
        """Host directories shared over virtio-9p: an ``-fsdev`` for the export, a device with the mount tag."""
        out: list[str] = []
        for fs in self.d.filesystems:
            if fs.type in (None, "mount") and fs.driver_type == "virtiofs":
                out += self._virtiofs(fs)
                continue
            if fs.type not in (None, "mount") or fs.driver_type not in (None, "path", "handle") or not fs.source_dir:
                raise _unsupported(f"filesystem type '{fs.type}' with driver '{fs.driver_type}'")
            alias = _alias(fs)
            if fs.driver_type == "handle":
                opts = "handle"
            else:
                mode = {"passthrough": "passthrough", "mapped": "mapped", "squash": "none"}.get(
                    fs.accessmode or "passthrough"
                )
                if mode is None:
                    raise _unsupported(f"filesystem access mode '{fs.accessmode}'")
                opts = f"local,security_model={mode}"
                if fs.multidevs and fs.multidevs != "default":
                    opts += f",multidevs={fs.multidevs}"
                opts += f",fmode={fs.fmode}" if fs.fmode else ""  # the modes of files and directories created
                opts += f",dmode={fs.dmode}" if fs.dmode else ""
            if fs.driver_wrpolicy:
                opts += f",writeout={fs.driver_wrpolicy}"
            opts += f",id=fsdev-{alias},path={fs.source_dir.replace(',', ',,')}"
            if fs.readonly:
                opts += ",readonly"
            out += ["-fsdev", opts]
            out += ["-device", _j({**_virtio_props(_virtio_driver("virtio-9p-pci", fs.model), fs), "id": alias, "fsdev": f"fsdev-{alias}",
                                   "mount_tag": fs.target_dir or "", **self.address_props(fs.address)})]  # fmt: skip
        return out

    def _virtiofs(self, fs: Any) -> list[str]:
        """vhost-user-fs: virtiofsd's socket, then the device with the mount tag (qemuBuildVHostUserFsCommandLine).

        The daemon is either the XML's own (``<source socket>``, started outside the driver) or the one the
        caller started for this guest (``virtiofsd_started``) on ``vhost_user_fs_socket``'s path."""
        if not self.has("vhost-user-fs"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "virtiofs is not supported with this QEMU binary")
        self._require_shared_memory("virtiofs")
        boot = fs.boot.order if fs.boot is not None else None
        if boot and not self.has("vhost-user-fs.bootindex"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "setting virtiofs boot order is not supported with this QEMU binary")  # fmt: skip
        if not fs.source_socket and not (self.virtiofsd_started or self.standalone):
            raise _unsupported("a virtiofs filesystem without <source socket> (it needs virtiofsd started by the "
                               "driver)")  # fmt: skip
        alias = _alias(fs)
        chardev = vhost_user_chardev_alias(alias)
        props: dict[str, Any] = {**_virtio_props("vhost-user-fs-pci", fs), "id": alias, "chardev": chardev}
        if fs.driver_queue:
            props["queue-size"] = fs.driver_queue
        props["tag"] = fs.target_dir or ""
        if boot:
            props["bootindex"] = boot
        socket = vhost_user_fs_socket(fs, self.lib_dir, alias)
        return ["-chardev", f"socket,id={chardev},path={socket}", "-device", _j({**props,
                **self.address_props(fs.address)})]  # fmt: skip

    # ------------------------------------------------------------------ network
    def nets(self) -> list[str]:
        out: list[str] = []
        for i, nic in enumerate(self.d.interfaces):
            if nic.port_isolated or nic.downscript_path:
                raise _unsupported("an isolated port or a downscript on an interface")
            if nic.type == "vdpa":
                out += self._vdpa_netdev(i, nic)
            else:
                out += ["-netdev", _j(nic_netdev_props(i, nic, self.fds, self.standalone))]
            props = nic_device_props(i, nic, self.boot_index.get(id(nic)), self.address_props(nic.address))
            out += ["-device", _j({**props, **rom_props(nic)})]
        return out

    def _vdpa_netdev(self, index: int, nic: Interface) -> list[str]:
        """A vDPA NIC's fd set and ``vhost-vdpa`` netdev (qemuBuildHostNetProps; ``vdpa.open_vdpa_fds``)."""
        fd = self.fds.get(vdpa_fd_key(index))
        if fd is None:  # (domxml-to-native: no driver to open the device)
            raise _unsupported("a vdpa interface without the driver opening its device")
        fdset = self.next_fdset
        self.next_fdset += 1
        alias = _alias(nic) if nic.alias is not None else f"net{index}"
        props: dict[str, Any] = {"type": "vhost-vdpa", "vhostdev": f"/dev/fdset/{fdset}"}
        if nic.driver_queues and nic.driver_queues > 1:
            props["queues"] = nic.driver_queues
        props["id"] = f"host{alias}"
        return ["-add-fd", f"set={fdset},fd={fd},opaque={alias}-vdpa", "-netdev", _j(props)]

    # ------------------------------------------------------------------ character devices
    def chardev(self, chr_: Chardev, alias: str) -> list[str]:
        """``-chardev`` for a serial port, channel or console; files and listening sockets come as fds.

        Like libvirt, the driver opens a file (``-add-fd``, QEMU writes to
        ``/dev/fdset/N``) and creates a listening socket itself (``fd=N``),
        so QEMU needs no access to the path and the socket exists before
        the guest starts. Without those fds (validation, domxml-to-native)
        QEMU is given the paths.
        """
        out = self._chardev(chr_, alias)
        if not chr_.log_file:
            return out
        # the device's output also goes to a log file: opened by the driver (appending, or emptied when
        # append='off'), passed as an fd set QEMU appends to (libvirt's qemuBuildChrChardevStr)
        at = out.index("-chardev")
        logfd = self.fds.get(chardev_log_fd_key(alias))
        if logfd is not None:
            fdset = self.next_fdset
            self.next_fdset += 1
            out[at:at] = ["-add-fd", f"set={fdset},fd={logfd},opaque={alias}-log"]
            out[at + 3] += f",logfile=/dev/fdset/{fdset},logappend=on"
        else:
            out[at + 1] += f",logfile={chr_.log_file.replace(',', ',,')}"
            if chr_.log_append is not None:
                out[at + 1] += f",logappend={'on' if chr_.log_append else 'off'}"
        return out

    def _chardev(self, chr_: Chardev, alias: str) -> list[str]:
        chr_id = f"char{alias}"
        src = chr_.sources[0] if chr_.sources else None
        kind = chr_.type or "pty"
        passed = self.fds.get(chardev_fd_key(alias))
        match kind:
            case "pty" | "null" | "vc" | "stdio":
                return ["-chardev", f"{kind},id={chr_id}"]
            case "spicevmc":  # the SPICE client's end: the agent on a channel, USB redirection on a redirdev
                channel = "usbredir" if alias.startswith("redir") else "vdagent"
                channel = "smartcard" if alias.startswith("smartcard") else channel
                return ["-chardev", f"spicevmc,id={chr_id},name={channel}"]
            case "qemu-vdagent":  # QEMU's own SPICE agent: clipboard sharing and client-side mouse, no SPICE
                if self.caps is not None and not self.caps.probed and not self.caps.has_flag("chardev.qemu-vdagent"):
                    raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                            "chardev 'qemu-vdagent' not supported in this QEMU binary")  # fmt: skip
                text = f"qemu-vdagent,id={chr_id},name=vdagent"
                if src is not None and src.clipboard_copypaste is not None:
                    text += f",clipboard={'on' if src.clipboard_copypaste else 'off'}"
                mouse = {"client": ",mouse=on", "server": ",mouse=off"}
                return ["-chardev", text + (mouse.get(src.mouse_mode or "", "") if src is not None else "")]
            case "spiceport":
                if src is None or not src.channel:
                    raise XMLError(ErrorCode.XML_ERROR, "Missing source channel attribute for char device")
                return ["-chardev", f"spiceport,id={chr_id},name={src.channel}"]
            case "file" | "pipe" | "dev":
                path = src.path if src is not None else None
                if not path:
                    raise XMLError(ErrorCode.XML_ERROR, "Missing source path attribute for char device")
                if kind == "file" and passed is not None:
                    fdset = self.next_fdset
                    self.next_fdset += 1
                    return ["-add-fd", f"set={fdset},fd={passed},opaque={alias}-source",
                            "-chardev", f"file,id={chr_id},path=/dev/fdset/{fdset},append=on"]  # fmt: skip
                backend = ("parallel" if alias.startswith("parallel") else "serial") if kind == "dev" else kind
                text = f"{backend},id={chr_id},path={path.replace(',', ',,')}"
                if kind == "file" and src is not None and src.append is not None:
                    text += f",append={'on' if src.append else 'off'}"
                return ["-chardev", text]
            case "unix":
                if src is None or not src.path:
                    raise XMLError(ErrorCode.XML_ERROR, "Missing source path attribute for char device")
                if src.mode == "bind" and passed is not None:
                    return ["-chardev", f"socket,id={chr_id},fd={passed},server=on,wait=off"]
                text = f"socket,id={chr_id},path={src.path.replace(',', ',,')}"
                return ["-chardev", text + (",server=on,wait=off" if src.mode == "bind" else "") + _reconnect(src)]
            case "udp":
                connect = next((x for x in chr_.sources or [] if x.mode in (None, "connect")), None)
                bind = next((x for x in chr_.sources or [] if x.mode == "bind"), None)
                host, port = (connect.host or "", connect.service or "") if connect is not None else ("", "")
                local, local_port = (bind.host or "", bind.service or "0") if bind is not None else ("", "0")
                return ["-chardev", f"udp,id={chr_id},host={host},port={port},localaddr={local},localport={local_port}"]
            case "tcp":
                if src is None or not src.host or not src.service:
                    raise XMLError(ErrorCode.XML_ERROR, "Missing source host/service for char device")
                text = f"socket,id={chr_id},host={src.host},port={src.service}"
                if chr_.protocol == "telnet":
                    text += ",telnet=on"
                # libvirt's order: listening, reconnecting, then the TLS credentials
                text += (",server=on,wait=off" if src.mode == "bind" else "") + _reconnect(src)
                tls = tls_object(self.chardev_tls, src, chr_id, self.secrets)
                if tls is not None:
                    text += f",tls-creds={tls[1]}"
                return [*(tls[0] if tls else []), "-chardev", text]
        raise _unsupported(f"character device type '{kind}'")

    def serials(self) -> list[str]:
        out: list[str] = []
        for i, serial in enumerate(self.d.serials):
            if serial.target_type is None and serial.target_model is None:
                # no target the post-parse could name (e.g. a ppce500 or vexpress board): the board's own UART,
                # a platform device, as qemuChrIsPlatformDevice says of a serial still without a target type
                out += self.chardev(serial, _alias(serial))
                out += ["-serial", f"chardev:char{_alias(serial)}"]
                continue
            model = serial.target_model or "isa-serial"
            if model not in _SERIAL_DEVICES or serial.target_type not in (None, _SERIAL_DEVICES[model]):
                raise _unsupported(f"serial target '{serial.target_type}'")
            flag = _SERIAL_FLAGS.get(model)
            if flag is not None and self.caps is not None and not self.caps.probed and not self.caps.has_flag(flag):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                        f"'{model}' is not supported in this QEMU binary")  # fmt: skip
            alias = _alias(serial)
            port = int(serial.target_port) if serial.target_port is not None else i
            out += self.chardev(serial, alias)
            if _SERIAL_DEVICES[model] == "system-serial":
                out += ["-serial", f"chardev:char{alias}"]  # the board's own UART, a platform device
                continue
            props: dict[str, Any] = {"driver": model, "chardev": f"char{alias}", "id": alias}
            if model == "isa-serial":
                props["index"] = port
            elif model in ("pci-serial", "usb-serial"):  # on the PCI or USB address it was given
                props |= self.address_props(serial.address)
            elif model == "spapr-vty" and serial.address is not None and "reg" in serial.address.attrs:
                props["reg"] = int(serial.address.attrs["reg"], 16)
            if serial.address is not None and serial.address.attrs.get("type") == "isa":
                props["iobase"] = int(serial.address.attrs.get("iobase", "0"), 0)
                if "irq" in serial.address.attrs:
                    props["irq"] = int(serial.address.attrs["irq"], 0)
            out += ["-device", _j(props)]
        return out

    def parallels(self) -> list[str]:
        out: list[str] = []
        for par in self.d.parallels:
            alias = _alias(par)
            out += self.chardev(par, alias)
            out += ["-device", _j({"driver": "isa-parallel", "chardev": f"char{alias}", "id": alias})]
        return out

    def panics(self) -> list[str]:
        """pvpanic on the ISA bus (its I/O port from an ``isa`` address); other models are not x86's."""
        out: list[str] = []
        for panic in self.d.panics:
            if panic.model in ("hyperv", "pseries", "s390"):
                continue  # a CPU flag (hv-crash), the pSeries firmware's and s390's diagnose: no device
            if panic.model not in (None, "isa"):
                raise _unsupported(f"panic model '{panic.model}'")
            props: dict[str, Any] = {"driver": "pvpanic"}
            if panic.content:
                address = etree.fromstring(f"<panic>{panic.content}</panic>").find("address")
                if address is not None and address.get("iobase"):
                    props["ioport"] = int(address.get("iobase", "0"), 0)
            out += ["-device", _j(props)]
        return out

    def channels_and_consoles(self) -> list[str]:
        out: list[str] = []
        for ch in self.d.channels:
            alias = _alias(ch)
            if ch.target_type == "guestfwd":
                # a TCP address of the guest's user network forwarded to the chardev (slirp's guestfwd)
                if not ch.target_address or not ch.target_port:
                    raise XMLError(ErrorCode.XML_ERROR, "guestfwd channel does not define a target address "
                                   "and port")  # fmt: skip
                out += self.chardev(ch, alias)
                forward = f"tcp:{ch.target_address}:{ch.target_port}-chardev:char{alias}"
                out += ["-netdev", _j({"type": "user", "guestfwd": [{"str": forward}], "id": alias})]
                continue
            if ch.target_type != "virtio":
                raise _unsupported(f"channel target type '{ch.target_type}'")
            out += self.chardev(ch, alias)
            props: dict[str, Any] = {"driver": "virtserialport", **self.address_props(ch.address),
                                     "chardev": f"char{alias}", "id": alias}  # fmt: skip
            if ch.target_name:
                props["name"] = ch.target_name
            out += ["-device", _j(props)]
        for i, console in enumerate(self.d.consoles):
            if console.target_type in (None, "serial") and i == 0 and self.d.serials:
                continue  # the serial port's own chardev
            # s390's SCLP consoles (qemuBuildSclpDevProps) or a virtio one; a serial console is its port's own
            driver = {"virtio": "virtconsole", "sclp": "sclpconsole", "sclplm": "sclplmconsole"}.get(
                console.target_type or ""
            )
            if driver is None:
                raise _unsupported(f"console target type '{console.target_type}'")
            flag = _SERIAL_FLAGS.get(driver)
            if flag is not None and self.caps is not None and not self.caps.probed and not self.caps.has_flag(flag):
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED, f"'{driver}' is not supported in this QEMU binary"
                )
            alias = _alias(console)
            out += self.chardev(console, alias)
            out += ["-device", _j({"driver": driver, "chardev": f"char{alias}", "id": alias})]
        return out

    # ------------------------------------------------------------------ input, audio, display
    def inputs(self) -> list[str]:
        out: list[str] = []
        for inp in self.d.inputs:
            if inp.bus in ("ps2", None) and inp.type in ("mouse", "keyboard"):
                continue
            if inp.bus == "usb" and inp.type in _USB_INPUTS:
                out += ["-device", _j({"driver": _USB_INPUTS[inp.type or ""], "id": _alias(inp),
                                       **self.address_props(inp.address)})]  # fmt: skip
            elif inp.bus == "virtio" and inp.type in _VIRTIO_INPUTS:
                out += ["-device", _j({**_virtio_props(_VIRTIO_INPUTS[inp.type or ""], inp), "id": _alias(inp),
                                       **self.address_props(inp.address)})]  # fmt: skip
            elif inp.type == "evdev" and inp.source_dev:
                # the host's keyboard or mouse shared with the guest (QEMU's input-linux object, qemuBuildInputEvdevProps)
                obj: dict[str, Any] = {"qom-type": "input-linux", "id": _alias(inp), "evdev": inp.source_dev}
                if inp.source_repeat is not None:
                    obj["repeat"] = inp.source_repeat
                if inp.source_grab == "all":
                    obj["grab_all"] = True
                if inp.source_grab_toggle:
                    obj["grab-toggle"] = inp.source_grab_toggle
                out += ["-object", _j(obj)]
            elif inp.bus == "virtio" and inp.type == "passthrough" and inp.source_evdev:
                # the host's own input device, its events handed to the guest (QEMU opens the evdev node)
                out += ["-device", _j({**_virtio_props("virtio-input-host-pci", inp), "id": _alias(inp),
                                       "evdev": inp.source_evdev, **self.address_props(inp.address)})]  # fmt: skip
            else:
                raise _unsupported(f"input '{inp.type}' on bus '{inp.bus}'")
        return out

    def audio(self) -> list[str]:
        return [x for a in self.d.audios for x in ("-audiodev", _j(audiodev_props(a)))]

    def videos(self) -> list[str]:
        out: list[str] = []
        for i, v in enumerate(self.d.videos):
            model = v.model_type or "cirrus"
            primary = i == 0
            if v.driver_name == "vhostuser":  # rendered by the vhost-user-gpu helper the driver started
                out += self._vhost_user_video(v, model, primary)
                continue
            if v.model_rendernode:  # virDomainVideoDefValidate: the render node is the vhost-user helper's
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                        "unsupported rendernode accel attribute without 'vhostuser'")  # fmt: skip
            gl = self._check_accel3d(v, model)
            props: dict[str, Any]
            if model == "none":
                continue
            if model == "cirrus":
                props = {"driver": "cirrus-vga", "id": _alias(v)}
            elif model == "vga":
                props = {"driver": "VGA", "id": _alias(v)}
                if self.has("VGA.vgamem_mb"):
                    props["vgamem_mb"] = (v.model_vgamem or 16384) // 1024
            elif model == "virtio":
                # qemuDomainSupportsVideoVga: the primary card is virtio-vga where QEMU has it (not on ARM)
                vga = primary and self.has("virtio-vga")
                # virgl: the GL variants where QEMU splits them out (6.1 on), else the 'virgl' property
                if vga:
                    driver = "virtio-vga-gl" if gl and self.has("virtio-vga-gl") else "virtio-vga"
                else:
                    driver = "virtio-gpu-gl-pci" if gl and self.has("virtio-gpu-gl-pci") else "virtio-gpu-pci"
                props = {**_virtio_props(driver, v), "id": _alias(v)}
                # (no QEMU has both: without capabilities, the -gl device of a current one)
                if (
                    v.model_accel3d is not None
                    and self.has("virtio-gpu.virgl")
                    and not driver.endswith(("-gl", "-gl-pci"))
                ):
                    props["virgl"] = v.model_accel3d
                props["max_outputs"] = v.model_heads or 1
            elif model == "bochs":
                props = {"driver": "bochs-display", "id": _alias(v), "vgamem": (v.model_vram or 16384) * 1024}
            elif model == "qxl":
                props = {"driver": "qxl-vga" if primary else "qxl", "id": _alias(v), "max_outputs": v.model_heads or 1,
                         "ram_size": (v.model_ram or 65536) * 1024, "vram_size": (v.model_vram or 65536) * 1024}  # fmt: skip
                if self.has("qxl.vram64_size_mb"):
                    props["vram64_size_mb"] = (v.model_vram64 or 0) // 1024
                if self.has("qxl.vgamem_mb"):
                    props["vgamem_mb"] = (v.model_vgamem or 16384) // 1024
            elif model == "ramfb":  # a plain framebuffer in guest RAM (set up through fw_cfg), no PCI device
                props = {"driver": "ramfb", "id": _alias(v)}
            else:
                raise _unsupported(f"video model '{model}'")
            if v.model_resolution_x is not None or v.model_resolution_y is not None:
                props |= {"xres": v.model_resolution_x, "yres": v.model_resolution_y}  # the initial mode
            out += ["-device", _j({**props, **self.address_props(v.address)})]
        return out

    def _vhost_user_video(self, v: Any, model: str, primary: bool) -> list[str]:
        """vhost-user-vga for the primary card (where QEMU has it), else vhost-user-gpu-pci, talking to the
        helper over the socket whose other end the driver gave it (qemuBuildVideoCommandLine)."""
        if model != "virtio":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "'vhostuser' driver is only supported with 'virtio' device")  # fmt: skip
        if not self.has("vhost-user-gpu"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "this QEMU does not support 'vhost-user' video device")  # fmt: skip
        alias = _alias(v)
        fd = self.fds.get(vhost_user_video_fd_key(alias))
        if fd is None:
            raise _unsupported("video driver 'vhostuser' (it needs the vhost-user-gpu helper running)")
        # the VGA-compatible model is no virtio device to libvirt: it gets none of the virtio options
        props = {"driver": "vhost-user-vga"} if primary and self.has("vhost-user-vga") else \
            _virtio_props("vhost-user-gpu-pci", v)  # fmt: skip
        props |= {"id": alias, "max_outputs": v.model_heads or 1, "chardev": vhost_user_chardev_alias(alias)}
        if v.model_resolution_x is not None or v.model_resolution_y is not None:
            props |= {"xres": v.model_resolution_x, "yres": v.model_resolution_y}
        chardev = f"socket,id={vhost_user_chardev_alias(alias)},fd={fd}"
        return ["-chardev", chardev, "-device", _j({**props, **self.address_props(v.address)})]

    def _check_accel3d(self, v: Any, model: str) -> bool:
        """``<acceleration accel3d='yes'>`` (virgl) is virtio's alone and needs QEMU's GL support
        (qemuValidateDomainDeviceDefVideo); True when asked for."""
        if not v.model_accel3d:
            return False
        if model != "virtio":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "3d acceleration is supported only with 'virtio' video device")  # fmt: skip
        if not any(self.has(flag) for flag in ("virtio-gpu.virgl", "virtio-gpu-gl-pci", "virtio-vga-gl")):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "3d acceleration is not supported by this QEMU binary")  # fmt: skip
        return True

    # ------------------------------------------------------------------ the rest
    def tpms(self) -> list[str]:
        """An emulated TPM: swtpm's control channel as a chardev (an fd from the driver), the tpmdev, the device;
        a pSeries TPM proxy (the host's TPM, through the hypervisor) is a device alone."""
        out: list[str] = []
        proxies = [t for t in self.d.tpms if t.model == "spapr-tpm-proxy"]
        if len(proxies) > 1:  # qemuValidateDomainDefTPMs
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "only a single TPM Proxy device is supported")
        if len(self.d.tpms) - len(proxies) > 1:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "only a single TPM non-proxy device is supported")
        for index, tpm in enumerate(self.d.tpms):
            alias = _alias(tpm)
            if tpm.model == "spapr-tpm-proxy":
                path = etree.fromstring(f"<backend>{tpm.backend_content or ''}</backend>").find("device")
                if tpm.backend_type != "passthrough" or path is None or not path.get("path"):
                    raise _unsupported(f"TPM proxy backend '{tpm.backend_type}'")
                out += ["-device", _j({"driver": "spapr-tpm-proxy", "id": alias, "host-path": path.get("path")})]
                continue
            if tpm.backend_type not in ("emulator", "passthrough", "external"):
                raise _unsupported(f"TPM backend '{tpm.backend_type}'")
            model = tpm.model or "tpm-tis"
            if model not in ("tpm-tis", "tpm-crb", "tpm-spapr"):
                raise _unsupported(f"TPM model '{model}'")
            if tpm.backend_type == "passthrough":
                out += self._tpm_passthrough(tpm, index, alias, model)
                continue
            arch = self.dom.os.type.arch if self.dom.os is not None and self.dom.os.type is not None else None
            driver = "tpm-tis-device" if model == "tpm-tis" and arch == "aarch64" else model  # a sysbus TIS on ARM
            fd = self.fds.get("tpm0")
            chardev = f"fd={fd}" if fd is not None else f"path={self.tpm_socket or f'{self.lib_dir}/swtpm.sock'}"
            if tpm.backend_type == "external":  # a swtpm someone else runs: QEMU connects to its socket
                source = etree.fromstring(f"<backend>{tpm.backend_content or ''}</backend>").find("source")
                if source is None or source.get("type") != "unix" or not source.get("path"):
                    raise _unsupported("an external TPM backend other than a UNIX socket")
                chardev = f"path={str(source.get('path')).replace(',', ',,')}"
            props: dict[str, Any] = {"driver": driver, "tpmdev": f"tpm-{alias}", "id": alias}
            if model == "tpm-spapr":
                props |= self.address_props(tpm.address)  # its VIO address (reg)
            out += ["-chardev", f"socket,id=chrtpm,{chardev}", "-tpmdev", f"emulator,id=tpm-{alias},chardev=chrtpm",
                    "-device", _j(props)]  # fmt: skip
        return out

    def _tpm_passthrough(self, tpm: Any, index: int, alias: str, model: str) -> list[str]:
        """The host's TPM and its cancel file, opened by the driver (``tpm_passthrough_fds``) and given to QEMU
        as fd sets, as qemuBuildTPMBackendStr writes them."""
        fd, cancel = self.fds.get(tpm_fd_key(index)), self.fds.get(tpm_cancel_fd_key(index))
        if fd is None or cancel is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"TPM '{alias}' was not opened for passthrough")
        device_set, cancel_set = self.next_fdset, self.next_fdset + 1
        self.next_fdset += 2
        props: dict[str, Any] = {"driver": model, "tpmdev": f"tpm-{alias}", "id": alias}
        if model == "tpm-spapr":
            props |= self.address_props(tpm.address)
        return ["-add-fd", f"set={device_set},fd={fd},opaque={alias}-tpm",
                "-add-fd", f"set={cancel_set},fd={cancel},opaque={alias}-cancel",
                "-tpmdev", f"passthrough,id=tpm-{alias},path=/dev/fdset/{device_set},cancel-path=/dev/fdset/{cancel_set}",
                "-device", _j(props)]  # fmt: skip

    def sounds(self) -> list[str]:
        """Sound cards; an HDA controller carries codecs (hda-duplex unless the XML names others) that play."""
        out: list[str] = []
        for snd in self.d.sounds:
            driver = _SOUND_MODELS.get(snd.model or "")
            if driver is None:
                raise _unsupported(f"sound model '{snd.model}'")
            alias = _alias(snd)
            audiodev = f"audio{snd.audio_id or (self.d.audios[0].id if self.d.audios else 1)}"
            hda = snd.model in ("ich6", "ich7", "ich9")
            props: dict[str, Any] = {"driver": driver, "id": alias}
            if not hda:
                props["audiodev"] = audiodev
            out += ["-device", _j({**props, **self.address_props(snd.address)})]
            if hda:
                for cad, codec in enumerate(snd.codecs or [None]):
                    kind = codec.type if codec is not None else "duplex"
                    if kind not in ("duplex", "micro", "output"):
                        raise _unsupported(f"sound codec '{kind}'")
                    out += ["-device", _j({"driver": f"hda-{kind}", "id": f"{alias}-codec{cad}", "bus": f"{alias}.0",
                                           "cad": cad, "audiodev": audiodev})]  # fmt: skip
        return out

    def watchdog(self) -> list[str]:
        if not self.d.watchdogs:
            return []
        if len(self.d.watchdogs) > 1:
            raise _unsupported("more than one watchdog")
        wd = self.d.watchdogs[0]
        driver = _WATCHDOGS.get(wd.model or "")
        action = wd.action or "reset"
        if driver is None or action not in _WATCHDOG_ACTIONS:
            raise _unsupported(f"watchdog model '{wd.model}' with action '{wd.action}'")
        out = ["-device", _j({"driver": driver, "id": _alias(wd), **self.address_props(wd.address)})]
        if action != "reset":
            out += ["-watchdog-action", "pause" if action == "dump" else action]
        return out

    def redirdevs(self) -> list[str]:
        """USB redirection: a chardev (SPICE's usbredir channel, or a socket) feeding a ``usb-redir`` device."""
        out: list[str] = []
        for redir in self.d.redirdevs:
            if redir.bus not in (None, "usb"):
                raise _unsupported(f"redirdev bus '{redir.bus}'")
            alias = _alias(redir)
            out += self.chardev(Chardev(type=redir.type, sources=redir.sources, protocol=redir.protocol), alias)
            props: dict[str, Any] = {"driver": "usb-redir", "chardev": f"char{alias}", "id": alias}
            if id(redir) in self.boot_index:
                props["bootindex"] = self.boot_index[id(redir)]
            out += ["-device", _j(props | self.address_props(redir.address))]
        return out

    def hostdevs(self) -> list[str]:
        return hostdev_args(self.dom, self.address_props, self.boot_index, self.has("usb-host.hostdevice"),
                            first_node=next_node_id(self.dom), drive_props=self.scsi_drive_props,
                            secrets=self.secrets, fds=self.fds, ext_device=self.zpci_device,
                            virtio_driver=lambda base, h: _virtio_props(_virtio_driver(base, h.model), h))  # fmt: skip

    def memballoon(self) -> list[str]:
        b = self.d.memballoon
        if b is None or b.model in (None, "none"):
            return []
        if b.model not in _VIRTIO_MODELS:
            raise _unsupported(f"memballoon model '{b.model}'")
        props: dict[str, Any] = {**_virtio_props(_virtio_driver("virtio-balloon-pci", b.model), b), "id": _alias(b)}
        if b.autodeflate is not None:
            props["deflate-on-oom"] = b.autodeflate
        if b.freePageReporting is not None:
            props["free-page-reporting"] = b.freePageReporting
        return ["-device", _j({**props, **self.address_props(b.address)})]

    def vsock(self) -> list[str]:
        """``vhost-vsock-pci``/``-ccw`` on the fd the driver opened and gave its CID (``vsock.open_vhost_vsock``),
        as qemuBuildVsockDevProps writes it: the fd as a string property."""
        v = self.d.vsock
        if v is None:
            return []
        if v.model not in _VIRTIO_MODELS:
            raise _unsupported(f"vsock model '{v.model}'")
        fd = self.fds.get("vsock")
        if fd is None or v.cid_address is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "vhost-vsock device has no fd or guest CID at start")
        transport = v.address.attrs.get("type") if v.address is not None else None
        # the transport names the device (qemuBuildVirtioDevGetConfig): channel I/O on s390, else PCI
        driver = "vhost-vsock-ccw" if transport == "ccw" else _virtio_driver("vhost-vsock-pci", v.model)
        props: dict[str, Any] = {**_virtio_props(driver, v), "id": _alias(v), "guest-cid": v.cid_address,
                                 "vhostfd": str(fd)}  # fmt: skip
        return ["-device", _j({**props, **self.address_props(v.address)})]

    def rngs(self) -> list[str]:
        out: list[str] = []
        for rng in self.d.rngs:
            backend = rng.backend
            alias = _alias(rng)
            if rng.model not in _VIRTIO_MODELS or backend is None or backend.model not in ("random", "builtin", "egd"):
                raise _unsupported("an RNG other than virtio with a random, builtin or egd backend")
            if backend.model == "egd":  # an entropy daemon's socket, as a character device
                out += self.chardev(
                    Chardev(type=backend.type, sources=backend.sources, protocol=backend.protocol), alias
                )
                obj: dict[str, Any] = {"qom-type": "rng-egd", "id": f"obj{alias}", "chardev": f"char{alias}"}
            elif backend.model == "random":
                obj = {"qom-type": "rng-random", "id": f"obj{alias}",
                                       "filename": backend.path or "/dev/urandom"}  # fmt: skip
            else:
                obj = {"qom-type": "rng-builtin", "id": f"obj{alias}"}
            out += ["-object", _j(obj)]
            props: dict[str, Any] = {**_virtio_props(_virtio_driver("virtio-rng-pci", rng.model), rng), "rng": f"obj{alias}",
                                     "id": alias}  # fmt: skip
            if rng.rate_bytes:
                props["max-bytes"] = rng.rate_bytes
                props["period"] = rng.rate_period or 1000
            out += ["-device", _j({**props, **self.address_props(rng.address)})]
        return out


def rom_props(dev: Any) -> dict[str, Any]:
    """A PCI device's option ROM (``<rom bar file>``), after its address as qemuBuildRomProps adds them:
    ``rombar`` 0/1, and ``romfile`` (empty: no ROM at all)."""
    if dev.rom_bar is None and dev.rom_file is None:
        return {}
    if dev.address is None or dev.address.attrs.get("type") != "pci":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "ROM tuning is only supported for PCI devices")
    props: dict[str, Any] = {}
    if dev.rom_bar in ("on", "off"):
        props["rombar"] = 1 if dev.rom_bar == "on" else 0
    if dev.rom_file is not None:
        props["romfile"] = dev.rom_file
    return props


def chardev_fd_key(alias: str) -> str:
    return f"chardev-{alias}"


def chardev_log_fd_key(alias: str) -> str:
    return f"chardev-{alias}-log"


def chardev_fds_wanted(dom: Domain) -> list[tuple[str, str, Chardev | Redirdev | Smartcard | RngBackend]]:
    """(fd key, 'file', 'listen' or 'log', device) for every character device whose file, socket or log file
    the driver opens (a smartcard's, USB redirection's or an EGD entropy source's socket too: libvirt passes
    those as fds the same way)."""
    d = dom.devices
    if d is None:
        return []
    out: list[tuple[str, str, Chardev | Redirdev | Smartcard | RngBackend]] = []
    devices: list[Chardev | Redirdev | Smartcard] = [*d.serials, *d.parallels, *d.channels,
                                                     *(c for c in d.consoles if c.target_type == "virtio")]  # fmt: skip
    devices += [*(s for s in d.smartcards if s.mode == "passthrough"), *d.redirdevs]
    chardevs: list[tuple[Any, Chardev | Redirdev | Smartcard | RngBackend]] = [(dev.alias, dev) for dev in devices]
    chardevs += [(rng.alias, rng.backend) for rng in d.rngs if rng.backend is not None and rng.backend.model == "egd"]
    for alias, dev in chardevs:
        src = dev.sources[0] if dev.sources else None
        if alias is not None and alias.name and isinstance(dev, Chardev) and dev.log_file:
            out.append((chardev_log_fd_key(alias.name), "log", dev))
        if alias is None or not alias.name or src is None or not src.path:
            continue
        if dev.type == "file":
            out.append((chardev_fd_key(alias.name), "file", dev))
        elif dev.type == "unix" and src.mode == "bind":
            out.append((chardev_fd_key(alias.name), "listen", dev))
    return out


def nic_netdev_props(index: int, nic: Interface, fds: dict[str, int], standalone: bool) -> dict[str, Any]:
    """The host side of a NIC: user networking, or a tap the driver opened (or QEMU creates, standalone)."""
    netdev_id = f"host{_alias(nic)}" if nic.alias is not None and nic.alias.name else f"hostnet{index}"
    if nic.type == "user":
        # qemuBuildHostNetProps: the guest addresses of user networking (its subnet and IPv6 prefix)
        user: dict[str, Any] = {"type": "user"}
        for ip in nic.ips or []:
            if ip.address and ":" not in ip.address:
                user["net"] = f"{ip.address}/{ip.prefix}" if ip.prefix else ip.address
            elif ip.address:
                user["ipv6-prefix"] = ip.address
                if ip.prefix:
                    user["ipv6-prefixlen"] = ip.prefix
        return {**user, "id": netdev_id}
    if nic.type in ("bridge", "ethernet", "network") and f"tap{index}" in fds:
        netdev: dict[str, Any] = {"type": "tap", "fd": str(fds[f"tap{index}"])}
        if f"vhost{index}" in fds:
            netdev.update(vhost=True, vhostfd=str(fds[f"vhost{index}"]))
        return {**netdev, "id": netdev_id}
    if nic.type in ("bridge", "ethernet") and standalone:
        # no driver to open the tap: QEMU creates it by name (plugging it into a bridge is then the user's job)
        return {"type": "tap", "ifname": nic.target_dev or f"vnet{index}", "script": "no", "downscript": "no",
                "id": netdev_id}  # fmt: skip
    raise _unsupported(f"interface type '{nic.type}'")


def nic_device_props(index: int, nic: Interface, bootindex: int | None, address: dict[str, Any]) -> dict[str, Any]:
    model = NIC_MODELS.get(nic.model_type or "rtl8139")
    if model is None:
        raise _unsupported(f"NIC model '{nic.model_type}'")
    netdev_id = f"host{_alias(nic)}" if nic.alias is not None and nic.alias.name else f"hostnet{index}"
    virtio = model.startswith("virtio")
    offloads = {"csum": nic.driver_host_csum, "gso": nic.driver_host_gso, "host_tso4": nic.driver_host_tso4,
                "host_tso6": nic.driver_host_tso6, "host_ecn": nic.driver_host_ecn, "host_ufo": nic.driver_host_ufo,
                "mrg_rxbuf": nic.driver_host_mrg_rxbuf, "guest_csum": nic.driver_guest_csum,
                "guest_tso4": nic.driver_guest_tso4, "guest_tso6": nic.driver_guest_tso6,
                "guest_ecn": nic.driver_guest_ecn, "guest_ufo": nic.driver_guest_ufo}  # fmt: skip
    tuning = {"tx": {"iothread": "bh", "timer": "timer"}.get(nic.driver_txmode or ""),
              "ioeventfd": nic.driver_ioeventfd, "event_idx": nic.driver_event_idx, **offloads,
              # a vDPA device's queue pairs (taps get one queue: their multiqueue is not opened yet)
              **({"mq": True, "vectors": 2 * nic.driver_queues + 2}
                 if nic.type == "vdpa" and nic.driver_queues and nic.driver_queues > 1 else {}),
              "rx_queue_size": nic.driver_rx_queue_size, "tx_queue_size": nic.driver_tx_queue_size,
              "rss": nic.driver_rss, "hash": nic.driver_rss_hash_report}  # fmt: skip
    if not virtio and any(v is not None for v in tuning.values()):
        raise _unsupported(f"<driver> tuning of a '{nic.model_type}' NIC")
    # qemuBuildNicDevProps: the virtio options, then the virtio-net tuning in libvirt's order
    options = {**virtio_options(nic), **{k: v for k, v in tuning.items() if v is not None}} if virtio else {}
    props: dict[str, Any] = {"driver": model, **options, "netdev": netdev_id,
                             "id": _alias(nic) if nic.alias is not None else f"net{index}", "mac": nic.mac}  # fmt: skip
    if bootindex:
        props["bootindex"] = bootindex
    return {**props, **address}
