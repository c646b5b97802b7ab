"""``domxml-to-native xen-xl`` / ``xen-xm``: domain XML to an xl.cfg or xm file.

Follows libvirt 9.0's ``xenFormatXL``/``xenFormatXM`` (src/libxl/xen_xl.c,
xen_xm.c, xen_common.c): the same keys in the same order, so the text is
byte for byte what libvirt writes. The XML goes through pyvirt's domain
model first (validation, libvirt's defaults, refusal of unmapped elements)
and the Xen driver's post-parse defaults; the converter then reads the
canonical document. Whatever it finds that neither format can express, or
that it does not map, is refused by name (CONFIG_UNSUPPORTED) rather than
left out of the file.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.domain import VIR_DOMAIN_XML_INACTIVE, VIR_DOMAIN_XML_SECURE, format_domain, parse_domain
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_xen.conf_file import ConfFile, Value, write_conf
from pyvirt_xen.defaults import apply_xen_defaults, generate_macs
from pyvirt_xen.disks import format_xl_disk, format_xm_disk
from pyvirt_xen.names import translate_cpu_feature

__all__ = ["canonical_domain", "domain_xml_to_xl", "domain_xml_to_xm", "format_net"]

# <seclabel>: the security stack labels the host's files for the guest (pyvirt_xen.labels); xl has nothing to
# carry for it, and libvirt's converters write nothing for it either
_TOP_LEVEL = frozenset({"name", "uuid", "memory", "currentMemory", "vcpu", "os", "features", "cpu", "clock",
                        "on_poweroff", "on_reboot", "on_crash", "devices", "bootloader", "bootloader_args",
                        "seclabel"})  # fmt: skip
_DEVICES = frozenset({"emulator", "disk", "controller", "interface", "serial", "parallel", "console", "channel",
                      "input", "graphics", "video", "sound", "hostdev", "memballoon"})  # fmt: skip
_XEN_NS = "http://libvirt.org/schemas/domain/xen/1.0"


def _unsupported(msg: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, msg)


def canonical_domain(xml: str) -> etree._Element:
    """The definition as the Xen driver holds it: validated by the model, libxl's defaults filled in."""
    root = parse_xml(xml, "domain", "domain_definition")
    commandline = root.find(f"{{{_XEN_NS}}}commandline")
    args = [a.get("value") or "" for a in commandline.findall(f"{{{_XEN_NS}}}arg")] if commandline is not None else []
    if commandline is not None:
        root.remove(commandline)
    apply_xen_defaults(root)
    generate_macs(root)
    dom = parse_domain(etree.tostring(root))
    if dom.type != "xen":
        raise _unsupported(f"domain type '{dom.type}' is not a Xen domain")
    canon = etree.fromstring(format_domain(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE))
    if args:
        ns = etree.SubElement(canon, f"{{{_XEN_NS}}}commandline", nsmap={"xen": _XEN_NS})
        for arg in args:
            etree.SubElement(ns, f"{{{_XEN_NS}}}arg", value=arg)
    return canon


def _check_mapped(root: etree._Element, fmt: str) -> None:
    for child in root:
        if child.tag in _TOP_LEVEL or (child.tag == f"{{{_XEN_NS}}}commandline" and fmt == "xen-xl"):
            continue
        raise _unsupported(f"<{etree.QName(child).localname}> has no equivalent in {fmt}")
    devices = root.find("devices")
    for dev in devices if devices is not None else ():
        if dev.tag not in _DEVICES:
            raise _unsupported(f"<{dev.tag}> devices have no equivalent in {fmt}")


def _text(root: etree._Element, path: str) -> str | None:
    elem = root.find(path)
    return elem.text if elem is not None else None


def _kib(root: etree._Element, path: str) -> int:
    return int(_text(root, path) or "0")


def _format_chr(dev: etree._Element) -> str:
    """xenFormatSxprChr."""
    kind = dev.get("type")
    sources = dev.findall("source")
    source = sources[0] if sources else None
    if kind in ("null", "stdio", "vc", "pty"):
        return str(kind)
    if kind in ("file", "pipe"):
        return f"{kind}:{source.get('path') if source is not None else ''}"
    if kind == "dev":
        return source.get("path") or "" if source is not None else ""
    if kind == "tcp":
        protocol = dev.find("protocol")
        telnet = protocol is not None and protocol.get("type") == "telnet"
        host = (source.get("host") if source is not None else None) or ""
        service = (source.get("service") if source is not None else None) or ""
        listen = source is not None and source.get("mode") == "bind"
        return f"{'telnet' if telnet else 'tcp'}:{host}:{service}{',server,nowait' if listen else ''}"
    if kind == "udp":
        connect = next((s for s in sources if s.get("mode") != "bind"), None)
        bind = next((s for s in sources if s.get("mode") == "bind"), None)
        return (f"udp:{(connect.get('host') if connect is not None else None) or ''}:"
                f"{(connect.get('service') if connect is not None else None) or ''}@"
                f"{(bind.get('host') if bind is not None else None) or ''}:"
                f"{(bind.get('service') if bind is not None else None) or ''}")  # fmt: skip
    if kind == "unix":
        listen = source is not None and source.get("mode") == "bind"
        return f"unix:{source.get('path') if source is not None else ''}{',server,nowait' if listen else ''}"
    raise _unsupported(f"unsupported chr device type '{kind}'")


def format_net(net: etree._Element, hvm: bool, vif_typename: str) -> str:
    """xenFormatNet."""
    mac = net.find("mac")
    out = f"mac={mac.get('address') if mac is not None else ''}"
    kind = net.get("type")
    ips = " ".join(ip.get("address") or "" for ip in net.findall("ip"))
    script_elem = net.find("script")
    script = script_elem.get("path") if script_elem is not None else None
    if kind == "bridge":
        source = net.find("source")
        out += f",bridge={source.get('bridge') if source is not None else ''}"
        port = net.find("virtualport")
        if port is not None and port.get("type") == "openvswitch":
            script = script or "vif-openvswitch"
            vlan = net.find("vlan")
            if vlan is not None:
                tags = [t.get("id") for t in vlan.findall("tag")]
                if vlan.get("trunk") == "yes":
                    out += "".join(f":{t}" for t in tags)
                elif tags:
                    out += f".{tags[0]}"
        elif port is not None:
            raise _unsupported(f"virtualport type '{port.get('type')}' is not supported by Xen")
        if ips:
            out += f",ip={ips}"
        out += f",script={script or 'vif-bridge'}"
    elif kind == "ethernet":
        if script:
            out += f",script={script}"
        if ips:
            out += f",ip={ips}"
    else:
        raise _unsupported(f"Unsupported net type '{kind}'")
    for child in net:
        if child.tag not in ("mac", "source", "script", "ip", "model", "target", "bandwidth", "virtualport", "vlan"):
            raise _unsupported(f"<{child.tag}> of an <interface> has no equivalent in Xen's vif")
    model = net.find("model")
    if model is not None and model.get("type"):
        if hvm and model.get("type") == "netfront":
            out += f",type={vif_typename}"
        else:
            out += f",model={model.get('type')}"
    target = net.find("target")
    if target is not None and target.get("dev"):
        out += f",vifname={target.get('dev')}"
    bandwidth = net.find("bandwidth")
    if bandwidth is not None:
        outbound = bandwidth.find("outbound")
        if bandwidth.find("inbound") is not None or (outbound is not None and set(outbound.keys()) - {"average"}):
            raise _unsupported("only the outbound average rate of a Xen vif can be set")
        if outbound is not None and outbound.get("average") and int(outbound.get("average") or 0):
            out += f",rate={outbound.get('average')}KB/s"
    return out


def _format_common(root: etree._Element, conf: ConfFile, fmt: str) -> bool:
    """xenFormatConfigCommon; returns whether the guest is HVM."""
    os_type = _text(root, "os/type")
    hvm = os_type == "hvm"
    conf.set("name", _text(root, "name") or "")
    conf.set("uuid", _text(root, "uuid") or "")
    conf.set("maxmem", -(-_kib(root, "memory") // 1024))
    conf.set("memory", -(-_kib(root, "currentMemory") // 1024))
    vcpu = root.find("vcpu")
    assert vcpu is not None
    maximum = int(vcpu.text or "1")
    current = int(vcpu.get("current") or maximum)
    if current < maximum:
        conf.set("maxvcpus", maximum)
    conf.set("vcpus", current)
    if vcpu.get("cpuset"):
        conf.set("cpus", vcpu.get("cpuset") or "")
    features = root.find("features")
    feat = {c.tag: c for c in features} if features is not None else {}
    for tag in feat:
        if tag not in ("pae", "acpi", "apic", "hap", "viridian", "xen"):
            raise _unsupported(f"feature <{tag}> has no equivalent in {fmt}")
    xen = feat.get("xen")
    if hvm:
        conf.set("pae", int("pae" in feat and feat["pae"].get("state") != "off"))
        conf.set("acpi", int("acpi" in feat and feat["acpi"].get("state") != "off"))
        conf.set("apic", int("apic" in feat and feat["apic"].get("state") != "off"))
        if "hap" in feat and feat["hap"].get("state") == "off":
            conf.set("hap", 0)
        conf.set("viridian", int("viridian" in feat and feat["viridian"].get("state") != "off"))
    elif xen is not None:
        e820 = xen.find("e820_host")
        if e820 is not None and e820.get("state") == "on":
            conf.set("e820_host", 1)
    if xen is not None:
        passthrough = xen.find("passthrough")
        if passthrough is not None and passthrough.get("state") == "on":
            conf.set("passthrough", passthrough.get("mode") or "enabled")
    clock = root.find("clock")
    assert clock is not None
    for timer in clock.findall("timer"):
        name = timer.get("name")
        if name == "tsc":
            mode = {"native": "native", "paravirt": "native_paravirt", "emulate": "always_emulate"}
            conf.set("tsc_mode", mode.get(timer.get("mode") or "", "default"))
        elif name == "hpet" and hvm:
            conf.set("hpet", int(timer.get("present") != "no"))
        else:
            raise _unsupported(f"unsupported timer type (name) '{name}'")
    offset = clock.get("offset")
    reset = clock.get("adjustment") == "reset"
    if hvm:
        if offset == "variable":
            localtime = int(clock.get("basis") == "localtime")
            adjustment = int(clock.get("adjustment") or 0)
        elif offset in ("utc", "localtime"):
            if reset:
                raise _unsupported("unsupported clock adjustment='reset'")
            localtime, adjustment = int(offset == "localtime"), 0
        else:
            raise _unsupported(f"unsupported clock offset='{offset}'")
        conf.set("rtc_timeoffset", adjustment)
    else:
        if offset not in ("utc", "localtime"):
            raise _unsupported(f"unsupported clock offset='{offset}'")
        localtime = int(offset == "localtime")
    conf.set("localtime", localtime)
    for action in ("on_poweroff", "on_reboot", "on_crash"):
        conf.set(action, _text(root, action) or "")
    if emulator := _text(root, "devices/emulator"):
        conf.set("device_model_override", emulator)
    devices = root.find("devices")
    assert devices is not None
    graphics = devices.findall("graphics")
    if len(graphics) > 1:
        raise _unsupported(f"only one graphics device is supported by {fmt}")
    if graphics and graphics[0].get("type") != "spice":
        _format_vfb(graphics[0], conf, hvm)
    vifs: list[Value] = [format_net(n, hvm, "vif" if fmt == "xen-xl" else "netfront")
                         for n in devices.findall("interface")]  # fmt: skip
    if vifs:
        conf.set("vif", vifs)
    pci: list[Value] = []
    for hostdev in devices.findall("hostdev"):
        if hostdev.get("type") == "pci":
            addr = hostdev.find("source/address")
            assert addr is not None
            source = hostdev.find("source")
            filtering = source.get("writeFiltering") if source is not None else None
            permissive = {"yes": ",permissive=0", "no": ",permissive=1"}.get(filtering or "", "")
            pci.append(f"{int(addr.get('domain') or '0', 16):04x}:{int(addr.get('bus') or '0', 16):02x}:"
                       f"{int(addr.get('slot') or '0', 16):02x}.{int(addr.get('function') or '0', 16):x}{permissive}")  # fmt: skip
        elif hostdev.get("type") != "usb" or fmt != "xen-xl":
            raise _unsupported(f"hostdev type '{hostdev.get('type')}' is not supported by {fmt}")
    if pci:
        conf.set("pci", pci)
    if hvm:
        parallels = devices.findall("parallel")
        conf.set("parallel", _format_chr(parallels[0]) if parallels else "none")
        serials = devices.findall("serial")
        ports = {int(s.find("target").get("port") or 0): s for s in serials}  # type: ignore[union-attr]
        if len(serials) == 1 and 0 in ports:
            conf.set("serial", _format_chr(serials[0]))
        elif serials:
            if fmt == "xen-xm":
                raise _unsupported("Multiple serial devices are not supported by xen-xm")
            conf.set("serial", [_format_chr(ports[p]) if p in ports else "none" for p in range(max(ports) + 1)])
        else:
            conf.set("serial", "none")
        sounds = [s.get("model") or "" for s in devices.findall("sound")]
        if sounds:
            conf.set("soundhw", ",".join(sounds))
    else:
        for tag in ("serial", "parallel", "sound"):
            if devices.find(tag) is not None:
                raise _unsupported(f"<{tag}> devices are not supported for Xen PV guests")
    return hvm


def _format_vfb(graphics: etree._Element, conf: ConfFile, hvm: bool) -> None:
    """xenFormatVfb: HVM's ``vnc``/``sdl`` keys or a PV guest's ``vfb`` list."""
    kind = graphics.get("type")
    if kind not in ("vnc", "sdl"):
        raise _unsupported(f"graphics type '{kind}' is not supported by Xen")
    listen = graphics.find("listen")
    address = listen.get("address") if listen is not None else None
    autoport = graphics.get("autoport") == "yes"
    port = int(graphics.get("port") or "-1")
    if hvm:
        if kind == "sdl":
            conf.set("sdl", 1)
            conf.set("vnc", 0)
            if graphics.get("display"):
                conf.set("display", graphics.get("display") or "")
            if graphics.get("xauth"):
                conf.set("xauthority", graphics.get("xauth") or "")
            return
        conf.set("sdl", 0)
        conf.set("vnc", 1)
        conf.set("vncunused", int(autoport))
        if not autoport:
            conf.set("vncdisplay", port - 5900)
        if address:
            conf.set("vnclisten", address)
        if graphics.get("passwd"):
            conf.set("vncpasswd", graphics.get("passwd") or "")
        if graphics.get("keymap"):
            conf.set("keymap", graphics.get("keymap") or "")
        return
    if kind == "sdl":
        vfb = "type=sdl"
        if graphics.get("display"):
            vfb += f",display={graphics.get('display')}"
        if graphics.get("xauth"):
            vfb += f",xauthority={graphics.get('xauth')}"
    else:
        vfb = f"type=vnc,vncunused={int(autoport)}"
        if not autoport:
            vfb += f",vncdisplay={port - 5900}"
        if address:
            vfb += f",vnclisten={address}"
        if graphics.get("passwd"):
            vfb += f",vncpasswd={graphics.get('passwd')}"
        if graphics.get("keymap"):
            vfb += f",keymap={graphics.get('keymap')}"
    conf.set("vfb", [vfb])


def _boot_string(root: etree._Element) -> str:
    devs = [b.get("dev") for b in root.findall("os/boot")]
    return "".join({"fd": "a", "cdrom": "d", "network": "n"}.get(d or "", "c") for d in devs) or "c"


def _format_xl_os(root: etree._Element, conf: ConfFile, hvm: bool) -> None:
    """xenFormatXLOS and xenFormatXLCPUID."""
    os_elem = root.find("os")
    assert os_elem is not None
    if hvm:
        conf.set("builder", "hvm")
        loader = os_elem.find("loader")
        if loader is not None and loader.get("type") == "pflash" and (loader.text or "").endswith("ovmf.bin"):
            conf.set("bios", "ovmf")
        if slic := _text(os_elem, "acpi/table"):
            conf.set("acpi_firmware", slic)
        for tag, key in (("kernel", "kernel"), ("initrd", "ramdisk"), ("cmdline", "cmdline")):
            if value := _text(os_elem, tag):
                conf.set(key, value)
        conf.set("boot", _boot_string(root))
        cpu = root.find("cpu")
        if cpu is not None and cpu.get("mode") == "host-passthrough":
            disabled = any(f.get("name") in ("vmx", "svm") and f.get("policy") in ("disable", "forbid")
                           for f in cpu.findall("feature"))  # fmt: skip
            conf.set("nestedhvm", 0 if disabled else 1)
    else:
        if os_elem.find("type") is not None and _text(os_elem, "type") == "xenpvh":
            conf.set("type", "pvh")
        for tag, key in (("bootloader", "bootloader"), ("bootloader_args", "bootargs")):
            if value := _text(root, tag):
                conf.set(key, value)
        for tag, key in (("kernel", "kernel"), ("initrd", "ramdisk"), ("cmdline", "cmdline")):
            if value := _text(os_elem, tag):
                conf.set(key, value)
    cpu = root.find("cpu")
    if cpu is not None and cpu.get("mode") == "host-passthrough":
        pairs = ["host"]
        for feature in cpu.findall("feature"):
            name = translate_cpu_feature(feature.get("name") or "", from_libxl=False)
            if name in ("vmx", "svm"):
                continue
            policy = {"force": "1", "require": "1", "optional": "x", "disable": "0", "forbid": "0"}
            pairs.append(f"{name}={policy[feature.get('policy') or 'require']}")
        if len(pairs) > 1:
            conf.set("cpuid", ",".join(pairs))


def _format_vnuma(root: etree._Element, conf: ConfFile) -> None:
    """xenFormatXLDomainVnuma: one list per cell, distances filled in as libvirt fills them (10 local, 20 remote)."""
    cells = root.findall("cpu/numa/cell")
    if not cells:
        return
    count = len(cells)
    matrix: dict[tuple[int, int], str] = {}
    for node, cell in enumerate(cells):
        for sibling in cell.findall("distances/sibling"):
            matrix[(node, int(sibling.get("id") or 0))] = sibling.get("value") or ""
    for (a, b), value in list(matrix.items()):  # libvirt's parser mirrors a distance given one way only
        matrix.setdefault((b, a), value)
    vnuma: list[Value] = []
    for node, cell in enumerate(cells):
        size = int(cell.get("memory") or "0") // 1024
        values = [matrix.get((node, i)) or ("10" if i == node else "20") for i in range(count)]
        vnuma.append([f"pnode={node}", f"size={size}", f"vcpus={cell.get('cpus')}", "vdistances=" + ",".join(values)])
    conf.set("vnuma", vnuma)


def _format_xl_devices(root: etree._Element, conf: ConfFile, hvm: bool) -> None:
    devices = root.find("devices")
    assert devices is not None
    for ctrl in devices.findall("controller"):
        kind = ctrl.get("type")
        if kind == "xenbus":
            if ctrl.get("maxEventChannels"):
                conf.set("max_event_channels", int(ctrl.get("maxEventChannels") or 0))
            if ctrl.get("maxGrantFrames"):
                conf.set("max_grant_frames", int(ctrl.get("maxGrantFrames") or 0))
        elif kind not in ("ide", "usb"):
            raise _unsupported(f"controller type '{kind}' is not supported by xen-xl")
    disks: list[Value] = [format_xl_disk(d) for d in devices.findall("disk")]
    if disks:
        conf.set("disk", disks)
    spice = devices.find("graphics[@type='spice']")
    if hvm and spice is not None:
        conf.set("sdl", 0)
        conf.set("vnc", 0)
        conf.set("spice", 1)
        listen = spice.find("listen")
        if listen is not None and listen.get("address"):
            conf.set("spicehost", listen.get("address") or "")
        conf.set("spiceport", int(spice.get("port") or 0))
        conf.set("spicetls_port", int(spice.get("tlsPort") or 0))
        if spice.get("passwd"):
            conf.set("spicedisable_ticketing", 0)
            conf.set("spicepasswd", spice.get("passwd") or "")
        else:
            conf.set("spicedisable_ticketing", 1)
        mouse = spice.find("mouse")
        if mouse is not None and mouse.get("mode") == "server":
            conf.set("spiceagent_mouse", 0)
        elif mouse is not None and mouse.get("mode") == "client":
            conf.set("spiceagent_mouse", 1)
            conf.set("spicevdagent", 1)
        clipboard = spice.find("clipboard")
        if clipboard is not None and clipboard.get("copypaste") == "yes":
            conf.set("spice_clipboard_sharing", 1)
            conf.set("spicevdagent", 1)
    elif spice is not None:
        raise _unsupported("spice graphics are only supported for Xen HVM guests")
    if hvm:
        usb_inputs = [i.get("type") for i in devices.findall("input") if i.get("bus") == "usb"]
        if usb_inputs:
            conf.set("usb", 1)
            kinds: list[Value] = [str(k) for k in usb_inputs if k in ("mouse", "tablet", "keyboard")]
            conf.set("usbdevice", kinds[0] if len(kinds) == 1 else kinds)
    usbdev: list[Value] = []
    for hostdev in devices.findall("hostdev[@type='usb']"):
        addr = hostdev.find("source/address")
        if addr is None:
            raise _unsupported("USB host devices must be given by bus and device address for xen-xl")
        usbdev.append(f"hostbus={int(addr.get('bus') or 0):x},hostaddr={int(addr.get('device') or 0):x}")
    if usbdev:
        conf.set("usbdev", usbdev)
    usbctrl: list[Value] = []
    for ctrl in devices.findall("controller[@type='usb']"):
        entry = {"qusb1": "type=qusb,version=1,", "qusb2": "type=qusb,version=2,"}.get(ctrl.get("model") or "", "")
        if ctrl.get("model") not in ("qusb1", "qusb2", None):
            raise _unsupported(f"USB controller model '{ctrl.get('model')}' is not supported by xen-xl")
        if ctrl.get("ports"):
            entry += f"ports={int(ctrl.get('ports') or 0):x}"
        usbctrl.append(entry)
    if usbctrl:
        conf.set("usbctrl", usbctrl)
    channels: list[Value] = []
    for channel in devices.findall("channel"):
        target = channel.find("target")
        if target is None or target.get("type") != "xen":
            raise _unsupported("only Xen channels are supported by xen-xl")
        kind = channel.get("type")
        entry = "connection="
        if kind == "pty":
            entry += "pty,"
        elif kind == "unix":
            entry += "socket,"
            source = channel.find("source")
            if source is not None and source.get("path"):
                entry += f"path={source.get('path')},"
        else:
            raise _unsupported(f"channel type '{kind}' is not supported by xen-xl")
        channels.append(entry + f"name={target.get('name')}")
    if channels:
        conf.set("channel", channels)
    commandline = root.find(f"{{{_XEN_NS}}}commandline")
    if commandline is not None:
        args: list[Value] = [a.get("value") or "" for a in commandline.findall(f"{{{_XEN_NS}}}arg")]
        if args:
            conf.set("device_model_args", args)


def domain_xml_to_xl(xml: str) -> str:
    """Domain XML to xl.cfg(5) text, as libvirt's ``xenFormatXL`` + ``virConfWriteMem`` write it."""
    root = canonical_domain(xml)
    _check_mapped(root, "xen-xl")
    conf = ConfFile()
    hvm = _format_common(root, conf, "xen-xl")
    _format_xl_os(root, conf, hvm)
    _format_vnuma(root, conf)
    _format_xl_devices(root, conf, hvm)
    return write_conf(conf)


def domain_xml_to_xm(xml: str) -> str:
    """Domain XML to a legacy xm file, as libvirt's ``xenFormatXM`` writes it."""
    root = canonical_domain(xml)
    _check_mapped(root, "xen-xm")
    devices = root.find("devices")
    assert devices is not None
    for tag in ("channel",):
        if devices.find(tag) is not None:
            raise _unsupported(f"<{tag}> devices have no equivalent in xen-xm")
    if root.find("cpu") is not None:
        raise _unsupported("<cpu> has no equivalent in xen-xm")
    for ctrl in devices.findall("controller"):
        if ctrl.get("type") not in ("xenbus", "ide") or ctrl.get("maxEventChannels") or ctrl.get("maxGrantFrames"):
            raise _unsupported(f"controller type '{ctrl.get('type')}' is not supported by xen-xm")
    if devices.find("graphics[@type='spice']") is not None:
        raise _unsupported("spice graphics are not supported by xen-xm")
    conf = ConfFile()
    hvm = _format_common(root, conf, "xen-xm")
    os_elem = root.find("os")
    assert os_elem is not None
    if hvm:
        conf.set("builder", "hvm")
        if loader := _text(os_elem, "loader"):
            conf.set("kernel", loader)
        conf.set("boot", _boot_string(root))
        for tag in ("kernel", "initrd", "cmdline"):
            if os_elem.find(tag) is not None:
                raise _unsupported(f"direct kernel boot (<{tag}>) of an HVM guest is not supported by xen-xm")
    else:
        for tag, key in (("bootloader", "bootloader"), ("bootloader_args", "bootargs")):
            if value := _text(root, tag):
                conf.set(key, value)
        for tag, key in (("kernel", "kernel"), ("initrd", "ramdisk"), ("cmdline", "extra")):
            if value := _text(os_elem, tag):
                conf.set(key, value)
    disks: list[Value] = [format_xm_disk(d) for d in devices.findall("disk") if d.get("device") != "floppy"]
    if disks:
        conf.set("disk", disks)
    if hvm:
        for inp in devices.findall("input"):
            if inp.get("bus") == "usb" and inp.get("type") in ("mouse", "tablet", "keyboard"):
                conf.set("usb", 1)
                conf.set("usbdevice", inp.get("type") or "")
                break
    elif devices.find("hostdev[@type='usb']") is not None:
        raise _unsupported("USB host devices are not supported by xen-xm")
    return write_conf(conf)
