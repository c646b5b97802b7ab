"""``virsh domcapabilities`` for QEMU: the emulator's probe intersected with this driver.

A value appears only when both sides can do it: the emulator reported the
device or command over QMP, and ``command_line`` knows how to express it.
Sections the driver refuses today (hostdev, memory backing, ...) are
listed with ``supported='no'`` so that
management tools do not offer them, instead of promising what a start would
then refuse.
"""

from __future__ import annotations

import os
import shutil

from pyvirt.conf.domain_capabilities import CpuModel, DomainCapabilities, HostModel, Section, format_domain_capabilities
from pyvirt.errors import ErrorCode, InvalidArgumentError, NotSupportedError
from pyvirt_qemu.command_line_devices import DISK_BUS_DEVICE, VIDEO_MODELS
from pyvirt_qemu.emulator_caps import EmulatorCaps, emulator_caps
from pyvirt_qemu.firmware import UNHANDLED_FEATURES, firmware_builds
from pyvirt_qemu.swtpm import tpm_versions

__all__ = ["domain_capabilities_xml"]

_UNSUPPORTED_DEVICES = ("hostdev",)
_UNSUPPORTED_FEATURES = ("vmcoreinfo", "genid", "backingStoreInput", "backup", "sev", "sgx")


def _emulator(emulator: str | None, arch: str | None) -> str:
    if emulator:
        return emulator
    name = {"i686": "qemu-system-i386"}.get(arch or "x86_64", f"qemu-system-{arch or 'x86_64'}")
    found = shutil.which(name)
    if found is None:
        # virQEMUCapsCacheLookupDefault's wording and code (CONFIG_UNSUPPORTED)
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, f"unable to find any emulator to serve '{arch}' architecture"
        )
    return found


def _resolve(caps: EmulatorCaps, arch: str | None, machine: str | None, virttype: str | None) -> tuple[str, str, str]:
    emu_arch = "i686" if caps.arch == "i386" else caps.arch
    if arch and arch != emu_arch and not (arch == "i686" and emu_arch == "x86_64"):
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG,
            f"architecture from emulator '{emu_arch}' doesn't match given architecture '{arch}'",
        )
    virt = virttype or ("kvm" if caps.kvm else "qemu")
    if virt not in ("kvm", "qemu"):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown virttype: {virt}")
    if virt == "kvm" and not caps.kvm:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"KVM is not supported by '{caps.path}' on this host")
    wanted = machine
    if wanted is None:
        default = caps.default_machine()
        if default is None:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"emulator '{caps.path}' has no default machine type")
        wanted = default.name
    found = next((m for m in caps.machines if wanted in (m.name, m.alias)), None)
    if found is None:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, f"the machine '{wanted}' is not supported by emulator '{caps.path}'"
        )
    return arch or emu_arch, virt, found.name


def _custom_models(caps: EmulatorCaps, accel: EmulatorCaps, kvm: bool) -> list[CpuModel]:
    """virQEMUCapsFillDomainCPUCaps' custom mode: QEMU's models under the guest's accelerator that libvirt's CPU
    map knows, in QEMU's order, each with QEMU's usability and the map's vendor."""
    if accel.cpu_blockers and caps.arch in ("x86_64", "i386"):
        from pyvirt.util import cpu_x86

        vendors = cpu_x86.model_vendors()
        return [CpuModel(name, "yes" if name in accel.cpu_usable else "no", name in accel.cpu_deprecated,
                         vendors[name] or "unknown")
                for name in accel.cpu_blockers if name in vendors and name != "host"]  # fmt: skip
    return [
        CpuModel(name, ("yes" if name in caps.cpu_usable else "no") if kvm and caps.kvm else "unknown",
                 name in caps.cpu_deprecated)
        for name in caps.cpu_models
    ]  # fmt: skip


def domain_capabilities_xml(
    cache_dir: str, emulator: str | None, arch: str | None, machine: str | None, virttype: str | None
) -> str:
    path = os.path.realpath(_emulator(emulator, arch))
    caps = emulator_caps(path, cache_dir)
    arch_name, virt, machine_name = _resolve(caps, arch, machine, virttype)
    max_cpus = next(m.max_cpus for m in caps.machines if m.name == machine_name)
    buses = [bus for bus, dev in DISK_BUS_DEVICE.items() if caps.has_device(dev)]
    disk_devices = ["disk"] + (["cdrom"] if caps.has_device("ide-cd") else [])
    videos = [model for model, dev in VIDEO_MODELS.items() if caps.has_device(dev)]
    kvm = virt == "kvm"
    tpm_models = [m for m in ("tpm-tis", "tpm-crb") if caps.has_device(m)]
    tpm = tpm_versions()
    displays = [kind for kind in ("vnc", "spice") if f"query-{kind}" in caps.commands]  # built-in display servers
    # a TCG guest on a KVM host gets TCG's host-model and TCG's usable models: that needs the TCG probe
    accel = caps if kvm or not caps.kvm else emulator_caps(path, cache_dir, tcg=True)
    host_model = accel.cpu_host_model(reported=True)
    efi = [b for b in firmware_builds() if b.serves(caps.arch, machine_name) and not b.features & UNHANDLED_FEATURES]
    dc = DomainCapabilities(
        path=path, domain=virt, machine=machine_name, arch=arch_name, vcpu_max=max_cpus, iothreads=False,
        os=Section(True, {"firmware": ["efi"] if efi else []}),
        loader=Section(True, {"type": ["rom", "pflash"], "readonly": ["yes", "no"], "secure": ["no"]}),
        loader_values=sorted({b.executable for b in efi}),
        cpu_host_passthrough=Section(kvm, {"hostPassthroughMigratable": ["on", "off"]} if kvm else {}),
        cpu_maximum=Section(True, {"maximumMigratable": ["on", "off"]}),
        cpu_host_model=HostModel(host_model.model, host_model.vendor, host_model.features) if host_model else False,
        cpu_custom=_custom_models(caps, accel, kvm),
        memory_backing=Section(True, {"sourceType": ["anonymous", "memfd"]}),
        devices={
            "disk": Section(True, {"diskDevice": disk_devices, "bus": buses, "model": []}),
            "graphics": Section(bool(displays), {"type": displays} if displays else {}),
            "video": Section(bool(videos), {"modelType": videos}),
            # libvirt's order: ..., hostdev, rng, filesystem, ...
            "hostdev": Section(False),
            "rng": Section(caps.has_device("virtio-rng-pci"), {"model": ["virtio"], "backendModel": ["random"]}),
            "filesystem": Section(caps.has_device("virtio-9p-pci"), {"driverType": ["path", "handle"]}),
            "tpm": Section(bool(tpm_models and tpm), {"model": tpm_models, "backendModel": ["emulator"],
                                                     "backendVersion": tpm} if tpm_models and tpm else {}),
            "redirdev": Section(caps.has_device("usb-redir"), {"bus": ["usb"]} if caps.has_device("usb-redir") else {}),
            "channel": Section(True, {"type": ["pty", "unix"] + (["spicevmc"] if "spice" in displays else [])}),
        },
        features={tag: Section(False) for tag in _UNSUPPORTED_FEATURES},
    )  # fmt: skip
    return format_domain_capabilities(dc)
