"""The disks of a VMX file (SCSI, SATA, IDE, floppy) and their controllers, as libvirt's virVMXParseDisk reads them.

Part of ``domxml-from-native vmware-vmx`` (see ``vmx_to_xml``): which
entries make a disk, a CD-ROM or a pass-through LUN, where each sits
(libvirt's drive addresses: wide SCSI buses skip unit 7, the controller),
and the controllers libvirt adds for them.
"""

from __future__ import annotations

from lxml import etree

from pyvirt_esx.disk_names import disk_name_to_index, index_to_disk_name
from pyvirt_esx.vmx_context import ParseFileName
from pyvirt_esx.vmx_file import VmxConfig, vmx_error

__all__ = ["SCSI_MODELS", "SCSI_SUPER_WIDE_MAX_UNIT", "SCSI_WIDE_MAX_UNIT", "DiskReader", "VmxDisk", "sub_element"]

# VMX virtualDev of a SCSI controller -> libvirt's controller model
SCSI_MODELS = {"buslogic": "buslogic", "lsilogic": "lsilogic", "lsisas1068": "lsisas1068", "pvscsi": "vmpvscsi"}
SCSI_WIDE_MAX_UNIT = 16
SCSI_SUPER_WIDE_MAX_UNIT = 64  # virtual hardware 13 and later


def sub_element(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    elem = etree.SubElement(parent, tag, attrs)
    if text is not None:
        elem.text = text
    return elem


class VmxDisk:
    """One disk on its way into the XML: what virVMXParseDisk fills in, plus its drive address."""

    def __init__(self, device: str, bus: str, dst: str) -> None:
        self.device, self.bus, self.dst = device, bus, dst
        self.type = "file"
        self.source: str | None = None
        self.startup_policy: str | None = None
        self.cache: str | None = None
        self.transient = False
        self.readonly = False
        self.address = (0, 0, 0)  # controller, bus, unit

    def element(self) -> etree._Element:
        disk = etree.Element("disk", type=self.type, device=self.device)
        if self.cache:
            sub_element(disk, "driver", cache=self.cache)
        if self.source is not None or self.startup_policy:
            source = sub_element(disk, "source")
            if self.source is not None:
                source.set("file" if self.type == "file" else "dev", self.source)
            if self.startup_policy:
                source.set("startupPolicy", self.startup_policy)
        sub_element(disk, "target", dev=self.dst, bus=self.bus)
        if self.readonly:
            sub_element(disk, "readonly")
        if self.transient:
            sub_element(disk, "transient")
        controller, bus, unit = self.address
        sub_element(disk, "address", type="drive", controller=str(controller), bus=str(bus), target="0", unit=str(unit))
        return disk


class DiskReader:
    """Reads every disk entry of a VMX file, in libvirt's order: SCSI, SATA, IDE, floppy."""

    def __init__(self, conf: VmxConfig, parse_file_name: ParseFileName, scsi_max_unit: int) -> None:
        self.conf = conf
        self.parse_file_name = parse_file_name
        self.scsi_max_unit = scsi_max_unit

    def _scsi_controller(self, index: int) -> tuple[bool, str | None]:
        if not self.conf.boolean(f"scsi{index}.present", False):
            return False, None
        name = f"scsi{index}.virtualDev"
        virtual_dev = self.conf.string(name)
        if virtual_dev is None:
            return True, None
        model = SCSI_MODELS.get(virtual_dev.lower())
        if model is None:
            raise vmx_error(
                f"Expecting VMX entry '{name}' to be 'buslogic' or 'lsilogic' or 'lsisas1068' or 'pvscsi' "
                f"but found '{virtual_dev.lower()}'"
            )
        return True, model

    def read(self) -> tuple[list[VmxDisk], list[tuple[str, int, str | None]]]:
        disks: list[VmxDisk] = []
        controllers: list[tuple[str, int, str | None]] = []
        scsi_models: list[str | None] = [None] * 4
        for index in range(4):
            present, scsi_models[index] = self._scsi_controller(index)
            if not present:
                continue
            for unit in range(self.scsi_max_unit):
                if unit == 7:
                    continue
                disk = self._disk("disk", "scsi", index, unit) or self._disk("cdrom", "scsi", index, unit)
                if disk is not None:
                    disks.append(disk)
        if disks:
            for index in range(disks[-1].address[0] + 1):
                controllers.append(("scsi", index, scsi_models[index]))
        scsi_count = len(disks)
        for index in range(4):
            if not self.conf.boolean(f"sata{index}.present", False):
                continue
            for unit in range(30):
                disk = self._disk("disk", "sata", index, unit) or self._disk("cdrom", "sata", index, unit)
                if disk is not None:
                    disks.append(disk)
        if len(disks) > scsi_count:
            for index in range(disks[-1].address[0] + 1):
                controllers.append(("sata", index, None))
        for bus in range(2):
            for unit in range(2):
                disk = self._disk("disk", "ide", bus, unit) or self._disk("cdrom", "ide", bus, unit)
                if disk is not None:
                    disks.append(disk)
        for unit in range(2):
            disk = self._disk("floppy", "fdc", 0, unit)
            if disk is not None:
                disks.append(disk)
        # virDomainDefAddImplicitControllers: one controller per index used by a disk, FDC before IDE
        have = {(t, i) for t, i, _ in controllers}
        for ctype in ("fdc", "ide"):
            used = [d.address[0] for d in disks if d.bus == ctype]
            for index in range(max(used, default=-1) + 1):
                if (ctype, index) not in have:
                    controllers.append((ctype, index, None))
        return disks, controllers

    def _disk(self, device: str, bus: str, controller: int, unit: int) -> VmxDisk | None:
        conf = self.conf
        if bus == "scsi":
            prefix = f"scsi{controller}:{unit}"
            dst = index_to_disk_name(controller * 15 + (unit if unit < 7 else unit - 1), "sd")
        elif bus == "sata":
            prefix = f"sata{controller}:{unit}"
            dst = index_to_disk_name(controller * 30 + unit, "sd")
        elif bus == "ide":
            prefix = f"ide{controller}:{unit}"
            dst = index_to_disk_name(controller * 2 + unit, "hd")
        else:
            prefix = f"floppy{unit}"
            dst = index_to_disk_name(unit, "fd")
        if not conf.boolean(f"{prefix}.present", False):
            return None
        conf.boolean(f"{prefix}.startConnected", True)  # read (and checked) as libvirt does, not mapped
        device_type_name = f"{prefix}.deviceType"
        device_type = conf.string(device_type_name)
        client_device = conf.boolean(f"{prefix}.clientDevice", False)
        mode = conf.string(f"{prefix}.mode")
        if client_device:
            return None
        file_type = conf.string(f"{prefix}.fileType")
        file_name_key = f"{prefix}.fileName"
        file_name = conf.string(file_name_key)
        write_through = conf.boolean(f"{prefix}.writeThrough", False)
        disk = VmxDisk(device, bus, dst)
        dtype = device_type.lower() if device_type is not None else None
        lower_name = file_name.lower() if file_name is not None else None
        if device == "disk":
            if (
                file_name is None
                or (lower_name or "").endswith(".iso")
                or file_name == "emptyBackingString"
                or dtype in ("atapi-cdrom", "cdrom-raw", "cdrom-image")
                or (dtype == "scsi-passthru" and file_name.startswith("/vmfs/devices/cdrom/"))
            ):
                return None
            if not (lower_name or "").endswith(".vmdk"):
                raise vmx_error(
                    f"Invalid or not yet handled value '{file_name}' for VMX entry '{file_name_key}' "
                    f"for device type '{device_type or 'unknown'}'"
                )
            if dtype is not None:
                if bus == "scsi" and dtype not in ("scsi-harddisk", "disk"):
                    raise vmx_error(
                        f"Expecting VMX entry '{device_type_name}' to be 'scsi-hardDisk' or 'disk' but found "
                        f"'{device_type}'"
                    )
                if bus == "ide" and dtype not in ("ata-harddisk", "disk"):
                    raise vmx_error(
                        f"Expecting VMX entry '{device_type_name}' to be 'ata-hardDisk' or 'disk' but found "
                        f"'{device_type}'"
                    )
            disk.type = "file"
            disk.source = self.parse_file_name(file_name, False)
            if write_through:
                disk.cache = "writethrough"
            if mode:
                disk.transient = mode.lower() == "independent-nonpersistent"
        elif device == "cdrom":
            disk.readonly = True
            if lower_name is not None and lower_name.endswith(".vmdk"):
                return None
            if file_name is not None and lower_name is not None and lower_name.endswith(".iso"):
                if dtype is not None and dtype != "cdrom-image":
                    raise vmx_error(
                        f"Expecting VMX entry '{device_type_name}' to be 'cdrom-image' but found '{device_type}'"
                    )
                disk.type = "file"
                disk.source = self.parse_file_name(file_name, True)
            elif dtype in ("atapi-cdrom", "cdrom-raw"):
                if dtype == "cdrom-raw":
                    disk.device = "lun"
                disk.type = "block"
                if lower_name == "auto detect":
                    disk.startup_policy = "optional"
                else:
                    disk.source = file_name
            elif bus == "scsi" and dtype == "scsi-passthru":
                if file_name is None or not file_name.startswith("/vmfs/devices/cdrom/"):
                    return None
                disk.device = "lun"
                disk.type = "block"
                disk.source = file_name
            elif file_name == "emptyBackingString":
                if dtype is not None and dtype != "cdrom-image":
                    raise vmx_error(
                        f"Expecting VMX entry '{device_type_name}' to be 'cdrom-image' but found '{device_type}'"
                    )
                disk.type = "file"
            else:
                raise vmx_error(
                    f"Invalid or not yet handled value '{file_name if file_name is not None else '<null>'}' "
                    f"for VMX entry '{file_name_key}' for device type '{device_type or 'unknown'}'"
                )
        else:
            ftype = file_type.lower() if file_type is not None else None
            if ftype == "device":
                disk.type = "block"
                disk.source = file_name
            elif ftype == "file":
                disk.type = "file"
                disk.source = self.parse_file_name(file_name, False) if file_name else None
            else:
                raise vmx_error(
                    f"Invalid or not yet handled value '{file_name if file_name is not None else '<null>'}' "
                    f"for VMX entry '{file_name_key}' for device type '{device_type or 'unknown'}'"
                )
        disk.address = self._assign_address(disk)
        return disk

    def _assign_address(self, disk: VmxDisk) -> tuple[int, int, int]:
        """virDomainDiskDefAssignAddress for the buses a VMX file has (wide SCSI: unit 7 is the controller)."""
        idx = disk_name_to_index(disk.dst)
        if disk.bus == "scsi":
            per = self.scsi_max_unit - 1
            unit = idx % per
            return idx // per, 0, unit + 1 if unit >= 7 else unit
        if disk.bus == "ide":
            return idx // 4, (idx % 4) // 2, idx % 2
        if disk.bus == "sata":
            return idx // 6, 0, idx % 6
        return idx // 2, 0, idx % 2
