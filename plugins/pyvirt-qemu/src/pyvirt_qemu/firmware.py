"""Guest firmware from QEMU's firmware descriptors: autoselection, per-domain NVRAM.

``<os firmware='efi|bios'>`` is resolved the way libvirt's qemuFirmwareFillDomain
does it: the JSON descriptors QEMU's firmware packages install
(``/usr/share/qemu/firmware``, overridden by same-named files in
``/etc/qemu/firmware``; an empty file masks one) are read in file name order
and the first that fits the domain wins: its interface, architecture and
machine type, the ACPI sleep states ``<pm>`` enables, the features
``<os><firmware>`` asks for or refuses, SMM for a ``secure='yes'`` loader,
the flash mode (a split code/variables pair, or a stateless image when the
loader says ``stateless='yes'``) and SEV for a launch-security guest. The
first fit is taken as it is, Secure Boot builds included (libvirt's order,
so a host's ``firmware='efi'`` gets what libvirt would give it); a build
that needs SMM gets it and a secure loader. One deviation: a KVM guest on a
host whose KVM cannot run SMM (kvm-pvm, say: QEMU then exits with "System
Management Mode not supported by this hypervisor") passes over the builds
that require SMM, where libvirt would pick one and fail the start. A loader
given by path with no variable-store template is looked up the same way to
find its template. Each domain gets its own copy of the template, kept under
the driver's state directory; a ``<nvram type='network'>`` store stays on
its server.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import json
import os
import shutil
from dataclasses import dataclass
from typing import Any

from lxml import etree

from pyvirt.conf.domain import Domain, Features, Loader, Nvram
from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError, OperationInvalidError

__all__ = ["UNHANDLED_FEATURES", "FirmwareBuild", "firmware_builds", "firmware_descriptors", "installed",
           "kvm_smm", "nvram_network_disk", "prepare_nvram", "resolve_firmware"]  # fmt: skip

SEARCH_DIRS = ("/usr/share/qemu/firmware", "/etc/qemu/firmware")
# the features of a build domain capabilities leaves out of its plain UEFI offer (they come with SMM or SEV-ES)
UNHANDLED_FEATURES = frozenset({"secure-boot", "requires-smm", "enrolled-keys", "amd-sev-es"})
# libvirt's qemuFirmwareOSInterface for <os firmware=...> and for an old-style <loader type=...>
_INTERFACE_OF_FIRMWARE = {"bios": "bios", "efi": "uefi"}
_INTERFACE_OF_LOADER = {"rom": "bios", "pflash": "uefi"}
_SEV_ES_POLICY = 1 << 2  # VIR_QEMU_FIRMWARE_AMD_SEV_ES_POLICY


@dataclass(frozen=True)
class FirmwareBuild:
    """One descriptor: ``device`` is its mapping (``flash``, ``memory`` or ``kernel``), ``executable`` the file
    QEMU loads (the flash code, the ROM or the kernel), ``mode`` the flash layout (``split`` code and variables,
    ``combined``, ``stateless``)."""

    descriptor: str
    executable: str
    nvram_template: str | None
    architectures: tuple[str, ...]
    machines: tuple[str, ...]
    features: frozenset[str]
    interfaces: tuple[str, ...] = ("uefi",)
    device: str = "flash"
    mode: str = "split"
    formats: tuple[str, str | None] = ("raw", "raw")  # the executable's and the template's
    targets: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def serves(self, arch: str, machine: str) -> bool:
        """qemuFirmwareMatchesMachineArch: one target of this architecture names a matching machine pattern."""
        targets = self.targets or tuple((a, self.machines) for a in self.architectures)
        return any(a == arch and any(fnmatch.fnmatchcase(machine, m) for m in ms) for a, ms in targets)


_KVM_CHECK_EXTENSION = 0xAE03  # _IO(KVMIO, 0x03)
_KVM_CAP_X86_SMM = 117


def kvm_smm() -> bool:
    """Whether this host's KVM runs guests with System Management Mode (KVM_CAP_X86_SMM), as QEMU asks before
    it turns SMM on; True where there is no KVM to ask (the guest then runs under TCG, which has SMM)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        return bool(fcntl.ioctl(fd, _KVM_CHECK_EXTENSION, _KVM_CAP_X86_SMM) > 0)
    except OSError:
        return True
    finally:
        os.close(fd)


def installed(path: str) -> bool:
    """A descriptor's firmware file is on this host (one naming a file that is not offers nothing)."""
    return os.path.exists(path)


def _descriptor_files(dirs: tuple[str, ...]) -> list[str]:
    """qemuInteropFetchConfigs: by file name, a later directory's file replacing an earlier one's."""
    files: dict[str, str] = {}
    for d in dirs:
        with contextlib.suppress(OSError):
            for name in os.listdir(d):
                if name.endswith(".json"):
                    files[name] = os.path.join(d, name)
    return [files[name] for name in sorted(files)]


def _build(path: str, desc: Any) -> FirmwareBuild | None:
    """The descriptor as a build, or None for one that offers nothing here (unreadable, no file installed)."""
    if not isinstance(desc, dict):
        return None
    mapping = desc.get("mapping", {})
    device = mapping.get("device")
    template: str | None = None
    template_format: str | None = None
    mode = "split"
    if device == "flash":
        mode = mapping.get("mode", "split")  # the historical default
        executable = mapping.get("executable", {}).get("filename")
        executable_format = mapping.get("executable", {}).get("format", "raw")
        if mode == "split":
            template = mapping.get("nvram-template", {}).get("filename")
            template_format = mapping.get("nvram-template", {}).get("format", "raw")
    elif device in ("memory", "kernel"):
        executable, executable_format = mapping.get("filename"), "raw"
    else:
        return None
    if not executable or not installed(executable):
        return None
    targets = tuple((str(t.get("architecture", "")), tuple(t.get("machines", []))) for t in desc.get("targets", []))
    return FirmwareBuild(
        descriptor=path, executable=executable, nvram_template=template,
        architectures=tuple(a for a, _ in targets), machines=tuple(m for _, ms in targets for m in ms),
        features=frozenset(desc.get("features", [])), interfaces=tuple(desc.get("interface-types", [])),
        device=device, mode=mode, formats=(executable_format, template_format), targets=targets,
    )  # fmt: skip


def firmware_descriptors(dirs: tuple[str, ...] | None = None) -> list[FirmwareBuild]:
    """Every usable descriptor in QEMU's precedence order; ``dirs``: where they are (``SEARCH_DIRS``, read when
    called). An empty (masking) or unreadable file offers nothing."""
    builds = []
    for path in _descriptor_files(dirs if dirs is not None else SEARCH_DIRS):
        try:
            with open(path, encoding="utf-8") as f:
                desc = json.load(f)
        except (OSError, ValueError):
            continue
        build = _build(path, desc)
        if build is not None:
            builds.append(build)
    return builds


def firmware_builds(dirs: tuple[str, ...] | None = None) -> list[FirmwareBuild]:
    """The flash-mapped UEFI builds among ``firmware_descriptors``, in the same order."""
    return [b for b in firmware_descriptors(dirs) if "uefi" in b.interfaces and b.device == "flash"]


def requested_features(dom: Domain) -> dict[str, bool]:
    """``<os><firmware><feature enabled='yes|no' name='...'/>``: what the firmware must, or must not, offer."""
    raw = dom.os.firmware_features if dom.os is not None else None
    if not raw:
        return {}
    root = etree.fromstring(f"<firmware>{raw}</firmware>")
    return {str(f.get("name")): f.get("enabled") == "yes" for f in root.iter("feature")}


def _matches(dom: Domain, build: FirmwareBuild, arch: str, machine: str, smm: bool = True) -> bool:
    """qemuFirmwareMatchDomain, rule for rule and in its order; ``smm``: the guest can have SMM (see
    ``kvm_smm``), else a build that requires it does not fit."""
    assert dom.os is not None
    if not smm and "requires-smm" in build.features:
        return False
    loader = dom.os.loader
    want = _INTERFACE_OF_FIRMWARE.get(dom.os.firmware or "")
    if want is None and loader is not None:
        # an old-style loader given by path: only its own descriptor can supply the template
        want = _INTERFACE_OF_LOADER.get(loader.type or "")
        if build.device != "flash" or loader.path != build.executable:
            return False
    if want not in build.interfaces or not build.serves(arch, machine):
        return False
    if (dom.pm_suspend_to_mem and "acpi-s3" not in build.features) or (
        dom.pm_suspend_to_disk and "acpi-s4" not in build.features
    ):
        return False
    if any((name in build.features) != wanted for name, wanted in requested_features(dom).items()):
        return False
    if loader is not None and loader.secure and "requires-smm" not in build.features:
        return False
    if build.device == "flash" and build.mode != ("stateless" if loader is not None and loader.stateless else "split"):
        return False
    sec = dom.launch_security
    if sec is not None and sec.type == "sev":
        if "amd-sev" not in build.features:
            return False
        if (sec.policy or 0) & _SEV_ES_POLICY and "amd-sev-es" not in build.features:
            return False
    return True


def _enable(dom: Domain, build: FirmwareBuild, nvram_dir: str) -> None:
    """qemuFirmwareEnableFeatures: the loader (or kernel) the build maps, its template, and SMM if it needs it."""
    assert dom.os is not None
    loader = dom.os.loader or Loader()
    if build.device == "flash":
        if build.formats[0] != "raw":
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"unsupported flash format '{build.formats[0]}'")
        loader.type, loader.readonly, loader.path = "pflash", True, build.executable
        if build.mode == "split":
            if build.formats[1] != "raw":
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                        f"unsupported nvram template format '{build.formats[1]}'")  # fmt: skip
            nvram = dom.os.nvram or Nvram()
            nvram.template = build.nvram_template
            nvram.path = nvram.path or os.path.join(nvram_dir, f"{dom.name}_VARS.fd")
            dom.os.nvram = nvram
        dom.os.loader = loader
    elif build.device == "kernel":
        dom.os.kernel = build.executable
    else:
        loader.type, loader.path = "rom", build.executable
        dom.os.loader = loader
    if "requires-smm" in build.features:
        # firmware that guards its variables in SMM: the machine gets SMM, the flash is locked to it
        dom.features = dom.features or Features()
        if dom.features.smm_state == "off":
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID,
                                        "domain has SMM turned off but chosen firmware requires it")  # fmt: skip
        dom.features.smm_state = "on"
        if dom.os.loader is not None:
            dom.os.loader.secure = True


def resolve_firmware(dom: Domain, canonical_machine: str, nvram_dir: str, reset_nvram: bool = False) -> None:
    """Fill ``<loader>``/``<nvram>`` for ``firmware='efi|bios'`` (live XML), or refuse with libvirt's error; a
    loader given by path without a template gets its template (and the rest) from its own descriptor.

    ``reset_nvram`` (VIR_DOMAIN_START_RESET_NVRAM): the store is to be made again, so a loader given by path
    needs its template even when its store exists; a store on a server cannot be reset (qemuFirmwareFillDomain).
    """
    assert dom.os is not None and dom.os.type is not None
    arch = dom.os.type.arch or "x86_64"
    loader = dom.os.loader
    smm = dom.type != "kvm" or arch not in ("x86_64", "i686") or kvm_smm()
    if dom.os.firmware in _INTERFACE_OF_FIRMWARE:
        # (the live definition keeps firmware='...' with the loader filled in: a filled one is not redone)
        if loader is not None and loader.path:
            return
        build = next((b for b in firmware_descriptors() if _matches(dom, b, arch, canonical_machine, smm)), None)
        if build is None:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED,
                                       f"Unable to find any firmware to satisfy '{dom.os.firmware}'")  # fmt: skip
        _enable(dom, build, nvram_dir)
        return
    if loader is None or loader.type != "pflash" or not loader.readonly or not loader.path:
        return
    if dom.os.nvram is not None and dom.os.nvram.type == "network":
        if reset_nvram and not loader.stateless and dom.os.nvram.template is None:
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                    "resetting of nvram is not supported with network backed nvram")  # fmt: skip
        return  # a store on a server: nothing to find for it, nothing to create (libvirt does not look)
    if not loader.stateless:
        # virDomainDefHasOldStyleROUEFI: the variable store is the domain's own, named after it unless given
        nvram = dom.os.nvram or Nvram()
        nvram.path = nvram.path or os.path.join(nvram_dir, f"{dom.name}_VARS.fd")
        dom.os.nvram = nvram
        if nvram.template is not None or (os.path.exists(nvram.path) and not reset_nvram):
            return
    # the descriptors are asked, but finding none is no error (libvirt falls back to the old style)
    build = next((b for b in firmware_descriptors() if _matches(dom, b, arch, canonical_machine, smm)), None)
    if build is not None:
        _enable(dom, build, nvram_dir)


def nvram_network_disk(nvram: Nvram) -> Disk:
    """A network variable store as the network disk it is to QEMU (its source, its ``<auth>``), so its storage
    node and secrets are built as a disk's are (qemuBuildPflashBlockdevCommandLine)."""
    return Disk(type="network", source_protocol=nvram.source_protocol, source_name=nvram.source_name,
                source_hosts=nvram.source_hosts, source_auth=nvram.source_auth)  # fmt: skip


def prepare_nvram(dom: Domain, reset: bool = False) -> str | None:
    """Copy the variable-store template for a first boot; returns the path when this call created it.

    ``reset`` (VIR_DOMAIN_START_RESET_NVRAM, qemuPrepareNVRAM's reset_nvram): an existing store is written
    again from the template, as a first boot would find it; it is not this call's to remove on a failure.
    """
    if dom.os is None or dom.os.nvram is None or not dom.os.nvram.path or dom.os.nvram.type == "network":
        return None
    existed = os.path.exists(dom.os.nvram.path)
    if existed and not reset:
        return None
    template = dom.os.nvram.template
    if not template:
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED,
            f"unable to find any master var store for loader: {dom.os.loader.path if dom.os.loader else '?'}",
        )
    os.makedirs(os.path.dirname(dom.os.nvram.path), exist_ok=True)
    tmp = dom.os.nvram.path + ".tmp"
    try:
        shutil.copyfile(template, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, dom.os.nvram.path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"Failed to create NVRAM store {dom.os.nvram.path}: {exc.strerror}"
        ) from exc
    return None if existed else dom.os.nvram.path
