"""Which bus a virtio device sits on, and the QEMU device that says so.

QEMU has one device per virtio function and transport: ``virtio-blk-pci`` on PCI, ``virtio-blk-ccw`` on the
s390 channel subsystem, ``virtio-blk-device`` on virtio-mmio (the ARM and RISC-V boards without PCI). libvirt
picks the transport from the device's address (qemuBuildVirtioDevGetConfigDev); the command line builders
here name the PCI device, and ``retarget_virtio_devices`` gives each device on another transport its own
name and address properties, so a guest gets the bus its definition says and never a PCI device in its place.

``assign_virtio_mmio_addresses`` is libvirt's qemuDomainAssignVirtioMMIOAddresses: an ARM ``virt`` or
``vexpress-*`` board (or a RISC-V ``virt`` one) puts its virtio devices on virtio-mmio unless it has a PCIe
root with root ports to plug them in (and none of its devices asks for virtio-mmio already).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Address
from pyvirt.conf.units import strtoul
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError
from pyvirt_qemu.emulator_caps import EmulatorCaps

__all__ = ["assign_virtio_mmio_addresses", "ccw_devno", "check_ccw_addresses", "retarget_virtio_devices"]

_SUFFIX = {"ccw": "-ccw", "virtio-mmio": "-device", "virtio-s390": "-s390"}


def _number(text: str | None) -> int:
    parsed = strtoul(text or "0", 0)
    if parsed is None or parsed[0] == "-":
        raise XMLError(ErrorCode.XML_ERROR, f"Cannot parse <address> number '{text}'")
    return parsed[1]


def ccw_devno(address: Address) -> str:
    """The ``devno`` property of a channel-subsystem address: ``cssid.ssid.devno``, as QEMU writes it."""
    a = address.attrs
    return f"{_number(a.get('cssid')):x}.{_number(a.get('ssid')):x}.{_number(a.get('devno')):04x}"


def _addressed(dom: Domain) -> Iterator[Any]:
    """Every device of the definition that can carry an alias and an address."""
    d = dom.devices
    if d is None:
        return
    for value in vars(d).values():
        for dev in value if isinstance(value, list | tuple) else [value]:
            if hasattr(dev, "address") and hasattr(dev, "alias"):
                yield dev


def check_ccw_addresses(dom: Domain) -> None:
    """virDomainCCWAddressReserve: two devices on one channel-subsystem device number are refused."""
    seen: set[str] = set()
    for dev in _addressed(dom):
        if dev.address is not None and dev.address.attrs.get("type") == "ccw" and "devno" in dev.address.attrs:
            devno = ccw_devno(dev.address)
            if devno in seen:
                raise XMLError(ErrorCode.XML_ERROR, f"The CCW devno '{devno}' is in use already")
            seen.add(devno)


def retarget_virtio_devices(dom: Domain, args: list[str]) -> None:
    """Rename, in place, each ``-device`` of a virtio device on a channel-subsystem or virtio-mmio address."""
    transports: dict[str, str] = {}
    for dev in _addressed(dom):
        kind = dev.address.attrs.get("type") if dev.address is not None else None
        if kind in _SUFFIX and dev.alias is not None and dev.alias.name:
            transports[str(dev.alias.name)] = kind
    if not transports:
        return
    for i in range(1, len(args)):
        if args[i - 1] != "-device" or not args[i].startswith("{"):
            continue
        props = json.loads(args[i])
        kind = transports.get(str(props.get("id")))
        driver = str(props.get("driver", ""))
        if kind is None or not driver.startswith("virtio-"):
            continue
        if driver.endswith(("-transitional", "-non-transitional")):
            flavour = "non-transitional" if driver.endswith("-non-transitional") else "transitional"
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    f"virtio {flavour} models are not supported for address type={kind}")  # fmt: skip
        base = "virtio-gpu" if driver == "virtio-vga" else driver.removesuffix("-pci")
        props["driver"] = base + _SUFFIX[kind]
        args[i] = json.dumps(props, separators=(",", ":"))


def _virtio_devices(dom: Domain) -> Iterator[Any]:
    """qemuDomainPrimeVirtioDeviceAddresses' devices, in its order."""
    d = dom.devices
    assert d is not None
    yield from (x for x in d.disks if x.target_bus == "virtio")
    yield from (n for n in d.interfaces if (n.model_type or "").startswith("virtio"))
    yield from (v for v in d.videos if v.model_type == "virtio")
    yield from (i for i in d.inputs if i.bus == "virtio")
    yield from (c for c in d.controllers if c.type in ("virtio-serial", "scsi"))
    if d.memballoon is not None and d.memballoon.model not in (None, "none"):
        yield d.memballoon
    yield from d.rngs
    yield from (m for m in d.memories if m.model in ("virtio-pmem", "virtio-mem"))


def _has_virtio_mmio(dom: Domain) -> bool:
    return any(dev.address is not None and dev.address.attrs.get("type") == "virtio-mmio" for dev in _addressed(dom))


def assign_virtio_mmio_addresses(dom: Domain, caps: EmulatorCaps | None) -> None:
    """Put the address-less virtio devices of an ARM/RISC-V board on virtio-mmio, where libvirt puts them."""
    assert dom.os is not None and dom.os.type is not None
    arch = dom.os.type.arch or ""
    machine = dom.os.type.machine or ""
    if caps is None or not (arch in ("armv6l", "armv7l", "aarch64") or arch.startswith("riscv")):
        return
    arm_virt = arch != "" and not arch.startswith("riscv") and (machine == "virt" or machine.startswith("virt-"))
    riscv_virt = arch.startswith("riscv") and (machine == "virt" or machine.startswith("virt-"))
    if not (machine.startswith("vexpress-") or arm_virt or riscv_virt):
        return
    assert dom.devices is not None
    pcie_root = any(c.type == "pci" and c.model == "pcie-root" for c in dom.devices.controllers)
    root_ports = caps.has_flag("pcie-root-port") or caps.has_flag("ioh3420")
    if pcie_root and root_ports and not _has_virtio_mmio(dom):
        return  # PCI, which the PCI address assignment gives them
    if not caps.has_flag("virtio-mmio"):
        return
    for dev in _virtio_devices(dom):
        if dev.address is None:
            dev.address = Address(attrs={"type": "virtio-mmio"})
