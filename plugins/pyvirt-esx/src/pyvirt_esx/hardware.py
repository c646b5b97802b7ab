"""A VM's memory and virtual CPUs, changed through ReconfigVM_Task as libvirt's ESX driver changes them.

What maps to what (esxDomainSetMemoryFlags, esxDomainSetMaxMemory,
esxDomainSetVcpusFlags, esxDomainGetInfo):

- the *current* memory is the VM's memory limit (``memoryAllocation.limit``,
  MiB, -1 or unset for none), so it can change while the VM runs; dominfo's
  "Used memory" is that limit when one is set, the configured size otherwise;
- the *maximum* memory is the configured size (``hardware.memoryMB``), a
  multiple of 4 MiB, changed only while the VM is powered off;
- vCPUs are ``hardware.numCPU``, at most the host's ``maxSupportedVcpus``.

libvirt's ESX driver takes no flag on virDomainSetMemoryFlags, so virsh 9.0's
``setmem`` (which always passes VIR_DOMAIN_AFFECT_LIVE) and ``setmaxmem``
(VIR_DOMAIN_MEM_MAXIMUM) fail against it; here those flags select the
setting above, and a change always reaches the VM's stored configuration,
which is what ReconfigVM_Task does. A failed task reports vSphere's fault
text under libvirt's INTERNAL_ERROR, with libvirt's words before it.
"""

from __future__ import annotations

from typing import Any

from pyvirt.errors import ErrorCode
from pyvirt.flags import DomainMemoryModFlags, DomainModificationImpact
from pyvirt.plugin.flags import check_flags
from pyvirt_esx.vmomi import vim as _vim
from pyvirt_esx.vmomi import vmodl
from pyvirt_esx.vsphere import Session, esx_error, fault_text

__all__ = ["current_memory_kib", "set_memory", "set_vcpus"]

vim: Any = _vim  # pyVmomi builds its types at run time: untyped for mypy

AFFECT_LIVE, AFFECT_CONFIG = DomainModificationImpact.LIVE, DomainModificationImpact.CONFIG
MEM_MAXIMUM = DomainMemoryModFlags.MAXIMUM


def current_memory_kib(max_kib: int, limit_mib: int | None) -> int:
    """esxDomainGetInfo: the memory limit when one is set (> 0), else the configured size."""
    return int(limit_mib) * 1024 if limit_mib is not None and int(limit_mib) > 0 else max_kib


def _reconfigure(session: Session, vm: Any, spec: Any, what: str) -> None:
    try:
        task = vm.ReconfigVM_Task(spec=spec)
    except vmodl.MethodFault as err:  # refused before a task exists
        raise esx_error(ErrorCode.INTERNAL_ERROR, f"{what}: {fault_text(err)}") from None
    session.wait(task, what, ErrorCode.INTERNAL_ERROR)


def set_memory(session: Session, vm: Any, memory_kib: int, flags: int) -> None:
    """The limit (current memory), or with MEM_MAXIMUM the configured size (powered off only)."""
    check_flags(flags, AFFECT_LIVE | AFFECT_CONFIG | MEM_MAXIMUM, "esxDomainSetMemoryFlags")
    spec: Any = vim.vm.ConfigSpec()
    if flags & MEM_MAXIMUM:
        if vm.runtime.powerState != "poweredOff":
            raise esx_error(ErrorCode.OPERATION_INVALID, "Domain is not powered off")
        spec.memoryMB = -(-memory_kib // 4096) * 4  # whole multiples of 4 MiB, rounded up, as ESX needs
        _reconfigure(session, vm, spec, f"Could not set max-memory to {memory_kib} kilobytes")
        return
    spec.memoryAllocation = vim.ResourceAllocationInfo(limit=-(-memory_kib // 1024))
    _reconfigure(session, vm, spec, f"Could not set memory to {memory_kib} kilobytes")


def max_vcpus(session: Session) -> int | None:
    """esxDomainGetMaxVcpus: what the host supports per VM; None when the host does not say.

    A real host always says; vcsim 0.24 leaves ``capability`` unset. Without
    the figure the count goes to ReconfigVM_Task unchecked and the host's
    own validation (its fault) is what refuses too many.
    """
    value = session.property(session.host, "capability.maxSupportedVcpus")
    return int(value) if value is not None else None


def set_vcpus(session: Session, vm: Any, count: int, flags: int) -> None:
    check_flags(flags, AFFECT_LIVE | AFFECT_CONFIG, "esxDomainSetVcpusFlags")
    if count < 1:
        raise esx_error(ErrorCode.INVALID_ARG, "Requested number of virtual CPUs must at least be 1")
    most = max_vcpus(session)
    if most is not None and count > most:
        raise esx_error(ErrorCode.INVALID_ARG, "Requested number of virtual CPUs is greater than max allowable "
                        f"number of virtual CPUs for the domain: {count} > {most}")  # fmt: skip
    spec: Any = vim.vm.ConfigSpec(numCPUs=count)
    _reconfigure(session, vm, spec, f"Could not set number of virtual CPUs to {count}")
