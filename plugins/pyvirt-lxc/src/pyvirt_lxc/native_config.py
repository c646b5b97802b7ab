"""``domxml-from-native lxc-tools``: an LXC (lxc-tools) container config file to domain XML.

Follows libvirt 9.0's converter, legacy (LXC < 3.0) and current key names alike:
root filesystem and ``lxc.mount.entry`` lines (basic mounts skipped, tmpfs
becomes a ram filesystem), networks (veth -> bridge or ethernet, macvlan ->
direct, phys and vlan -> capabilities-mode hostdev, none/empty), consoles
from ``lxc.tty``, id maps, the memory/cpu/cpuset/blkio cgroup settings and
``lxc.cap.drop``. The XML is built as text and read back through the domain
model, so it gets the same validation and canonical form as any definition.

libvirt fills ``<emulator>`` from its capabilities: the container helper its
LXC driver runs (``libvirt_lxc``). pyvirt's counterpart is the controller
(:mod:`pyvirt_lxc.controller`), run by this Python interpreter, so that is the
emulator written by default; libvirt's lxcconf2xml test passes its own.
"""

from __future__ import annotations

import re
import sys
import uuid as uuidmod

from lxml import etree

from pyvirt.conf.bitmap import format_bitmap, parse_bitmap
from pyvirt.conf.domain import PROCESS_CAPABILITY_NAMES, Domain, format_domain, parse_domain
from pyvirt.errors import ErrorCode, ErrorDomain, InternalError, InvalidArgumentError, NotSupportedError

__all__ = ["CONTROLLER_EMULATOR", "lxc_config_to_domain", "lxc_config_to_xml", "parse_lxc_config"]

# the program that runs a container's controller, in the role libvirt's libvirt_lxc has
CONTROLLER_EMULATOR = sys.executable

# what libvirt's LXC driver mounts itself: a config entry for them is dropped
BASIC_MOUNTS = frozenset({"/proc", "/proc/sys", "/proc/sys/net/ipv4", "/proc/sys/net/ipv6", "/sys",
                          "/sys/kernel/security", "/sys/fs/selinux"})  # fmt: skip
NET_KEYS = frozenset({"name", "type", "link", "hwaddr", "flags", "macvlan.mode", "vlan.id", "ipv4", "ipv4.gateway",
                      "ipv4.address", "ipv6", "ipv6.gateway", "ipv6.address"})  # fmt: skip
_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "kb": 1000, "m": 1024**2, "mib": 1024**2, "mb": 1000**2,
          "g": 1024**3, "gib": 1024**3, "gb": 1000**3, "t": 1024**4, "tib": 1024**4, "tb": 1000**4}  # fmt: skip
# what lxml (XML 1.0) cannot carry: C0 controls but tab, newline and carriage return; surrogates; U+FFFE/U+FFFF
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ARCHES = {"x86": "i686", "amd64": "x86_64", "i686": "i686", "x86_64": "x86_64", "aarch64": "aarch64",
           "armv7l": "armv7l", "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64"}  # fmt: skip


def _internal(msg: str) -> InternalError:
    return InternalError(ErrorCode.INTERNAL_ERROR, msg, verbatim=False)


def _syntax_error(detail: str) -> InternalError:
    return InternalError(ErrorCode.CONF_SYNTAX, detail, domain=ErrorDomain.CONF)


def _check_characters(line: str, lineno: int) -> None:
    """Refuse what no value of the domain XML may hold, naming the line, before it gets anywhere.

    A NUL byte would end the config early in libvirt (a C string), so what
    follows it would be dropped without a word; bytes that are not UTF-8
    arrive as surrogate escapes (see ``pyvirt.util.fileio``); the other
    control characters cannot be written into XML at all.
    """
    bad = _NOT_IN_XML.search(line)
    if bad is None:
        return
    char = bad.group()
    if char == "\0":
        raise _syntax_error(f"NUL byte at line {lineno}")
    if "\udc80" <= char <= "\udcff":
        raise _syntax_error(f"invalid UTF-8 at line {lineno}")
    raise _syntax_error(f"invalid character U+{ord(char):04X} at line {lineno}")


def parse_lxc_config(text: str) -> list[tuple[str, str]]:
    """``key = value`` lines in order (keys repeat); comments and blank lines dropped.

    The LXC format has no trailing comments: everything after ``=`` up to the
    end of the line, trailing blanks excepted, is the value. Lines end at
    ``\\n`` only, as in libvirt's parser: ``str.splitlines`` would also split
    a value at a form feed or U+0085. A NUL byte is refused anywhere;
    other characters XML cannot carry only outside comments (a comment in
    Latin-1 is no reason to refuse a config).
    """
    entries: list[tuple[str, str]] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if "\0" in line or (stripped and not stripped.startswith("#")):
            _check_characters(line, lineno)
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise _syntax_error(f"expecting an assignment at line {lineno}: '{stripped}'")
        entries.append((key.strip(), value.strip()))
    return entries


class _Config:
    def __init__(self, entries: list[tuple[str, str]]) -> None:
        self.entries = entries

    def get(self, *keys: str) -> str | None:
        """The first value of the first key present (current name first, then the legacy one)."""
        for key in keys:
            for k, v in self.entries:
                if k == key:
                    return v
        return None


def _size_bytes(text: str) -> int:
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    unit = text[len(digits) :]
    if unit == "%":
        raise _internal(f"can't convert relative size: '{text}'")
    if not digits or unit.lower() not in _UNITS:
        raise _internal(f"failed to convert size: '{text}'")
    return int(digits) * _UNITS[unit.lower()]


def _int(text: str, what: str = "integer") -> int:
    try:
        return int(text)
    except ValueError:
        raise _internal(f"failed to parse {what}: '{text}'") from None


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _filesystems(conf: _Config, devices: etree._Element) -> None:
    rootfs = conf.get("lxc.rootfs.path", "lxc.rootfs")
    if rootfs is None:
        raise _internal("the container has no root filesystem (lxc.rootfs.path or lxc.rootfs)")
    if rootfs.startswith("/dev/"):
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, f"block device root filesystem '{rootfs}' is not supported"
        )
    fs = _sub(devices, "filesystem", type="mount", accessmode="passthrough")
    _sub(fs, "source", dir=rootfs)
    _sub(fs, "target", dir="/")
    if conf.get("lxc.mount.fstab", "lxc.mount") is not None:
        raise InvalidArgumentError(
            ErrorCode.ARGUMENT_UNSUPPORTED, "lxc.mount.fstab or lxc.mount found, use lxc.mount.entry lines instead"
        )
    for key, value in conf.entries:
        if key != "lxc.mount.entry":
            continue
        parts = value.replace("\t", " ").split()
        if len(parts) < 4:
            raise _internal(f"invalid lxc.mount.entry: '{value}'")
        src, dst, fstype, options = parts[0], parts[1], parts[2], parts[3].split(",")
        dst = dst if dst.startswith("/") else f"/{dst}"
        if dst in BASIC_MOUNTS:
            continue
        if src.startswith("/dev/"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"block device mount '{src}' is not supported")
        if fstype == "tmpfs":
            size = next((o.removeprefix("size=") for o in options if o.startswith("size=")), None)
            if size is None:
                raise _internal("missing tmpfs size, set the size option")
            fs = _sub(devices, "filesystem", type="ram", accessmode="passthrough")
            _sub(fs, "source", usage=str(_size_bytes(size) // 1024), units="KiB")
        else:
            fs = _sub(devices, "filesystem", type="mount", accessmode="passthrough")
            _sub(fs, "source", dir=src)
        _sub(fs, "target", dir=dst)
        if "ro" in options:
            _sub(fs, "readonly")


def _network_blocks(conf: _Config) -> list[dict[str, list[str]]]:
    """One dict per NIC: legacy ``lxc.network.*`` starts a NIC at each ``type``; ``lxc.net.N.*`` is indexed."""
    legacy: list[dict[str, list[str]]] = []
    indexed: dict[int, dict[str, list[str]]] = {}
    for key, value in conf.entries:
        if key.startswith("lxc.network."):
            suffix = key.removeprefix("lxc.network.")
            if suffix == "type":
                legacy.append({})
            if not legacy:
                raise _internal(f"network property {key} comes before any lxc.network.type")
            block = legacy[-1]
        elif key.startswith("lxc.net."):
            index, dot, suffix = key.removeprefix("lxc.net.").partition(".")
            if not index.isdigit() or not dot:
                raise _internal(f"invalid network property: {key}")
            block = indexed.setdefault(int(index), {})
        else:
            continue
        if suffix not in NET_KEYS:
            raise _internal(f"unhandled network property: {key} = {value}")
        block.setdefault(suffix, []).append(value)
    return legacy + [indexed[i] for i in sorted(indexed)]


def _ip_and_routes(parent: etree._Element, block: dict[str, list[str]]) -> None:
    for key in ("ipv4", "ipv4.address", "ipv6", "ipv6.address"):
        for cidr in block.get(key, []):
            address, slash, prefix = cidr.partition("/")
            if not slash or not prefix.isdigit() or not address:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Invalid CIDR address: '{cidr}'")
            family = "ipv6" if key.startswith("ipv6") else "ipv4"
            _sub(parent, "ip", address=address, family=family, prefix=prefix)
    for family, zero in (("ipv4", "0.0.0.0"), ("ipv6", "::")):
        gateway = block.get(f"{family}.gateway")
        if gateway:
            _sub(parent, "route", family=family, address=zero, gateway=gateway[0])


def _networks(conf: _Config, root: etree._Element, devices: etree._Element) -> bool:
    """Add the NICs; returns whether the container gets a private network (libvirt's privnet)."""
    blocks = _network_blocks(conf)
    privnet = True
    for block in blocks:
        first = {k: v[0] for k, v in block.items()}
        kind = first.get("type", "")
        if kind in ("", "empty", "none"):
            privnet = privnet and kind != "none"
            continue
        link = first.get("link")
        if kind in ("phys", "vlan"):
            if not link:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Missing 'link' attribute for NIC")
            ifname = f"{link}.{first['vlan.id']}" if kind == "vlan" and "vlan.id" in first else link
            hostdev = _sub(devices, "hostdev", mode="capabilities", type="net")
            _sub(_sub(hostdev, "source"), "interface", ifname)
            _ip_and_routes(hostdev, block)
            continue
        if kind == "veth":
            nic = _sub(devices, "interface", type="bridge" if link else "ethernet")
        elif kind == "macvlan":
            if not link:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Missing 'link' attribute for NIC")
            nic = _sub(devices, "interface", type="direct")
        else:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported network type '{kind}'")
        if "hwaddr" in first:
            _sub(nic, "mac", address=first["hwaddr"])
        if kind == "macvlan":
            mode = first.get("macvlan.mode") or "private"
            _sub(nic, "source", dev=link or "", mode=mode if mode in ("private", "vepa", "bridge") else "private")
        elif link:
            _sub(nic, "source", bridge=link)
        _ip_and_routes(nic, block)
        if "name" in first:
            _sub(nic, "guest", dev=first["name"])
        _sub(nic, "link", state="up" if first.get("flags") == "up" else "down")
    return privnet and not blocks


def _idmap(conf: _Config, root: etree._Element) -> None:
    uids: list[dict[str, str]] = []
    gids: list[dict[str, str]] = []
    for key, value in conf.entries:
        if key not in ("lxc.idmap", "lxc.id_map"):
            continue
        parts = value.split()
        if len(parts) != 4 or parts[0] not in ("u", "g") or not all(p.isdigit() for p in parts[1:]):
            raise _internal(f"invalid {key}: '{value}'")
        kind, target, start, count = parts
        (uids if kind == "u" else gids).append({"start": start, "target": target, "count": count})
    if uids or gids:
        idmap = _sub(root, "idmap")
        for tag, maps in (("uid", uids), ("gid", gids)):
            for m in maps:
                _sub(idmap, tag, **m)


def _tuning(conf: _Config, root: etree._Element) -> None:
    memtune = etree.Element("memtune")
    limit = conf.get("lxc.cgroup.memory.limit_in_bytes")
    memory_kib = 64 * 1024
    if limit is not None:
        memory_kib = _size_bytes(limit) // 1024
        _sub(memtune, "hard_limit", str(memory_kib), unit="KiB")
    for key, tag in (("lxc.cgroup.memory.soft_limit_in_bytes", "soft_limit"),
                     ("lxc.cgroup.memory.memsw.limit_in_bytes", "swap_hard_limit")):  # fmt: skip
        value = conf.get(key)
        if value is not None:
            _sub(memtune, tag, str(_size_bytes(value) // 1024), unit="KiB")
    _sub(root, "memory", str(memory_kib), unit="KiB")
    blkio = _blkio(conf)
    if blkio is not None:
        root.append(blkio)
    if len(memtune):
        root.append(memtune)
    vcpu = _sub(root, "vcpu", "1", placement="static")
    cpus = conf.get("lxc.cgroup.cpuset.cpus")
    if cpus is not None:
        vcpu.set("cpuset", format_bitmap(parse_bitmap(cpus, "lxc.cgroup.cpuset.cpus")))
    cputune = etree.Element("cputune")
    for key, tag in (("lxc.cgroup.cpu.shares", "shares"), ("lxc.cgroup.cpu.cfs_period_us", "period"),
                     ("lxc.cgroup.cpu.cfs_quota_us", "quota")):  # fmt: skip
        value = conf.get(key)
        if value is not None:
            _sub(cputune, tag, str(_int(value)))
    if len(cputune):
        root.append(cputune)
    mems = conf.get("lxc.cgroup.cpuset.mems")
    if mems is not None:
        numatune = _sub(root, "numatune")
        _sub(numatune, "memory", mode="strict", nodeset=format_bitmap(parse_bitmap(mems, "lxc.cgroup.cpuset.mems")))


_BLKIO_KEYS = {"lxc.cgroup.blkio.device_weight": "weight", "lxc.cgroup.blkio.throttle.read_iops_device": "read_iops_sec",
               "lxc.cgroup.blkio.throttle.write_iops_device": "write_iops_sec",
               "lxc.cgroup.blkio.throttle.read_bps_device": "read_bytes_sec",
               "lxc.cgroup.blkio.throttle.write_bps_device": "write_bytes_sec"}  # fmt: skip


def _blkio(conf: _Config) -> etree._Element | None:
    weight = conf.get("lxc.cgroup.blkio.weight")
    devices: dict[str, dict[str, str]] = {}
    for key, value in conf.entries:
        if not key.startswith("lxc.cgroup.blkio.") or key == "lxc.cgroup.blkio.weight":
            continue
        parts = value.replace("\t", " ").split()
        if len(parts) < 2:
            raise _internal(f"invalid {key} value: '{value}'")
        tag = _BLKIO_KEYS.get(key)
        if tag is None:
            continue  # libvirt warns and ignores other blkio settings
        devices.setdefault(f"/dev/block/{parts[0]}", {})[tag] = str(_int(parts[1], tag.replace("_", " ")))
    if weight is None and not devices:
        return None
    el = etree.Element("blkiotune")
    if weight is not None:
        _sub(el, "weight", str(_int(weight)))
    for path, values in devices.items():
        dev = _sub(el, "device")
        _sub(dev, "path", path)
        for tag in ("weight", "read_iops_sec", "write_iops_sec", "read_bytes_sec", "write_bytes_sec"):
            if tag in values:
                _sub(dev, tag, values[tag])
    return el


def lxc_config_to_xml(text: str, emulator: str = CONTROLLER_EMULATOR) -> str:
    """Domain XML (libvirt's canonical form) for an lxc-tools container config."""
    return format_domain(lxc_config_to_domain(text, emulator), 2)


def lxc_config_to_domain(text: str, emulator: str = CONTROLLER_EMULATOR) -> Domain:
    """lxcParseConfigString: the domain an lxc-tools config describes, with ``emulator`` as libvirt's
    post-parse fills it from the capabilities (a fresh random UUID, as libvirt's)."""
    conf = _Config(parse_lxc_config(text))
    name = conf.get("lxc.uts.name", "lxc.utsname")
    if not name:
        raise _internal("the container has no name (lxc.uts.name or lxc.utsname)")
    root = etree.Element("domain", type="lxc")
    _sub(root, "name", name)
    _sub(root, "uuid", str(uuidmod.uuid4()))
    _tuning(conf, root)
    os_el = _sub(root, "os")
    ostype = _sub(os_el, "type", "exe")
    arch = conf.get("lxc.arch")
    if arch is not None and arch in _ARCHES:
        ostype.set("arch", _ARCHES[arch])
    _sub(os_el, "init", "/sbin/init")
    _idmap(conf, root)
    features = _sub(root, "features")
    devices = etree.Element("devices")
    _filesystems(conf, devices)
    if _networks(conf, root, devices):
        _sub(features, "privnet")
    caps = _sub(features, "capabilities", policy="allow")
    dropped = set((conf.get("lxc.cap.drop") or "").split())
    for cap in sorted(PROCESS_CAPABILITY_NAMES & dropped):
        _sub(caps, cap, state="off")
    _sub(root, "clock", offset="utc")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    ttys = conf.get("lxc.tty.max", "lxc.tty")
    for port in range(_int(ttys, "int") if ttys is not None else 0):
        console = _sub(devices, "console", type="pty")
        _sub(console, "target", type="lxc", port=str(port))
    _sub(devices, "emulator", emulator)
    root.append(devices)  # the model formats devices in libvirt's order whatever order they came in
    return parse_domain(etree.tostring(root), url="lxc-tools")
