"""libvirt's ``<cputune>`` rules: per-vCPU scheduler entries, cache and memory-bandwidth tunes.

- ``vcpusched``/``iothreadsched`` ranges are split into one entry per id
  (libvirt stores them per vCPU/thread and writes them that way).
- ``cachetune``/``memorytune`` vCPU sets are cut to the guest's vCPUs; a tune
  left with none is dropped. Two cachetunes may not share a vCPU, a
  memorytune must match a cachetune's vCPUs exactly or not overlap it, a
  cache (id, level) may be allocated once and not both as ``both`` and as
  ``code``/``data``, a memory node once, and monitors must watch vCPUs of
  their own tune.
"""

from __future__ import annotations

from pyvirt.conf.bitmap import format_bitmap, parse_bitmap
from pyvirt.errors import ErrorCode, XMLError

__all__ = ["apply_cputune_rules"]


def _err(msg: str) -> XMLError:
    return XMLError(ErrorCode.XML_ERROR, msg)


def _split_scheds(scheds: list, attr: str) -> list:  # type: ignore[type-arg]
    out = []
    for sched in scheds:
        ids = parse_bitmap(getattr(sched, attr) or "", attr)
        if not ids:
            raise _err(f"Invalid value of '{attr}' in <{attr[:-1] if attr.endswith('s') else attr}sched>")
        for i in sorted(ids):
            copy = sched.model_copy()
            setattr(copy, attr, str(i))
            out.append(copy)
    out.sort(key=lambda s: int(getattr(s, attr)))
    return out


def _iothread_pins(pins: list, iothread_ids: list[int]) -> list:  # type: ignore[type-arg]
    """virDomainIOThreadPinDefParseXML, then the formatter: one pin per I/O thread, written in the order of the
    ``<iothreadids>`` (ids ``<iothreads>`` adds without naming them come after, lowest first), CPU sets in
    libvirt's shortest form. (A pin of a thread that does not exist is refused by ``domain_structure``.)"""
    seen: set[int | None] = set()
    for pin in pins:
        if pin.iothread in seen:
            raise XMLError(ErrorCode.XML_ERROR, f"Duplicate iothreadpin for same iothread '{pin.iothread}'")
        seen.add(pin.iothread)
        pin.cpuset = format_bitmap(parse_bitmap(pin.cpuset or "", "cpuset"))
    rank = {tid: i for i, tid in enumerate(iothread_ids)}
    return sorted(pins, key=lambda p: (rank.get(p.iothread, len(rank)), p.iothread or 0))


def apply_cputune_rules(tune: object, vcpu_count: int | None, iothread_ids: list[int] | None = None) -> None:
    """``iothread_ids``: the ``<iothreadids>`` ids in their order, as given."""
    from pyvirt.conf.domain import CpuTune

    assert isinstance(tune, CpuTune)
    if tune.iothreadpins:
        tune.iothreadpins = _iothread_pins(tune.iothreadpins, iothread_ids or [])
    if tune.vcpuscheds:
        tune.vcpuscheds = _split_scheds(tune.vcpuscheds, "vcpus")
    if tune.iothreadscheds:
        tune.iothreadscheds = _split_scheds(tune.iothreadscheds, "iothreads")
    limit = vcpu_count or 0
    taken: list[set[int]] = []
    kept_cache = []
    for ct in tune.cachetunes or []:
        vcpus = {v for v in parse_bitmap(ct.vcpus or "", "vcpus") if v < limit}
        if not vcpus:
            continue
        if any(vcpus & other for other in taken):
            raise _err("Overlapping vcpus in cachetunes")
        seen: dict[tuple[int | None, int | None], set[str | None]] = {}
        for cache in ct.caches or []:
            kinds = seen.setdefault((cache.id, cache.level), set())
            if cache.type in kinds:
                raise _err(f"Cache with id {cache.id} and level {cache.level} is already allocated")
            if kinds and ("both" in kinds or cache.type == "both"):
                raise _err(
                    f"Cache with id {cache.id} and level {cache.level} cannot be allocated as both and code/data"
                )
            kinds.add(cache.type)
        for mon in ct.monitors or []:
            mv = parse_bitmap(mon.vcpus or "", "vcpus")
            if not mv or not mv <= vcpus:
                raise _err("Monitor vcpus conflicts with allocation")
            mon.vcpus = format_bitmap(mv)
        ct.vcpus = format_bitmap(vcpus)
        taken.append(vcpus)
        kept_cache.append(ct)
    if tune.cachetunes is not None:
        tune.cachetunes = kept_cache or None
    mem_taken: list[set[int]] = []
    kept_mem = []
    for mt in tune.memorytunes or []:
        vcpus = {v for v in parse_bitmap(mt.vcpus or "", "vcpus") if v < limit}
        if not vcpus:
            continue
        if any(vcpus & other for other in mem_taken):
            raise _err("Overlapping vcpus in memorytunes")
        if any(vcpus & other and vcpus != other for other in taken):
            raise _err("Overlapping vcpus in memorytunes and cachetunes")
        ids = [n.id for n in mt.nodes or []]
        if len(ids) != len(set(ids)):
            raise _err("Memory bandwidth for node is already defined")
        for mon in mt.monitors or []:
            mv = parse_bitmap(mon.vcpus or "", "vcpus")
            if not mv or not mv <= vcpus:
                raise _err("Monitor vcpus conflicts with allocation")
            mon.vcpus = format_bitmap(mv)
        mt.vcpus = format_bitmap(vcpus)
        mem_taken.append(vcpus)
        kept_mem.append(mt)
    if tune.memorytunes is not None:
        tune.memorytunes = kept_mem or None
