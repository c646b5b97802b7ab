"""vCPU hot-plug on QEMU guests: libvirt 9.0's setvcpus / setvcpu (qemu_hotplug.c, qemu_domain.c).

QEMU describes every possible vCPU entity with ``query-hotpluggable-cpus``
(its device type and topology properties, and a ``qom-path`` once it
exists); ``query-cpus-fast`` lists the running ones, in the order they were
created, with their threads. libvirt matches the two (qemuMonitorGetCPUInfo):
an entity whose path ends in ``vcpuN`` was plugged by libvirt and can be
unplugged; the others were created by ``-smp`` and stay. Plugging is
``device_add`` of the entity's type and properties with id ``vcpuN``;
unplugging is ``device_del`` and waiting for QEMU's DEVICE_DELETED (the
guest must let the CPU go by ACPI: QEMU refuses at once without ACPI, a guest
without an OS never does, and then the request times out as libvirt's does;
it completes if the event comes later). The guest agent's path (``--guest``)
onlines or offlines CPUs inside the guest instead.

The vCPUs marked online and hotpluggable in ``<vcpus>`` are plugged this
way right after QEMU starts (``-smp`` counts only the others). The running
definition writes ``<vcpus>`` from the first hot-plug on, with each online
vCPU's ``order`` (when it came up), as libvirt's qemuDomainVcpuPersistOrder.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.domain import Domain, VcpuEntry
from pyvirt.conf.vcpu_states import online_count, store_vcpu_states, vcpu_states
from pyvirt.domain_state import DomainState
from pyvirt.errors import (
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)
from pyvirt.flags import DomainModificationImpact, DomainVcpuFlags
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.cpu_affinity import pin_vcpus
from pyvirt_qemu.guest_agent import GuestAgent
from pyvirt_qemu.hotplug import DETACH_TIMEOUT
from pyvirt_qemu.qmp_checked import execute_checked
from pyvirt_qemu.vcpu_config import config_count, config_maximum, config_vcpu, validate_config_change

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyvirt_qemu.process import QemuProcess
    from pyvirt_qemu.state import DomainObj

__all__ = ["VcpuHooks", "plugs_vcpus_at_start", "refresh_vcpu_states", "start_vcpus"]

_AFFECT = DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG
_SET_VCPUS = _AFFECT | DomainVcpuFlags.MAXIMUM | DomainVcpuFlags.GUEST | DomainVcpuFlags.HOTPLUGGABLE
_GUEST_VCPU_MAX_ID = 4096  # QEMU_GUEST_VCPU_MAX_ID
_TOPOLOGY = ("socket-id", "die-id", "core-id", "thread-id")


@dataclass
class Slot:
    """qemuMonitorCPUInfo of one vCPU: a hotpluggable entity's first vCPU has ``vcpus`` > 0, its siblings 0."""

    online: bool = False
    hotpluggable: bool = False
    vcpus: int = 0
    type: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    alias: str | None = None
    enable_id: int = 0
    tid: int = 0


def _invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(ErrorCode.INVALID_ARG, message)


def _unsupported(message: str, code: ErrorCode = ErrorCode.CONFIG_UNSUPPORTED) -> NotSupportedError:
    return NotSupportedError(code, message)


def query_slots(proc: QemuProcess, maxvcpus: int) -> list[Slot]:
    """qemuMonitorGetCPUInfo and qemuDomainRefreshVcpuInfo: every possible vCPU, with its plug data and thread."""
    entities = execute_checked(proc, "query-hotpluggable-cpus")
    running = execute_checked(proc, "query-cpus-fast")
    for entity in entities:
        if "type" not in entity:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "query-hotpluggable-cpus didn't return device type")
        props = entity.get("props") or {}
        if not any(k in props for k in ("node-id", "socket-id", "core-id", "thread-id")):
            raise InternalError(ErrorCode.INTERNAL_ERROR,
                                "query-hotpluggable-cpus entry doesn't report topology information")  # fmt: skip
    entities.sort(key=lambda e: tuple(int(e["props"].get(k, -1)) for k in _TOPOLOGY))
    slots = _match(entities, running, maxvcpus)
    if slots is None:  # qemuMonitorGetCPUInfoLegacy: a vCPU per entity, the threads by position, no plug data
        threads = [int(c.get("thread-id", 0)) for c in running]
        slots = [Slot(vcpus=1, tid=threads[i] if i < len(threads) else 0) for i in range(maxvcpus)]
    tids = [s.tid for s in slots if s.tid]
    if proc.pid in tids or len(set(tids)) != len(tids):
        for s in slots:  # TCG without MTTCG: the threads are not the vCPUs' own (libvirt's validTIDs)
            s.tid = 0
    return slots


def _match(entities: list[dict[str, Any]], running: list[dict[str, Any]], maxvcpus: int) -> list[Slot] | None:
    """qemuMonitorGetCPUInfoHotplug: QEMU's entities (sorted by topology) matched with its running vCPUs;
    None where they do not add up (libvirt then reads them the legacy way)."""
    if sum(int(e.get("vcpus-count", 1)) for e in entities) != maxvcpus:
        return None
    paths = [str(c.get("qom-path", "")).split("/thread")[0] for c in running]
    order = 1
    enable_ids: dict[str, int] = {}
    for path in paths:  # the order QEMU created them in: libvirt's ``order``
        if path and path not in enable_ids and any(e.get("qom-path") == path for e in entities):
            enable_ids[path] = order
            order += 1
    slots = [Slot() for _ in range(maxvcpus)]
    first: dict[str, int] = {}
    main = 0
    for entity in entities:
        count = int(entity.get("vcpus-count", 1))
        qom = entity.get("qom-path")
        tail = str(qom).rsplit("/", 1)[-1] if qom else ""
        alias = tail if tail.startswith("vcpu") else None  # (plugged by libvirt, so it may unplug it)
        for sub in range(main, main + count):
            slots[sub].online = qom is not None
            slots[sub].hotpluggable = alias is not None or qom is None
        slot = slots[main]
        slot.vcpus, slot.type, slot.props, slot.alias = count, str(entity["type"]), dict(entity["props"]), alias
        if qom:
            slot.enable_id = enable_ids.get(str(qom), 0)
            first[str(qom)] = main
        main += count
    for c, path in zip(running, paths, strict=True):
        at = first.get(path)
        if at is None:
            return None
        while slots[at].vcpus != 1 and slots[at].tid and at + 1 < maxvcpus:
            at += 1  # a core's threads: the next vCPU of the entity without a thread yet
        slots[at].tid = int(c.get("thread-id", 0))
    return slots


def _persist_order(states: list[VcpuEntry], slots: list[Slot]) -> None:
    """qemuDomainVcpuPersistOrder: an online vCPU's order is its entity's (siblings take the previous one)."""
    previous = 0
    for e, s in zip(states, slots, strict=True):
        if not e.enabled:
            e.order = None
        else:
            previous = s.enable_id or previous
            e.order = previous or None


def _device_props(slot: Slot, alias: str) -> dict[str, Any]:
    """qemuBuildHotpluggableCPUProps: driver and id before QEMU's properties."""
    return {"driver": slot.type, "id": alias, **slot.props}


def refresh_vcpu_states(proc: QemuProcess, live: Domain) -> bool:
    """qemuDomainRefreshVcpuInfo with ``state`` (qemuProcessReconnect): each vCPU is online and hotpluggable
    as QEMU has it now, not as the status file says; they differ when a vCPU went or came while no daemon
    watched. QEMU's legacy answer (no entity online) carries no state and changes nothing. Returns whether
    a state changed."""
    states = vcpu_states(live)
    slots = query_slots(proc, len(states))
    if not any(s.online for s in slots):
        return False
    changed = False
    for entry, slot in zip(states, slots, strict=True):
        changed = changed or entry.enabled != slot.online or bool(entry.hotpluggable) != slot.hotpluggable
        entry.enabled, entry.hotpluggable = slot.online, slot.hotpluggable
    if changed:
        store_vcpu_states(live, states, individual=bool(live.vcpus))
    return changed


def plugs_vcpus_at_start(dom: Domain) -> bool:
    """qemuDomainHasHotpluggableStartupVcpus: some online vCPU is hotpluggable (plugged once QEMU runs)."""
    return any(e.enabled and e.hotpluggable for e in dom.vcpus or [])


def start_vcpus(proc: QemuProcess, live: Domain, incoming_fd: int | None = None) -> None:
    """qemuProcessSetupHotpluggableVcpus and the refresh after it: the online hotpluggable vCPUs of an
    individual ``<vcpus>`` are plugged, in their ``order``, then every online vCPU's order is recorded.

    ``incoming_fd``: a save image QEMU waits for (``-incoming defer``), given to it once its vCPUs are all
    there, as libvirt's restore runs the incoming migration after the start's vCPU setup (closed here).
    """
    try:
        if live.vcpus:  # (no <vcpus>: -smp started them all, and no order is written)
            _plug_at_start(proc, live)
        if incoming_fd is not None:
            proc.monitor.pass_fd(incoming_fd, "pyvirt-incoming")
            execute_checked(proc, "migrate-incoming", {"uri": "fd:pyvirt-incoming"})
    finally:
        if incoming_fd is not None:
            os.close(incoming_fd)


def _plug_at_start(proc: QemuProcess, live: Domain) -> None:
    states = vcpu_states(live)
    slots = query_slots(proc, len(states))
    if plugs_vcpus_at_start(live):
        _validate_startup(states, slots)
        plug = [
            i for i, (e, s) in enumerate(zip(states, slots, strict=True)) if e.enabled and e.hotpluggable and s.vcpus
        ]
        for i in sorted(plug, key=lambda i: states[i].order or 0):
            execute_checked(proc, "device_add", _device_props(slots[i], f"vcpu{i}"))
        slots = query_slots(proc, len(states))
        pin_vcpus(live, proc.monitor)  # (-smp's vCPUs were pinned as QEMU started)
    _persist_order(states, slots)
    store_vcpu_states(live, states, individual=True)


def _validate_startup(states: list[VcpuEntry], slots: list[Slot]) -> None:
    """qemuProcessValidateHotpluggableVcpus: unique orders, an entity's vCPUs alike, plug data present."""
    seen: set[int] = set()
    for i, (e, s) in enumerate(zip(states, slots, strict=True)):
        if s.vcpus == 0:
            continue
        if e.order:
            if e.order in seen:
                raise _unsupported(f"duplicate vcpu order '{e.order}'")
            if e.order > len(states):
                raise _unsupported(f"vcpu order '{e.order}' exceeds vcpu count")
            seen.add(e.order)
        for j in range(i + 1, i + s.vcpus):
            o = states[j]
            if (o.hotpluggable, o.enabled, o.order or 0) != (e.hotpluggable, e.enabled, e.order or 0):
                raise _unsupported(f"vcpus '{i}' and '{j}' are in the same hotplug group but differ in configuration")
        if e.enabled and e.hotpluggable and not s.type:
            raise _unsupported(f"vcpu '{i}' is missing hotplug data")


def _select(states: list[VcpuEntry], slots: list[Slot], nvcpus: int) -> tuple[list[int], bool]:
    """qemuDomainSelectHotplugVcpuEntities: entities to plug from the lowest id, or unplug from the highest."""
    current = sum(1 for e in states if e.enabled)
    picked: list[int] = []
    granularity = "target vm vcpu granularity does not allow the desired vcpu count"
    enable = nvcpus > current
    if enable:
        for i, (e, s) in enumerate(zip(states, slots, strict=True)):
            if current >= nvcpus:
                break
            if e.enabled or s.vcpus == 0:
                continue
            current += s.vcpus
            if current > nvcpus:
                raise _unsupported(granularity)
            picked.append(i)
    else:
        for i in range(len(states) - 1, -1, -1):
            if current <= nvcpus:
                break
            e, s = states[i], slots[i]
            if not e.enabled or s.vcpus == 0 or not s.alias:
                continue
            current -= s.vcpus
            if current < nvcpus:
                raise _unsupported(granularity)
            picked.append(i)
    if current != nvcpus:
        raise _unsupported("failed to find appropriate hotpluggable vcpus to reach the desired target vcpu count")
    return picked, enable


def _filter_entities(states: list[VcpuEntry], slots: list[Slot], wanted: set[int], state: bool) -> list[int]:
    """qemuDomainFilterHotplugVcpuEntities: the entities behind the vCPUs asked, each asked whole."""
    for i in sorted(wanted):
        if i >= len(states):
            continue
        if bool(states[i].enabled) == state:
            raise _invalid(f"vcpu '{i}' is already in requested state")
        if states[i].enabled and states[i].hotpluggable is None:
            # libvirt tests the tristate as a C truth value: only "absent" (never so after parsing) is refused
            # here, and a non-hotpluggable vCPU meets "can't be unplugged" when its removal is tried
            raise _invalid(f"vcpu '{i}' can't be hotunplugged")
    picked = []
    rest = set(wanted)
    for i in sorted(wanted):
        if i not in rest or i >= len(states):
            continue
        if slots[i].vcpus == 0:
            raise _invalid(f"vcpu '{i}' belongs to a larger hotpluggable entity, but siblings were not selected")
        for j in range(i + 1, i + slots[i].vcpus):
            if j not in wanted:
                raise _invalid(f"vcpu '{j}' was not selected but it belongs to hotpluggable entity "
                               f"'{i}-{i + slots[i].vcpus - 1}' which was partially selected")  # fmt: skip
            rest.discard(j)
        picked.append(i)
    return picked


def _agent_plan(nvcpus: int, info: list[tuple[int, bool, bool]]) -> list[tuple[int, bool]]:
    """qemuAgentUpdateCPUInfo: which guest CPUs to online or offline to reach ``nvcpus`` (CPU 0 stays, unless
    the guest reports another that cannot go offline)."""
    online = sum(1 for _, on, _ in info if on)
    cpus = [[i, on, off and on] for i, on, off in info]
    if any(not on and not off for _, on, off in info):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "Invalid data provided by guest agent")
    offlinable = sum(1 for c in cpus if c[2])
    if offlinable == online:
        for c in cpus:
            if c[0] == 0 and c[1]:
                c[2] = False
                offlinable -= 1
    if nvcpus > len(info):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "guest agent reports less cpu than requested")
    if nvcpus < online - offlinable:
        raise _invalid("Cannot offline enough CPUs")
    changes: list[tuple[int, bool]] = []
    for c in cpus:
        if nvcpus < online and c[2] and c[1]:
            changes.append((int(c[0]), False))
            online -= 1
        elif nvcpus > online and not c[1]:
            changes.append((int(c[0]), True))
            online += 1
        elif nvcpus == online:
            break
    return changes


class VcpuHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    def _finish_unplug(self, obj: DomainObj, first: int) -> Callable[[], None]:
        """qemuDomainRemoveVcpuAlias for a DEVICE_DELETED that came after the wait: the vCPUs go offline."""

        def run() -> None:
            with contextlib.suppress(Error), obj.job.holding(Job.MODIFY):
                proc = obj.process
                if proc is None or not proc.alive():
                    return
                self._mark_removed(obj, proc, first)
                self.state.save_status(obj)

        return run

    def _mark_removed(self, obj: DomainObj, proc: QemuProcess, first: int) -> None:
        """qemuDomainRemoveVcpu: the entity's vCPUs are offline once QEMU no longer reports a thread for them."""
        with obj.lock:
            states = vcpu_states(obj.live)
        slots = query_slots(proc, len(states))
        old = sum(1 for e in states if e.enabled)
        count = max(slots[first].vcpus, 1)
        still = [i for i in range(first, first + count) if slots[i].tid or slots[i].online]
        for i in range(first, first + count):
            if i not in still:
                states[i].enabled = False
        _persist_order(states, slots)
        with obj.lock:
            store_vcpu_states(obj.live, states, individual=True)
        g = self.state.audit_guest(obj, proc.pid)
        self.state.auditor.vcpu(g, old, old - count, "update", not still)
        if still:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"qemu reported thread id for inactive vcpu '{still[0]}'")

    def _plug(self, obj: DomainObj, proc: QemuProcess, slots: list[Slot], first: int) -> None:
        """qemuDomainHotplugAddVcpu: device_add of the entity, then its vCPUs are online with their order."""
        with obj.lock:
            states = vcpu_states(obj.live)
        old = sum(1 for e in states if e.enabled)
        count = slots[first].vcpus
        g = self.state.audit_guest(obj, proc.pid)
        try:
            execute_checked(proc, "device_add", _device_props(slots[first], f"vcpu{first}"))
        except Error:
            self.state.auditor.vcpu(g, old, old + count, "update", False)
            raise
        self.state.auditor.vcpu(g, old, old + count, "update", True)
        after = query_slots(proc, len(states))
        with obj.lock:
            current = obj.live.model_copy(deep=True)
        pin_vcpus(current, proc.monitor)  # qemuProcessSetupVcpu: its <vcpupin>, else <vcpu cpuset>
        for i in range(first, first + count):
            states[i].enabled, states[i].hotpluggable = True, True
        _persist_order(states, after)
        with obj.lock:
            store_vcpu_states(obj.live, states, individual=True)  # written from now on, as libvirt does
        self.state.save_status(obj)
        missing = next((i for i in range(first, first + count) if not after[i].tid), None)
        if missing is not None and any(s.tid for s in after):
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"qemu didn't report thread id for vcpu '{missing}'")

    def _unplug(self, obj: DomainObj, proc: QemuProcess, slots: list[Slot], first: int) -> None:
        """qemuDomainHotplugDelVcpu: device_del, then libvirt's wait for DEVICE_DELETED."""
        alias = slots[first].alias
        if not alias:
            raise _unsupported(f"vcpu '{first}' can't be unplugged", ErrorCode.OPERATION_UNSUPPORTED)
        try:
            execute_checked(proc, "device_del", {"id": alias})
        except Error:
            with obj.lock:
                old = online_count(obj.live)
            g = self.state.audit_guest(obj, proc.pid)
            self.state.auditor.vcpu(g, old, old - slots[first].vcpus, "update", False)
            raise
        if not obj.deleted.wait_or_defer(alias, DETACH_TIMEOUT, self._finish_unplug(obj, first)):
            raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, "vcpu unplug request timed out. Unplug result "
                                       "must be manually inspected in the domain")  # fmt: skip
        self._mark_removed(obj, proc, first)
        self.state.save_status(obj)

    def _live_entities(self, obj: DomainObj, proc: QemuProcess) -> tuple[list[VcpuEntry], list[Slot]]:
        with obj.lock:
            states = vcpu_states(obj.live)
        return states, query_slots(proc, len(states))

    @hookimpl
    def domain_set_vcpus(self, dom: DomainRef, count: int, flags: int) -> None:
        """qemuDomainSetVcpusFlags: the guest agent's CPUs, the maximum (persistent only), or the count, live
        by hot(un)plug and/or in the persistent definition."""
        check_flags(flags, _SET_VCPUS, "qemuDomainSetVcpusFlags")
        obj = self.state.find(dom)
        if flags & DomainVcpuFlags.GUEST:
            self._set_guest_count(obj, count, flags)
            return
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            persistent = obj.persistent_def() if config else None
            if flags & DomainVcpuFlags.MAXIMUM:
                if live:
                    raise _unsupported("maximum vcpu count of a live domain can't be modified",
                                       ErrorCode.OPERATION_UNSUPPORTED)  # fmt: skip
                assert persistent is not None
                config_maximum(persistent, count)
                self.state.save_config(persistent)
                return
            if live:
                with obj.lock:
                    maximum = len(vcpu_states(obj.live))
                if count > maximum:
                    raise _invalid("requested vcpus is greater than max allowable vcpus for the live domain: "
                                   f"{count} > {maximum}")  # fmt: skip
            if persistent is not None and count > len(vcpu_states(persistent)):
                raise _invalid("requested vcpus is greater than max allowable vcpus for the persistent domain: "
                               f"{count} > {len(vcpu_states(persistent))}")  # fmt: skip
            if live:
                proc = self._still_running(obj)
                states, slots = self._live_entities(obj, proc)
                picked, enable = _select(states, slots, count)
                for first in picked:
                    if enable:
                        self._plug(obj, proc, slots, first)
                    else:
                        self._unplug(obj, proc, slots, first)
            if persistent is not None:
                config_count(persistent, count, bool(flags & DomainVcpuFlags.HOTPLUGGABLE))
                self.state.save_config(persistent)

    def _set_guest_count(self, obj: DomainObj, count: int, flags: int) -> None:
        """qemuDomainSetVcpusAgent: the guest onlines or offlines its CPUs through the agent."""
        self._affect(obj, flags, "transient domains do not have any persistent config")
        if obj.state != DomainState.RUNNING or obj.process is None:  # qemuDomainAgentAvailable
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        with obj.lock:
            enabled = online_count(obj.live)
        agent = GuestAgent(obj.live, obj.agent_open, obj.agent_timeout)
        if count > enabled:
            raise _invalid("requested vcpu count is greater than the count of enabled vcpus in the domain: "
                           f"{count} > {enabled}")  # fmt: skip
        reply = agent.execute("guest-get-vcpus")
        if not isinstance(reply, list):
            raise InternalError(ErrorCode.INTERNAL_ERROR, "guest-get-vcpus reply was missing return data")
        info = [(int(c["logical-id"]), bool(c["online"]), bool(c["can-offline"])) for c in reply]
        changes = _agent_plan(count, info)
        while changes:
            done = agent.execute("guest-set-vcpus", {"vcpus": [{"logical-id": i, "online": on}
                                                               for i, on in changes]})  # fmt: skip
            if not isinstance(done, int) or done <= 0 or done > len(changes):
                raise InternalError(ErrorCode.INTERNAL_ERROR, "guest agent returned malformed or invalid return value")
            changes = changes[done:]

    @hookimpl
    def domain_set_vcpu(self, dom: DomainRef, cpumap: str, state: int, flags: int) -> None:
        """qemuDomainSetVcpu: one hotpluggable entity live, any vCPUs but 0 in the persistent definition."""
        check_flags(flags, _AFFECT, "qemuDomainSetVcpu")
        if state not in (0, 1):
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "unsupported state value", verbatim=False)
        try:
            wanted = parse_bitmap(cpumap, limit=_GUEST_VCPU_MAX_ID)
        except XMLError as exc:
            raise _invalid(f"Failed to parse bitmap '{cpumap}'") from exc
        if not wanted:
            raise _invalid("no vcpus selected for modification")
        last = max(wanted)
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            persistent = obj.persistent_def() if config else None
            if persistent is not None and last >= len(vcpu_states(persistent)):
                raise _invalid(f"vcpu {last} is not present in persistent config")
            picked: list[int] = []
            if live:
                with obj.lock:
                    maximum = len(vcpu_states(obj.live))
                if last >= maximum:
                    raise _invalid(f"vcpu {last} is not present in live config")
                proc = self._still_running(obj)
                states, slots = self._live_entities(obj, proc)
                picked = _filter_entities(states, slots, wanted, bool(state))
                if len(picked) != 1:
                    raise _unsupported("only one hotpluggable entity can be selected", ErrorCode.OPERATION_UNSUPPORTED)
            if persistent is not None:
                validate_config_change(persistent, wanted)
            if live:
                if state:
                    self._plug(obj, proc, slots, picked[0])
                else:
                    self._unplug(obj, proc, slots, picked[0])
            if persistent is not None:
                config_vcpu(persistent, wanted, bool(state))
                self.state.save_config(persistent)
