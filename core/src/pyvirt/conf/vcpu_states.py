"""Each vCPU's state (``<vcpus>``), as libvirt's domain_conf.c keeps it: one entry per possible vCPU.

libvirt holds an array of ``maxvcpus`` entries (online, hotpluggable,
order) and formats it as ``<vcpus>`` only once the definition asked for
individual states (``individualvcpus``: the document had ``<vcpus>``, or a
vCPU was hot-plugged or changed by ``setvcpu``). Otherwise ``<vcpu
current=N>`` says the same: the first N are online. The model keeps both
forms in step: ``Vcpu.current`` is always the online count, ``Domain.vcpus``
is the full list when the states are individual and absent otherwise.
"""

from __future__ import annotations

from pyvirt.errors import ErrorCode, NotSupportedError, XMLError

TYPE_CHECKING = False  # typing only for type checkers (see conf/xmlmodel.py): on every command's read path
if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain, VcpuEntry

__all__ = ["check_vcpu_states", "online_count", "store_vcpu_states", "vcpu_states"]


def _entry(vcpu_id: int, online: bool, hotpluggable: bool | None = None, order: int | None = None) -> VcpuEntry:
    from pyvirt.conf.domain import VcpuEntry

    return VcpuEntry(id=vcpu_id, enabled=online, hotpluggable=hotpluggable, order=order or None)


def vcpu_states(dom: Domain) -> list[VcpuEntry]:
    """Every possible vCPU's entry, by id (copies: change them and give them to ``store_vcpu_states``).

    Without ``<vcpus>`` the first ``current`` are online and not
    hotpluggable, the rest offline and hotpluggable (virDomainVcpuDefPostParse).
    """
    assert dom.vcpu is not None
    maximum = dom.vcpu.count or 1
    if dom.vcpus:
        return [e.model_copy() for e in dom.vcpus]
    current = dom.vcpu.current if dom.vcpu.current is not None else maximum
    return [_entry(i, i < current, i >= current) for i in range(maximum)]


def online_count(dom: Domain) -> int:
    """virDomainDefGetVcpus."""
    return sum(1 for e in vcpu_states(dom) if e.enabled)


def store_vcpu_states(dom: Domain, states: list[VcpuEntry], individual: bool) -> None:
    """The entries back into the definition: ``current`` (written only while some vCPU is offline, as
    virDomainCpuDefFormat does) and, with ``individual``, the ``<vcpus>`` list (order 0 is not written)."""
    assert dom.vcpu is not None
    online = sum(1 for e in states if e.enabled)
    dom.vcpu.count = len(states)
    dom.vcpu.current = online if online != len(states) else None
    for e in states:
        e.order = e.order or None
    dom.vcpus = states if individual else None


def check_vcpu_states(dom: Domain) -> None:
    """virDomainVcpuParse and virDomainVcpuDefPostParse: ``<vcpus>`` entries (id and enabled required, ids
    below the maximum) take precedence over ``current``; a missing hotpluggable follows the state."""
    assert dom.vcpu is not None and dom.vcpu.count is not None
    maximum = dom.vcpu.count
    if not dom.vcpus:
        dom.vcpus = None
        if dom.vcpu.current is not None and dom.vcpu.current > maximum:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "maximum vCPU count must not be less than current vCPU count")  # fmt: skip
        if dom.vcpu.current == maximum:
            dom.vcpu.current = None
        return
    states = [_entry(i, False) for i in range(maximum)]  # virDomainVcpuDefNew: offline
    for given in dom.vcpus:
        if given.id is None:
            raise XMLError(ErrorCode.XML_ERROR, "Missing required attribute 'id' in element 'vcpu'")
        if given.id < 0:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid value for attribute 'id' in element 'vcpu': "
                           f"'{given.id}'. Expected non-negative integer value")  # fmt: skip
        if given.id >= maximum:
            raise XMLError(ErrorCode.XML_ERROR, f"vcpu id '{given.id}' is out of range of maximum vcpu count")
        if given.enabled is None:
            raise XMLError(ErrorCode.XML_ERROR, "Missing required attribute 'enabled' in element 'vcpu'")
        states[given.id] = _entry(given.id, given.enabled, given.hotpluggable, given.order)
    for i, e in enumerate(states):
        if e.hotpluggable is None:
            e.hotpluggable = not e.enabled
        elif not e.hotpluggable and not e.enabled:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"vcpu '{i}' is both offline and not hotpluggable")
    store_vcpu_states(dom, states, individual=True)
