"""Domain XML to libxl's domain configuration (``libxl_domain_config``) as JSON.

Follows libvirt 9.0's ``libxlBuildDomainConfig`` (src/libxl/libxl_conf.c):
create info, build info, vNUMA nodes, disks, NICs, framebuffers, PCI
devices, the primary display and the lifecycle actions. The JSON is what
``libxl_domain_config_to_json`` prints: a field still at libxl's default is
left out (libxl's generated JSON writer does the same), defbools are
``"True"``/``"False"``. What libxl or the host decide (shadow memory, host
NUMA nodes, whether the host CPU can nest) comes from :class:`LibxlHost`,
which libvirt's test program mocks the same way. Elements the mapping does
not cover are refused by name (CONFIG_UNSUPPORTED).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_xen.names import translate_cpu_feature
from pyvirt_xen.to_native import canonical_domain

__all__ = ["LibxlHost", "domain_xml_to_libxl_json", "host_cpu_flags", "libxl_shadow_memkb"]

# CPUID leaf 1 as libxl names its bits (libxl_cpuid.c): name -> (register, bit)
_LEAF1 = {
    **{n: ("edx", b) for b, n in enumerate(
        ["fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cmpxchg8", "apic", "", "sysenter", "mtrr", "pge",
         "mca", "cmov", "pat", "pse36", "psn", "clfsh", "", "ds", "acpi", "mmx", "fxsr", "sse", "sse2", "ss", "htt",
         "tm", "ia64", "pbe"]) if n},
    **{n: ("ecx", b) for b, n in enumerate(
        ["sse3", "pclmulqdq", "dtes64", "monitor", "dscpl", "vmx", "smx", "est", "tm2", "ssse3", "cntxid", "",
         "fma", "cmpxchg16", "xtpr", "pdcm", "", "pcid", "dca", "sse4_1", "sse4_2", "x2apic", "movbe", "popcnt",
         "tsc-deadline", "aes", "xsave", "osxsave", "avx", "f16c", "rdrand", "hypervisor"]) if n},
}  # fmt: skip
_ACTIONS = {"destroy": None, "restart": "restart", "rename-restart": "restart_rename", "preserve": "preserve",
            "coredump-destroy": "coredump_destroy", "coredump-restart": "coredump_restart"}  # fmt: skip
_DEVICES = frozenset({"emulator", "disk", "controller", "interface", "serial", "console", "input", "graphics",
                      "video", "hostdev", "memballoon", "sound"})  # fmt: skip


def libxl_shadow_memkb(max_memkb: int, vcpus: int) -> int:
    """libxl_get_required_shadow_memory: 256 pages per vCPU plus 2 per MiB, 4 KiB each."""
    return 4 * (256 * vcpus + 2 * (max_memkb // 1024))


def host_cpu_flags() -> frozenset[str]:
    """The host CPU's flags from /proc/cpuinfo (empty when it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def _host_numa_nodes() -> int:
    try:
        return max(1, sum(1 for n in os.listdir("/sys/devices/system/node") if n.startswith("node")))
    except OSError:
        return 1


@dataclass(frozen=True)
class LibxlHost:
    """What libxl and the host contribute; defaults read this host, tests pass libvirt's mocked values."""

    shadow_memkb: Callable[[int, int], int] = libxl_shadow_memkb
    nested_hvm: bool = False  # libxl.conf's nested_hvm
    cpu_flags: frozenset[str] = field(default_factory=host_cpu_flags)
    numa_nodes: int = field(default_factory=_host_numa_nodes)


def _unsupported(msg: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, msg)


def _defbool(value: bool) -> str:
    return "True" if value else "False"


def _round_mib(kib: int) -> int:
    return -(-kib // 1024) * 1024


def _cpus(text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _cpuid(features: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """libxl_cpuid_parse_config for each ``name=0|1``: one policy string per register touched."""
    regs: dict[str, list[str]] = {}
    for name, value in features:
        where = _LEAF1.get(name)
        if where is None:
            raise _unsupported(f"unsupported cpu feature '{name}'")
        bits = regs.setdefault(where[0], ["x"] * 32)
        bits[31 - where[1]] = value
    if not regs:
        return []
    leaf: dict[str, Any] = {"leaf": 1}
    for reg in ("ecx", "edx"):
        if reg in regs:
            leaf[reg] = "".join(regs[reg])
    return [leaf]


def _build_info(root: etree._Element, host: LibxlHost, os_type: str) -> dict[str, Any]:
    hvm, pvh = os_type == "hvm", os_type == "xenpvh"
    b: dict[str, Any] = {}
    vcpu = root.find("vcpu")
    assert vcpu is not None
    maximum = int(vcpu.text or "1")
    current = int(vcpu.get("current") or maximum)
    b["max_vcpus"] = maximum
    b["avail_vcpus"] = list(range(current))
    if vcpu.get("cpuset"):
        raise _unsupported("vCPU pinning (<vcpu cpuset>) is not mapped to libxl yet")
    clock = root.find("clock")
    assert clock is not None
    offset = clock.get("offset")
    if offset == "variable":
        if clock.get("basis") == "localtime":
            b["localtime"] = "True"
        if int(clock.get("adjustment") or 0):
            b["rtc_timeoffset"] = int(clock.get("adjustment") or 0)
    elif offset == "localtime":
        b["localtime"] = "True"
        if clock.get("adjustment") not in (None, "reset", "0"):
            b["rtc_timeoffset"] = int(clock.get("adjustment") or 0)
    elif offset != "utc":
        raise _unsupported(f"unsupported clock offset '{offset}'")
    hpet = False
    # libxl's tsc_mode for <timer name='tsc' mode>; libxl leaves "default" out of its JSON
    tsc_modes = {"native": "native", "paravirt": "native_paravirt", "emulate": "always_emulate"}
    for timer in clock.findall("timer"):
        if timer.get("name") == "tsc":
            if timer.get("mode") in tsc_modes:
                b["tsc_mode"] = tsc_modes[str(timer.get("mode"))]
        elif timer.get("name") == "hpet" and hvm:
            hpet = timer.get("present") == "yes"
        else:
            raise _unsupported(f"unsupported timer type (name) '{timer.get('name')}'")
    shares = root.find("cputune/shares")
    if shares is not None and shares.text:
        b["sched_params"] = {"weight": int(shares.text)}
    else:
        b["sched_params"] = {}
    for child in root.find("cputune") if root.find("cputune") is not None else ():  # type: ignore[union-attr]
        if child.tag != "shares":
            raise _unsupported(f"<cputune><{child.tag}> is not mapped to libxl")
    max_kib = _round_mib(int(root.findtext("memory") or "0"))
    b["max_memkb"] = max_kib
    b["target_memkb"] = _round_mib(int(root.findtext("currentMemory") or "0"))
    xenbus = root.find("devices/controller[@type='xenbus']")
    if xenbus is not None and int(xenbus.get("maxEventChannels") or 0) > 0:
        b["event_channels"] = int(xenbus.get("maxEventChannels") or 0)
    if xenbus is not None and int(xenbus.get("maxGrantFrames") or 0) > 0:
        b["max_grant_frames"] = int(xenbus.get("maxGrantFrames") or 0)
    cpu = root.find("cpu")
    if (hvm or pvh) and cpu is not None and cpu.get("mode") == "host-passthrough":
        vmx, svm = "vmx" in host.cpu_flags, "svm" in host.cpu_flags
        nested = host.nested_hvm and (vmx or svm)
        cpuid: list[tuple[str, str]] = []
        for feature in cpu.findall("feature"):
            name, policy = feature.get("name") or "", feature.get("policy") or "require"
            if policy in ("optional",):
                continue
            on = policy in ("force", "require")
            if (vmx and name == "vmx") or (svm and name == "svm"):
                nested = on
                continue
            cpuid.append((translate_cpu_feature(name, from_libxl=False), "1" if on else "0"))
        if cpuid:
            b["cpuid"] = _cpuid(cpuid)
        b["nested_hvm"] = _defbool(nested)
    elif cpu is not None and (cpu.find("feature") is not None or cpu.get("mode") not in (None, "custom")):
        raise _unsupported(f"CPU mode '{cpu.get('mode')}' is not supported by libxl")
    os_elem = root.find("os")
    assert os_elem is not None
    devices = root.find("devices")
    assert devices is not None
    if hvm:
        features = root.find("features")
        feats = {c.tag for c in features if c.get("state") != "off"} if features is not None else set()
        b["apic"] = _defbool("apic" in feats)
        b["acpi"] = _defbool("acpi" in feats)
        t: dict[str, Any] = {"pae": _defbool("pae" in feats)}
        if hpet:
            t["hpet"] = "True"
        slic = os_elem.findtext("acpi/table[@type='slic']")
        if slic:  # the SLIC table's path, as libxl's acpi_firmware
            t["acpi_firmware"] = slic
        sounds = devices.findall("sound")
        if sounds:
            model = sounds[0].get("model") or ""
            t["soundhw"] = "hda" if model == "ich6" else model
        t["boot"] = "".join({"fd": "a", "cdrom": "d", "network": "n"}.get(x.get("dev") or "", "c")
                            for x in os_elem.findall("boot")) or "c"  # fmt: skip
        for tag, key in (("cmdline", "cmdline"), ("kernel", "kernel"), ("initrd", "ramdisk")):
            if value := os_elem.findtext(tag):
                b[key] = value
        loader = os_elem.find("loader")
        if loader is not None and loader.get("type") == "pflash":
            t["bios"] = "ovmf"
        emulator = devices.findtext("emulator")
        if emulator:
            if not os.path.exists(emulator):
                raise _unsupported(f"emulator '{emulator}' not found")
            if not os.access(emulator, os.X_OK):
                raise _unsupported(f"emulator '{emulator}' is not executable")
            b["device_model"] = emulator
            b["device_model_version"] = ("qemu_xen_traditional" if os.path.basename(emulator) == "qemu-dm"
                                         else "qemu_xen")  # fmt: skip
        serials = devices.findall("serial")
        if len(serials) == 1:
            t["serial"] = _chrdev(serials[0])
        elif serials:
            t["serial_list"] = [_chrdev(s) for s in serials]
        if devices.find("parallel") is not None:
            raise _unsupported("Parallel devices are not supported by libxl")
        usb = []
        for inp in devices.findall("input"):
            if inp.get("bus") != "usb":
                continue
            if inp.get("type") not in ("mouse", "tablet"):
                raise _unsupported("Unknown input device type")
            usb.append(inp.get("type"))
        if usb:
            t["usbdevice_list"] = usb
        t["vnc"] = {"enable": "False"}
        t["sdl"] = {"enable": "False"}
        t["spice"] = {}
        t["rdm"] = {}
        b["type.hvm"] = t
    elif pvh:
        for tag, key in (("cmdline", "cmdline"), ("kernel", "kernel"), ("initrd", "ramdisk")):
            if value := os_elem.findtext(tag):
                b[key] = value
        if bootloader := root.findtext("bootloader"):
            b["bootloader"] = bootloader
        b["type.pvh"] = {}
    else:
        pv: dict[str, Any] = {}
        bootloader = root.findtext("bootloader")
        if bootloader:
            pv["bootloader"] = bootloader
        elif os_elem.find("kernel") is None:
            pv["bootloader"] = "pygrub"  # libvirt's LIBXL_BOOTLOADER_PATH default, as the legacy toolstack did
        if args := root.findtext("bootloader_args"):
            pv["bootloader_args"] = args.split()
        for tag, key in (("cmdline", "cmdline"), ("kernel", "kernel"), ("initrd", "ramdisk")):
            if value := os_elem.findtext(tag):
                pv[key] = value
        b["type.pv"] = pv
    balloon = devices.find("memballoon")
    if balloon is not None and balloon.get("model") != "xen":
        if balloon.get("model") == "none":
            raise _unsupported("balloon device cannot be disabled")
        raise _unsupported(f"unsupported balloon device model '{balloon.get('model')}'")
    b["shadow_memkb"] = host.shadow_memkb(max_kib, maximum)
    b["arch_arm"] = {}
    return b


def _chrdev(dev: etree._Element) -> str:
    """libxlMakeChrdevStr for the kinds libxl's device model takes."""
    kind = dev.get("type")
    source = dev.find("source")
    if kind in ("null", "stdio", "vc", "pty"):
        return str(kind)
    if kind in ("file", "pipe") and source is not None:
        return f"{kind}:{source.get('path')}"
    if kind == "dev" and source is not None:
        return source.get("path") or ""
    raise _unsupported(f"unsupported chardev '{kind}' for libxl")


def _vnuma(root: etree._Element, b: dict[str, Any], host: LibxlHost) -> None:
    cells = root.findall("cpu/numa/cell")
    if not cells:
        return
    simulate = len(cells) > host.numa_nodes
    matrix: dict[tuple[int, int], int] = {}
    for i, cell in enumerate(cells):
        for sibling in cell.findall("distances/sibling"):
            matrix[(i, int(sibling.get("id") or 0))] = int(sibling.get("value") or 0)
    for (i, j), value in list(matrix.items()):
        matrix.setdefault((j, i), value)
    nodes = []
    for i, cell in enumerate(cells):
        node: dict[str, Any] = {"memkb": int(cell.get("memory") or 0)}
        node["distances"] = [matrix.get((i, j), 10 if i == j else 20) for j in range(len(cells))]
        if not simulate and i:
            node["pnode"] = i
        node["vcpus"] = _cpus(cell.get("cpus") or "")
        nodes.append(node)
    b["vnuma_nodes"] = nodes


def _disk(disk: etree._Element) -> dict[str, Any]:
    """libxlMakeDisk for file and block disks."""
    if disk.get("type") not in ("file", "block"):
        raise _unsupported(f"disk type '{disk.get('type')}' is not mapped to libxl yet")
    source = disk.find("source")
    driver = disk.find("driver")
    name = driver.get("name") if driver is not None else None
    fmt = driver.get("type") if driver is not None else None
    out: dict[str, Any] = {}
    path = (source.get("file") or source.get("dev")) if source is not None else None
    if path:
        out["pdev_path"] = path
    target = disk.find("target")
    out["vdev"] = target.get("dev") if target is not None else None
    backend = {"qemu": "qdisk", "file": "qdisk", "phy": "phy", "tap": "tap", "tap2": "tap", None: None}.get(name)
    if name is not None and backend is None:
        raise _unsupported(f"libxenlight does not support disk driver {name}")
    if backend is None:
        backend = "phy" if disk.get("type") == "block" else "qdisk"
    out["backend"] = backend
    formats = {"raw": "raw", "qcow": "qcow", "qcow2": "qcow2", "vhd": "vhd", "qed": "qed"}
    if (fmt or "raw") not in formats:
        raise _unsupported(f"libxenlight does not support disk format {fmt}")
    out["format"] = formats[fmt or "raw"]
    out["removable"] = 1
    cdrom = disk.get("device") == "cdrom"
    if not cdrom and disk.find("readonly") is None:
        out["readwrite"] = 1
    if cdrom:
        out["is_cdrom"] = 1
    for child in disk:
        if child.tag not in ("driver", "source", "target", "readonly", "address"):
            raise _unsupported(f"<{child.tag}> of a disk is not mapped to libxl yet")
    if driver is not None and set(driver.keys()) - {"name", "type", "cache"}:
        raise _unsupported("disk driver attributes other than name and type are not mapped to libxl yet")
    return out


def _nic(net: etree._Element, devid: int, hvm: bool) -> dict[str, Any]:
    """libxlMakeNic for bridge and ethernet NICs."""
    kind = net.get("type")
    if kind not in ("bridge", "ethernet"):
        raise _unsupported(f"unsupported interface type {kind}")
    out: dict[str, Any] = {"devid": devid}
    model = net.find("model")
    model_type = model.get("type") if model is not None else None
    if model_type and model_type != "netfront":
        out["model"] = model_type
    elif model_type == "netfront":
        out["model"] = "netfront"
    mac = net.find("mac")
    if mac is not None:
        out["mac"] = mac.get("address")
    source = net.find("source")
    if kind == "bridge" and source is not None and source.get("bridge"):
        out["bridge"] = source.get("bridge")
    ips = [ip.get("address") or "" for ip in net.findall("ip")]
    if ips:
        out["ip"] = " ".join(ips)
    script = net.find("script")
    if script is not None and script.get("path"):
        out["script"] = script.get("path")
    target = net.find("target")
    if target is not None and target.get("dev"):
        out["ifname"] = target.get("dev")
    out["nictype"] = "vif_ioemu" if hvm and model_type != "netfront" else "vif"
    for child in net:
        if child.tag not in ("mac", "source", "ip", "script", "model", "target", "address"):
            raise _unsupported(f"<{child.tag}> of an interface is not mapped to libxl yet")
    return out


def _vnc(graphics: etree._Element) -> dict[str, Any]:
    """libxlMakeVfb: libvirt allocates the VNC port itself, so libxl is never asked to find one."""
    vnc: dict[str, Any] = {"enable": "True"}
    listen = graphics.find("listen")
    address = (listen.get("address") if listen is not None else None) or graphics.get("listen")
    if address:
        vnc["listen"] = address
    if graphics.get("passwd"):
        vnc["passwd"] = graphics.get("passwd")
    port = int(graphics.get("port") or "-1")
    if graphics.get("autoport") != "yes" and port >= 5900 and port - 5900:
        vnc["display"] = port - 5900
    vnc["findunused"] = "False"
    return vnc


def domain_xml_to_libxl_json(xml: str, host: LibxlHost | None = None) -> str:
    """The libxl domain configuration libvirt's driver would hand to libxl_domain_create_new, as JSON."""
    host = host or LibxlHost()
    root = canonical_domain(xml)
    for child in root:
        if child.tag not in ("name", "uuid", "description", "title", "memory", "currentMemory", "vcpu", "cputune",
                             "os", "features", "cpu", "clock", "on_poweroff", "on_reboot", "on_crash", "devices",
                             "bootloader", "bootloader_args"):  # fmt: skip
            raise _unsupported(f"<{etree.QName(child).localname}> is not mapped to libxl yet")
    devices = root.find("devices")
    assert devices is not None
    for dev in devices:
        if dev.tag not in _DEVICES:
            raise _unsupported(f"<{dev.tag}> devices are not mapped to libxl yet")
    os_type = root.findtext("os/type") or ""
    hvm = os_type == "hvm"
    c_info: dict[str, Any] = {"type": {"hvm": "hvm", "xenpvh": "pvh"}.get(os_type, "pv")}
    features = root.find("features")
    hap = features.find("hap") if features is not None else None
    if (hvm or os_type == "xenpvh") and hap is not None:
        c_info["hap"] = _defbool(hap.get("state") != "off")
    c_info["name"] = root.findtext("name")
    c_info["uuid"] = root.findtext("uuid")
    b_info = _build_info(root, host, os_type)
    _vnuma(root, b_info, host)
    config: dict[str, Any] = {"c_info": c_info, "b_info": b_info}
    disks = [_disk(d) for d in devices.findall("disk")]
    if disks:
        config["disks"] = disks
    # an <interface type='hostdev'> is a PCI device for libxl (libvirt adds it to the domain's hostdevs
    # where it is parsed, so it keeps its place among the <hostdev>s), not a vif
    interfaces = devices.findall("interface")
    nics = [_nic(n, i, hvm) for i, n in enumerate(interfaces) if n.get("type") != "hostdev"]
    if nics:
        config["nics"] = nics
    pcidevs = []
    for hostdev in devices.iterchildren("hostdev", "interface"):
        if hostdev.tag == "interface" and hostdev.get("type") != "hostdev":
            continue
        addr = hostdev.find("source/address")
        if hostdev.tag == "interface" and addr is not None and addr.get("type") not in (None, "pci"):
            raise _unsupported(f"hostdev interface address type '{addr.get('type')}' is not mapped to libxl")
        if (hostdev.tag == "hostdev" and hostdev.get("type") != "pci") or addr is None:
            raise _unsupported(f"hostdev type '{hostdev.get('type')}' is not mapped to libxl yet")
        pci: dict[str, Any] = {}
        for key, attr in (("func", "function"), ("dev", "slot"), ("bus", "bus"), ("domain", "domain")):
            if int(addr.get(attr) or "0", 16):
                pci[key] = int(addr.get(attr) or "0", 16)
        source = hostdev.find("source")
        if source is not None and source.get("writeFiltering") == "no":
            pci["permissive"] = True
        pci["rdm_policy"] = "invalid"
        pcidevs.append(pci)
    if pcidevs:
        config["pcidevs"] = pcidevs
    graphics = devices.findall("graphics")
    if len(graphics) > 1:
        raise _unsupported("libxl supports only one graphics device")
    if graphics:
        g = graphics[0]
        if g.get("type") not in ("vnc", "sdl"):
            raise _unsupported(f"graphics type '{g.get('type')}' is not mapped to libxl yet")
        vfb: dict[str, Any] = {"devid": -1}
        vfb["vnc"] = _vnc(g) if g.get("type") == "vnc" else {"enable": "False"}
        vfb["sdl"] = {"enable": "True"} if g.get("type") == "sdl" else {"enable": "False"}
        config["vfbs"] = [vfb]
        config["vkbs"] = [{"devid": -1}]
        if hvm:
            b_info["type.hvm"]["vnc"] = dict(vfb["vnc"])
            b_info["type.hvm"]["sdl"] = dict(vfb["sdl"])
    if hvm:
        videos = devices.findall("video/model")
        t = b_info["type.hvm"]
        if videos and graphics:
            kind = videos[0].get("type")
            t["vga"] = {"kind": {"cirrus": "cirrus", "vga": "std", "xen": "std", "qxl": "qxl"}.get(kind or "", "none")}
            if kind not in ("cirrus", "vga", "xen", "qxl"):
                raise _unsupported(f"video type {kind} is not supported by libxl")
            b_info["video_memkb"] = int(videos[0].get("vram") or 0)
        else:
            t["nographic"] = "True"
            t["vga"] = {"kind": "none"}
    for action in ("on_reboot", "on_poweroff", "on_crash"):
        value = _ACTIONS.get(root.findtext(action) or "destroy")
        if value:
            config[action] = value
    return json.dumps(config, indent=4) + "\n"
