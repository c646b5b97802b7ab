"""The ``-cpu`` argument: the model, then its feature switches in libvirt's order.

After the model come the ``<cpu><feature>`` policies, paravirtual clocks,
KVM's PV EOI and PV spinlocks, the Hyper-V enlightenments a Windows guest
uses, the ``<kvm>`` hints, and the PMU. libvirt's feature names use ``_``
where QEMU's use ``-``; a few differ outright.
"""

from __future__ import annotations

from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_qemu import domain_validation

__all__ = ["cpu_argument"]

_QEMU_NAMES = {"pclmuldq": "pclmulqdq", "ds_cpl": "ds-cpl", "lahf_lm": "lahf-lm"}
# x86 features QEMU never had or dropped as useless: never passed on (virQEMUCapsCPUFilterFeatures)
_NEVER_PASSED_X86 = frozenset({"cmt", "mbm_total", "mbm_local", "osxsave", "ospke"})
_ON_OFF = {"require": "on", "force": "on", "disable": "off", "forbid": "off"}
_HYPERV = ("relaxed", "vapic", "spinlocks", "vpindex", "runtime", "synic", "stimer", "reset", "vendor_id",
           "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", "avic")  # fmt: skip


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


def _model(dom: Domain, migratable_option: bool = True) -> str:
    cpu = dom.cpu
    if cpu is not None and cpu.mode in ("host-passthrough", "maximum"):
        if cpu.mode == "host-passthrough" and dom.type != "kvm":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "CPU mode 'host-passthrough' for x86_64 qemu domain on x86_64 host is not "
                                    "supported by hypervisor")  # fmt: skip
        # QEMU's own default is migratable=on (no invariant TSC, ...); 'off' hands the guest everything the host has
        name = "host" if cpu.mode == "host-passthrough" else "max"
        arch = dom.os.type.arch if dom.os is not None and dom.os.type is not None else None
        if cpu.mode == "host-passthrough" and arch == "armv7l" and domain_validation.host_arch() == "aarch64":
            name += ",aarch64=off"  # a 32-bit guest on a 64-bit ARM host's own CPU
        if cpu.migratable is None or not migratable_option:  # a QEMU before 2.12 has no such property
            return name
        return f"{name},migratable={'on' if cpu.migratable else 'off'}"
    if cpu is not None and cpu.mode == "host-model":
        raise _unsupported("CPU mode 'host-model'")
    if cpu is not None and cpu.model is not None and cpu.model.name:
        return cpu.model.name
    emulator = dom.devices.emulator if dom.devices is not None and dom.devices.emulator else ""
    return "qemu32" if emulator.endswith("qemu-system-i386") else "qemu64"  # the binary's default model


def _hyperv(dom: Domain) -> list[str]:
    hv = dom.features.hyperv if dom.features is not None else None
    out: list[str] = []
    if hv is not None:
        if hv.mode == "passthrough":
            out.append("hv-passthrough=on")
        for name in _HYPERV:
            if getattr(hv, name) != "on":
                continue
            if name == "spinlocks":
                out.append(f"hv-spinlocks=0x{hv.spinlocks_retries or 0:x}")
            elif name == "vendor_id":
                out.append(f"hv-vendor-id={hv.vendor_id_value or ''}")
            else:
                out.append(f"hv-{name}=on")
                if name == "stimer" and hv.stimer_direct == "on":
                    out.append("hv-stimer-direct=on")
    if any(p.model == "hyperv" for p in (dom.devices.panics if dom.devices is not None else [])):
        out.append("hv-crash")
    return out


def _kvm(dom: Domain) -> list[str]:
    kvm = dom.features.kvm if dom.features is not None else None
    if kvm is None:
        return []
    out = []  # (<dirty-ring> is an accelerator property: see command_line's -accel)
    if kvm.hidden == "on":
        out.append("kvm=off")
    if kvm.hint_dedicated == "on":
        out.append("kvm-hint-dedicated=on")
    if kvm.poll_control == "on":
        out.append("kvm-poll-control=on")
    if kvm.pv_ipi == "off":
        out.append("kvm-pv-ipi=off")
    return out


def cpu_argument(dom: Domain, migratable_option: bool = True, cache_option: bool = True) -> str:
    """The whole ``-cpu`` value for ``dom``; ``migratable_option``: QEMU takes ``migratable=`` (libvirt's
    QEMU_CAPS_CPU_MIGRATABLE), ``cache_option``: it takes ``host-cache-info``/``l3-cache`` (QEMU_CAPS_CPU_CACHE)."""
    parts = [_model(dom, migratable_option)]
    cpu = dom.cpu
    if cpu is not None and cpu.model is not None and cpu.model.vendor_id:  # what CPUID reports as the vendor
        parts.append(f"vendor={cpu.model.vendor_id}")
    x86 = dom.os is not None and dom.os.type is not None and dom.os.type.arch in ("x86_64", "i686")
    for feature in (cpu.features or []) if cpu is not None else []:
        if x86 and feature.name in _NEVER_PASSED_X86:
            continue
        switch = _ON_OFF.get(feature.policy or "require")
        if switch is None or not feature.name:
            raise _unsupported(f"CPU feature policy '{feature.policy}'")
        parts.append(f"{_QEMU_NAMES.get(feature.name, feature.name.replace('_', '-'))}={switch}")
    for timer in (dom.clock.timers or []) if dom.clock is not None else []:
        if timer.name == "kvmclock" and timer.present is not None:
            parts.append(f"kvmclock={'on' if timer.present else 'off'}")
        elif timer.name == "hypervclock" and timer.present:
            parts.append("hv-time=on")
    f = dom.features
    if f is not None and f.apic_eoi:
        parts.append(f"kvm-pv-eoi={f.apic_eoi}")
    if f is not None and f.pvspinlock_state:
        parts.append(f"kvm-pv-unhalt={f.pvspinlock_state}")
    parts += _hyperv(dom)
    parts += _kvm(dom)
    if f is not None and f.pmu_state:
        parts.append(f"pmu={f.pmu_state}")
    parts += _cache_and_addresses(dom, cache_option)
    return ",".join(parts)


def _cache_and_addresses(dom: Domain, cache_option: bool) -> list[str]:
    """libvirt's qemuBuildCpuModelArgStr tail: ``<cache mode>`` and ``<maxphysaddr>`` (checked by
    ``domain_validation``): the cache source asked for, the other one turned off where QEMU can say so."""
    cpu = dom.cpu
    if cpu is None:
        return []
    out: list[str] = []
    host_off = l3_off = False
    if cpu.cache_mode == "emulate":
        out.append("l3-cache=on")
        host_off = True
    elif cpu.cache_mode == "passthrough":
        out.append("host-cache-info=on")
        l3_off = True
    elif cpu.cache_mode == "disable":
        host_off = l3_off = True
    if host_off and cpu.mode in ("host-passthrough", "maximum") and cache_option:
        out.append("host-cache-info=off")
    if l3_off and cache_option:
        out.append("l3-cache=off")
    if cpu.maxphysaddr_mode == "passthrough":
        out.append("host-phys-bits=on")
    elif cpu.maxphysaddr_mode == "emulate":
        out.append(f"phys-bits={cpu.maxphysaddr_bits}")
    return out
