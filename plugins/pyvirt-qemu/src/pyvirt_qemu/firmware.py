"""UEFI firmware for guests: QEMU's firmware descriptors, autoselection, per-domain NVRAM.

``<os firmware='efi'>`` is resolved the way libvirt does it: the JSON
descriptors QEMU's firmware packages install (``/usr/share/qemu/firmware``,
overridden by same-named files in ``/etc/qemu/firmware``) are read in file
name order and the first flash-based UEFI build for the guest's architecture
and machine type wins, among those offering the features ``<os><firmware>``
asks for (``secure-boot``, ``enrolled-keys``) and none it refuses. Secure Boot
builds need SMM, which the driver then turns on; they are passed over unless
asked for. Each domain gets its own copy of the descriptor's variable-store
template, kept under the driver's state directory.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
from dataclasses import dataclass

from lxml import etree

from pyvirt.conf.domain import Domain, Features, Loader, Nvram
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError

__all__ = ["UNHANDLED_FEATURES", "FirmwareBuild", "firmware_builds", "installed", "prepare_nvram", "resolve_firmware"]

SEARCH_DIRS = ("/usr/share/qemu/firmware", "/etc/qemu/firmware")
UNHANDLED_FEATURES = frozenset({"secure-boot", "requires-smm", "enrolled-keys", "amd-sev-es"})


@dataclass(frozen=True)
class FirmwareBuild:
    descriptor: str
    executable: str
    nvram_template: str | None
    architectures: tuple[str, ...]
    machines: tuple[str, ...]
    features: frozenset[str]

    def serves(self, arch: str, machine: str) -> bool:
        return arch in self.architectures and any(fnmatch.fnmatchcase(machine, m) for m in self.machines)


def installed(path: str) -> bool:
    """A descriptor's firmware file is on this host (one naming a file that is not offers nothing)."""
    return os.path.exists(path)


def firmware_builds(dirs: tuple[str, ...] | None = None) -> list[FirmwareBuild]:
    """Flash-mapped UEFI builds, in QEMU's precedence order (file name, /etc overriding /usr); ``dirs``: where
    the descriptors are (``SEARCH_DIRS``, read when called)."""
    files: dict[str, str] = {}
    for d in dirs if dirs is not None else SEARCH_DIRS:
        with contextlib.suppress(OSError):
            for name in os.listdir(d):
                if name.endswith(".json"):
                    files[name] = os.path.join(d, name)
    builds = []
    for name in sorted(files):
        path = files[name]
        try:
            with open(path, encoding="utf-8") as f:
                desc = json.load(f)
        except (OSError, ValueError):
            continue  # an unreadable or empty (masking) descriptor offers nothing
        mapping = desc.get("mapping", {}) if isinstance(desc, dict) else {}
        if "uefi" not in desc.get("interface-types", []) or mapping.get("device") != "flash":
            continue
        executable = mapping.get("executable", {}).get("filename")
        if not executable or not installed(executable):
            continue
        targets = desc.get("targets", [])
        builds.append(FirmwareBuild(
            descriptor=path, executable=executable,
            nvram_template=mapping.get("nvram-template", {}).get("filename"),
            architectures=tuple(t.get("architecture", "") for t in targets),
            machines=tuple(m for t in targets for m in t.get("machines", [])),
            features=frozenset(desc.get("features", [])),
        ))  # fmt: skip
    return builds


def requested_features(dom: Domain) -> dict[str, bool]:
    """``<os><firmware><feature enabled='yes|no' name='...'/>``: what the firmware must, or must not, offer."""
    raw = dom.os.firmware_features if dom.os is not None else None
    if not raw:
        return {}
    root = etree.fromstring(f"<firmware>{raw}</firmware>")
    return {str(f.get("name")): f.get("enabled") == "yes" for f in root.iter("feature")}


def _fits(build: FirmwareBuild, wanted: dict[str, bool]) -> bool:
    """Every feature asked for is there, none refused is; features this driver cannot set up only if asked for
    (Secure Boot brings SMM with it)."""
    if any((name in build.features) != want for name, want in wanted.items()):
        return False
    allowed = {name for name, want in wanted.items() if want}
    if "secure-boot" in allowed:
        allowed.add("requires-smm")
    return not (build.features & UNHANDLED_FEATURES) - allowed


def resolve_firmware(dom: Domain, canonical_machine: str, nvram_dir: str) -> None:
    """Fill ``<loader>``/``<nvram>`` for ``firmware='efi'`` (live XML), or refuse with libvirt's error."""
    assert dom.os is not None and dom.os.type is not None
    arch = dom.os.type.arch or "x86_64"
    if dom.os.nvram is not None and dom.os.nvram.type == "network":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "a network NVRAM store is not supported by the QEMU "
                                "driver yet")  # fmt: skip
    if dom.os.firmware == "efi" and (dom.os.loader is None or not dom.os.loader.path):
        wanted = requested_features(dom)
        build = next((b for b in firmware_builds() if b.serves(arch, canonical_machine) and _fits(b, wanted)), None)
        if build is None:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED,
                f"Unable to find any firmware to satisfy 'efi' for {arch}/{canonical_machine}",
            )
        dom.os.loader = Loader(readonly=True, type="pflash", path=build.executable,
                               secure=True if "secure-boot" in build.features else None)  # fmt: skip
        if "requires-smm" in build.features:
            # Secure Boot firmware guards its variables in SMM: the machine gets it, as libvirt turns it on
            dom.features = dom.features or Features()
            dom.features.smm_state = "on"
        template = build.nvram_template
        dom.os.nvram = Nvram(template=template, path=(dom.os.nvram.path if dom.os.nvram else None),
                             type=dom.os.nvram.type if dom.os.nvram else None)  # fmt: skip
    loader = dom.os.loader
    if loader is not None and loader.type == "pflash" and loader.readonly and not loader.stateless:
        nvram = dom.os.nvram or Nvram()
        nvram.path = nvram.path or os.path.join(nvram_dir, f"{dom.name}_VARS.fd")
        if nvram.template is None:
            build = next((b for b in firmware_builds() if b.executable == loader.path), None)
            nvram.template = build.nvram_template if build else None
        dom.os.nvram = nvram


def prepare_nvram(dom: Domain) -> str | None:
    """Copy the variable-store template for a first boot; returns the path when this call created it."""
    if dom.os is None or dom.os.nvram is None or not dom.os.nvram.path or os.path.exists(dom.os.nvram.path):
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
    return dom.os.nvram.path
