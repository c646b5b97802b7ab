"""The persistent side of vCPU hot-plug: libvirt 9.0's changes to a stored definition's vCPUs, and the QEMU
driver's post-parse rules for ``<vcpus>`` (qemu_hotplug.c, qemu_driver.c, qemu_domain.c).

A definition that is not running has no QEMU to ask: ``setvcpus --config``
marks vCPUs online or offline (from the lowest id up, from the highest down),
``--maximum`` resizes the list, ``setvcpu --config`` flips the vCPUs named.
Each clears the recorded ``order``, which only a running guest can tell.
Also here, being about the definition alone: how many vCPUs ``-smp`` starts.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.domain import Domain, VcpuEntry
from pyvirt.conf.vcpu_states import store_vcpu_states, vcpu_states
from pyvirt.errors import ErrorCode, InvalidArgumentError, NotSupportedError

__all__ = [
    "check_vcpu_post_parse", "config_count", "config_maximum", "config_vcpu", "startup_smp_count",
    "validate_config_change",
]  # fmt: skip


def _invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(ErrorCode.INVALID_ARG, message)


def _unsupported(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def startup_smp_count(dom: Domain) -> int:
    """qemuBuildSmpCommandLine: ``-smp`` starts the online vCPUs that are not hotpluggable; the others are
    plugged once QEMU runs."""
    return sum(1 for e in vcpu_states(dom) if e.enabled and not e.hotpluggable)


def check_vcpu_post_parse(dom: Domain) -> None:
    """qemuDomainDefVcpusPostParse: vCPU 0 online, not hotpluggable and first; orders on all online vCPUs or
    none; the non-hotpluggable online vCPUs before the hotpluggable ones, in ascending order."""
    states = vcpu_states(dom)
    first = states[0]
    if not first.enabled:
        raise _unsupported("vcpu 0 can't be offline")
    if first.hotpluggable:
        raise _unsupported("vcpu0 can't be hotpluggable")
    if (first.order or 0) not in (0, 1):
        raise _unsupported("vcpu0 must be enabled first")
    has_order = bool(first.order)
    previous = first
    for e in states[1:]:
        if e.enabled and bool(e.order) != has_order:
            raise _unsupported("all vcpus must have either set or unset order")
        if e.hotpluggable is False:
            if previous.hotpluggable:
                raise _unsupported("online non-hotpluggable vcpus need to be ordered prior to hotplugable vcpus")
            if (previous.order or 0) > (e.order or 0):
                raise _unsupported("online non-hotpluggable vcpus must be ordered in ascending order")
        previous = e


def config_count(d: Domain, nvcpus: int, hotpluggable: bool) -> None:
    """qemuDomainSetVcpusConfig: plug offline vCPUs from the lowest id (hotpluggable once an online one is),
    unplug from the highest (they become hotpluggable); the order is cleared."""
    states = vcpu_states(d)
    individual = bool(d.vcpus)
    for e in states:
        e.order = None
    current = sum(1 for e in states if e.enabled)
    if current < nvcpus:
        for e in states:
            if e.enabled:
                hotpluggable = hotpluggable or bool(e.hotpluggable)
                continue
            e.enabled, e.hotpluggable = True, hotpluggable
            individual = individual or hotpluggable
            current += 1
            if current == nvcpus:
                break
    elif current > nvcpus:
        for e in reversed(states):
            if not e.enabled:
                continue
            e.enabled, e.hotpluggable = False, True
            current -= 1
            if current == nvcpus:
                break
    store_vcpu_states(d, states, individual)


def _numa_cpus(d: Domain) -> int:
    """virDomainNumaGetCPUCountTotal: the vCPUs the guest's NUMA cells name (the cells are kept as text)."""
    if d.cpu is None or not d.cpu.numa:
        return 0
    cells = etree.fromstring(f"<numa>{d.cpu.numa}</numa>".encode()).iterchildren("cell")
    return sum(len(parse_bitmap(str(c.get("cpus") or ""), "cpus")) for c in cells)


def config_maximum(d: Domain, nvcpus: int) -> None:
    """qemuDomainSetVcpusMax on the persistent definition: the topology must agree; new vCPUs are offline."""
    cpu = d.cpu
    numa_cpus = _numa_cpus(d)
    if numa_cpus > nvcpus:
        raise _invalid("Number of CPUs in <numa> exceeds the desired maximum vcpu count")
    if cpu is not None and cpu.topology_sockets:
        total = (
            cpu.topology_sockets * (cpu.topology_dies or 1) * (cpu.topology_cores or 1) * (cpu.topology_threads or 1)
        )
        if total != nvcpus:
            raise _invalid("CPU topology doesn't match the desired vcpu count")
    states = vcpu_states(d)
    for e in states:
        e.order = None
    states = states[:nvcpus] + [VcpuEntry(id=i, enabled=False, hotpluggable=True) for i in range(len(states), nvcpus)]
    store_vcpu_states(d, states, bool(d.vcpus))


def validate_config_change(d: Domain, wanted: set[int]) -> None:
    """qemuDomainVcpuValidateConfig: vCPU 0 stays; the non-hotpluggable online vCPUs stay first."""
    if 0 in wanted:
        raise _invalid("vCPU '0' can't be modified")
    states = vcpu_states(d)
    first = min(wanted)
    for i in range(first + 1, len(states)):
        if i not in wanted and states[i].enabled and not states[i].hotpluggable:
            raise _invalid(f"vcpu '{first}' can't be modified as it is followed by non-hotpluggable online vcpus")


def config_vcpu(d: Domain, wanted: set[int], state: bool) -> None:
    """qemuDomainSetVcpuConfig: the vCPUs' state, each hotpluggable; individual states from now on."""
    states = vcpu_states(d)
    for e in states:
        e.order = None
        if e.id is not None and e.id in wanted:
            e.enabled, e.hotpluggable = state, True
    store_vcpu_states(d, states, individual=True)
