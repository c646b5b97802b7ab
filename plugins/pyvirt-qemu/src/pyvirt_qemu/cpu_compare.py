"""virsh's cpu-compare, cpu-baseline, hypervisor-cpu-compare and hypervisor-cpu-baseline on QEMU: libvirt's x86 CPU model.

libvirt 9.0's qemuConnectCompareCPU compares a CPU definition with the host CPU
of its capabilities (virQEMUDriverGetHostCPU: the host's CPUID decoded into the
CPU map's best model, once per daemon), and qemuConnectBaselineCPU computes the
baseline of host CPUs with the map alone, dropping the features QEMU never took
(virQEMUCapsCPUFilterFeatures). qemuConnectCompareHypervisorCPU compares with
the emulator's ``host-model`` CPU of its capabilities instead (x86 only; libvirt
asks QEMU itself only on s390). All of it is CPU-map arithmetic in
:mod:`pyvirt.util.cpu_x86`; nothing here runs QEMU beyond the capability probe
the driver caches anyway.
"""

from __future__ import annotations

import errno
import functools
import os
from typing import TYPE_CHECKING

from pyvirt.errors import ErrorCode, InvalidArgumentError, NotSupportedError, SystemCallError
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.util import cpu_x86
from pyvirt.util.cpu_map import ARCHES
from pyvirt.util.cpu_x86 import (
    VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES,
    VIR_CONNECT_BASELINE_CPU_MIGRATABLE,
    VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE,
    VIR_CONNECT_COMPARE_CPU_VALIDATE_XML,
)
from pyvirt_qemu.connection_base import QemuConnectionBase

if TYPE_CHECKING:
    from pyvirt_qemu.emulator_caps import EmulatorCaps

__all__ = ["CpuCompareHooks"]

# virDomainVirtType's names, as virDomainVirtTypeFromString knows them
_VIRT_TYPES = ("none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware", "hyperv", "vbox",
               "phyp", "parallels", "bhyve", "vz")  # fmt: skip
# virQEMUCapsCPUFilterFeatures: features QEMU never supported or dropped, left out of a baseline on x86
_NEVER_PASSED_TO_QEMU = frozenset({"cmt", "mbm_total", "mbm_local", "osxsave", "ospke"})


@functools.cache
def _host_cpu() -> cpu_x86.CPUDef | None:
    """driver->hostcpu: probed once, as libvirt keeps it for the daemon's life."""
    return cpu_x86.host_cpu()


def _unsupported(message: str) -> NotSupportedError:
    """What libvirt's QEMU driver reports when this QEMU or architecture cannot answer a CPU question."""
    return NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, message)


class CpuCompareHooks(QemuConnectionBase):
    """The QEMU connection's virConnectCompareCPU, virConnectBaselineCPU and virConnectCompareHypervisorCPU."""

    @hookimpl
    def connect_compare_cpu(self, xml: str, flags: int) -> int:
        """qemuConnectCompareCPU: against the host CPU; an unknown host CPU compares as libvirt's x86 driver says."""
        check_flags(
            flags,
            VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE | VIR_CONNECT_COMPARE_CPU_VALIDATE_XML,
            "qemuConnectCompareCPU",
        )
        return cpu_x86.compare_xml(
            _host_cpu(),
            xml,
            os.uname().machine,
            bool(flags & VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE),
            bool(flags & VIR_CONNECT_COMPARE_CPU_VALIDATE_XML),
        )

    @hookimpl
    def connect_baseline_cpu(self, xml_cpus: list[str], flags: int) -> str:
        """qemuConnectBaselineCPU: the map's baseline, MIGRATABLE honoured, QEMU's never-used features dropped."""
        check_flags(
            flags,
            VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES | VIR_CONNECT_BASELINE_CPU_MIGRATABLE,
            "qemuConnectBaselineCPU",
        )
        return cpu_x86.baseline_xml(
            xml_cpus,
            bool(flags & VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES),
            bool(flags & VIR_CONNECT_BASELINE_CPU_MIGRATABLE),
            _NEVER_PASSED_TO_QEMU,
        )

    @hookimpl
    def connect_compare_hypervisor_cpu(
        self,
        emulator: str | None,
        arch: str | None,
        machine: str | None,
        virttype: str | None,
        xml_cpu: str,
        flags: int,
    ) -> int:
        """qemuConnectCompareHypervisorCPU: against the host-model CPU the emulator's capabilities give guests.

        The emulator, architecture, machine and virtualization type are resolved as for domcapabilities
        (virQEMUCapsCacheLookupDefault); the host-model is the one this driver's domcapabilities report.
        """
        check_flags(
            flags,
            VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE | VIR_CONNECT_COMPARE_CPU_VALIDATE_XML,
            "qemuConnectCompareHypervisorCPU",
        )
        path, arch_name, virt, probe = self._lookup_caps(emulator, arch, machine, virttype)
        host_model = probe.cpu_host_model(reported=True)  # VIR_QEMU_CAPS_HOST_CPU_REPORTED, as libvirt compares
        if host_model is None:
            raise _unsupported(f"QEMU '{path}' does not support reporting CPU model for virttype '{virt}'")
        if arch_name not in cpu_x86.X86_ARCHES:
            raise _unsupported(f"comparing with the hypervisor CPU is not supported for arch {arch_name}")
        hv_cpu = cpu_x86.CPUDef(
            type="guest",
            mode="custom",
            match="exact",
            fallback="forbid",
            model=host_model.model,
            vendor=host_model.vendor,
            features=[(name, cpu_x86.POLICIES.index(policy)) for policy, name in host_model.features],
        )
        return cpu_x86.compare_xml(
            hv_cpu,
            xml_cpu,
            arch_name,
            bool(flags & VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE),
            bool(flags & VIR_CONNECT_COMPARE_CPU_VALIDATE_XML),
        )

    def _lookup_caps(
        self, emulator: str | None, arch: str | None, machine: str | None, virttype: str | None
    ) -> tuple[str, str, str, EmulatorCaps]:
        """virQEMUCapsCacheLookupDefault: (binary, architecture, virtualization type, the capabilities under that
        type's accelerator), resolved as for domcapabilities."""
        from pyvirt_qemu.domain_capabilities import _emulator, _resolve
        from pyvirt_qemu.emulator_caps import emulator_caps

        # its own checks first: any of libvirt's virtualization types is accepted (only kvm is accelerated; the
        # rest get TCG's data), an unknown architecture is refused by name
        if virttype is not None and virttype not in _VIRT_TYPES:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown virttype: {virttype}")
        if arch is not None and arch not in ARCHES:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown architecture: {arch}")
        if emulator is not None and not os.path.exists(emulator):
            raise SystemCallError(errno.ENOENT, f"Cannot check QEMU binary {emulator}")
        path = os.path.realpath(_emulator(emulator, arch))
        caps = emulator_caps(path, self.state.paths.cache)
        wanted = virttype if virttype in (None, "kvm") else "qemu"
        arch_name, virt, _machine = _resolve(caps, arch, machine, wanted)
        if virttype not in (None, "kvm", "none"):
            virt = virttype
        probe = caps if virt == "kvm" or not caps.kvm else emulator_caps(path, self.state.paths.cache, tcg=True)
        return path, arch_name, virt, probe

    @hookimpl
    def connect_baseline_hypervisor_cpu(
        self,
        emulator: str | None,
        arch: str | None,
        machine: str | None,
        virttype: str | None,
        xml_cpus: list[str],
        flags: int,
    ) -> str:
        """qemuConnectBaselineHypervisorCPU: the x86 baseline limited to the models QEMU offers under the
        accelerator (with their blockers) and to the features of QEMU's host CPU expansion.

        As libvirt, every property of the expansion counts as a feature QEMU can give (whatever its value),
        less the non-migratable ones with --migratable; the map's own migratable filter is then not applied
        again. Without an expansion (QEMU too old) there is no feature limit and the map filters.
        """
        check_flags(
            flags,
            VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES | VIR_CONNECT_BASELINE_CPU_MIGRATABLE,
            "qemuConnectBaselineHypervisorCPU",
        )
        migratable = bool(flags & VIR_CONNECT_BASELINE_CPU_MIGRATABLE)
        cpus = cpu_x86.parse_cpu_list(xml_cpus, "auto")
        path, arch_name, virt, probe = self._lookup_caps(emulator, arch, machine, virttype)
        if not probe.cpu_blockers and not probe.cpu_models:
            raise _unsupported(f"QEMU '{path}' does not support any CPU models for virttype '{virt}'")
        if arch_name not in cpu_x86.X86_ARCHES:
            raise _unsupported(f"computing baseline hypervisor CPU is not supported for arch {arch_name}")
        models = probe.cpu_blockers or {name: [] for name in probe.cpu_models}
        features = probe.host_cpu_features(migratable)
        if features is not None:
            migratable = False  # QEMU already said which features migrate
        cpu = cpu_x86.baseline(cpus, arch_name, models, features, migratable)
        cpu.fallback = "forbid"
        if flags & VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES:
            cpu_x86.expand_features(cpu, arch_name)
        return cpu_x86.format_cpu(cpu)
