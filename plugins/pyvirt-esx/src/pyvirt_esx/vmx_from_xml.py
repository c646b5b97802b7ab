"""``domxml-to-native vmware-vmx``: domain XML to a VMX file, following libvirt 9.0's virVMXFormatConfig.

The XML is read by pyvirt's domain parser (libvirt reads it with
virDomainDefParse and the VMX driver's defaults: i686, video ``vmvga`` with
4 MiB, wide SCSI buses). The VMX has a fixed vocabulary; where libvirt
quietly leaves out what it has no key for (a sound card, an ``<input>``, a
disk's ``io`` mode), this converter refuses it by name (CONFIG_UNSUPPORTED),
so that a definition uploaded to a host is never silently less than what
the user wrote. Elements of the ``vmware`` namespace (``datacenterpath``,
``moref``) describe where the VM lives, not the VM, and are not written.
"""

from __future__ import annotations

import os

from lxml import etree

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.conf.domain_devices import Chardev, Disk, Graphics, Interface, Video
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_esx.disk_names import disk_name_to_index
from pyvirt_esx.vmx_context import VmxContext, format_vmx_uuid, parse_mac
from pyvirt_esx.vmx_coverage import refuse_unmapped
from pyvirt_esx.vmx_disks import SCSI_MODELS
from pyvirt_esx.vmx_file import escape_hex, vmx_error, vmx_unsupported
from pyvirt_esx.vmx_to_xml import VMWARE_NS

__all__ = ["domain_to_vmx", "parse_vmware_domain", "xml_to_vmx"]

# libvirt's XML name of a SCSI controller model -> the VMX virtualDev
VMX_SCSI_MODELS = {xml: vmx for vmx, xml in SCSI_MODELS.items()}
# every SCSI controller model libvirt's XML knows (virDomainControllerModelSCSI)
XML_SCSI_MODELS = ("auto", "buslogic", "lsilogic", "lsisas1068", "vmpvscsi", "ibmvscsi", "virtio-scsi", "lsisas1078",
                   "virtio-transitional", "virtio-non-transitional", "ncr53c90", "dc390", "am53c974")  # fmt: skip
NET_MODELS = ("vlance", "vmxnet", "vmxnet2", "vmxnet3", "e1000", "e1000e")


def parse_vmware_domain(xml: str | bytes) -> tuple[Domain, dict[str, str]]:
    """Read domain XML as libvirt's VMX-aware parser does; the ``vmware:`` namespace elements are returned aside."""
    root = parse_xml(xml, "domain", "domain_definition")
    extra: dict[str, str] = {}
    for child in list(root):
        if isinstance(child.tag, str) and child.tag.startswith(f"{{{VMWARE_NS}}}"):
            extra[etree.QName(child).localname] = child.text or ""
            root.remove(child)
    dom = parse_domain(etree.tostring(root))
    if dom.os is not None and dom.os.type is not None and dom.os.type.arch is None:
        dom.os.type.arch = "i686"  # the VMX driver's default architecture
    arch = dom.os.type.arch if dom.os is not None and dom.os.type is not None else None
    if (
        dom.type != "vmware"
        or arch not in ("i686", "x86_64")
        or dom.os is None
        or dom.os.type is None
        or (dom.os.type.name != "hvm")
    ):
        # virVMXDomainDefPostParse: only hvm i686/x86_64 guests of type vmware exist on these hosts
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED,
            f"Emulator '(null)' does not support virt type '{dom.type}'"
            if dom.type != "vmware"
            else f"No guest options available for arch '{arch}'",
        )
    assert dom.devices is not None
    if dom.devices.graphics and not dom.devices.videos:
        # virDomainDefAddImplicitVideo: a display needs a video card, the hypervisor's default one
        dom.devices.videos = [Video(model_type="vmvga")]
    for video in dom.devices.videos:
        if video.model_type in (None, "default"):
            video.model_type = "vmvga"
        if not video.model_vram and video.model_type == "vmvga":
            video.model_vram = 4 * 1024
    return dom, extra


def xml_to_vmx(xml: str | bytes, hw_version: int, ctx: VmxContext) -> str:
    """Convert domain XML into the text of a VMX file for virtual hardware version ``hw_version``."""
    dom, _ = parse_vmware_domain(xml)
    return domain_to_vmx(dom, hw_version, ctx)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, key: str, value: str | int) -> None:
        self.lines.append(f'{key} = "{value}"\n')


def domain_to_vmx(dom: Domain, hw_version: int, ctx: VmxContext) -> str:
    """virVMXFormatConfig over the domain model."""
    if ctx.format_file_name is None:
        raise vmx_error("virVMXContext has no formatFileName function set")
    if dom.type != "vmware":
        raise vmx_error(f"Expecting virt type to be 'vmware' but found '{dom.type}'")
    assert dom.os is not None and dom.os.type is not None and dom.devices is not None and dom.vcpu is not None
    out = _Writer()
    out(".encoding", "UTF-8")
    out("config.version", "8")
    out("virtualHW.version", hw_version)
    arch = dom.os.type.arch
    if arch == "i686":
        out("guestOS", "other")
    elif arch == "x86_64":
        out("guestOS", "other-64")
    else:
        raise vmx_error(f"Expecting domain XML attribute 'arch' of entry 'os/type' to be 'i686' or 'x86_64' but "
                        f"found '{arch}'")  # fmt: skip
    smbios = dom.os.smbios_mode
    if smbios == "host":
        out("smbios.reflecthost", "true")
    elif smbios not in (None, "emulate"):
        raise vmx_unsupported(f"Unsupported SMBIOS mode '{smbios}'")
    if dom.uuid is None or dom.uuid == "00000000-0000-0000-0000-000000000000":
        out("uuid.action", "create")
    else:
        out("uuid.bios", format_vmx_uuid(dom.uuid))
    name = dom.name or ""
    out("displayName", escape_hex(escape_hex(name, "|", '"'), "%", "/\\"))
    if dom.description is not None:
        out("annotation", escape_hex(dom.description, "|", '"'))
    assert dom.memory is not None and dom.current_memory is not None
    max_balloon = -(-dom.memory.kib // 4096) * 4096
    out("memsize", max_balloon // 1024)
    if dom.current_memory.kib < max_balloon:
        out("sched.mem.max", -(-dom.current_memory.kib // 1024))
    guarantee = dom.memtune.min_guarantee if dom.memtune is not None else None
    if guarantee is not None and guarantee.kib > 0:
        out("sched.mem.minsize", -(-guarantee.kib // 1024))
    maxvcpus = dom.vcpu.count or 0
    if dom.vcpu.current is not None and dom.vcpu.current < maxvcpus:
        raise vmx_unsupported("No support for domain XML entry 'vcpu' attribute 'current'")
    out("numvcpus", maxvcpus)
    if dom.cpu is not None:
        cpu = dom.cpu
        if cpu.mode not in (None, "custom"):
            raise vmx_error(f"Expecting domain XML CPU mode 'custom' but found '{cpu.mode}'")
        if (cpu.topology_threads or 0) != 1:
            raise vmx_unsupported("Only 1 thread per core is supported")
        if (cpu.topology_dies or 1) != 1:
            raise vmx_unsupported("Only 1 die per socket is supported")
        calculated = (cpu.topology_sockets or 0) * (cpu.topology_cores or 0)
        if calculated != maxvcpus:
            raise vmx_error(f"Expecting domain XML CPU sockets per core as {maxvcpus} but found {calculated}")
        out("cpuid.coresPerSocket", cpu.topology_cores or 0)
    if dom.vcpu.cpuset:
        cpus = sorted(parse_bitmap(dom.vcpu.cpuset, "cpuset"))
        if len(cpus) < maxvcpus:
            raise vmx_error(
                f"Expecting domain XML attribute 'cpuset' of entry 'vcpu' to contain at least {maxvcpus} CPU(s)"
            )
        out("sched.cpu.affinity", ",".join(str(c) for c in cpus))
    shares = dom.cputune.shares if dom.cputune is not None else None
    if shares is not None:
        vcpus = dom.vcpu.current or maxvcpus
        named = {vcpus * 500: "low", vcpus * 1000: "normal", vcpus * 2000: "high"}
        out("sched.cpu.shares", named.get(shares, str(shares)))
    for graphics in dom.devices.graphics:
        _vnc(graphics, out)
    devices = dom.devices
    for disk in devices.disks:
        _verify_disk_address(disk)
    scsi_models = _scsi_controllers(dom, ctx)
    for index, (present, model) in enumerate(scsi_models):
        if present:
            out(f"scsi{index}.present", "true")
            if model is not None:
                out(f"scsi{index}.virtualDev", VMX_SCSI_MODELS[model])
    floppy_present = [False, False]
    for disk in devices.disks:
        if disk.device in ("disk", "cdrom", "lun"):
            _disk(disk, ctx, out)
        elif disk.device == "floppy":
            _floppy(disk, ctx, out, floppy_present)
        else:
            raise vmx_unsupported(f"Unsupported disk device type '{disk.device}'")
    for unit in range(2):
        if not floppy_present[unit]:
            out(f"floppy{unit}.present", "false")
    if devices.filesystems:
        out("isolation.tools.hgfs.disable", "false")
        out("sharedFolder.maxNum", len(devices.filesystems))
    for number, fs in enumerate(devices.filesystems):
        if fs.type not in (None, "mount"):
            raise vmx_unsupported("Only 'mount' filesystem type is supported")
        out(f"sharedFolder{number}.present", "true")
        out(f"sharedFolder{number}.enabled", "true")
        out(f"sharedFolder{number}.readAccess", "true")
        out(f"sharedFolder{number}.writeAccess", "false" if fs.readonly else "true")
        out(f"sharedFolder{number}.hostPath", fs.source_dir or "")
        out(f"sharedFolder{number}.guestName", fs.target_dir or "")
    for index, iface in enumerate(devices.interfaces):
        _ethernet(iface, index, out, hw_version)
    if devices.videos:
        if len(devices.videos) > 1:
            raise vmx_error("No support for multiple video devices")
        _svga(devices.videos[0], out)
    for serial in devices.serials:
        _serial(serial, ctx, out)
    for parallel in devices.parallels:
        _parallel(parallel, ctx, out)
    if dom.os.firmware == "efi":
        out("firmware", "efi")
    elif dom.os.firmware is not None:
        raise vmx_unsupported(f"'domain/os/@firmware' = '{dom.os.firmware}' cannot be expressed in a VMX file")
    if hw_version >= 7:
        if any(present for present, _ in scsi_models):
            out("pciBridge0.present", "true")
            for bridge in (4, 5, 6, 7):
                out(f"pciBridge{bridge}.present", "true")
                out(f"pciBridge{bridge}.virtualDev", "pcieRootPort")
                out(f"pciBridge{bridge}.functions", "8")
        out("vmci0.present", "true")
    # last, so that what libvirt itself refuses is refused in libvirt's words
    refuse_unmapped(dom)
    return "".join(out.lines)


def _vnc(graphics: Graphics, out: _Writer) -> None:
    if graphics.type != "vnc":
        raise vmx_unsupported(f"Unsupported graphics type '{graphics.type}'")
    out("RemoteDisplay.vnc.enabled", "true")
    if not (graphics.autoport or graphics.port in (None, -1)):
        out("RemoteDisplay.vnc.port", graphics.port or 0)
    address = graphics.listens[0].address if graphics.listens else graphics.listen
    if address:
        out("RemoteDisplay.vnc.ip", address)
    if graphics.keymap is not None:
        out("RemoteDisplay.vnc.keymap", graphics.keymap)
    if graphics.passwd is not None:
        out("RemoteDisplay.vnc.password", graphics.passwd)


def _drive_address(disk: Disk) -> tuple[int, int, int]:
    """The address libvirt assigns from the target name (virDomainDiskDefAssignAddress, wide SCSI)."""
    idx = disk_name_to_index(disk.target_dev or "")
    if idx < 0:
        raise vmx_error("Could not verify disk address")
    if disk.target_bus == "scsi":
        unit = idx % 15
        return idx // 15, 0, unit + 1 if unit >= 7 else unit
    if disk.target_bus == "ide":
        return idx // 4, (idx % 4) // 2, idx % 2
    if disk.target_bus == "sata":
        return idx // 6, 0, idx % 6
    return idx // 2, 0, idx % 2


def _address_of(disk: Disk) -> tuple[int, int, int]:
    if disk.address is None:
        return _drive_address(disk)
    attrs = disk.address.attrs
    return int(attrs.get("controller", "0")), int(attrs.get("bus", "0")), int(attrs.get("unit", "0"))


def _verify_disk_address(disk: Disk) -> None:
    """virVMXVerifyDiskAddress: a drive address that matches the target name and the VMX's bus sizes."""
    if disk.address is not None and disk.address.attrs.get("type") != "drive":
        raise vmx_unsupported(f"Unsupported disk address type '{disk.address.attrs.get('type')}'")
    controller, bus, unit = _address_of(disk)
    if disk.address is not None and _drive_address(disk) != (controller, bus, unit):
        raise vmx_error(f"Disk address {controller}:{bus}:{unit} doesn't match target device '{disk.target_dev}'")
    if disk.target_bus == "scsi":
        if controller > 3:
            raise vmx_error(f"SCSI controller index {controller} out of [0..3] range")
        if bus != 0:
            raise vmx_error(f"SCSI bus index {bus} out of [0] range")
        if unit > 15 or unit == 7:
            raise vmx_error(f"SCSI unit index {unit} out of [0..6,8..15] range")
    elif disk.target_bus == "ide":
        if controller != 0:
            raise vmx_error(f"IDE controller index {controller} out of [0] range")
        if bus > 1:
            raise vmx_error(f"IDE bus index {bus} out of [0..1] range")
        if unit > 1:
            raise vmx_error(f"IDE unit index {unit} out of [0..1] range")
    elif disk.target_bus == "fdc":
        if controller != 0:
            raise vmx_error(f"FDC controller index {controller} out of [0] range")
        if bus != 0:
            raise vmx_error(f"FDC bus index {bus} out of [0] range")
        if unit > 1:
            raise vmx_error(f"FDC unit index {unit} out of [0..1] range")
    else:
        raise vmx_unsupported(f"Unsupported bus type '{disk.target_bus}'")


def _scsi_controllers(dom: Domain, ctx: VmxContext) -> list[tuple[bool, str | None]]:
    """virVMXHandleLegacySCSIDiskDriverName + virVMXGatherSCSIControllers: which SCSI controllers, which models."""
    assert dom.devices is not None
    disks = [d for d in dom.devices.disks if d.target_bus == "scsi"]
    models: dict[int, str | None] = {}
    for ctrl in dom.devices.controllers:
        if ctrl.type == "scsi":
            models[ctrl.index or 0] = ctrl.model
    # the parser's implicit controllers: one per index a SCSI disk uses
    for disk in disks:
        for index in range(_address_of(disk)[0] + 1):
            models.setdefault(index, None)
    for disk in disks:
        if disk.driver_name is None:
            continue
        model = disk.driver_name.lower()
        if model not in XML_SCSI_MODELS:
            raise vmx_error(f"Unknown driver name '{disk.driver_name}'")
        index = _address_of(disk)[0]
        if index not in models:
            raise vmx_error(f"Missing SCSI controller for index {index}")
        if models[index] is None:
            models[index] = model
        elif models[index] != model:
            raise vmx_error(
                f"Inconsistent SCSI controller model ('{disk.driver_name}' is not '{models[index]}') for SCSI "
                f"controller index {index}"
            )
    result: list[tuple[bool, str | None]] = [(False, None)] * 4
    for index in sorted(models):
        attached = [d for d in disks if _address_of(d)[0] == index]
        if not attached:
            continue
        chosen = models[index]
        if chosen == "auto" and ctx.autodetect_scsi_model is not None:
            found = {ctx.autodetect_scsi_model(d.target_dev or "", d.source_path) for d in attached}
            if len(found) > 1:
                raise vmx_error(
                    f"Disks on SCSI controller {index} have inconsistent controller models, cannot autodetect model"
                )
            chosen = found.pop()
        if chosen is not None and chosen not in VMX_SCSI_MODELS:
            raise vmx_error(
                "Expecting domain XML attribute 'model' of entry 'controller' to be 'buslogic' or 'lsilogic' or "
                f"'lsisas1068' or 'vmpvscsi' but found '{chosen}'"
            )
        if index > 3:
            raise vmx_error(f"SCSI controller index {index} out of [0..3] range")
        result[index] = (True, chosen)
    return result


def _disk(disk: Disk, ctx: VmxContext, out: _Writer) -> None:
    assert ctx.format_file_name is not None
    bus, device, dst = disk.target_bus or "", disk.device or "disk", disk.target_dev or ""
    dtype = disk.type or "file"
    ext = ".vmdk" if device == "disk" else ".iso"
    if dtype not in ("file", "block"):
        raise vmx_unsupported(f"{bus} {device} '{dst}' has unsupported type '{dtype}', expecting 'file' or 'block'")
    if bus == "scsi":
        idx = disk_name_to_index(dst)
        if not dst.startswith("sd"):
            raise vmx_error("Expecting domain XML attribute 'dev' of entry 'devices/disk/target' to start with 'sd'")
        if idx < 0:
            raise vmx_error(f"Could not parse valid disk index from '{dst}'")
        if idx >= 4 * 15:
            raise vmx_error(f"SCSI disk index (parsed from '{dst}') is too large")
        controller, unit = idx // 15, idx % 15
        unit = unit + 1 if unit >= 7 else unit
    elif bus == "ide":
        idx = disk_name_to_index(dst)
        if not dst.startswith("hd"):
            raise vmx_error("Expecting domain XML attribute 'dev' of entry 'devices/disk/target' to start with 'hd'")
        if idx < 0:
            raise vmx_error(f"Could not parse valid disk index from '{dst}'")
        if idx >= 4:
            raise vmx_error(f"IDE disk index (parsed from '{dst}') is too large")
        controller, unit = idx // 2, idx % 2
    else:
        raise vmx_unsupported(f"Unsupported bus type '{bus}' for {device}")
    source = disk.source_file if dtype == "file" else disk.source_dev
    if device == "disk" and dtype == "file":
        vmx_type = "scsi-hardDisk" if bus == "scsi" else "ata-hardDisk"
    elif device == "cdrom":
        vmx_type = "cdrom-image" if dtype == "file" else "atapi-cdrom"
    elif device == "lun":
        vmx_type = (
            "scsi-passthru" if bus == "scsi" and source and source.startswith("/vmfs/devices/cdrom/") else ("cdrom-raw")
        )
    else:
        raise vmx_unsupported(f"{bus} {device} '{dst}' has an unsupported type '{dtype}'")
    key = f"{bus}{controller}:{unit}"
    out(f"{key}.present", "true")
    out(f"{key}.deviceType", vmx_type)
    if dtype == "file":
        if source:
            if not source.lower().endswith(ext):
                raise vmx_error(f"Image file for {bus} {device} '{dst}' has unsupported suffix, expecting '{ext}'")
            out(f"{key}.fileName", ctx.format_file_name(source))
        elif device == "cdrom":
            out(f"{key}.fileName", "emptyBackingString")
        else:
            raise vmx_error(f"{bus} {device} '{dst}' has no source file")
    elif not source and disk.source_startup_policy == "optional":
        out(f"{key}.autodetect", "true")
        out(f"{key}.fileName", "auto detect")
    else:
        out(f"{key}.fileName", source or "")
    if bus == "scsi":
        if disk.driver_cache == "writethrough":
            out(f"{key}.writeThrough", "true")
        elif disk.driver_cache not in (None, "default"):
            raise vmx_unsupported(f"{bus} harddisk '{dst}' has unsupported cache mode '{disk.driver_cache}'")
    elif disk.driver_cache not in (None, "default"):
        raise vmx_unsupported(f"{bus} {device} '{dst}' has unsupported cache mode '{disk.driver_cache}'")
    if disk.transient:
        out(f"{key}.mode", "independent-nonpersistent")


def _floppy(disk: Disk, ctx: VmxContext, out: _Writer, present: list[bool]) -> None:
    assert ctx.format_file_name is not None
    dst = disk.target_dev or ""
    if not dst.startswith("fd"):
        raise vmx_error("Expecting domain XML attribute 'dev' of entry 'devices/disk/target' to start with 'fd'")
    unit = disk_name_to_index(dst)
    if unit < 0:
        raise vmx_error(f"Could not parse valid disk index from '{dst}'")
    if unit >= 2:
        raise vmx_error(f"Floppy disk index (parsed from '{dst}') is too large")
    present[unit] = True
    out(f"floppy{unit}.present", "true")
    if (disk.type or "file") == "file":
        out(f"floppy{unit}.fileType", "file")
        if disk.source_file:
            out(f"floppy{unit}.fileName", ctx.format_file_name(disk.source_file))
    elif disk.type == "block":
        out(f"floppy{unit}.fileType", "device")
        if disk.source_dev:
            out(f"floppy{unit}.fileName", disk.source_dev)
    else:
        raise vmx_unsupported(f"Floppy '{dst}' has unsupported type '{disk.type}', expecting 'file' or 'block'")


def _ethernet(iface: Interface, index: int, out: _Writer, hw_version: int) -> None:
    limit = 9 if hw_version >= 7 else 3
    if index > limit:
        raise vmx_error(f"Ethernet controller index {index} out of [0..{limit}] range")
    key = f"ethernet{index}"
    out(f"{key}.present", "true")
    if iface.model_type:
        if iface.model_type not in NET_MODELS:
            raise vmx_error(
                "Expecting domain XML entry 'devices/interface/model' to be 'vlance' or 'vmxnet' or 'vmxnet2' or "
                f"'vmxnet3' or 'e1000' or 'e1000e' but found '{iface.model_type}'"
            )
        if iface.model_type == "vmxnet2":
            out(f"{key}.virtualDev", "vmxnet")
            out(f"{key}.features", "15")
        else:
            out(f"{key}.virtualDev", iface.model_type)
    if iface.type == "bridge":
        out(f"{key}.networkName", iface.source_bridge or "")
        if iface.target_dev is not None:
            out(f"{key}.connectionType", "custom")
            out(f"{key}.vnet", iface.target_dev)
        else:
            out(f"{key}.connectionType", "bridged")
    elif iface.type == "user":
        out(f"{key}.connectionType", "nat")
    elif iface.type == "vds":
        out(f"{key}.dvs.switchId", format_vmx_uuid(iface.source_switchid or ""))
        out(f"{key}.dvs.portId", iface.source_portid or 0)
        out(f"{key}.dvs.portgroupId", _xml_escape(iface.source_portgroupid or ""))
        out(f"{key}.dvs.connectionId", iface.source_connectionid or 0)
    elif iface.type != "null":
        raise vmx_unsupported(f"Unsupported net type '{iface.type}'")
    mac = parse_mac(iface.mac or "") or _generated_mac()
    mac_text = ":".join(f"{b:02x}" for b in mac)
    prefix = int.from_bytes(mac[:3], "big")
    suffix = int.from_bytes(mac[3:], "big")
    mac_vpx = False
    mac_check: bool | None = None
    if prefix == 0x000C29:
        mac_type = "generated"
    elif prefix == 0x005056 and suffix <= 0x3FFFFF:
        mac_type = "static"
    elif prefix == 0x005056 and 0x800000 <= suffix <= 0xBFFFFF:
        mac_type, mac_vpx = "generated", True
    else:
        mac_type, mac_check = "static", False
    if iface.mac_type:
        mac_type = iface.mac_type
        if mac_type == "generated":
            mac_check = None
    if iface.mac_check is not None:
        mac_check = iface.mac_check
    if mac_type == "generated":
        out(f"{key}.addressType", "vpx" if mac_vpx else "generated")
        out(f"{key}.generatedAddress", mac_text)
        if not mac_vpx:
            out(f"{key}.generatedAddressOffset", "0")
    else:
        out(f"{key}.addressType", "static")
        out(f"{key}.address", mac_text)
    if mac_check is not None:
        out(f"{key}.checkMACAddress", "true" if mac_check else "false")


def _generated_mac() -> bytes:
    """A NIC without a MAC address gets one in VMware's generated range, as libvirt's parser (prefix 00:0c:29)."""
    return bytes([0x00, 0x0C, 0x29]) + os.urandom(3)


def _xml_escape(text: str) -> str:
    """virBufferEscapeString, which libvirt applies to a distributed switch's port group id."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def _chardev_port(dev: Chardev, limit: int, what: str) -> int:
    port = int(dev.target_port) if dev.target_port is not None else 0
    if port < 0 or port > limit:
        raise vmx_error(f"{what} port index {port} out of [0..{limit}] range")
    return port


def _serial(dev: Chardev, ctx: VmxContext, out: _Writer) -> None:
    assert ctx.format_file_name is not None
    port = _chardev_port(dev, 3, "Serial")
    source = dev.sources[0] if dev.sources else None
    path = source.path if source is not None else None
    key = f"serial{port}"
    out(f"{key}.present", "true")
    if dev.type == "dev":
        out(f"{key}.fileType", "device")
        out(f"{key}.fileName", path or "")
    elif dev.type == "file":
        out(f"{key}.fileType", "file")
        out(f"{key}.fileName", ctx.format_file_name(path or ""))
    elif dev.type == "pipe":
        out(f"{key}.fileType", "pipe")
        out(f"{key}.pipe.endPoint", "client")
        out(f"{key}.tryNoRxLoss", "false")
        out(f"{key}.fileName", path or "")
    elif dev.type == "tcp":
        protocols = {None: "tcp", "raw": "tcp", "telnet": "telnet", "telnets": "telnets", "tls": "ssl"}
        protocol = protocols.get(dev.protocol)
        if protocol is None:
            raise vmx_unsupported(f"Unsupported character device TCP protocol '{dev.protocol}'")
        host = source.host if source is not None else None
        service = source.service if source is not None else None
        out(f"{key}.fileType", "network")
        out(f"{key}.fileName", f"{protocol}://{host}:{service}")
        listen = source is not None and source.mode == "bind"
        out(f"{key}.network.endPoint", "server" if listen else "client")
    else:
        raise vmx_unsupported(f"Unsupported character device type '{dev.type}'")
    out(f"{key}.yieldOnMsrRead", "true")


def _parallel(dev: Chardev, ctx: VmxContext, out: _Writer) -> None:
    assert ctx.format_file_name is not None
    port = _chardev_port(dev, 2, "Parallel")
    path = dev.sources[0].path if dev.sources else None
    key = f"parallel{port}"
    out(f"{key}.present", "true")
    if dev.type == "dev":
        out(f"{key}.fileType", "device")
        out(f"{key}.fileName", path or "")
    elif dev.type == "file":
        out(f"{key}.fileType", "file")
        out(f"{key}.fileName", ctx.format_file_name(path or ""))
    else:
        raise vmx_unsupported(f"Unsupported character device type '{dev.type}'")


def _svga(video: Video, out: _Writer) -> None:
    if video.model_type != "vmvga":
        raise vmx_unsupported(f"Unsupported video device type '{video.model_type}'")
    vram = -(-(video.model_vram or 0) // 64) * 64
    if (video.model_heads or 1) > 1:
        raise vmx_unsupported("Multi-head video devices are unsupported")
    out("svga.vramSize", vram * 1024)
