"""I/O thread hooks of the test driver: libvirt 9.0's testDomain*IOThread* (src/test/test_driver.c).

libvirt's test driver has no threads to run: it keeps I/O threads in the
definition the flags name (virDomainObjGetOneDef), so ``dumpxml`` shows what
``iothreadadd``/``iothreaddel``/``iothreadpin`` did, and beside it, per
domain, the polling tunables ``iothreadset`` changes (testIOThreadInfo:
32768/0/0 for every thread it knows). Scripts written against
``test:///default`` see the same definitions and errors here.

How libvirt writes them (virDomainDefIOThreadsFormat): ``<iothreads>`` is
the number of threads; ``<iothreadids>`` lists them only when one was named
(given in the XML, added, pinned, or moved up by a deletion before it);
threads ``<iothreads>`` alone made are 1..N ("autofill"). Here a definition
without ``iothreadids`` stands for that autofilled list, and any change
that would name one thread writes the whole list, as libvirt's formatter
does. One corner differs: libvirt remembers per thread whether it was
autofilled, so deleting the one named thread after autofilled ones makes
``<iothreadids>`` disappear again; here the list stays written.
"""

from __future__ import annotations

import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import DomainObj, TestState
from pyvirt.errors import ErrorCode
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef, IOThreadInfo

TYPE_CHECKING = False  # not typing's: this module is imported by every test:/// connection
if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt.plugin.typed_params import TypedParam

__all__ = ["IOThreadHooks"]

_VIR_DOMAIN_AFFECT_LIVE = 1
_VIR_DOMAIN_AFFECT_CONFIG = 2
LIVE, CONFIG = _VIR_DOMAIN_AFFECT_LIVE, _VIR_DOMAIN_AFFECT_CONFIG
_POLL_DEFAULT = (32768, 0, 0)  # testDomainGenerateIOThreadInfos / testDomainAddIOThread
# VIR_DOMAIN_IOTHREAD_POLL_MAX_NS, _POLL_GROW, _POLL_SHRINK: the only ones testDomainIOThreadParseParams takes
_POLL_FIELDS = ("poll_max_ns", "poll_grow", "poll_shrink")


def _invalid(message: str) -> _errors.InvalidArgumentError:
    return _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, message)


def _zero_id(iothread_id: int) -> None:
    if iothread_id == 0:
        raise _invalid("invalid value of 0 for iothread_id")


def thread_ids(d: Domain) -> list[int]:
    """The definition's I/O thread ids in libvirt's order: ``<iothreadids>``, else 1..``<iothreads>``."""
    if d.iothreadids:
        return [t.id for t in d.iothreadids if t.id is not None]
    return list(range(1, (d.iothreads or 0) + 1))


def _name_all(d: Domain, ids: list[int]) -> None:
    """Write every thread out (some thread is no longer autofilled), keeping what each one had."""
    from pyvirt.conf.domain import IothreadId

    known = {t.id: t for t in d.iothreadids or []}
    d.iothreadids = [known.get(i) or IothreadId(id=i) for i in ids]
    d.iothreads = len(ids)


def _order_pins(d: Domain) -> None:
    """virDomainCputuneDefFormat writes ``<iothreadpin>`` in ``<iothreadids>`` order; an empty ``<cputune>`` not."""
    tune = d.cputune
    if tune is None or not tune.iothreadpins:
        return
    rank = {tid: n for n, tid in enumerate(thread_ids(d))}
    kept = [p for p in tune.iothreadpins if p.iothread in rank]
    tune.iothreadpins = sorted(kept, key=lambda p: rank[p.iothread or 0]) or None
    from pyvirt.conf.domain import CpuTune

    if tune == CpuTune():
        d.cputune = None


class IOThreadHooks:
    """Mixed into the test connection; ``self.state`` comes from it, ``_one_def*`` from GuestHooks."""

    state: TestState

    if TYPE_CHECKING:

        def _one_def(self, obj: DomainObj, flags: int) -> tuple[Domain, bool]: ...
        def _one_def_to_change(self, obj: DomainObj, flags: int) -> Domain: ...

    @staticmethod
    def _polls(obj: DomainObj) -> dict[int, tuple[int, int, int]]:
        """testDomainObjPrivate's iothreads: made from the definition the first time (as the fixture load does)."""
        if obj.iothread_polls is None:
            obj.iothread_polls = dict.fromkeys(thread_ids(obj.live), _POLL_DEFAULT)
        return obj.iothread_polls

    @hookimpl
    def domain_get_iothread_info(self, dom: DomainRef, flags: int) -> list[IOThreadInfo]:
        """testDomainGetIOThreadInfo (virDomainDriverGetIOThreadsConfig): each thread's ``<iothreadpin>``, else
        ``<vcpu cpuset>``, else CPUs 0..vcpus-1 (the bitmap libvirt sizes by the definition's vCPU count)."""
        from pyvirt.conf.bitmap import parse_bitmap

        check_flags(flags, LIVE | CONFIG, "testDomainGetIOThreadInfo")
        with self.state.lock:
            d, _live = self._one_def(self.state.find(dom), flags)
            pins = {p.iothread: p.cpuset for p in (d.cputune.iothreadpins or [])} if d.cputune is not None else {}
            if d.vcpu is not None and d.vcpu.cpuset:
                default = parse_bitmap(d.vcpu.cpuset)
            else:
                vcpus = (d.vcpu.current or d.vcpu.count or 1) if d.vcpu is not None else 1
                default = set(range(vcpus))
            result = []
            for tid in thread_ids(d):
                cpuset = pins.get(tid)
                cpus = parse_bitmap(cpuset) if cpuset else default
                result.append(IOThreadInfo(tid, _cpumap(cpus)))
            return result

    @hookimpl
    def domain_pin_iothread(self, dom: DomainRef, iothread_id: int, cpumap: bytes, flags: int) -> None:
        """testDomainPinIOThread: the thread's ``<iothreadpin>`` in the one definition ``flags`` names."""
        from pyvirt.conf.bitmap import format_bitmap
        from pyvirt.conf.domain import CpuTune, IothreadPin

        check_flags(flags, LIVE | CONFIG, "testDomainPinIOThread")
        with self.state.lock:
            obj = self.state.find(dom)
            self._one_def(obj, flags)
            cpus = {i for i in range(len(cpumap) * 8) if cpumap[i // 8] & (1 << (i % 8))}
            if not cpus:
                raise _invalid("Empty iothread cpumap list for pinning")
            ids = thread_ids(self._one_def(obj, flags)[0])
            if iothread_id not in ids:
                raise _invalid(f"iothreadid {iothread_id} not found")
            d = self._one_def_to_change(obj, flags)
            _name_all(d, ids)  # a pinned thread is no longer autofilled: <iothreadids> is written
            if d.cputune is None:
                d.cputune = CpuTune()
            pins = [p for p in (d.cputune.iothreadpins or []) if p.iothread != iothread_id]
            d.cputune.iothreadpins = [*pins, IothreadPin(iothread=iothread_id, cpuset=format_bitmap(cpus))]
            _order_pins(d)

    @hookimpl
    def domain_add_iothread(self, dom: DomainRef, iothread_id: int, flags: int) -> None:
        """testDomainAddIOThread: a named thread at the end of the list (virDomainIOThreadIDAdd), with the
        default polling."""
        check_flags(flags, LIVE | CONFIG, "testDomainAddIOThread")
        _zero_id(iothread_id)
        with self.state.lock:
            obj = self.state.find(dom)
            ids = thread_ids(self._one_def(obj, flags)[0])
            if iothread_id in ids:  # virDomainDriverAddIOThreadCheck
                raise _invalid(f"an IOThread is already using iothread_id '{iothread_id}'")
            polls = self._polls(obj)
            _name_all(self._one_def_to_change(obj, flags), [*ids, iothread_id])
            polls[iothread_id] = _POLL_DEFAULT

    @hookimpl
    def domain_del_iothread(self, dom: DomainRef, iothread_id: int, flags: int) -> None:
        """testDomainDelIOThread: checks of virDomainDriverDelIOThreadCheck, then virDomainIOThreadIDDel."""
        check_flags(flags, LIVE | CONFIG, "testDomainDelIOThread")
        _zero_id(iothread_id)
        with self.state.lock:
            obj = self.state.find(dom)
            d = self._one_def(obj, flags)[0]
            ids = thread_ids(d)
            if iothread_id not in ids:
                raise _invalid(f"cannot find IOThread '{iothread_id}' in iothreadids list")
            devices = d.devices
            for disk in devices.disks if devices is not None else []:
                if disk.driver_iothread == iothread_id:
                    raise _invalid(
                        f"cannot remove IOThread {iothread_id} since it is being used by disk '{disk.target_dev}'"
                    )
            for controller in devices.controllers if devices is not None else []:
                if controller.driver_iothread == iothread_id:
                    raise _invalid(f"cannot remove IOThread '{iothread_id}' since it is being used by controller")
            polls = self._polls(obj)
            d = self._one_def_to_change(obj, flags)
            rest = [i for i in ids if i != iothread_id]
            if d.iothreadids or ids[-1] != iothread_id:
                # a deletion before the end un-autofills the threads after it: the list is written
                _name_all(d, rest)
            else:
                d.iothreads = len(rest)
            if not rest:
                d.iothreads, d.iothreadids = None, None
            _order_pins(d)
            polls.pop(iothread_id, None)

    @hookimpl
    def domain_set_iothread_params(
        self, dom: DomainRef, iothread_id: int, params: list[TypedParam], flags: int
    ) -> None:
        """testDomainSetIOThreadParams: the live flag only; the thread must be in the definition and known to the
        driver's own list, whose polling values change (nothing of the XML does)."""
        from pyvirt.plugin.typed_params import TypedParamType, check_typed_params

        check_flags(flags, LIVE, "testDomainSetIOThreadParams")
        _zero_id(iothread_id)
        with self.state.lock:
            obj = self.state.find(dom)
            if iothread_id not in thread_ids(self._one_def(obj, flags)[0]):
                raise _invalid(f"cannot find IOThread '{iothread_id}' in iothreadids")
            polls = self._polls(obj)
            if iothread_id not in polls:
                # libvirt's test driver fails here without reporting why; the library then reports its generic error
                raise _errors.InternalError(
                    ErrorCode.INTERNAL_ERROR, "An error occurred, but the cause is unknown", verbatim=True
                )
            uint, ullong = TypedParamType.UINT, TypedParamType.ULLONG
            check_typed_params(params, {"poll_max_ns": ullong, "poll_grow": uint, "poll_shrink": uint})
            given = {p.field: int(p.value) for p in params}
            # virTypedParamsGet* leave a value the caller did not give as it was
            polls[iothread_id] = tuple(  # type: ignore[assignment]
                given.get(field, old) for field, old in zip(_POLL_FIELDS, polls[iothread_id], strict=True)
            )


def _cpumap(cpus: set[int]) -> bytes:
    """virBitmapToData: host CPU n is bit n % 8 of byte n // 8, as many bytes as the highest CPU needs."""
    buf = bytearray((max(cpus, default=0) + 8) // 8)
    for cpu in cpus:
        buf[cpu // 8] |= 1 << (cpu % 8)
    return bytes(buf)
