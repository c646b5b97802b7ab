"""What libvirt's QEMU driver fills into a domain definition after parsing it.

Done once, when the domain is defined (or created), so the stored definition
shows the hardware the guest really gets, as ``virsh dumpxml`` does: the
machine's implicit controllers, the default USB controller and balloon, the
audio backend, disk buses and drive addresses taken from the target names,
PCI addresses (``pci_addresses``), MAC addresses and the serial console.
"""

from __future__ import annotations

import os
import re
from typing import Any

from pyvirt.conf.disk_names import disk_index, insertion_order
from pyvirt.conf.domain import Cpu, CpuModel, Domain, Features
from pyvirt.conf.domain_devices import (
    Address,
    Audio,
    Chardev,
    Controller,
    Devices,
    Disk,
    GenericDevice,
    Input,
    Memballoon,
    Video,
)
from pyvirt.errors import Error, ErrorCode, InternalError, NotSupportedError, XMLError
from pyvirt_qemu.device_checks import scsi_hostdev_drives
from pyvirt_qemu.domain_validation import (
    is_pseries,
    validate_controllers,
    validate_devices,
    validate_domain,
    validate_for_emulator,
)
from pyvirt_qemu.emulator_caps import EmulatorCaps, emulator_caps, emulator_path
from pyvirt_qemu.pci_addresses import assign_pci_addresses, is_i440fx, is_q35
from pyvirt_qemu.usb_addresses import assign_usb_addresses, usb_devices
from pyvirt_qemu.vcpu_config import check_vcpu_post_parse
from pyvirt_qemu.virtio_transports import assign_virtio_mmio_addresses
from pyvirt_qemu.zpci_addresses import assign_zpci_ids, reserve_zpci_ids

__all__ = ["apply_defaults", "assign_added_device_addresses"]

LIBVIRT_VIRT_TYPES = frozenset({"qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware", "hyperv",
                                "vbox", "phyp", "parallels", "bhyve", "vz", "hvf"})  # fmt: skip
_SERIAL_MODELS = {"isa-serial": "isa-serial", "isa-debug": "isa-debugcon", "usb-serial": "usb-serial", "pci-serial": "pci-serial",
                  "spapr-vio-serial": "spapr-vty", "system-serial": "pl011", "sclp-serial": "sclpconsole"}  # fmt: skip
_PREFIX_BUS = (("hd", "ide"), ("sd", "scsi"), ("vd", "virtio"), ("fd", "fdc"), ("xvd", "xen"), ("ubd", "uml"))


def _drive(controller: int, bus: int, unit: int) -> Address:
    return Address(attrs={"type": "drive", "controller": str(controller), "bus": str(bus), "target": "0",
                          "unit": str(unit)})  # fmt: skip


def _drive_address(disk: Disk, dom: Domain) -> Address | None:
    """virDomainDiskDefAssignAddress: the drive address a disk's target name implies."""
    idx = disk_index(disk.target_dev or "")
    if idx < 0:
        raise XMLError(ErrorCode.XML_ERROR, f"Unknown disk name '{disk.target_dev}' and no address specified")
    match disk.target_bus:
        case "ide":
            return _drive(idx // 4, (idx % 4) // 2, idx % 2)
        case "scsi":
            controller, unit = idx // 7, idx % 7
            if (controller, 0, 0, unit) in scsi_hostdev_drives(dom):
                # (libvirt's message lacks the closing quote)
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"using disk target name '{disk.target_dev}' "
                                        f"conflicts with SCSI host device address controller='{controller}' bus='0' "
                                        f"target='0' unit='{unit}")  # fmt: skip
            return _drive(controller, 0, unit)
        case "sata":
            return _drive(idx // 6, 0, idx % 6)
        case "fdc":
            return _drive(idx // 2, 0, idx % 2)
    return None


def _has_controller(dom: Domain, kind: str, index: int) -> bool:
    assert dom.devices is not None
    return any(c.type == kind and (c.index or 0) == index for c in dom.devices.controllers)


def _add_controller(dom: Domain, kind: str, index: int, model: str | None = None) -> None:
    assert dom.devices is not None
    if not _has_controller(dom, kind, index):
        # virDomainDefAddController appends: implicit controllers come after the parsed ones, in the order added
        dom.devices.controllers = [*dom.devices.controllers, Controller(type=kind, index=index, model=model)]


def _check_pci_root(dom: Domain) -> None:
    """qemuDomainDefAddDefaultDevices: the PCI controller with index 0 is the machine's root. It is checked
    here, before any controller's own checks, because an index-less pcie-root-port written before (or
    without) the pcie-root gets index 0 and would otherwise reach QEMU as a root port plugged into itself."""
    assert dom.devices is not None
    root = next((c for c in dom.devices.controllers if c.type == "pci" and (c.index or 0) == 0), None)
    want = "pcie-root" if is_q35(dom) else "pci-root"
    if root is not None and root.model is not None and root.model != want:
        raise XMLError(ErrorCode.XML_ERROR, f"The PCI controller with index='0' must be model='{want}' for this "
                       f"machine type, but model='{root.model}' was found instead")  # fmt: skip


def assign_added_device_addresses(dom: Domain, cache_dir: str | None) -> None:
    """qemuDomainAttachDeviceConfig's post-parse: a device added to a persistent definition gets its PCI
    address as at define (qemuDomainAssignAddresses), a q35 guest a free root port or a new one appended."""
    caps = _emulator_caps(dom, cache_dir)
    assign_pci_addresses(
        dom, "pcie-root-port" if _has(caps, "pcie-root-port") else "ioh3420", _has(caps, "pcie-pci-bridge")
    )


def _sorted_disks(disks: list[Disk]) -> list[Disk]:
    """libvirt's disk insertion: disks of a bus stay together, in target order; a new bus goes last."""
    return insertion_order(disks, lambda d: (d.target_bus, d.target_dev or ""))


def _disk_defaults(dom: Domain) -> None:
    assert dom.devices is not None
    for disk in dom.devices.disks:
        sources = (disk.source_file, disk.source_dev, disk.source_dir, disk.source_protocol, disk.source_name,
                   disk.source_pool, disk.source_volume, disk.source_type, disk.source_unix_path,
                   disk.source_hosts)  # fmt: skip
        if all(value is None for value in sources):
            # virDomainDiskDefParseXML: a disk given no <source> (an empty CD-ROM) is a file disk. (Here, not in
            # the generic parser: the Xen converters build such disks without XML and keep their type.)
            disk.type = "file"
        # libvirt's qemuDomainDeviceDiskDefPostParse: QEMU's own block layer, raw unless the XML names a format
        # (a pool volume gets its format from the pool when it is started)
        disk.driver_name = disk.driver_name or "qemu"
        # ... and QEMU's own encryption engine for an encrypted image that names none
        if disk.encryption_format and disk.encryption_engine is None:
            disk.encryption_engine = "qemu"
        if disk.source_encryption_format and disk.source_encryption_engine is None:
            disk.source_encryption_engine = "qemu"
        layer = disk.backing
        while layer is not None:  # every image of the chain
            if layer.source_encryption_format and layer.source_encryption_engine is None:
                layer.source_encryption_engine = "qemu"
            layer = layer.backing
        if disk.driver_type is None and disk.type != "volume":
            disk.driver_type = "raw"
        mirror = disk.mirror
        if mirror is not None and mirror.format_type is None:  # a block copy's target, raw unless said
            mirror.format_type = "raw"
            mirror.format = "raw" if mirror.type == "file" and mirror.job == "copy" else None
        if not disk.target_dev:
            raise XMLError(ErrorCode.NO_TARGET, f"device {disk.source_path}" if disk.source_path else "")
        if disk.shareable and disk.driver_cache in (None, "default"):
            disk.driver_cache = "none"  # a disk two guests write must not sit in either host page cache
        if disk.target_bus is None:
            dev = disk.target_dev or ""
            disk.target_bus = next((bus for prefix, bus in _PREFIX_BUS if dev.startswith(prefix)), None)
            if disk.target_bus == "ide" and is_q35(dom):
                disk.target_bus = "sata"
            if disk.target_bus is None:
                raise XMLError(ErrorCode.XML_ERROR, f"Unknown disk name '{dev}' and no address specified")
        if disk.address is None:
            disk.address = _drive_address(disk, dom)
        if disk.address is not None and disk.address.attrs.get("type") == "drive":
            # the controller a drive address names exists, implicitly
            kind = {"ide": "ide", "scsi": "scsi", "sata": "sata", "fdc": "fdc"}.get(disk.target_bus or "")
            if kind is not None:
                _add_controller(dom, kind, int(disk.address.attrs.get("controller", "0"), 0))
    dom.devices.disks = _sorted_disks(dom.devices.disks)


def _add_default_usb(dom: Domain, caps: EmulatorCaps | None) -> None:
    """libvirt's qemuDomainDefAddDefaultDevices: i440fx gets the machine's USB controller (its model follows
    in ``_controller_models``); q35 a USB3 one when QEMU has one, else the ICH9 USB2 set (EHCI and three UHCI
    companions, as virDomainDefAddUSBController adds them), else none."""
    if not is_q35(dom):
        _add_controller(dom, "usb", 0)
    elif _has(caps, "qemu-xhci"):
        _add_controller(dom, "usb", 0, "qemu-xhci")
    elif _has(caps, "nec-usb-xhci"):
        _add_controller(dom, "usb", 0, "nec-xhci")
    elif _has(caps, "ich9-usb-ehci1"):
        assert dom.devices is not None
        _add_controller(dom, "usb", 0, "ich9-ehci1")
        for i in range(3):
            companion = Controller(type="usb", index=0, model=f"ich9-uhci{i + 1}", master_startport=2 * i)
            dom.devices.controllers = [*dom.devices.controllers, companion]


def _pseries_defaults(dom: Domain) -> None:
    """qemuDomainDefAddDefaultDevices and the controller post-parse for a pSeries guest: its PCI root is the
    first PHB (``spapr-pci-host-bridge``, target index 0), a display brings a USB keyboard and mouse (there is
    no PS/2)."""
    assert dom.devices is not None
    d = dom.devices
    for c in d.controllers:
        if c.type == "pci" and c.model in (None, "pci-root") and (c.index or 0) == 0:
            c.model, c.model_name = "pci-root", c.model_name or "spapr-pci-host-bridge"
            c.target_index = 0 if c.target_index is None else c.target_index
    for c in d.controllers:
        if c.type == "pci" and c.model == "pci-root" and (c.index or 0) > 0:
            # another PHB: qemuDomainAssignPCIAddresses gives it the lowest target index no PHB has
            c.model_name = c.model_name or "spapr-pci-host-bridge"
            if c.target_index is None:
                taken = {x.target_index for x in d.controllers if x.type == "pci" and x.model == "pci-root"}
                free = next((i for i in range(1, 32) if i not in taken), None)
                if free is None:
                    raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"No usable target index found for {c.index}")
                c.target_index = free
    if d.graphics:
        for kind in ("keyboard", "mouse"):
            if not any(i.type == kind and i.bus == "usb" for i in d.inputs):
                d.inputs = [*d.inputs, Input(type=kind, bus="usb")]


def _panic_defaults(dom: Domain, firmware_panic: bool) -> None:
    """qemuDomainDevicePanicDefPostParse: a panic device without a model is the board's (pSeries firmware, s390
    diagnose, else the ISA pvpanic); qemuDomainDefAddDefaultDevices lists the pSeries and s390 one even when
    the XML has none, since the guest has it anyway."""
    assert dom.devices is not None and dom.os is not None and dom.os.type is not None
    d = dom.devices
    board = "pseries" if is_pseries(dom) else "s390" if (dom.os.type.arch or "").startswith("s390") else "isa"
    if firmware_panic and not any(p.model in (None, board) for p in d.panics):
        d.panics = [*d.panics, GenericDevice(model=board)]
    for panic in d.panics:
        panic.model = panic.model or board


def _tpm_defaults(dom: Domain) -> None:
    """qemuDomainTPMDefPostParse: the board's TPM interface (the VIO one on ppc64, TIS elsewhere), and an
    emulated TPM's version fixed once, since 1.2 and 2.0 state are not compatible: 2.0 where the interface
    or the board takes nothing older (VIO, CRB, the ARM 'virt' board), else 1.2."""
    assert dom.devices is not None and dom.os is not None and dom.os.type is not None
    for tpm in dom.devices.tpms:
        if tpm.model in (None, "default"):
            tpm.model = "tpm-spapr" if (dom.os.type.arch or "").startswith("ppc64") else "tpm-tis"
        if tpm.backend_type == "emulator" and tpm.backend_version in (None, "default"):
            modern = tpm.model in ("tpm-spapr", "tpm-crb") or is_arm_virt(dom)
            tpm.backend_version = "2.0" if modern else "1.2"


def _has(caps: EmulatorCaps | None, flag: str) -> bool:
    """A capability of the emulator; without its capabilities (nothing probed yet) a current QEMU is assumed."""
    return caps is None or caps.has_flag(flag)


def _usb_model(dom: Domain, c: Controller, caps: EmulatorCaps | None, new_domain: bool) -> str | None:
    """libvirt's qemuDomainControllerDefPostParse: piix3-uhci when QEMU has it, else the machine's default (no
    model: QEMU's -usb); none on s390 unless placed; on ppc64 an XHCI only for a new definition (an existing
    one keeps its OHCI, for migration); an XHCI on aarch64. q35's own was given when it was added."""
    assert dom.os is not None and dom.os.type is not None
    arch = dom.os.type.arch or ""
    if is_q35(dom) and _has(caps, "qemu-xhci"):
        return "qemu-xhci"
    model = "piix3-uhci" if _has(caps, "piix3-usb-uhci") else None
    if arch.startswith("s390"):
        return "none" if c.address is None else model
    if arch.startswith("ppc64"):
        for flag, xhci in (("qemu-xhci", "qemu-xhci"), ("nec-usb-xhci", "nec-xhci")):
            if new_domain and _has(caps, flag):
                return xhci
        return "pci-ohci" if _has(caps, "pci-ohci") else None
    if arch == "aarch64":
        for flag, xhci in (("qemu-xhci", "qemu-xhci"), ("nec-usb-xhci", "nec-xhci")):
            if _has(caps, flag):
                return xhci
    return model


def _controller_models(dom: Domain, caps: EmulatorCaps | None, new_domain: bool = True) -> None:
    assert dom.devices is not None
    for c in dom.devices.controllers:
        if c.model is not None:
            continue
        if c.type == "usb":
            c.model = _usb_model(dom, c, caps, new_domain)
        elif c.type == "scsi":
            c.model = "ibmvscsi" if is_pseries(dom) else "lsilogic"  # qemuDomainGetSCSIControllerModel
        elif c.type == "pci" and (c.index or 0) == 0:
            c.model = "pcie-root" if is_q35(dom) else "pci-root"


def _virt_board(dom: Domain) -> bool:
    """The ARM or RISC-V 'virt' board (libvirt's qemuDomainIsARMVirt or qemuDomainIsRISCVVirt)."""
    assert dom.os is not None and dom.os.type is not None
    machine = dom.os.type.machine or ""
    riscv = (dom.os.type.arch or "").startswith("riscv") and (machine == "virt" or machine.startswith("virt-"))
    return riscv or is_arm_virt(dom)


def is_arm_virt(dom: Domain) -> bool:
    """libvirt's qemuDomainIsARMVirt: the 'virt' board (any version) of 32- or 64-bit ARM."""
    assert dom.os is not None and dom.os.type is not None
    machine = dom.os.type.machine or ""
    return dom.os.type.arch in ("aarch64", "armv7l") and (machine == "virt" or machine.startswith("virt-"))


def _gic_default(dom: Domain, caps: EmulatorCaps | None) -> None:
    """libvirt's qemuDomainDefEnableDefaultFeatures: the ARM 'virt' board always has a GIC, so one is added
    when the XML names none, and ``<gic/>`` without a version gets one: the highest the accelerator offers
    (the emulated GICv3 is skipped under TCG, it lacks the MSI controller a PCIe topology needs), else v2."""
    features = dom.features
    absent = features is None or not (features.gic or features.gic_version)
    if not (absent and is_arm_virt(dom)) and not (features is not None and features.gic and not features.gic_version):
        return
    offered = (caps.gic_kvm if dom.type == "kvm" else caps.gic_tcg) if caps is not None else []
    version = next((v for v in ("3", "2") if v in offered and not (v == "3" and dom.type == "qemu")), "2")
    if dom.features is None:
        dom.features = Features()
    dom.features.gic, dom.features.gic_version = True, version


def _cpu_defaults(dom: Domain, caps: EmulatorCaps | None) -> None:
    """libvirt's qemuDomainDefCPUPostParse: a passed-through host CPU is migratable when QEMU can say so
    (x86 QEMUs older than that get ``migratable='off'``, what they did); the check libvirt makes at start:
    none for host-passthrough, maximum and a named model under TCG (which emulates whatever it names),
    partial for host-model and a named model under KVM (a start on a host lacking a required feature fails).
    """
    cpu = dom.cpu
    if cpu is None:
        return
    assert dom.os is not None and dom.os.type is not None
    if cpu.mode == "host-passthrough" and cpu.migratable is None and (dom.id is None or dom.id == -1):
        if _has(caps, "cpu.migratable"):
            cpu.migratable = True
        elif dom.os.type.arch in ("x86_64", "i686"):
            cpu.migratable = False
    if cpu.check is not None or (cpu.mode in (None, "custom") and (cpu.model is None or not cpu.model.name)):
        return
    if cpu.mode in ("host-passthrough", "maximum") or (cpu.mode in (None, "custom") and dom.type == "qemu"):
        cpu.check = "none"
    elif cpu.mode in ("host-model", None, "custom"):
        cpu.check = "partial"


def _canonical_machine(dom: Domain, caps: EmulatorCaps) -> None:
    """libvirt's qemuCanonicalizeMachine: an alias (``q35``, ``pc``) becomes the machine type it stands for
    today (``pc-q35-7.2``), so the guest keeps its hardware when a newer QEMU moves the alias; no machine at
    all means the emulator's default one. An emulator that cannot be probed is left for the start to report.
    """
    assert dom.os is not None and dom.os.type is not None
    wanted = dom.os.type.machine
    if wanted is None:
        default = caps.default_machine()
        dom.os.type.machine = default.name if default is not None else None
    else:
        dom.os.type.machine = next((m.name for m in caps.machines if m.alias == wanted), wanted)
    machine = next((m for m in caps.machines if m.name == dom.os.type.machine), None)
    model = None if machine is None else machine.default_cpu_tcg if dom.type == "qemu" and not caps.probed \
        else machine.default_cpu  # fmt: skip
    if model is not None:
        _default_cpu(dom, model, caps)


def _default_cpu(dom: Domain, model: str, caps: EmulatorCaps) -> None:
    """libvirt's qemuDomainDefSetDefaultCPU: a guest that names no CPU model shows the one QEMU gives its
    machine, unchecked (QEMU drops what the host lacks), so the definition says what the guest runs. That
    model is known to be right under KVM only on x86, s390 and ppc64; QEMU's ``host`` default (s390 KVM) is the
    host's own CPU: host-model where QEMU can describe it, else passed through."""
    cpu = dom.cpu
    if cpu is not None and (cpu.mode not in (None, "custom") or (cpu.model is not None and cpu.model.name)):
        return
    assert dom.os is not None and dom.os.type is not None
    arch = dom.os.type.arch or ""
    if not (arch in ("x86_64", "i686") or arch.startswith(("s390", "ppc64"))) and dom.type != "qemu":
        return
    cpu = cpu if cpu is not None else Cpu()
    if model == "host":
        if dom.type != "kvm":
            raise InternalError(ErrorCode.INTERNAL_ERROR,
                                'QEMU reports invalid default CPU model "host" for non-kvm domain virt type')  # fmt: skip
        cpu.mode = (
            "host-model"
            if arch.startswith("s390") and (caps.host_model is not None or caps.host_cpu_described)
            else "host-passthrough"
        )
        dom.cpu = cpu
        return
    cpu.mode, cpu.match, cpu.check = "custom", "exact", "none"
    cpu.model = CpuModel(fallback="forbid", name=model)
    dom.cpu = cpu


def _emulator_caps(dom: Domain, cache_dir: str | None) -> EmulatorCaps | None:
    """The probed (cached) capabilities of the domain's emulator; None when there is no cache or no binary,
    the start then reports the missing emulator."""
    if cache_dir is None:
        return None
    try:
        return emulator_caps(emulator_path(dom), cache_dir)
    except Error:
        return None


def apply_defaults(
    dom: Domain,
    cache_dir: str | None = None,
    caps: EmulatorCaps | None = None,
    new_domain: bool = True,
    abi_update: bool | None = None,
    vnc_host_audio: bool = False,
    nographics_host_audio: bool = False,
    channel_dir: str | None = None,
) -> Domain:
    """Fill in the defaults libvirt's QEMU driver adds after parsing; refuse what it would refuse.

    ``cache_dir``: the driver's capabilities cache; with it, machine aliases become the emulator's canonical
    machine types, as libvirt stores them (without it, as in libvirt's qemuxml2argv tests, they stay).
    ``caps``: the emulator's capabilities given directly (libvirt's test data, ``from_libvirt_cache``) instead
    of probed through ``cache_dir``. ``new_domain``: libvirt's VIR_DOMAIN_DEF_PARSE_ABI_UPDATE (a define or a
    start, not the reading of a stored definition): only then are USB ports handed out to devices without one,
    unless every USB device has its address already. ``abi_update``: the parse itself had ABI_UPDATE (the
    default: as ``new_domain``), which lets a new ppc64 guest get an XHCI rather than the OHCI it once had;
    libvirt's argv tests parse without it and still start the guest as a new one. ``vnc_host_audio``:
    qemu.conf's vnc_allow_host_audio; ``nographics_host_audio``: its nographics_allow_host_audio.
    ``channel_dir``: where the driver puts the sockets it generates for virtio channels (its guests' private
    directories are ``domain-*`` in it); a path it once generated is dropped so that the next start makes it anew.
    """
    assert dom.os is not None and dom.os.type is not None
    if dom.type in LIBVIRT_VIRT_TYPES and dom.type not in ("kvm", "qemu"):
        emulator = dom.devices.emulator if dom.devices is not None and dom.devices.emulator else "qemu-system-x86_64"
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"Emulator '{emulator}' does not support virt type '{dom.type}'")  # fmt: skip
    if dom.type not in ("kvm", "qemu"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"Unknown virtualization type: {dom.type}")
    dom.os.type.arch = dom.os.type.arch or "x86_64"
    if dom.os.firmware is None and dom.os.firmware_features and not (new_domain if abi_update is None else abi_update):
        # virDomainDefParseBootFirmwareOptions: libvirt 8.6-9.1 wrote firmware features without firmware='...'
        # into migratable XML; read back (not a new definition) they are ignored, as libvirt ignores them
        dom.os.firmware_features = None
    caps = caps if caps is not None else _emulator_caps(dom, cache_dir)
    if caps is not None:
        _canonical_machine(dom, caps)
    dom.os.type.machine = dom.os.type.machine or "pc"
    if dom.devices is not None and not dom.devices.emulator:
        dom.devices.emulator = emulator_path(dom)  # qemuDomainDefPostParseBasic: the arch's default emulator
    check_vcpu_post_parse(dom)  # (qemuDomainDefVcpusPostParse, before the CPU's post-parse)
    _cpu_defaults(dom, caps)
    _gic_default(dom, caps)
    d = dom.devices
    if d is None:
        return dom
    for nic in d.interfaces:
        if not nic.mac:
            nic.mac = "52:54:00:{:02x}:{:02x}:{:02x}".format(*os.urandom(3))
    if d.consoles and not d.serials and d.consoles[0].target_type in (None, "serial"):
        # libvirt on x86: a serial console is the first serial port, so the port is created from it
        first = d.consoles[0]
        x86 = dom.os.type.arch in ("x86_64", "i686")
        d.serials = [Chardev(type=first.type or "pty", sources=first.sources, protocol=first.protocol,
                             target_type="isa-serial" if x86 else None, target_port="0",
                             target_model="isa-serial" if x86 else None)]  # fmt: skip
        first.target_type, first.target_port = "serial", "0"
    if d.serials and d.consoles and d.consoles[0].target_type is None:
        d.consoles[0].target_type = "serial"  # virDomainDefAddConsoleCompat: the first console is the serial port
    first_serial = d.serials[0] if d.serials else None
    if (
        first_serial is not None
        and (not d.consoles or d.consoles[0].target_type not in (None, "serial"))
        and first_serial.target_type in (None, "isa-serial", "spapr-vio-serial", "system-serial", "sclp-serial")
    ):
        # virDomainDefAddConsoleCompat: a board's own first serial port doubles as the domain console, ahead of
        # any other console (a PCI, USB or debug port does not)
        d.consoles = [Chardev(type=first_serial.type or "pty", target_type="serial", target_port="0"), *d.consoles]
    if channel_dir:
        _drop_generated_channel_paths(d, channel_dir)
    for serial in d.serials:
        # libvirt's qemuDomainChrDefPostParse: an x86 serial port is an ISA one unless it says otherwise, and
        # each target type has its one device model
        if serial.target_type in (None, "isa-serial") and serial.target_model in (None, "isa-serial"):
            # isa-serial was once the default everywhere, so it still stands for the board's own port
            serial.target_type = _default_serial_target(dom)
            serial.target_model = None if serial.target_type != "isa-serial" else serial.target_model
        if serial.target_model is None:
            riscv = serial.target_type == "system-serial" and (dom.os.type.arch or "").startswith("riscv")
            serial.target_model = "16550a" if riscv else _SERIAL_MODELS.get(serial.target_type or "")
    if dom.os.type.arch in ("x86_64", "i686"):
        for kind in ("mouse", "keyboard"):
            if not any(i.type == kind and i.bus == "ps2" for i in d.inputs):
                d.inputs = [*d.inputs, Input(type=kind, bus="ps2")]
    # the generic post-parse's implicit controllers (a smartcard's ccid) come after the machine's, as libvirt
    # runs it after the driver's
    generic = [c for c in d.controllers if c.implicit]
    # (the parser put the others in libvirt's order already: pyvirt.conf's virDomainControllerInsertPreAlloced)
    d.controllers = [c for c in d.controllers if not c.implicit]
    # the machine's own controllers come before those the disks imply, as libvirt adds them (its driver's
    # post-parse runs before the generic one): an i440fx guest lists usb, pci-root, then ide
    pseries = is_pseries(dom)
    machine_known = is_i440fx(dom) or is_q35(dom) or pseries
    if machine_known and not _has_controller(dom, "usb", 0):
        _add_default_usb(dom, caps)
    if is_q35(dom):
        _add_controller(dom, "sata", 0)
    if machine_known:
        _check_pci_root(dom)
        _add_controller(dom, "pci", 0)
    if _virt_board(dom) and _has(caps, "gpex-pcihost") and not _has_controller(dom, "pci", 0):
        _add_controller(dom, "pci", 0, "pcie-root")  # the ARM and RISC-V 'virt' boards' generic PCIe host
    for c in generic:
        d.controllers = [*d.controllers, c]
    if pseries:
        _pseries_defaults(dom)
    s390 = (dom.os.type.arch or "").startswith("s390")
    if s390 and _has(caps, "zpci"):
        _add_controller(dom, "pci", 0)  # zPCI devices hang off a PCI root (qemuDomainDefAddDefaultDevices)
    _panic_defaults(dom, pseries or s390)
    for hostdev in d.hostdevs:
        if hostdev.mode in (None, "subsystem") and hostdev.managed is None:
            hostdev.managed = False  # libvirt's formatter always states it for a subsystem device, 'no' unless asked
    _disk_defaults(dom)
    _tpm_defaults(dom)
    if d.vsock is not None and d.vsock.model is None:
        d.vsock.model = "virtio"  # qemuDomainVsockDefPostParse
    for ch in [*d.channels, *d.consoles]:
        if ch.target_type == "virtio":
            # the controller a port names (0 when it names none), as libvirt adds implicit ones
            on_serial_bus = ch.address is not None and ch.address.attrs.get("type") == "virtio-serial"
            _add_controller(dom, "virtio-serial", int(ch.address.attrs.get("controller", "0")) if on_serial_bus
                            and ch.address is not None else 0)  # fmt: skip
        if ch.type == "spicevmc" and ch.target_type == "virtio" and not ch.target_name:
            ch.target_name = "com.redhat.spice.0"
    _controller_models(dom, caps, new_domain if abi_update is None else abi_update)
    no_balloon = (dom.os.type.arch or "").startswith(("arm", "aarch64")) or dom.os.type.arch == "sparc"
    if d.memballoon is None and not no_balloon:
        d.memballoon = Memballoon(model="virtio")  # qemuDomainDefAddDefaultDevices: not on ARM and 32-bit SPARC
    if d.graphics and not d.videos:
        d.videos = [Video(model_heads=1, model_primary=True)]  # virDomainDefAddImplicitVideo; its type follows
    for video in d.videos:
        if video.model_type is None:
            video.model_type = _default_video(dom, caps)
        if video.model_vram is None and video.model_type in _VIDEO_RAM:
            video.model_vram = _VIDEO_RAM[video.model_type]  # virDomainVideoDefaultRAM
        if video.model_type == "qxl":
            video.model_ram = video.model_ram or 65536  # virDomainVideoDefParseXML: QXL's RAM bar, 64 MiB
            video.model_vgamem = video.model_vgamem or 16384  # QEMU_QXL_VGAMEM_DEFAULT
        if video.model_type != "none" and video.model_heads is None:
            video.model_heads = 1  # libvirt's virDomainVideoDefNew: one head unless the XML says more
    if not d.audios:
        backend = _default_audio(dom, vnc_host_audio, nographics_host_audio)
        if backend is not None:
            # the SDL backend's own driver comes from SDL_AUDIODRIVER, as QEMU's -audio-help says it did
            sdl_driver = os.environ.get("SDL_AUDIODRIVER") if backend == "sdl" else None
            if sdl_driver is not None and sdl_driver not in ("esd", "alsa", "arts", "pulseaudio"):
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown SDL_AUDIODRIVER setting {sdl_driver}")
            d.audios = [Audio(id=1, type=backend, driver=sdl_driver)]
    for nic in d.interfaces:
        if nic.model_type is None and nic.type != "hostdev":
            # qemuDomainDeviceNetDefPostParse: a vDPA device is virtio whatever the board
            nic.model_type = "virtio" if nic.type == "vdpa" else _default_nic(dom, caps)
    zpci_ids = reserve_zpci_ids(dom, caps)  # libvirt reserves them while it places addresses, before validating
    validate_domain(dom, caps)
    validate_controllers(dom)
    if caps is not None:
        validate_for_emulator(dom, caps)
    validate_devices(dom)
    if new_domain or all(
        dev.address is not None and dev.address.attrs.get("type") == "usb" and dev.address.attrs.get("port")
        for dev in usb_devices(dom)
    ):
        _usb_ports(dom)
    _virtio_serial_ports(dom)
    _dimm_slots(dom)
    _spapr_vio_addresses(dom)
    _ccw_addresses(dom)
    assign_virtio_mmio_addresses(dom, caps)
    assign_pci_addresses(
        dom, "pcie-root-port" if _has(caps, "pcie-root-port") else "ioh3420", _has(caps, "pcie-pci-bridge")
    )
    assign_zpci_ids(dom, zpci_ids)
    return dom


_VIRTIO_NICS = ("virtio", "virtio-transitional", "virtio-non-transitional")


def _drop_generated_channel_paths(devices: Devices, channel_dir: str) -> None:
    """qemuDomainChrDefDropDefaultPath: a virtio channel's socket path that the driver generated (in a guest's
    directory under ``channel_dir``, or the older ``channel_dir/NAME.TARGET``) is forgotten, as if none were given;
    the driver then listens on a new one, so a reconnecting client there (virDomainChrSourceDefValidate) cannot
    be."""
    for ch in devices.channels:
        if ch.type != "unix" or ch.target_type != "virtio" or not ch.target_name or not ch.sources:
            continue
        src = ch.sources[0]
        generated = rf"^{re.escape(channel_dir.rstrip('/'))}/([^/]+\.|domain-[^/]+/){re.escape(ch.target_name)}$"
        if not src.path or not re.search(generated, src.path):
            continue
        if src.reconnect is not None and src.reconnect.enabled:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "chardev reconnect is possible only for connect mode")
        ch.sources = None


def _dimm_slots(dom: Domain) -> None:
    """qemuDomainAssignMemorySlots: with memory hotplug configured, each DIMM or NVDIMM without an address takes
    the lowest free slot."""
    assert dom.devices is not None
    if not (dom.max_memory is not None and (dom.max_memory.kib or dom.max_memory.slots)):
        return
    dimms = [m for m in dom.devices.memories if m.model in ("dimm", "nvdimm")]
    taken = {int(m.address.attrs.get("slot", "0"), 0) for m in dom.devices.memories
             if m.address is not None and m.address.attrs.get("type") == "dimm"}  # fmt: skip
    for mem in dimms:
        if mem.address is not None and mem.address.attrs.get("type") == "dimm":
            continue
        slot = next(i for i in range(len(taken) + 1) if i not in taken)
        taken.add(slot)
        mem.address = Address(attrs={"type": "dimm", "slot": str(slot)})


def _ccw_addresses(dom: Domain) -> None:
    """qemuDomainAssignS390Addresses: on an s390-ccw machine every virtio device is a channel device; those
    without an address get the next free devno (cssid 0xfe, ssid 0) in libvirt's device order, after the ones
    the XML places."""
    assert dom.devices is not None and dom.os is not None and dom.os.type is not None
    if not ((dom.os.type.arch or "").startswith("s390") and (dom.os.type.machine or "").startswith("s390-ccw")):
        return
    d = dom.devices
    balloon = [d.memballoon] if d.memballoon is not None and d.memballoon.model != "none" else []
    primed: list[Any] = [  # qemuDomainPrimeVirtioDeviceAddresses
        *[x for x in d.disks if x.target_bus == "virtio"],
        *[x for x in d.interfaces if x.model_type in _VIRTIO_NICS],
        *[x for x in d.videos if x.model_type == "virtio"],
        *[x for x in d.inputs if x.bus == "virtio"],
        *[x for x in d.controllers if x.type in ("virtio-serial", "scsi")],
        *[x for x in d.hostdevs if x.mode in (None, "subsystem") and x.type == "scsi_host"],
        # qemuDomainPrimeVfioDeviceAddresses: a vfio-ccw mediated device is a channel device too
        *[x for x in d.hostdevs if x.type == "mdev" and x.model == "vfio-ccw"],
        *balloon,
        *d.rngs,
        *[x for x in d.memories if x.model in ("virtio-pmem", "virtio-mem")],
        *d.filesystems,
        *([d.vsock] if d.vsock is not None else []),
    ]
    for dev in primed:
        if dev.address is None:
            dev.address = Address(attrs={"type": "ccw"})
    # virDomainDeviceInfoIterate's order
    ordered: list[Any] = [*d.disks, *d.interfaces, *d.sounds, *d.hostdevs, *d.videos, *d.controllers,
                          *d.smartcards, *d.serials, *d.parallels, *d.channels, *d.consoles, *d.inputs,
                          *d.filesystems, *d.watchdogs, *balloon, *d.rngs, *d.tpms, *d.memories,
                          *([d.vsock] if d.vsock is not None else [])]  # fmt: skip
    ccw = [
        dev for dev in ordered if getattr(dev, "address", None) is not None and dev.address.attrs.get("type") == "ccw"
    ]
    used = {int(dev.address.attrs["devno"], 16) for dev in ccw if "devno" in dev.address.attrs}
    devno = 0
    for dev in ccw:
        if "devno" in dev.address.attrs:
            continue
        while devno in used:
            devno += 1
        used.add(devno)
        dev.address = Address(attrs={"type": "ccw", "cssid": "0xfe", "ssid": "0x0", "devno": f"0x{devno:04x}"})


def _default_serial_target(dom: Domain) -> str | None:
    """qemuDomainChrDefPostParse: the serial port each board has (ISA on x86, the VIO TTY on pSeries, the
    board's own UART on the ARM and RISC-V 'virt' boards, SCLP on s390)."""
    assert dom.os is not None and dom.os.type is not None
    arch, machine = dom.os.type.arch or "", dom.os.type.machine or ""
    if arch in ("x86_64", "i686"):
        return "isa-serial"
    if is_pseries(dom):
        return "spapr-vio-serial"
    if (arch in ("aarch64", "armv7l") or arch.startswith("riscv")) and (
        machine == "virt" or machine.startswith("virt-")
    ):
        return "system-serial"
    if arch.startswith("s390"):
        return "sclp-serial"
    return None


# qemuDomainAssignSpaprVIOAddresses: the first reg of each kind, as QEMU numbers them (spapr_llan/vscsi/vty.c)
_VIO_BASE = {"net": 0x1000, "scsi": 0x2000, "serial": 0x30000000, "nvram": 0x3000, "tpm": 0x4000}


def _spapr_vio_addresses(dom: Domain) -> None:
    """The devices of a pSeries guest's VIO bus get ``<address type='spapr-vio' reg=.../>``: the kind's first
    reg, or the next free one 0x1000 further on; a console on the first serial port shares its address."""
    assert dom.devices is not None
    d, pseries = dom.devices, is_pseries(dom)
    todo: list[tuple[Any, str]] = []
    todo += [(n, "net") for n in d.interfaces if n.model_type == "spapr-vlan"]
    todo += [(c, "scsi") for c in d.controllers if c.type == "scsi" and c.model == "ibmvscsi"]
    todo += [(s, "serial") for s in d.serials if s.target_type == "spapr-vio-serial"]
    todo += [(t, "tpm") for t in d.tpms if pseries and t.model != "spapr-tpm-proxy"]
    on_vio: list[Any] = [*d.interfaces, *d.controllers, *d.serials, *d.tpms]
    used = {
        int(a.attrs["reg"], 16)
        for dev in on_vio
        if (a := dev.address) is not None and a.attrs.get("type") == "spapr-vio" and "reg" in a.attrs
    }
    for dev, kind in todo:
        if dev.address is not None and (dev.address.attrs.get("type") != "spapr-vio" or "reg" in dev.address.attrs):
            continue
        reg = _VIO_BASE[kind]
        while reg in used:
            reg += 0x1000
        used.add(reg)
        dev.address = Address(attrs={"type": "spapr-vio", "reg": f"0x{reg:08x}"})
    first = d.serials[0] if d.serials else None
    if first is not None and first.target_type == "spapr-vio-serial" and first.address is not None:
        for console in d.consoles[:1]:
            if console.target_type == "serial":
                console.address = Address(attrs=dict(first.address.attrs))


_VIDEO_RAM = {"vga": 16384, "cirrus": 16384, "vmvga": 16384, "bochs": 16384, "qxl": 65536}


def _default_video(dom: Domain, caps: EmulatorCaps | None) -> str:
    """libvirt's qemuDomainDefaultVideoDevice: VGA on ppc64, virtio-gpu on ARM/RISC-V 'virt' and s390; elsewhere
    Cirrus when QEMU has it, else standard VGA; a QEMU with neither leaves the model open, which libvirt's
    validation then refuses."""
    assert dom.os is not None and dom.os.type is not None
    arch, machine = dom.os.type.arch or "", dom.os.type.machine or ""
    if arch.startswith("ppc64"):
        return "vga"
    if arch.startswith("s390") or (arch in ("aarch64", "armv7l", "riscv64", "riscv32") and machine.startswith("virt")):
        return "virtio"
    if _has(caps, "cirrus-vga"):
        return "cirrus"
    if _has(caps, "VGA"):
        return "vga"
    raise InternalError(ErrorCode.INTERNAL_ERROR, "missing video model and cannot determine default")


def _default_nic(dom: Domain, caps: EmulatorCaps | None) -> str:
    """libvirt's qemuDomainDefaultNetModel: virtio on s390 and the ARM/RISC-V 'virt' boards; elsewhere the first
    of rtl8139, e1000 and virtio-net QEMU has (rtl8139 when none is known)."""
    assert dom.os is not None and dom.os.type is not None
    arch, machine = dom.os.type.arch or "", dom.os.type.machine or ""
    if arch.startswith("s390") or (arch in ("aarch64", "armv7l", "riscv64", "riscv32") and machine.startswith("virt")):
        return "virtio"
    for flag, model in (("rtl8139", "rtl8139"), ("e1000", "e1000"), ("virtio-net", "virtio")):
        if _has(caps, flag):
            return model
    return "rtl8139"


def _default_audio(dom: Domain, vnc_host_audio: bool = False, nographics_host_audio: bool = False) -> str | None:
    """libvirt's qemuDomainDefSuggestDefaultAudioBackend, with qemu.conf's defaults (no host audio for VNC or
    headless guests): 'none' keeps QEMU from opening any host audio, SPICE carries the sound to its client
    (the last such display decides); SDL plays on the host through QEMU_AUDIO_DRV, and without that variable
    (or with only other displays) no backend is written at all. ``vnc_host_audio``: qemu.conf's
    vnc_allow_host_audio, which lets a VNC guest play on the host as SDL does; ``nographics_host_audio``:
    nographics_allow_host_audio, the same for a guest without a display."""
    assert dom.devices is not None
    add, passthrough, backend = not dom.devices.graphics, nographics_host_audio and not dom.devices.graphics, "none"
    for g in dom.devices.graphics:
        if g.type == "vnc" and vnc_host_audio:
            add, passthrough = True, True
        elif g.type in ("vnc", "spice"):
            add, passthrough, backend = True, False, "none" if g.type == "vnc" else "spice"
        elif g.type == "sdl":
            add, passthrough = True, True
    if add and passthrough:
        env = os.environ.get("QEMU_AUDIO_DRV")
        if env is None:
            return None
        backend = env
    return backend if add else None


def _usb_ports(dom: Domain) -> None:
    """USB devices take ports as libvirt hands them out (``usb_addresses``), hubs added where needed."""
    assert dom.devices is not None
    root = next((c for c in dom.devices.controllers if c.type == "usb" and (c.index or 0) == 0), None)
    if root is not None and root.model == "none" and any(i.bus == "usb" for i in dom.devices.inputs):
        # virDomainDefParseXML's own check for input devices, before the generic one
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Can't add USB input device. USB bus is disabled")
    assign_usb_addresses(dom)


def _virtio_serial_ports(dom: Domain) -> None:
    """libvirt's virtio-serial address assignment: the ports the XML names are reserved first; then each virtio
    console and channel without a port takes the lowest free one of its controller (or of the first controller
    with room), from 1 (port 0 is a console's only), within the controller's ``ports`` (31 by default). A
    console's port is reserved but not written into its definition, as libvirt does."""
    assert dom.devices is not None
    consoles = [c for c in dom.devices.consoles if c.target_type == "virtio"]
    devs = consoles + [c for c in dom.devices.channels if c.target_type == "virtio"]
    controllers = sorted((c for c in dom.devices.controllers if c.type == "virtio-serial"), key=lambda c: c.index or 0)
    capacity = {c.index or 0: c.ports or 31 for c in controllers}
    taken: dict[int, set[int]] = {index: set() for index in capacity}

    def on_serial_bus(dev: Chardev) -> bool:
        return dev.address is not None and dev.address.attrs.get("type") == "virtio-serial"

    for dev in devs:
        if on_serial_bus(dev) and dev.address is not None and "port" in dev.address.attrs:
            ctrl = int(dev.address.attrs.get("controller", "0"), 0)
            taken.setdefault(ctrl, set()).add(int(dev.address.attrs["port"], 0))
    for dev in devs:
        if dev.address is not None and not on_serial_bus(dev):
            continue
        if dev.address is not None and "port" in dev.address.attrs:
            continue
        start = 0 if any(dev is c for c in consoles) else 1
        wanted = [int(dev.address.attrs.get("controller", "0"), 0)] if dev.address is not None else list(capacity)
        for ctrl in wanted:
            free = [p for p in range(start, capacity.get(ctrl, 31)) if p not in taken.setdefault(ctrl, set())]
            if free:
                taken[ctrl].add(free[0])
                if start == 0:
                    # virDomainVirtioSerialAddrAssign with allowZero: a console's port is only reserved, its
                    # definition keeps the address it had (none), as libvirt's outputs show
                    break
                dev.address = Address(attrs={"type": "virtio-serial", "controller": str(ctrl), "bus": "0",
                                             "port": str(free[0])})  # fmt: skip
                break
        else:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "Unable to find a free virtio-serial port")
