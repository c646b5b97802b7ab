"""``<shmem>`` (inter-VM shared memory, QEMU's ivshmem devices): libvirt's checks of a definition, in its words.

The devices themselves are not on the command line yet (``command_line`` refuses them by name); what is here
tells a user, before that, what libvirt would tell them about the definition: a size QEMU cannot map (not a
power of two, under a MiB), MSI without a server, a model this QEMU lacks, an address that is not PCI.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import GenericDevice
from pyvirt.conf.units import parse_scaled
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError
from pyvirt_qemu.emulator_caps import EmulatorCaps

__all__ = ["check_shmems", "shmem_size_bytes"]


def _children(shmem: GenericDevice) -> etree._Element:
    return etree.fromstring(f"<shmem>{shmem.content or ''}</shmem>")


def shmem_size_bytes(shmem: GenericDevice) -> int | None:
    """``<size unit='M'>128</size>`` in bytes (None: not given, libvirt's 4 MiB default then applies)."""
    size = _children(shmem).find("size")
    if size is None or not (size.text or "").strip():
        return None
    return parse_scaled((size.text or "").strip(), size.get("unit"), "size", default_unit="B")


def check_shmems(dom: Domain, caps: EmulatorCaps | None) -> None:
    """The parser's, the validator's and the command line's checks of every ``<shmem>``, in libvirt's order."""
    shmems = dom.devices.shmems if dom.devices is not None else []
    for shmem in shmems:  # virDomainShmemDefParseXML
        root = _children(shmem)
        if root.find("msi") is not None and root.find("server") is None:
            raise XMLError(ErrorCode.XML_ERROR, "msi option is only supported with a server")
    for shmem in shmems:  # qemuValidateDomainDeviceDefShmem
        model_el = _children(shmem).find("model")
        model = (model_el.get("type") if model_el is not None else None) or "ivshmem"
        if caps is not None and not caps.has_flag(model):
            if model == "ivshmem":
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED, "ivshmem device is not supported with this QEMU binary"
                )
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, f"shmem model '{model}' is not supported by this QEMU binary"
            )
    for shmem in shmems:  # qemuBuildShmemCommandLine
        size = shmem_size_bytes(shmem)
        if size is not None and size & (size - 1):
            raise XMLError(ErrorCode.XML_ERROR, "shmem size must be a power of two")
        if size is not None and size < 1024 * 1024:
            raise XMLError(ErrorCode.XML_ERROR, "shmem size must be at least 1 MiB (1024 KiB)")
        address = _children(shmem).find("address")
        if address is not None and address.get("type") != "pci":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "only 'pci' addresses are supported for the shared memory device")  # fmt: skip
