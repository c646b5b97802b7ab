"""Checks libvirt's QEMU driver makes when a domain is defined, with its messages.

A definition that QEMU could not run, or would run differently from what it
says, is refused at define time rather than at the first start: a disk
address of the wrong kind for its bus, two disks on one drive address,
formats QEMU cannot open, settings a bus does not have.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Callable
from typing import Any

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Disk, Interface
from pyvirt.conf.units import parse_memory_kib
from pyvirt.errors import ErrorCode, InternalError, InvalidArgumentError, NotSupportedError, XMLError
from pyvirt_qemu.device_checks import (
    check_hostdevs,
    check_pci_controller_nodes,
    check_scsi_hostdev_drives,
    check_virtiofs,
)
from pyvirt_qemu.disk_iotune import check_iotune
from pyvirt_qemu.emulator_caps import EmulatorCaps
from pyvirt_qemu.firmware import requested_features
from pyvirt_qemu.pci_addresses import is_i440fx, is_q35
from pyvirt_qemu.swtpm import tpm_versions
from pyvirt_qemu.zpci_addresses import check_zpci_addresses

__all__ = [
    "check_cpu_model",
    "check_for_start",
    "check_graphics_count",
    "check_start_validate",
    "check_tpm_versions",
    "check_usb_models",
    "is_pseries",
    "swtpm_versions",
    "validate_controllers",
    "validate_devices",
    "validate_domain",
    "validate_for_emulator",
]

_DRIVE_BUSES = frozenset({"ide", "fdc", "scsi", "sata"})
_ARCH_EMULATORS = {"x86_64": ("qemu-system-x86_64",), "i686": ("qemu-system-i386", "qemu-system-x86_64")}
# virQEMUCapsIsArchSupported: the guest architectures an emulator runs besides its own (by the arch its
# capabilities name: libvirt's spelling, or the binary's suffix for a probed one)
_ALSO_RUNS = {"x86_64": ("i686",), "i386": ("i686",), "ppc64": ("ppc64le",), "aarch64": ("armv7l",),
              "arm": ("armv7l", "armv6l"), "armv7l": ("armv6l",)}  # fmt: skip


def _refuse(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def _check_disk(disk: Disk) -> None:
    dst = disk.target_dev or ""
    kind = disk.address.attrs.get("type") if disk.address is not None else None
    if disk.device == "lun" and disk.type not in ("block", "network", "volume"):
        raise _refuse("disk device='lun' is only valid for block type disk source")
    if disk.target_bus == "usb" and kind not in (None, "usb"):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "unexpected address type for usb disk")
    if dst[-1:].isdigit():
        raise _refuse(f"invalid disk target '{dst}', partitions can't appear in disk targets")
    if disk.target_bus in _DRIVE_BUSES and kind not in (None, "drive"):
        raise _refuse(f"Invalid address type '{kind}' for the disk '{dst}' with the bus type '{disk.target_bus}'")
    fmt = disk.driver_type
    if fmt == "cow":
        raise _refuse("'cow' storage format is not supported")
    if fmt == "dir":
        raise _refuse("'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead")
    if fmt == "iso":
        raise _refuse("storage format 'iso' is not directly supported by QEMU, use 'raw' instead")
    if (disk.vendor or disk.product) and disk.target_bus != "scsi":
        raise _refuse("Only scsi disk supports vendor and product")
    check_iotune(disk)
    if disk.shareable and not disk.readonly and fmt not in (None, "raw"):
        raise _refuse(f"shared access for disk '{dst}' requires use of supported storage format")


def _check_cpu_cache_and_addresses(dom: Domain, arch: str) -> None:
    """qemuValidateDomainDefCpu: ``<cache>`` and ``<maxphysaddr>`` combinations QEMU cannot express."""
    cpu = dom.cpu
    if cpu is None:
        return
    x86 = arch in ("x86_64", "i686")
    if cpu.maxphysaddr_mode is not None:
        if not x86:
            raise _refuse(f"CPU maximum physical address bits specification is not supported for '{arch}' "
                          "architecture")  # fmt: skip
        if cpu.maxphysaddr_mode == "passthrough" and cpu.maxphysaddr_bits is not None:
            raise _refuse("CPU maximum physical address bits number specification cannot be used with "
                          "mode='passthrough'")  # fmt: skip
        if cpu.maxphysaddr_mode == "emulate" and cpu.maxphysaddr_bits is None:
            raise _refuse("if using CPU maximum physical address mode='emulate', bits= must be specified too")
    if cpu.cache_mode is not None:
        if not x86:
            raise _refuse(f"CPU cache specification is not supported for '{arch}' architecture")
        if cpu.cache_mode == "emulate" and cpu.cache_level != 3:
            raise _refuse("CPU cache mode 'emulate' can only be used with level='3'")
        if cpu.cache_mode == "passthrough" and cpu.mode not in ("host-passthrough", "maximum"):
            raise _refuse("CPU cache mode 'passthrough' can only be used with 'host-passthrough' / 'maximum' CPUs")
        if cpu.cache_mode in ("passthrough", "disable") and cpu.cache_level is not None:
            raise _refuse(f"unsupported CPU cache level for mode '{cpu.cache_mode}'")


def host_arch() -> str:
    """The host's architecture as libvirt names it (virArchFromHost); libvirt's tests pretend other hosts."""
    machine = os.uname().machine
    return {"i386": "i686", "i486": "i686", "i586": "i686", "arm64": "aarch64"}.get(machine, machine)


def is_pseries(dom: Domain) -> bool:
    """libvirt's qemuDomainIsPSeries."""
    assert dom.os is not None and dom.os.type is not None
    return (dom.os.type.arch or "").startswith("ppc64") and (dom.os.type.machine or "").startswith("pseries")


def _is_arm_virt(dom: Domain) -> bool:
    assert dom.os is not None and dom.os.type is not None
    machine = dom.os.type.machine or ""
    return dom.os.type.arch in ("aarch64", "armv7l") and (machine == "virt" or machine.startswith("virt-"))


def _check_serial_targets(dom: Domain, arch: str) -> None:
    """qemuValidateDomainChrDef: a serial port only of a kind the board has (a PL011 on ARM 'virt', a 16550A on
    RISC-V 'virt', the VIO TTY on pSeries, the SCLP consoles on s390)."""
    machine = dom.os.type.machine or "" if dom.os is not None and dom.os.type is not None else ""
    riscv_virt = arch.startswith("riscv") and (machine == "virt" or machine.startswith("virt-"))
    for serial in dom.devices.serials if dom.devices is not None else []:
        kind, model = serial.target_type, serial.target_model
        fits = not (kind == "system-serial" and model == "pl011" and not _is_arm_virt(dom))
        fits = fits and not (kind == "system-serial" and model == "16550a" and not riscv_virt)
        fits = fits and (is_pseries(dom) or (kind != "spapr-vio-serial" and model != "spapr-vty"))
        fits = fits and (arch.startswith("s390") or (kind != "sclp-serial" and model not in ("sclpconsole",
                                                                                          "sclplmconsole")))  # fmt: skip
        if not fits:
            raise _refuse(f"Serial device with target type '{kind}' and target model '{model}' not compatible with "
                          "guest architecture or machine type")  # fmt: skip


def _check_arch_rules(dom: Domain, arch: str) -> None:
    """The refusals of libvirt's qemu_validate.c that hang on the architecture or board, with its messages."""
    assert dom.os is not None and dom.os.type is not None
    f = dom.features
    if f is not None and (f.gic or f.gic_version) and not _is_arm_virt(dom):
        raise _refuse(f"The 'gic' feature is not supported for architecture '{arch}' or machine type "
                      f"'{dom.os.type.machine}'")  # fmt: skip
    old_style_uefi = dom.os.loader is not None and dom.os.loader.type == "pflash"
    if f is not None and f.acpi and arch == "aarch64" and dom.os.firmware != "efi" and not old_style_uefi:
        raise _refuse("ACPI requires UEFI on this architecture")  # qemuValidateDomainDefBoot
    if f is not None and f.gic_version not in (None, "2", "3", "host"):
        raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'version' in element 'gic': "
                       f"'{f.gic_version}'.")  # fmt: skip
    cpu_features = {x.name or "": x.policy for x in (dom.cpu.features or [])} if dom.cpu is not None else {}
    if cpu_features.get("sve") == "disable" and any(
        re.fullmatch(r"sve\d+", n) and p in (None, "require", "force") for n, p in cpu_features.items()
    ):
        raise _refuse("SVE disabled, but SVE vector lengths provided")  # virCPUarmValidateFeatures
    if dom.devices is None:
        return
    if is_pseries(dom):
        for c in dom.devices.controllers:
            # qemuValidateDomainDeviceDefControllerPCI: a pSeries PCI root is a PHB, its target index its number
            if c.type != "pci" or c.model not in ("pci-root", None) or c.target_index is None:
                continue
            if not 0 <= c.target_index <= 30:  # (virDomainControllerDefValidate checks the range first)
                raise _refuse(f"PCI controller target index '{c.target_index}' out of range - must be 0-30")
            if (c.index == 0) != (c.target_index == 0):
                raise _refuse("Only the PCI controller with index 0 can have target index 0, and vice versa")
    for panic in dom.devices.panics:
        # qemuValidateDomainDefPanic: the board-provided notifiers exist only on their board, at no address
        board = {"s390": (arch.startswith("s390"), "only S390 guests support panic device of model 's390'"),
                 "hyperv": (arch in ("x86_64", "i686"), "only i686 and x86_64 guests support panic device of "
                            "model 'hyperv'"),
                 "pseries": (is_pseries(dom), "only pSeries guests support panic device of model 'pseries'")}  # fmt: skip
        if panic.model in board:
            fits, wrong_board = board[panic.model]
            if not fits:
                raise _refuse(wrong_board)
            if "<address" in (panic.content or ""):
                raise _refuse(f"setting the panic device address is not supported for model '{panic.model}'")
    graphics = dom.devices.graphics
    if any(g.type == "egl-headless" for g in graphics):
        # qemuValidateDomainDeviceDefGraphics: off-screen OpenGL is shown through VNC or SPICE, never twice
        for g in graphics:
            if g.type not in ("egl-headless", "vnc", "spice"):
                raise _refuse("graphics type 'egl-headless' is only supported with one of: 'vnc', 'spice' graphics "
                              "types")  # fmt: skip
            if g.type == "spice" and g.gl_enable:
                raise _refuse("multiple OpenGL displays are not supported by QEMU")
    for tpm in dom.devices.tpms:
        if tpm.backend_version == "1.2" and _is_arm_virt(dom):
            raise _refuse("TPM 1.2 is not supported on ARM")


def _check_loader_state(dom: Domain) -> None:
    """virDomainDefOSValidate: a stateless loader has no variable store; one that says it keeps state must be a
    pflash one (or firmware='efi' picks it)."""
    assert dom.os is not None
    loader, nvram = dom.os.loader, dom.os.nvram
    if dom.os.firmware is not None and loader is not None and loader.secure is False:
        # (libvirt's other checks of a loader under autoselection would refuse the loader the driver itself
        # fills into the live definition; this one cannot)
        raise XMLError(ErrorCode.XML_DETAIL,
                       "loader attribute 'secure' cannot be specified when firmware autoselection is enabled")  # fmt: skip
    if loader is None or loader.stateless is None:
        return
    if loader.stateless:
        if nvram is not None and nvram.template:
            raise XMLError(ErrorCode.XML_DETAIL, "NVRAM template is not permitted when loader is stateless")
        if nvram is not None:
            raise XMLError(ErrorCode.XML_DETAIL, "NVRAM is not permitted when loader is stateless")
    elif dom.os.firmware is None:
        if loader.type != "pflash":
            raise XMLError(ErrorCode.XML_DETAIL, "Only pflash loader type permits NVRAM")
    elif dom.os.firmware != "efi":
        raise XMLError(ErrorCode.XML_DETAIL, "Only EFI firmware permits NVRAM")


def validate_domain(dom: Domain, caps: EmulatorCaps | None = None) -> None:
    """Raise CONFIG_UNSUPPORTED with libvirt's words for a definition its QEMU driver refuses.

    ``caps``: the emulator's capabilities; an emulator whose probed (or given) architecture is the guest's is
    accepted whatever its name says, as libvirt's virQEMUCapsIsArchSupported asks the capabilities.
    """
    assert dom.os is not None and dom.os.type is not None
    if dom.os.bootmenu_timeout is not None and not 0 <= dom.os.bootmenu_timeout <= 65535:
        raise _refuse("invalid value for boot menu timeout, must be in range [0,65535]")
    arch = dom.os.type.arch or "x86_64"
    emulator = dom.devices.emulator if dom.devices is not None else None
    name = os.path.basename(emulator or "")
    known = caps is not None and (caps.arch == arch or arch in _ALSO_RUNS.get(caps.arch, ()))
    if name.startswith("qemu-system-") and name not in _ARCH_EMULATORS.get(arch, ()) and not known:
        # without capabilities that say otherwise, the driver knows the machines of x86 emulators only
        raise _refuse(f"Emulator '{emulator}' does not support arch '{arch}'")
    _check_cpu_cache_and_addresses(dom, arch)
    _check_arch_rules(dom, arch)
    _check_serial_targets(dom, arch)
    features = requested_features(dom)
    if features and dom.os.firmware is None:
        raise XMLError(ErrorCode.XML_DETAIL,
                       "cannot use feature-based firmware autoselection when firmware autoselection is disabled")  # fmt: skip
    if features.get("enrolled-keys") and features.get("secure-boot") is False:
        raise XMLError(ErrorCode.XML_DETAIL, "firmware feature 'enrolled-keys' cannot be enabled when firmware "
                       "feature 'secure-boot' is disabled")  # fmt: skip
    if dom.os.acpi_table is not None:  # libvirt passes it as -acpitable; this driver does not yet (pyvirt-xen does)
        raise _refuse("<acpi> in <domain/os> is not supported by pyvirt yet")
    if dom.os.nvram is not None and dom.os.firmware not in (None, "efi"):
        raise XMLError(ErrorCode.XML_DETAIL, f"firmware type '{dom.os.firmware}' does not support nvram")
    _check_loader_state(dom)
    if dom.devices is None:
        return
    d = dom.devices
    bootable: list[Any] = [*d.disks, *d.interfaces, *d.hostdevs, *d.redirdevs]
    if dom.os.boots and any(x.boot is not None for x in bootable):
        raise _refuse("per-device boot elements cannot be used together with os/boot elements")
    if dom.features is not None and dom.features.smm_tseg is not None and not is_q35(dom):
        raise _refuse("SMM TSEG is only supported with q35 machine type")
    if d.iommu is not None and d.iommu.model == "intel" and not is_q35(dom):
        raise _refuse("IOMMU device: 'intel' is only supported with Q35 machines")
    if d.iommu is not None and d.iommu.model == "virtio" and not (is_q35(dom) or _is_arm_virt(dom)):
        raise _refuse("IOMMU device: 'virtio' is only supported with Q35 and ARM Virt machines")
    for inp in d.inputs:
        if inp.model in ("virtio-transitional", "virtio-non-transitional") and inp.type != "passthrough":
            raise _refuse(f"virtio (non-)transitional models are not supported for input type={inp.type}")
    for chardev in [*d.serials, *d.parallels, *d.channels, *d.consoles]:
        for src in chardev.sources or []:
            if src.reconnect is not None and src.reconnect.enabled and src.reconnect.timeout == 0:
                # qemuValidateDomainChrSourceReconnectDef
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, "chardev reconnect source timeout cannot be '0'")
    if dom.os.loader is not None and dom.os.firmware is None and not dom.os.loader.path:
        raise XMLError(ErrorCode.XML_DETAIL, "no loader path specified and firmware auto selection disabled")
    uefi = dom.os.firmware == "efi" or (dom.os.loader is not None and dom.os.loader.type == "pflash")
    if uefi and arch in ("x86_64", "i686") and not (dom.features is not None and dom.features.acpi):
        raise _refuse("UEFI requires ACPI on this architecture")
    for nic in d.interfaces:
        # read by the domain model for pyvirt-xen; libvirt applies them (Open vSwitch), this driver not yet
        # (<bandwidth> is applied: tc on the tap, pyvirt_qemu.tap)
        for element, value in (("vlan", nic.vlan), ("virtualport", nic.virtualport)):
            if value is not None:
                raise _refuse(f"<{element}> in <domain/devices/interface> is not supported by pyvirt yet")
        if nic.script_path and nic.type != "ethernet":
            raise _refuse(f"scripts are not supported on interfaces of type {nic.type}")
        if (nic.model_type or "").startswith("virtio"):
            for what, size in (
                ("rx_queue_size", nic.driver_rx_queue_size),
                ("tx_queue_size", nic.driver_tx_queue_size),
            ):
                if size and size & (size - 1):
                    raise _refuse(f"{what} has to be a power of two")
    for video in d.videos:
        if video.model_type == "ramfb" and video.address is not None:
            raise _refuse("address not supported for video type ramfb")
    targets: dict[str, Disk] = {}
    for disk in d.disks:
        other = targets.setdefault(disk.target_dev or "", disk)
        if other is not disk:
            raise XMLError(ErrorCode.XML_ERROR, f"target '{disk.target_dev}' duplicated for disk sources "
                           f"'{other.source_path or ''}' and '{disk.source_path or ''}'")  # fmt: skip
    seen: dict[tuple[str, ...], str] = {}
    for disk in dom.devices.disks:
        _check_disk(disk)
        a = disk.address.attrs if disk.address is not None else {}
        if a.get("type") == "drive" and disk.target_bus in _DRIVE_BUSES:
            key = (
                disk.target_bus or "",
                *(str(int(a.get(k, "0"), 0)) for k in ("controller", "bus", "target", "unit")),
            )
            if key in seen:
                c, b, t, u = key[1:]
                raise _refuse(f"Found duplicate drive address for disk with target name '{seen[key]}' "
                              f"controller='{c}' bus='{b}' target='{t}' unit='{u}'")  # fmt: skip
            seen[key] = disk.target_dev or ""
    check_scsi_hostdev_drives(dom)


# the capability (a QEMU device type) each USB controller model needs (libvirt's qemuValidateDomainDeviceDefControllerUSB)
_USB_MODEL_FLAGS = {"piix3-uhci": "piix3-usb-uhci", "piix4-uhci": "piix4-usb-uhci", "ehci": "usb-ehci",
                    "ich9-ehci1": "ich9-usb-ehci1", "ich9-uhci1": "ich9-usb-ehci1", "ich9-uhci2": "ich9-usb-ehci1",
                    "ich9-uhci3": "ich9-usb-ehci1", "vt82c686b-uhci": "vt82c686b-usb-uhci", "pci-ohci": "pci-ohci",
                    "nec-xhci": "nec-usb-xhci", "qemu-xhci": "qemu-xhci"}  # fmt: skip
_XHCI_MAX_PORTS = 15  # QEMU_USB_XHCI_MAXPORTS


def validate_controllers(dom: Domain) -> None:
    """libvirt's controller post-parse and PCI root checks (qemuDomainControllerDefPostParse,
    virDomainDefPCIRootValidate) that need no capabilities."""
    assert dom.devices is not None
    q35, i440fx = is_q35(dom), is_i440fx(dom)
    usb = [c for c in dom.devices.controllers if c.type == "usb"]
    if any(c.master_startport is not None for c in usb) and not any(c.master_startport is None for c in usb):
        raise XMLError(ErrorCode.XML_DETAIL, "No master USB controller specified")
    for c in dom.devices.controllers:
        if c.type == "usb" and c.model in ("nec-xhci", "qemu-xhci") and (c.ports or 0) > _XHCI_MAX_PORTS:
            raise _refuse(f"'{c.model}' controller only supports up to '{_XHCI_MAX_PORTS}' ports")
        if c.type != "pci" or c.model not in ("pci-root", "pcie-root"):
            continue
        if (c.index or 0) != 0 and not is_pseries(dom):  # each pSeries PHB is a pci-root
            raise XMLError(ErrorCode.XML_ERROR, "pci-root and pcie-root controllers should have index 0")
        if c.address is not None:
            raise _refuse("pci-root and pcie-root controllers should not have an address")
        want = "pcie-root" if q35 else "pci-root" if i440fx else None
        if want is not None and c.model != want:
            raise XMLError(ErrorCode.XML_ERROR, f"The PCI controller with index='0' must be model='{want}' for this "
                           f"machine type, but model='{c.model}' was found instead")  # fmt: skip
    numa = dom.cpu.numa if dom.cpu is not None else None  # (the model keeps the cells verbatim)
    cells = len(etree.fromstring(f"<numa>{numa}</numa>").findall("cell")) if numa else 0
    for c in dom.devices.controllers:  # qemuDomainControllerDefPostParse, one controller after the other
        if c.type == "pci" and c.model == "pci-expander-bus" and not i440fx:
            raise _refuse("pci-expander-bus controllers are only supported on 440fx-based machinetypes")
        if c.type == "pci" and c.model == "pcie-expander-bus" and not (q35 or _is_arm_virt(dom)):
            raise _refuse("pcie-expander-bus controllers are not supported with this machine type")
        if c.type == "pci" and c.target_node is not None and c.target_node >= cells:
            raise XMLError(ErrorCode.XML_ERROR, f"{c.model} with index {c.index} is configured for a NUMA node "
                           f"({c.target_node}) not present in the domain's <cpu><numa> array ({cells})")  # fmt: skip
    videos = dom.devices.videos
    if len(videos) > 1 and any(v.model_type == "none" for v in videos):
        raise _refuse("a 'none' video type must be the only video device defined for the domain")


def check_start_validate(dom: Domain, caps: EmulatorCaps) -> None:
    """qemuProcessStartValidate's checks against the emulator, the first a start makes: I/O threads need QEMU's
    iothread object (every QEMU this driver probes has it; libvirt's test data may lack it)."""
    if (dom.iothreads or dom.iothreadids) and not (caps.probed or caps.has_flag("iothread")):
        raise _refuse("IOThreads not supported for this QEMU")


def check_cpu_model(dom: Domain, caps: EmulatorCaps) -> None:
    """qemuProcessUpdateGuestCPU's virCPUTranslate: a named CPU model the emulator does not offer is refused when
    the guest forbids a fallback (``<model fallback='forbid'>``); an allowed fallback is QEMU's to resolve. An
    emulator whose model list is unknown (empty) is not second-guessed."""
    cpu = dom.cpu
    if cpu is None or cpu.mode not in (None, "custom") or cpu.model is None or not cpu.model.name:
        return
    if caps.cpu_models and cpu.model.name not in caps.cpu_models and cpu.model.fallback not in (None, "allow"):
        raise _refuse(f"CPU model {cpu.model.name} is not supported by hypervisor")


def check_for_start(dom: Domain, caps: EmulatorCaps) -> None:
    """What libvirt refuses only when it prepares a start (qemuProcessPrepareDomain, qemuBuildCpuCommandLine),
    not at define: a definition stays valid for another emulator or host."""
    assert dom.devices is not None and dom.os is not None and dom.os.type is not None
    check_cpu_model(dom, caps)
    if is_pseries(dom) and any(d.device == "floppy" for d in dom.devices.disks):
        raise _refuse("PowerPC pseries machines do not support floppy device")
    arch = dom.os.type.arch or ""
    if (
        (arch.startswith("s390") or arch in ("aarch64", "armv7l", "armv6l"))
        and dom.cpu is not None
        and dom.cpu.features
        and not (caps.probed or caps.has_flag("query-cpu-model-expansion"))
    ):
        raise InternalError(
            ErrorCode.INTERNAL_ERROR, f"CPU features not supported by hypervisor for {arch} architecture"
        )
    if arch in ("aarch64", "armv7l", "armv6l") and dom.cpu is not None:
        for feature in dom.cpu.features or []:
            # virCPUarmUpdate: ARM CPUs know only the features of libvirt's cpu_map/arm_features.xml, the SVE ones
            if not re.fullmatch(r"sve(128|256|384|512|640|768|896|1024|1152|1280|1408|1536|1664|1792|1920|2048)?",
                                feature.name or ""):  # fmt: skip
                raise _refuse(f"unknown CPU feature: {feature.name}")
    bootable: list[Disk | Interface] = [*dom.devices.disks, *dom.devices.interfaces]
    for dev in bootable:
        # qemuAppendLoadparmMachineParm: s390's IPL load parameter, upper-cased, 1 to 8 EBCDIC-safe characters
        loadparm = (dev.boot.loadparm or "").upper() if dev.boot is not None else ""
        if loadparm and len(loadparm) > 8:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"loadparm value '{loadparm}' must be between 1 and 8 "
                                "characters")  # fmt: skip
        if loadparm and not re.fullmatch(r"[A-Z0-9. ]+", loadparm):
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"invalid loadparm value '{loadparm}', expecting chars "
                                "in set of [a-zA-Z0-9.] and blank spaces")  # fmt: skip
    check_usb_models(dom, caps)


def check_graphics_count(dom: Domain) -> None:
    """qemuBuildCommandLineValidate: QEMU has one display of each kind. A definition with two is accepted (it is
    refused when a start builds the command line)."""
    assert dom.devices is not None
    kinds = [g.type for g in dom.devices.graphics if g.type in ("sdl", "vnc", "spice", "egl-headless", "dbus")]
    if len(kinds) != len(set(kinds)):
        raise _refuse("only 1 graphics device of each type (sdl, vnc, spice, headless, dbus) is supported")


def swtpm_versions() -> list[str]:
    """The TPM versions swtpm emulates here, asked once per swtpm binary (libvirt's virTPMEmulatorInit also
    asks again only when the binary changes); libvirt's test suite answers for its mocked swtpm instead."""
    binary = shutil.which("swtpm")
    if binary is None:
        return []
    st = os.stat(binary)
    return list(_swtpm_versions(binary, st.st_mtime_ns, st.st_ino))


@functools.cache
def _swtpm_versions(binary: str, mtime_ns: int, inode: int) -> tuple[str, ...]:
    return tuple(tpm_versions())


def check_tpm_versions(dom: Domain) -> None:
    """qemuValidateDomainDeviceDefTPM: an emulated TPM of a version swtpm cannot emulate (or without swtpm at
    all) is refused before anything starts, instead of swtpm failing half-way through the start."""
    assert dom.devices is not None
    emulated = [tpm for tpm in dom.devices.tpms if tpm.backend_type == "emulator"]
    if not emulated:
        return
    available = swtpm_versions()
    for tpm in emulated:
        version = tpm.backend_version or "2.0"
        if version not in available:
            raise _refuse(f"TPM version '{version}' is not supported")


def check_usb_models(dom: Domain, caps: EmulatorCaps) -> None:
    """libvirt refuses a USB controller QEMU lacks when it builds the command line (qemuBuildControllerDevProps),
    not at define: a definition stays valid for the next QEMU."""
    assert dom.devices is not None
    for c in dom.devices.controllers:
        need = _USB_MODEL_FLAGS.get(c.model or "") if c.type == "usb" else None
        if need is not None and not caps.has_flag(need):
            raise _refuse(f"USB controller model '{c.model}' not supported in this QEMU binary")


def _check_iommu_for_emulator(dom: Domain, caps: EmulatorCaps) -> None:
    """qemuValidateDomainDeviceDefIOMMU, past the machine checks ``validate_domain`` makes: the QEMU device,
    ACPI for virtio-iommu (its topology is an ACPI table), and a PCI place for it."""
    assert dom.devices is not None
    iommu = dom.devices.iommu
    if iommu is None or iommu.model not in ("intel", "virtio"):
        return
    a = iommu.address.attrs if iommu.address is not None else {}
    if iommu.model == "virtio" and a.get("type") == "pci" and int(a.get("bus", "0"), 0):
        # virDomainPCIAddressFlagsCompatible, as libvirt reserves the address (before it validates anything):
        # virtio-iommu is an integrated device of the root bus
        where = ":".join(f"{int(a.get(k, '0'), 0):0{w}x}" for k, w in (("domain", 4), ("bus", 2), ("slot", 2)))
        raise XMLError(ErrorCode.XML_ERROR, f"The device at PCI address {where}.{int(a.get('function', '0'), 0):x} "
                       "needs to be an integrated device (bus=0)")  # fmt: skip
    needs = ("intel-iommu",) if iommu.model == "intel" else ("virtio-iommu-pci", "virtio-iommu.boot-bypass")
    if not caps.probed and not all(caps.has_flag(flag) for flag in needs):
        raise _refuse(f"IOMMU device: '{iommu.model}' is not supported with this QEMU binary")
    if iommu.model == "virtio":
        if dom.features is None or not dom.features.acpi:
            raise _refuse("IOMMU device: 'virtio' requires ACPI")
        kind = iommu.address.attrs.get("type") if iommu.address is not None else None
        if kind not in (None, "pci"):
            raise _refuse("IOMMU device: 'virtio' needs a PCI address")


def pseries_machine_options(dom: Domain, has_option: Callable[[str], bool]) -> list[str]:
    """The pSeries machine's ``resize-hpt``/``cap-*`` properties from ``<features>``, with libvirt's checks
    (qemuValidateDomainDefPSeriesFeature, then qemuAppendDomainFeaturesMachineParam); ``has_option``: the
    machine takes ``cap-NAME`` (its ``machine.pseries.cap-NAME`` capability)."""
    f = dom.features
    if f is None:
        return []
    assert dom.os is not None and dom.os.type is not None
    arch, machine = dom.os.type.arch or "", dom.os.type.machine or ""
    pseries = arch in ("ppc64", "ppc64le") and machine.startswith("pseries")
    switches = (("hpt", f.hpt or None, "", ""), ("htm", f.htm_state, "cap-htm", "HTM"),
                ("nested-hv", f.nested_hv_state, "cap-nested-hv", "Nested HV"),
                ("ccf-assist", f.ccf_assist_state, "cap-ccf-assist", "ccf-assist"),
                ("cfpc", f.cfpc_value, "cap-cfpc", "cfpc"), ("sbbc", f.sbbc_value, "cap-sbbc", "sbbc"),
                ("ibs", f.ibs_value, "cap-ibs", "ibs"))  # fmt: skip
    parts: list[str] = []
    for name, value, option, words in switches:
        if value is None:
            continue
        if not pseries:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"The '{name}' feature is not supported for "
                                    f"architecture '{arch}' or machine type '{machine}'")  # fmt: skip
        if name == "hpt":
            if f.hpt_resizing:
                parts.append(f"resize-hpt={f.hpt_resizing}")
            if f.hpt_maxpagesize:
                if not has_option("cap-hpt-max-page-size"):
                    raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Configuring the page size for HPT "
                                            "guests is not supported by this QEMU binary")  # fmt: skip
                size = parse_memory_kib(str(f.hpt_maxpagesize), f.hpt_maxpagesize_unit, "maxpagesize")
                parts.append(f"cap-hpt-max-page-size={size}k")
            continue
        if not has_option(option):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    f"{words} configuration is not supported by this QEMU binary")  # fmt: skip
        parts.append(f"{option}={value}")
    return parts


def _check_clock_timers(dom: Domain, caps: EmulatorCaps) -> None:
    """qemuValidateDomainDefClockTimers: the timers QEMU has no way to configure for this guest. (libvirt's
    HPET check is left out: with QEMU's newer machine property it would refuse an HPET QEMU does have.)"""
    assert dom.os is not None and dom.os.type is not None
    x86 = dom.os.type.arch in ("x86_64", "i686")
    for timer in (dom.clock.timers or []) if dom.clock is not None else []:
        name, policy = timer.name, timer.tickpolicy
        arm_virt = dom.type == "kvm" and _is_arm_virt(dom)
        if name == "platform":
            raise _refuse(f"unsupported timer type (name) '{name}'")
        if (name in ("tsc", "kvmclock", "hypervclock") and not x86 and timer.present) or (
            name == "armvtimer" and not arm_virt
        ):
            raise _refuse(f"Configuring the '{name}' timer is not supported for virtType={dom.type} "
                          f"arch={dom.os.type.arch} machine={dom.os.type.machine} guests")  # fmt: skip
        if name == "rtc" and timer.track == "boot":
            raise _refuse(f"unsupported rtc timer track '{timer.track}'")
        if name == "rtc" and policy in ("merge", "discard"):
            raise _refuse(f"unsupported rtc timer tickpolicy '{policy}'")
        pit_catchup = policy == "catchup" and not (caps.probed or caps.has_flag("kvm-pit-lost-tick-policy"))
        if name == "pit" and (policy == "merge" or pit_catchup):
            raise _refuse(f"unsupported pit tickpolicy '{policy}'")


def _check_vcpu_topology(dom: Domain, caps: EmulatorCaps) -> None:
    """qemuValidateDomainVCpuTopology: no more vCPUs than the machine takes; with a QEMU that hotplugs vCPUs
    (2.7 on) the topology must add up to the maximum, and the vCPUs a guest starts with must be whole hotplug
    units (a pSeries core: its threads)."""
    assert dom.vcpu is not None and dom.os is not None and dom.os.type is not None
    maximum = dom.vcpu.count or 1
    current = dom.vcpu.current if dom.vcpu.current is not None else maximum
    if current == 0:
        raise _refuse("Domain requires at least 1 vCPU")
    machine = next((m for m in caps.machines if dom.os.type.machine in (m.name, m.alias)), None)
    if machine is not None and machine.max_cpus > 0 and maximum > machine.max_cpus:
        raise _refuse(f"Maximum CPUs greater than specified machine type limit {machine.max_cpus}")
    if not (caps.has_flag("query-hotpluggable-cpus") or "query-hotpluggable-cpus" in caps.commands):
        return
    cpu = dom.cpu
    if cpu is None or not cpu.topology_sockets:
        return
    threads = cpu.topology_threads or 1
    if cpu.topology_sockets * (cpu.topology_dies or 1) * (cpu.topology_cores or 1) * threads != maximum:
        raise _refuse("CPU topology doesn't match maximum vcpu count")
    granularity = threads if is_pseries(dom) else 1
    if current % granularity:
        raise _refuse(f"vCPUs count must be a multiple of the vCPU hotplug granularity ({granularity})")


def validate_devices(dom: Domain) -> None:
    """The per-device checks of qemuValidateDomainDeviceDef that follow the controllers' (libvirt validates the
    devices in virDomainDeviceInfoIterate's order, after the domain-wide checks)."""
    assert dom.devices is not None and dom.os is not None and dom.os.type is not None
    check_hostdevs(dom)
    if dom.devices.parallels and ((dom.os.type.arch or "").startswith("s390") or is_pseries(dom)):
        raise _refuse("parallel ports are not supported")  # qemuValidateDomainChrDef
    check_pci_controller_nodes(dom)
    for fs in dom.devices.filesystems:
        check_virtiofs(fs)


def validate_for_emulator(dom: Domain, caps: EmulatorCaps) -> None:
    """What libvirt's qemuValidateDomainDef refuses for the emulator at hand, with its messages."""
    assert dom.devices is not None and dom.os is not None
    q35 = is_q35(dom)
    arch = dom.os.type.arch if dom.os.type is not None else None
    host_cpu = dom.cpu is not None and dom.cpu.mode == "host-passthrough"
    if host_cpu and arch == "armv7l" and host_arch() == "aarch64" and not (caps.probed or caps.has_flag("aarch64-off")):
        # a 32-bit guest under KVM on a 64-bit ARM host needs '-cpu host,aarch64=off' (qemuValidateDomainDefCpu)
        raise _refuse("QEMU binary does not support CPU host-passthrough for armv7l on aarch64 host")
    _check_clock_timers(dom, caps)
    for flag, enabled, what in (("disable-s3", dom.pm_suspend_to_mem, "S3"),
                                ("disable-s4", dom.pm_suspend_to_disk, "S4")):  # fmt: skip
        if enabled is not None and not (caps.has_flag(flag) or (q35 and caps.has_flag(f"ich9-{flag}"))):
            raise _refuse(f"setting ACPI {what} not supported")
    _check_vcpu_topology(dom, caps)
    # qemuValidateDomainDefFeatures comes before the devices
    pseries_machine_options(dom, lambda cap: caps.probed or caps.has_flag(f"machine.pseries.{cap}"))
    if is_pseries(dom) and not caps.probed and not caps.has_flag("spapr-pci-host-bridge"):
        # the PCI root every pSeries guest has (qemuDomainDefAddDefaultDevices) is this device
        raise _refuse("The 'spapr-pci-host-bridge' device is not supported by this QEMU binary")
    _check_iommu_for_emulator(dom, caps)
    check_zpci_addresses(dom, caps)
    for c in dom.devices.controllers:
        if (
            c.type == "pci"
            and c.model == "pci-root"
            and c.target_hotplug is not None
            and not caps.has_flag("piix4.acpi-root-pci-hotplug")
        ):
            raise _refuse("setting the 'hotplug' property on a 'pci-root' device is not supported by this QEMU binary")
    f = dom.features
    if f is not None and f.smm_state == "on" and f.smm_tseg is not None and is_q35(dom):
        # qemuDomainDefTsegPostParse
        if not caps.has_flag("mch.extended-tseg-mbytes"):
            raise _refuse("Setting TSEG size is not supported with this QEMU binary")
        if parse_memory_kib(str(f.smm_tseg), f.smm_tseg_unit or "MiB", "tseg") % 1024:
            raise _refuse("SMM TSEG size must be divisible by 1 MiB")
    mb = dom.memory_backing
    machine = next((m for m in caps.machines if m.name == (dom.os.type.machine if dom.os.type else None)), None)
    if (
        mb is not None
        and mb.hugepages
        and mb.access_mode not in (None, "private")
        and not (machine is not None and machine.default_ram_id)
    ):
        # qemuValidateDomainDefMemory: without NUMA cells only the machine's own RAM backend could be shared
        pages = mb.pages or []
        first = parse_memory_kib(str(pages[0].size), pages[0].unit, "page") if pages and pages[0].size else 0
        if first != 4 and not (dom.cpu is not None and dom.cpu.numa):
            raise _refuse(f"memory access mode '{mb.access_mode}' not supported without guest numa node")
    balloon = dom.devices.memballoon
    if (
        balloon is not None
        and balloon.freePageReporting is not None
        and not caps.has_flag("virtio-balloon.free-page-reporting")
    ):
        raise _refuse("freePageReporting is not supported by this QEMU binary")
