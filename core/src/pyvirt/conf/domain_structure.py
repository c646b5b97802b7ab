"""libvirt's rules across a domain's elements: one device where one is allowed, unique ids, NUMA cells.

Where ``domain_values`` checks one value at a time, these rules look at
several elements together, as libvirt's parser and its generic validation
do (virDomainDefParseXML, virDomainNumaDefParseXML, virDomainDiskDefValidate,
virDomainDefPostParseCPU ...), with libvirt's codes and words.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.bitmap import parse_bitmap
from pyvirt.conf.disk_names import insertion_order
from pyvirt.conf.units import INT_MAX, parse_memory_kib, parse_scaled, strtoul
from pyvirt.conf.value_checks import bitmap, enum, uint, ull, unit_suffix
from pyvirt.conf.xmlparse import find_all, find_one, find_text
from pyvirt.errors import Error, ErrorCode, NotSupportedError, XMLError, make_error

__all__ = ["check_structure"]


def check_structure(root: etree._Element, elem: etree._Element, ptag: str, tag: str) -> None:
    """The rules that hold for ``elem`` (child ``tag`` of ``ptag``) and what surrounds it."""
    if ptag == "" and tag == "domain":
        _check_unique_children(elem)
    elif ptag == "domain" and tag == "devices":
        _check_devices(elem)
    elif ptag == "domain" and tag == "cputune":
        _check_cputune(elem)
        _check_thread_scheds(root, elem)
    elif ptag == "cputune" and tag == "cachetune":
        _check_cachetune(root, elem)
    elif ptag == "domain" and tag == "vcpus":
        _check_vcpu_ids(root, elem)
    elif ptag == "domain" and tag == "numatune":
        _check_numatune(root, elem)
        _check_memnodes(root, elem)
    elif ptag == "disk" and tag == "iotune":
        _check_iotune(elem)
    elif ptag == "hugepages" and tag == "page" and elem.get("size") is not None:
        if not parse_scaled(elem.get("size") or "", elem.get("unit"), "size", default_unit="KiB", xpath="./@size"):
            raise XMLError(ErrorCode.XML_DETAIL, "hugepage size can't be zero")
    elif ptag == "smm" and tag == "tseg":
        parse_scaled(elem.text or "", elem.get("unit"), "tseg", default_unit="MiB", xpath="./features/smm/tseg")
    elif ptag == "cpu" and tag == "numa":
        _check_numa(elem)
        _check_numa_cpus(root, elem)
    elif ptag == "domain" and tag == "cpu":
        _check_cpu(elem)
    elif tag == "backingStore" and ptag in ("disk", "backingStore"):
        _check_backing_store(elem)
    elif tag == "cookies" and ptag == "source":
        names = [c.get("name") for c in elem.iterchildren("cookie")]
        for i, name in enumerate(names):  # virStorageSourceNetCookiesValidate
            if name in names[:i]:
                raise XMLError(ErrorCode.XML_ERROR, f"duplicate cookie '{name}'")
    elif tag == "source" and ptag == "disk" and (disk := elem.getparent()) is not None and disk.get("type") == "nvme":
        _check_nvme_source(elem)
    elif ptag == "domain" and tag == "perf":
        names = [e.get("name") for e in elem.iterchildren("event")]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise XMLError(ErrorCode.XML_ERROR, f"perf event '{name}' was already specified")


# virStorageFileFormat's words; index 0 ("none") is refused where a backing store names its format
_BACKING_FORMATS = frozenset(("raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow",
                              "qcow", "qcow2", "qed", "vmdk"))  # fmt: skip


def _check_backing_store(backing: etree._Element) -> None:
    """virDomainDiskBackingStoreParse: a typed backing store (not the empty terminator) names a known format
    and has a source."""
    if backing.get("type") is None:
        return
    fmt = find_one(backing, "format")
    name = fmt.get("type") if fmt is not None else None
    if not name:
        raise XMLError(ErrorCode.XML_ERROR, "missing disk backing store format")
    if find_one(backing, "source") is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing disk backing store source")
    if name not in _BACKING_FORMATS:
        raise XMLError(ErrorCode.XML_ERROR, f"unknown storage source format '{name}'")


def _check_nvme_source(source: etree._Element) -> None:
    """virDomainDiskSourceNVMeParse's namespace, then virDomainDiskDefValidate's "namespaces start from 1"."""
    namespace = source.get("namespace")
    if namespace is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing 'namespace' attribute to disk source")
    parsed = strtoul(namespace, 10)
    if parsed is None or parsed[1] >= 2**64:
        raise XMLError(ErrorCode.XML_ERROR, f"malformed namespace '{namespace}'")
    if parsed[1] == 0:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "NVMe namespace can't be zero")


_SINGLE_DEVICES = {
    "memballoon": (ErrorCode.INTERNAL_ERROR, "only a single memory balloon device is supported"),
    "iommu": (ErrorCode.XML_ERROR, "only a single IOMMU device is supported"),
    "vsock": (ErrorCode.XML_ERROR, "only a single vsock device is supported"),
}
_DISK_PREFIXES = ("hd", "sd", "vd", "xvd", "ubd")


def _check_devices(devices: etree._Element) -> None:
    """Rules across the device list: devices there may be one of, USB disabled, unique audio ids, disk names."""
    for tag, (code, message) in _SINGLE_DEVICES.items():
        if len(find_all(devices, tag)) > 1:
            raise make_error(code, message)
    usb_none = usb_other = False
    for ctrl in devices.iterchildren("controller"):
        if len(find_all(ctrl, "model")) > 1:
            raise XMLError(ErrorCode.XML_ERROR, "Multiple <model> elements in controller definition not allowed")
        if len(find_all(ctrl, "target")) > 1:
            raise XMLError(ErrorCode.XML_ERROR, "Multiple <target> elements in controller definition not allowed")
        if ctrl.get("type") == "usb":
            none = ctrl.get("model") == "none"
            if usb_none or (none and usb_other):
                raise XMLError(
                    ErrorCode.XML_DETAIL, "Can't add another USB controller: USB is disabled for this domain"
                )
            usb_none, usb_other = usb_none or none, usb_other or not none
    if usb_none and find_one(devices, "hub[@type='usb']") is not None:
        raise make_error(ErrorCode.CONFIG_UNSUPPORTED, "Can't add USB hub: USB is disabled for this domain")
    audio_ids: set[int] = set()
    for audio in devices.iterchildren("audio"):
        parsed = strtoul(audio.get("id") or "", 10)
        if parsed is None:
            continue
        if parsed[1] in audio_ids:
            raise XMLError(ErrorCode.XML_ERROR, f"audio ID {parsed[1]} is used multiple times")
        audio_ids.add(parsed[1])
    _check_disks(devices)
    root = devices.getparent()
    cells = len(find_all(root, "cpu/numa/cell")) if root is not None else 0
    for mem in devices.iterchildren("memory"):
        _check_memory_device(mem, cells)
    for rng in devices.iterchildren("rng"):
        if len(find_all(rng, "backend")) != 1:
            raise XMLError(ErrorCode.XML_ERROR, "only one RNG backend is supported")
    for fs in devices.iterchildren("filesystem"):
        _check_filesystem(fs)
    sources: set[bytes] = set()
    for hostdev in devices.iterchildren("hostdev"):
        source = find_one(hostdev, "source")
        if source is None:
            continue
        key = (hostdev.get("type") or "").encode() + etree.tostring(source, method="c14n")
        if key in sources:
            raise XMLError(ErrorCode.XML_ERROR, "Hostdev already exists in the domain configuration")
        sources.add(key)
    primary = 0
    for video in devices.iterchildren("video"):
        model = find_one(video, "model")
        primary += model is not None and model.get("primary") == "yes"
        if primary > 1:
            raise make_error(ErrorCode.CONFIG_UNSUPPORTED, "Only one primary video device is supported")
    for tpm in devices.iterchildren("tpm"):
        backends = len(find_all(tpm, "backend"))
        if backends == 0:
            raise XMLError(ErrorCode.XML_ERROR, "missing TPM device backend")
        if backends > 1:
            raise XMLError(ErrorCode.XML_ERROR, "only one TPM backend is supported")
    for channel in devices.iterchildren("channel"):
        target = find_one(channel, "target")
        if target is None or not target.get("type"):
            raise XMLError(ErrorCode.XML_ERROR, "target type must be specified for channel device")


def _disk_source(disk: etree._Element) -> str | None:
    source = find_one(disk, "source")
    if source is None:
        return None
    return source.get("file") or source.get("dev") or source.get("dir") or source.get("name")


def _check_disks(devices: etree._Element) -> None:
    """libvirt's virDomainDiskDefValidate (a target, then its name) and unique targets."""
    found: list[tuple[str, str, str | None]] = []  # (bus, target, source)
    for disk in devices.iterchildren("disk"):
        dev = disk.get("device") or "disk"
        target = find_one(disk, "target")
        name = target.get("dev") if target is not None else None
        path = _disk_source(disk)
        if not name:
            raise make_error(ErrorCode.NO_TARGET, path)
        if dev in ("disk", "lun") and not name.startswith(_DISK_PREFIXES):
            raise make_error(ErrorCode.INTERNAL_ERROR, f"Invalid harddisk device name: {name}")
        if dev == "floppy" and not name.startswith("fd"):
            raise make_error(ErrorCode.INTERNAL_ERROR, f"Invalid floppy device name: {name}")
        # A disk without a medium is left to the drivers: a device given to detach-device names its target
        # only, and libvirt skips validation there (VIR_DOMAIN_DEF_PARSE_SKIP_VALIDATE).
        bus = (target.get("bus") if target is not None else None) or _default_bus(name)
        found.append((bus, name, path))
    ordered = insertion_order(found, lambda d: (d[0], d[1]))  # libvirt's array order
    for i, (_bus, name, path) in enumerate(ordered):
        for _other_bus, other_name, other_path in ordered[i + 1 :]:
            if other_name == name:
                raise XMLError(
                    ErrorCode.XML_ERROR,
                    f"target '{name}' duplicated for disk sources '{path or '<null>'}' and '{other_path or '<null>'}'",
                )


_BUS_BY_PREFIX = (("hd", "ide"), ("sd", "scsi"), ("vd", "virtio"), ("xvd", "xen"), ("ubd", "uml"), ("fd", "fdc"))


def _default_bus(name: str) -> str:
    return next((bus for prefix, bus in _BUS_BY_PREFIX if name.startswith(prefix)), "")


def _check_numa(numa: etree._Element) -> None:
    """libvirt's virDomainNumaDefParseXML: cells numbered 0..n-1 once each, disjoint CPU sets, a memory size each."""
    cells = find_all(numa, "cell")
    if not cells:
        raise XMLError(ErrorCode.XML_ERROR, "NUMA topology defined without NUMA cells")
    masks: dict[int, set[int]] = {}
    seen: set[int] = set()
    for i, cell in enumerate(cells):
        raw_id = cell.get("id")
        if raw_id is None:
            cur = i
        else:
            err = uint()(raw_id, "cell", "id")
            if err is not None:
                raise err
            parsed = strtoul(raw_id, 10)
            assert parsed is not None
            cur = parsed[1]
        if cur >= len(cells):
            raise XMLError(
                ErrorCode.XML_ERROR,
                "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not "
                "starting from 0 are not allowed",
            )
        if cur in seen:
            raise XMLError(ErrorCode.XML_ERROR, f"Duplicate NUMA cell info for cell id '{cur}'")
        cpus = cell.get("cpus")
        if cpus is not None:
            try:
                mask = parse_bitmap(cpus, "bitmap")
            except XMLError:
                mask = None
            if mask is None or not cpus.strip():
                raise make_error(ErrorCode.INVALID_ARG, f"Failed to parse bitmap '{cpus}'")
            if mask:
                masks[cur] = mask
                for other, other_mask in masks.items():
                    if other != cur and other_mask & mask:
                        raise make_error(
                            ErrorCode.CONFIG_UNSUPPORTED, f"NUMA cells {cur} and {other} have overlapping vCPU ids"
                        )
        memory = cell.get("memory")
        if not memory:
            raise XMLError(ErrorCode.XML_ERROR, "missing element or attribute './@memory'")
        parse_memory_kib(memory, cell.get("unit"), "memory", xpath="./@memory")
        seen.add(cur)


def _check_cpu(cpu: etree._Element) -> None:
    """A custom CPU with a check policy needs a model (virDomainDefPostParseCPU); one cache element at most."""
    caches = find_all(cpu, "cache")
    if len(caches) > 1:
        raise XMLError(ErrorCode.XML_ERROR, "at most one CPU cache element may be specified")
    level = strtoul(caches[0].get("level") or "", 10) if caches else None
    if level is not None and level[0] != "-" and not 1 <= level[1] <= 3:
        raise XMLError(ErrorCode.XML_ERROR, "invalid CPU cache level, must be in range [1,3]")
    model = find_one(cpu, "model")
    has_model = model is not None and bool((model.text or "").strip())
    if (cpu.get("mode") or "custom") == "custom" and not has_model and cpu.get("check") not in (None, "default"):
        raise make_error(ErrorCode.CONFIG_UNSUPPORTED, "check attribute specified for CPU with no model")


_IOTUNE_INTS = (
    "total_bytes_sec",
    "read_bytes_sec",
    "write_bytes_sec",
    "total_iops_sec",
    "read_iops_sec",
    "write_iops_sec",
    "total_bytes_sec_max",
    "read_bytes_sec_max",
    "write_bytes_sec_max",
    "total_iops_sec_max",
    "read_iops_sec_max",
    "write_iops_sec_max",
    "size_iops_sec",
    "total_bytes_sec_max_length",
    "read_bytes_sec_max_length",
    "write_bytes_sec_max_length",
    "total_iops_sec_max_length",
    "read_iops_sec_max_length",
    "write_iops_sec_max_length",
)


def _check_iotune(iotune: etree._Element) -> None:
    for child in iotune.iterchildren("*"):
        text = (child.text or "").strip()
        if child.tag in _IOTUNE_INTS and text:
            err = ull("disk iotune field '{tag}' must be an integer")(text, str(child.tag), "")
            if err is not None:
                raise err


def _check_memory_device(mem: etree._Element, cells: int) -> None:
    """libvirt's virDomainMemoryDefParseXML: a target with a size, a non-negative guest node."""
    target = find_one(mem, "target")
    if target is None:
        raise XMLError(ErrorCode.XML_ERROR, "missing <target> element for <memory> device")
    node = find_one(target, "node")
    if node is not None and (node.text or "").strip():
        parsed = strtoul((node.text or "").strip(), 10)
        if parsed is None or parsed[0] == "-" or parsed[1] > INT_MAX:
            raise XMLError(ErrorCode.XML_ERROR, "invalid value of memory device node")
        if cells == 0:
            raise XMLError(ErrorCode.XML_DETAIL, "can't add memory backend as guest has no NUMA nodes configured")
        if parsed[1] >= cells:
            raise XMLError(
                ErrorCode.XML_DETAIL,
                f"can't add memory backend for guest node '{parsed[1]}' as the guest has only '{cells}' NUMA nodes "
                "configured",
            )
    size = find_one(target, "size")
    if size is None or not (size.text or "").strip():
        raise XMLError(ErrorCode.XML_ERROR, "missing element or attribute './size'")
    model = mem.get("model")
    if model in ("nvdimm", "virtio-pmem") and not (find_text(mem, "source/path") or "").strip():
        raise XMLError(ErrorCode.XML_DETAIL, f"path is required for model '{model}'")


def _vcpu_count(root: etree._Element) -> int | None:
    """The maximum vCPU count, 1 when ``<vcpu>`` is absent (libvirt's default); None when unreadable."""
    vcpu = find_one(root, "vcpu")
    if vcpu is None:
        return 1
    parsed = strtoul((vcpu.text or "").strip(), 10)
    return parsed[1] if parsed is not None else None


def _check_vcpu_ids(root: etree._Element, vcpus: etree._Element) -> None:
    """``<vcpus><vcpu id=N>``: ids below the maximum vCPU count."""
    count = _vcpu_count(root)
    for vcpu in vcpus.iterchildren("vcpu"):
        parsed = strtoul(vcpu.get("id") or "", 10)
        if parsed is not None and count is not None and parsed[0] != "-" and parsed[1] >= count:
            raise XMLError(ErrorCode.XML_ERROR, f"vcpu id '{parsed[1]}' is out of range of maximum vcpu count")


_CACHE = {"id": uint(), "level": uint(), "type": enum("both", "code", "data"), "unit": unit_suffix()}


def _check_cachetune(root: etree._Element, cachetune: etree._Element) -> None:
    """Cache allocations of a ``<cachetune>``; libvirt ignores a cachetune none of whose vCPUs exist."""
    count = _vcpu_count(root)
    try:
        vcpus = parse_bitmap(cachetune.get("vcpus") or "", "vcpus")
    except XMLError:
        return  # refused with libvirt's message by the cputune rules
    if count is not None and not any(v < count for v in vcpus):
        return
    for cache in cachetune.iterchildren("cache"):
        for attr, check in _CACHE.items():
            value = cache.get(attr)
            if value is not None:
                err = check(value, "cache", attr)
                if err is not None:
                    raise err
        if cache.get("size") is not None:
            parse_scaled(cache.get("size") or "", cache.get("unit"), "size", xpath="./@size")
    for monitor in cachetune.iterchildren("monitor"):
        raw = monitor.get("level")
        if raw is None:
            raise XMLError(ErrorCode.XML_ERROR, "Missing required attribute 'level' in element 'monitor'")
        err = uint()(raw, "monitor", "level")
        if err is not None:
            raise err
        parsed = strtoul(raw, 10)
        if parsed is not None and parsed[1] != 3:
            raise XMLError(ErrorCode.XML_ERROR, f"Invalid monitor cache level '{parsed[1]}'")


_ONCE = {
    "genid": "element 'genid' can only appear once",
    "resource": "only one resource element is supported",
}


def _check_unique_children(domain: etree._Element) -> None:
    for tag, message in _ONCE.items():
        if len(find_all(domain, tag)) > 1:
            raise XMLError(ErrorCode.XML_ERROR, message)


# libvirt's cgroup bounds for CPU bandwidth (VIR_CGROUP_CPU_PERIOD_MIN ... QUOTA_MAX, SHARES_MIN/MAX)
_CPUTUNE_RANGES = {
    "period": (1000, 1000000), "global_period": (1000, 1000000), "emulator_period": (1000, 1000000),
    "iothread_period": (1000, 1000000),
    "quota": (1000, 17592186044415), "global_quota": (1000, 17592186044415),
    "emulator_quota": (1000, 17592186044415), "iothread_quota": (1000, 17592186044415),
}  # fmt: skip


def _check_cputune(cputune: etree._Element) -> None:
    """virDomainDefCputuneValidate's ranges, one emulatorsched, one vcpupin per vCPU."""
    if len(find_all(cputune, "emulatorsched")) > 1:
        raise XMLError(ErrorCode.XML_ERROR, "only one emulatorsched is supported")
    for name, (low, high) in _CPUTUNE_RANGES.items():
        child = find_one(cputune, name)
        parsed = strtoul((child.text or "").strip(), 10) if child is not None else None
        if parsed is not None and parsed[0] != "-" and parsed[1] > 0 and not low <= parsed[1] <= high:
            raise make_error(
                ErrorCode.CONFIG_UNSUPPORTED, f"Value of cputune '{name}' must be in range [{low}, {high}]"
            )
    pinned: set[int] = set()
    for pin in cputune.iterchildren("vcpupin"):
        parsed = strtoul(pin.get("vcpu") or "", 10)
        if parsed is None or parsed[0] == "-":
            continue
        if parsed[1] in pinned:
            raise make_error(ErrorCode.INTERNAL_ERROR, f"duplicate vcpupin for vcpu '{parsed[1]}'")
        pinned.add(parsed[1])


def _iothread_ids(root: etree._Element) -> set[int]:
    """virDomainDefParseIOThreads: the ids ``<iothreadids>`` gives, then the lowest free ones up to the
    ``<iothreads>`` count (virDomainIOThreadIDDefArrayInit), as the parser has them when it reads ``<cputune>``."""
    ids = {p[1] for t in find_all(root, "iothreadids/iothread") if (p := strtoul(t.get("id") or "", 10)) is not None}
    count = strtoul((find_text(root, "iothreads") or "").strip(), 10)
    wanted = count[1] if count is not None else 0
    free = 1
    while len(ids) < wanted:
        while free in ids:
            free += 1
        ids.add(free)
    return ids


def _check_thread_scheds(root: etree._Element, cputune: etree._Element) -> None:
    """virDomainDefTunablesParse: an I/O thread pinned or scheduled must exist, and so must a scheduled vCPU;
    no vCPU or I/O thread gets two schedulers (virDomainThreadSchedParseHelper)."""
    threads = _iothread_ids(root)
    for pin in cputune.iterchildren("iothreadpin"):
        parsed = strtoul(pin.get("iothread") or "", 10)
        if parsed is not None and parsed[1] and parsed[1] not in threads:
            raise make_error(ErrorCode.CONFIG_UNSUPPORTED, f"Cannot find 'iothread' : {parsed[1]}")
    vcpus = _vcpu_count(root)
    for element, attr in (("vcpusched", "vcpus"), ("iothreadsched", "iothreads")):
        scheduled: set[int] = set()
        for sched in cputune.iterchildren(element):
            try:
                ids = parse_bitmap(sched.get(attr) or "", attr)
            except Error:
                continue  # refused with libvirt's words where the values are read
            for i in sorted(ids):
                if element == "vcpusched" and vcpus is not None and i >= vcpus:
                    raise make_error(ErrorCode.CONFIG_UNSUPPORTED, f"vCPU '{i}' is not present in domain definition")
                if element == "iothreadsched" and i not in threads:
                    raise make_error(ErrorCode.CONFIG_UNSUPPORTED, f"Cannot find 'iothread' : {i}")
                if i in scheduled:
                    raise XMLError(ErrorCode.XML_DETAIL, f"'{element}' attributes '{attr}' must not overlap")
                scheduled.add(i)


def _check_numatune(root: etree._Element, numatune: etree._Element) -> None:
    """virDomainNumatuneParseXML and virDomainNumatuneSet: a static placement needs a nodeset (a vCPU placement
    other than 'auto' makes an unplaced memory binding static); per-node bindings contradict automatic placement,
    (the nodes themselves: ``_check_memnodes``)."""
    memory = find_one(numatune, "memory")
    vcpu = find_one(root, "vcpu")
    placement_static = (vcpu.get("placement") if vcpu is not None else None) != "auto"
    placement = None if memory is None else memory.get("placement")
    mode = None if memory is None else memory.get("mode")
    nodeset = None if memory is None else memory.get("nodeset")
    specified = memory is not None and (mode is not None or placement is not None or nodeset is not None)
    if memory is None and not placement_static:
        placement, specified = "auto", True
    if specified and placement is None:
        placement = "static" if nodeset is not None or placement_static else "auto"
    if placement == "static" and nodeset is None:
        raise make_error(ErrorCode.CONFIG_UNSUPPORTED,
                         "nodeset for NUMA memory tuning must be set if 'placement' is 'static'")  # fmt: skip
    memnodes = find_all(numatune, "memnode")
    if memnodes and specified and placement == "auto":
        raise make_error(ErrorCode.CONFIG_UNSUPPORTED,
                         "Per-node binding is not compatible with automatic NUMA placement.")  # fmt: skip


def _check_memnodes(root: etree._Element, numatune: etree._Element) -> None:
    """virDomainNumatuneNodeParseXML: each memnode names an existing guest cell, once, with a valid nodeset, and
    is 'restrictive' when the memory binding is."""
    memnodes = find_all(numatune, "memnode")
    if not memnodes:
        return
    restrictive = find_one(numatune, "memory[@mode='restrictive']") is not None
    cells = len(find_all(root, "cpu/numa/cell"))
    if not cells:
        raise XMLError(ErrorCode.XML_ERROR, "Element 'memnode' is invalid without any guest NUMA cells")
    seen: set[int] = set()
    for node in memnodes:
        parsed = strtoul(node.get("cellid") or "", 10)
        if parsed is None:
            continue  # refused with libvirt's words by the value table
        if parsed[1] >= cells:
            raise XMLError(
                ErrorCode.XML_ERROR,
                "Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell",
            )
        if parsed[1] in seen:
            raise XMLError(ErrorCode.XML_ERROR, f"Multiple memnode elements with cellid {parsed[1]}")
        seen.add(parsed[1])
        if restrictive and (node.get("mode") or "strict") != "restrictive":
            raise XMLError(ErrorCode.XML_ERROR, "'restrictive' mode is required in memnode element when mode is "
                           "'restrictive' in memory element")  # fmt: skip
        nodeset = node.get("nodeset")
        if nodeset is not None:
            err = bitmap()(nodeset, "memnode", "nodeset")
            if err is not None:
                raise err


def _check_numa_cpus(root: etree._Element, numa: etree._Element) -> None:
    """The guest NUMA cells' vCPUs must exist: not more of them, nor a higher id, than ``<vcpu>`` allows."""
    count = _vcpu_count(root)
    if count is None:
        return
    total = 0
    highest = -1
    for cell in numa.iterchildren("cell"):
        cpus = parse_bitmap(cell.get("cpus") or "")
        total += len(cpus)
        highest = max([highest, *cpus])
    if total > count:
        raise make_error(ErrorCode.INTERNAL_ERROR, "Number of CPUs in <numa> exceeds the <vcpu> count")
    if highest >= count:
        raise make_error(ErrorCode.INTERNAL_ERROR, "CPU IDs in <numa> exceed the <vcpu> count")


def _check_filesystem(fs: etree._Element) -> None:
    """A filesystem needs a target directory, and a source unless it is a RAM disk (virDomainFSDefParseXML)."""
    source = find_one(fs, "source")
    src = None
    if source is not None:
        src = source.get("dir") or source.get("file") or source.get("name") or source.get("socket")
    target = find_one(fs, "target")
    if target is None or not target.get("dir"):
        raise make_error(ErrorCode.NO_TARGET, src)
    # libvirt exempts RAM disks and pool volumes only; a virtiofs share needs its source too.
    exempt = (fs.get("type") or "mount") in ("ram", "volume") or (
        source is not None and source.get("usage") is not None
    )
    if not src and not exempt:
        raise make_error(ErrorCode.NO_SOURCE, target.get("dir"))
